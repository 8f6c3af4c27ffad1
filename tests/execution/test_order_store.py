"""Order store and state machine: atomic transitions with their lifecycle events, illegal ones raise
and write nothing, client ids are unique, fills are recorded once; a property test drives random
event sequences through the store."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cockpit.data import DataService
from cockpit.data.order_store import OrderStore
from cockpit.domain.orders import TERMINAL, TRANSITIONS, Fill, IllegalTransition, Order, OrderStatus
from cockpit.execution.ids import decision_client_id, system_client_id

S = OrderStatus
SYM = "BTC/USDT:USDT"
_seq = itertools.count(1)


def new_order(cid: str | None = None) -> Order:
    return Order(SYM, "buy", "market", 0.01, stop_loss=49_000.0, client_order_id=cid or f"cktest0m{next(_seq)}l0")


def test_create_is_idempotent_per_client_id(db):
    store = OrderStore()
    a, created_a = store.create(new_order("ckabc123d7l0"), now_ms=1)
    b, created_b = store.create(new_order("ckabc123d7l0"), now_ms=2)
    assert (a, created_a, created_b) == (b, True, False)
    assert len(DataService().orders()) == 1
    assert [e["status"] for e in DataService().order_events(a)] == ["new"]


def test_create_with_initial_status_records_both_events(db):
    store = OrderStore()
    oid, _ = store.create(new_order(), now_ms=5, status=S.PENDING_APPROVAL, message="waiting")
    ev = DataService().order_events(oid)
    assert [e["status"] for e in ev] == ["new", "pending_approval"]
    assert DataService().order(oid)["status"] == "pending_approval"


def test_transition_writes_status_and_event_together_and_illegal_raises_without_writing(db):
    store = OrderStore()
    ds = DataService()
    oid, _ = store.create(new_order(), now_ms=1)
    store.transition(oid, S.APPROVED, now_ms=2, message="ok", decided_by="me")
    with pytest.raises(IllegalTransition):
        store.transition(oid, S.FILLED, now_ms=3)  # approved -> filled skips submitted
    row = ds.order(oid)
    assert row["status"] == "approved" and row["decided_by"] == "me" and row["updated_at"] == 2
    assert [e["status"] for e in ds.order_events(oid)] == ["new", "approved"]
    store.transition(oid, S.SUBMITTED, now_ms=4)
    store.transition(oid, S.FILLED, now_ms=5, filled=0.01, average_price=50_000.0)
    for dst in S:
        with pytest.raises(IllegalTransition):
            store.transition(oid, dst, now_ms=6)
    assert len(ds.order_events(oid)) == 4


def test_transition_rolls_back_when_the_event_cannot_be_written(db):
    """Status and event are one transaction: if the event insert fails, the status stays."""
    store = OrderStore()
    oid, _ = store.create(new_order(), now_ms=1)
    # Make the event insert fail (after the status update ran) with a connection-local trigger.
    db.execute_sql(
        "CREATE TEMP TRIGGER fail_events BEFORE INSERT ON order_lifecycle_events "
        "BEGIN SELECT RAISE(ABORT, 'event write failed'); END"
    )
    with pytest.raises(Exception, match="event write failed"):
        store.transition(oid, S.APPROVED, now_ms=5)
    db.execute_sql("DROP TRIGGER fail_events")
    assert DataService().order(oid)["status"] == "new"


def test_fills_are_recorded_once(db):
    store = OrderStore()
    oid, _ = store.create(new_order(), now_ms=1)
    f = Fill("x", "buy", 50_000.0, 0.004, 0.1, "USDT", 10, trade_id="t1")
    assert store.record_fill(oid, SYM, f) is True
    assert store.record_fill(oid, SYM, f) is False
    assert store.record_fill(oid, SYM, Fill("x", "buy", 50_100.0, 0.006, 0.15, "USDT", 11, trade_id="t2")) is True
    amount, avg, fee = store.fill_totals(oid)
    assert amount == pytest.approx(0.01) and avg == pytest.approx(50_060.0) and fee == pytest.approx(0.25)
    assert len(DataService().trades(order_id=oid)) == 2


def test_client_ids_are_deterministic_and_okx_valid():
    a = decision_client_id("ab12cd", 123456789, 1)
    assert a == decision_client_id("ab12cd", 123456789, 1) != decision_client_id("ab12cd", 123456789, 0)
    assert a.isalnum() and len(a) <= 32
    k = system_client_id("ab12cd", "k", 1_767_225_600_000)
    assert k.isalnum() and len(k) <= 32
    assert len(decision_client_id("ab12cd", 10**12, 99)) <= 32


def test_namespace_is_stable_per_database(db):
    store = OrderStore()
    ns = store.client_id_namespace(now_ms=1)
    assert len(ns) == 6 and ns.isalnum()
    assert OrderStore().client_id_namespace(now_ms=2) == ns


def test_expired_pending(db):
    store = OrderStore()
    a, _ = store.create(new_order(), now_ms=1, status=S.PENDING_APPROVAL, expires_at=100)
    store.create(new_order(), now_ms=1, status=S.PENDING_APPROVAL, expires_at=1000)
    assert [o.id for o in store.expired_pending(100)] == [a]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(list(S)), min_size=1, max_size=12))
def test_random_event_sequences_never_reach_an_illegal_state(db, events):
    """Drive random target statuses through the store: legal ones apply (with one event each), illegal
    ones raise and change nothing; once terminal, nothing moves; the history replays legally."""
    store = OrderStore()
    oid, _ = store.create(new_order(), now_ms=0)
    status = S.NEW
    applied = [S.NEW]
    for i, dst in enumerate(events, start=1):
        if dst in TRANSITIONS[status]:
            store.transition(oid, dst, now_ms=i)
            status = dst
            applied.append(dst)
        else:
            with pytest.raises(IllegalTransition):
                store.transition(oid, dst, now_ms=i)
        assert store.get(oid).status == status
        if status in TERMINAL:
            assert TRANSITIONS[status] == frozenset()
    history = [S(e["status"]) for e in DataService().order_events(oid)]
    assert history == applied
    for a, b in zip(history, history[1:]):
        assert b in TRANSITIONS[a]


@given(st.lists(st.sampled_from(list(S)), max_size=20))
def test_domain_order_state_machine_property(events):
    o = Order(SYM, "buy", "market", 1.0)
    for dst in events:
        before = o.status
        if dst in TRANSITIONS[before]:
            o.transition(dst)
            assert o.status == dst
        else:
            with pytest.raises(IllegalTransition):
                o.transition(dst)
            assert o.status == before
        if before.is_terminal:
            assert o.status == before


def test_unknown_decision_is_an_error_not_a_duplicate(db):
    import peewee

    o = new_order()
    o.decision_id = 424242
    with pytest.raises(peewee.IntegrityError):
        OrderStore().create(o, now_ms=1)
