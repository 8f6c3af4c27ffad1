"""OrderManager on the built-in simulator through ccxt: approval policies, operator commands,
idempotent submits, fills recorded once, the kill switch across a restart, reconciliation."""

from __future__ import annotations

import threading

import pytest

from cockpit.data import DataService
from cockpit.data.operator import submit_command
from cockpit.domain.orders import OrderIntent, OrderStatus

S = OrderStatus
SYM = "BTC/USDT:USDT"


def entry(did: int, okx, amount=0.01, side="buy", leg=0, **kw) -> OrderIntent:
    m = okx.mark_price(SYM)
    sign = 1 if side == "buy" else -1
    return OrderIntent(
        SYM,
        side,
        amount,
        stop_loss=round(m * (1 - sign * 0.02), 1),
        take_profit=round(m * (1 + sign * 0.04), 1),
        leverage=2.0,
        decision_id=did,
        leg=leg,
        **kw,
    )


def statuses(oid):
    return [e["status"] for e in DataService().order_events(oid)]


def test_manual_approval_through_operator_commands(make_manager, decision_id, okx, sim):
    om = make_manager("manual")
    oid = om.submit_intent(entry(decision_id(), okx))
    ds = DataService()
    row = ds.order(oid)
    assert row["status"] == "pending_approval" and row["expires_at"] > 0
    assert row["risk_assessment"]["status"] == "approved"
    assert 0 < row["risk_assessment"]["risk_pct_equity"] < 0.01
    dec = ds.decision(row["decision_id"])["risk_assessment"]
    assert dec["status"] == "approved" and dec["legs"]["0"]["rules"]["stop_loss"]["status"] == "pass"
    assert sim.exchange.orders == {}  # nothing reached the exchange
    submit_command("approve", now_ms=sim.clock.now_ms(), order_id=oid, operator="alice | ssh 10.0.0.1 5555")
    done = om.process_commands()
    assert done and done[0]["ok"], done
    row = ds.order(oid)
    assert row["status"] == "filled" and row["decided_by"].startswith("alice")
    assert statuses(oid) == ["new", "pending_approval", "approved", "submitted", "filled"]
    trades = ds.trades(order_id=oid)
    assert len(trades) == 1 and trades[0]["amount"] == pytest.approx(0.01)
    om.sync()
    om.sync()
    assert len(ds.trades(order_id=oid)) == 1  # fills recorded once
    pos = ds.latest_position_snapshot(SYM)
    assert pos["side"] == "long" and pos["size"] == pytest.approx(0.01)
    assert ds.latest_balance("USDT")["total"] > 0
    cmd = ds.operator_commands(status=None)[0]
    assert cmd["status"] == "done" and cmd["operator"].startswith("alice")


def test_reject_and_unknown_commands_fail_cleanly(make_manager, decision_id, okx, sim):
    om = make_manager("manual")
    oid = om.submit_intent(entry(decision_id(), okx))
    submit_command("reject", now_ms=1, order_id=oid, payload={"reason": "not now"}, operator="bob")
    submit_command("approve", now_ms=2, order_id=oid, operator="bob")  # too late: already rejected
    submit_command("cancel", now_ms=3, order_id=oid, operator="bob")  # nothing left to cancel
    done = om.process_commands()
    assert [d["ok"] for d in done] == [True, False, False]
    assert "not pending approval" in done[1]["result"] and "nothing to cancel" in done[2]["result"]
    assert DataService().order(oid)["status"] == "rejected"
    assert DataService().order(oid)["reason"] == "not now"
    assert sim.exchange.orders == {}


def test_pending_order_expires_after_ttl(make_manager, decision_id, okx, sim):
    om = make_manager("manual")
    oid = om.submit_intent(entry(decision_id(), okx))
    assert om.expire_pending() == 0
    sim.clock.advance(om.ttl_ms + 1)
    assert om.expire_pending() == 1
    assert DataService().order(oid)["status"] == "expired"


def test_auto_within_limits_sends_clean_orders_and_holds_reduced_ones(make_manager, decision_id, okx, sim):
    om = make_manager("auto_within_limits", max_risk_per_trade_pct=0.01)  # a tight per-trade cap to hit
    ok = om.submit_intent(entry(decision_id(), okx, amount=0.01))
    assert DataService().order(ok)["status"] == "filled"
    big = om.submit_intent(entry(decision_id(), okx, amount=0.2))  # per-trade risk reduces it
    row = DataService().order(big)
    assert row["status"] == "pending_approval" and row["amount"] < 0.2
    assert row["risk_assessment"]["rules"]["per_trade_risk"]["status"] == "reduced"
    assert any(e["rule"] == "per_trade_risk" for e in DataService().risk_events())


def test_rejected_intent_is_stored_as_rejected_and_never_sent(make_manager, decision_id, okx, sim):
    om = make_manager("auto")
    i = entry(decision_id(), okx)
    i.stop_loss = None
    oid = om.submit_intent(i)
    row = DataService().order(oid)
    assert row["status"] == "rejected" and "stop_loss" in row["risk_assessment"]["reasons"][0]
    assert sim.exchange.orders == {}
    assert DataService().risk_events(rule="stop_loss")


def test_retried_submit_is_one_order(make_manager, decision_id, okx, sim):
    om = make_manager("auto")
    did = decision_id()
    a = om.submit_intent(entry(did, okx))
    b = om.submit_intent(entry(did, okx))  # e.g. the decision step retried after a timeout
    c = make_manager("auto").submit_intent(entry(did, okx))  # or after a restart
    assert a == b == c
    assert len(sim.exchange.orders) == 1
    assert len(DataService().orders()) == 1
    # A second leg of the same decision is a different order.
    d = om.submit_intent(entry(did, okx, leg=1))
    assert d != a and len(sim.exchange.orders) == 2


def test_dropped_placement_is_resent_under_the_same_client_id(make_manager, decision_id, okx, sim):
    """The connection drops before the exchange saw the order: the lookup by client id finds nothing, the
    order stays approved and the next sync sends it again under the same client id: one order."""
    om = make_manager("auto")
    sim.faults.add("drop", path="trade/batch-orders")
    did = decision_id()
    oid = om.submit_intent(entry(did, okx))
    assert DataService().order(oid)["status"] == "approved"
    assert sim.exchange.orders == {}
    assert any(e["rule"] == "submit" for e in DataService().risk_events())
    assert om.submit_intent(entry(did, okx)) == oid  # a retry of the same decision is the same order
    om.sync()
    assert DataService().order(oid)["status"] == "filled"
    assert len(sim.exchange.orders) == 1


def test_unplaceable_order_fails_after_the_grace_period(make_manager, decision_id, okx, sim):
    om = make_manager("auto")
    sim.faults.add("drop", path="trade/batch-orders", count=-1)  # the exchange stays unreachable for orders
    oid = om.submit_intent(entry(decision_id(), okx))
    om.sync()
    assert DataService().order(oid)["status"] == "approved"
    from cockpit.execution.manager import IN_FLIGHT_GRACE_S

    sim.clock.advance(IN_FLIGHT_GRACE_S * 1000 + 1)
    om.sync()
    assert DataService().order(oid)["status"] == "failed"
    sim.faults.clear()
    assert sim.exchange.orders == {}


def test_request_that_lands_after_we_gave_up_has_its_fills_recorded(make_manager, decision_id, okx, sim):
    """Worst case: the database marked the order failed, then the exchange executed it after all."""
    om = make_manager("auto")
    oid = _crashed_order(om, okx, decision_id(), S.APPROVED, place=False)
    om.reconcile()
    assert DataService().order(oid)["status"] == "failed"
    okx.place(om.store.get(oid))  # the lost request arrives now
    out = om.reconcile()
    row = DataService().order(oid)
    assert out["late_fills"] == 1 and row["status"] == "failed" and row["filled"] == pytest.approx(0.01)
    assert len(DataService().trades(order_id=oid)) == 1
    assert any(e["level"] == "ERROR" and e["rule"] == "reconcile" for e in DataService().risk_events())


@pytest.mark.parametrize("fault", ["malformed", "garbage"])
def test_unreadable_placement_reply_is_resolved_by_client_id(make_manager, decision_id, okx, sim, fault):
    """The exchange placed the order but its reply is broken (half a body, None ids): the reply is never
    turned into an order; the order is looked up by client id and adopted, once."""
    om = make_manager("auto")
    sim.faults.add(fault, path="trade/batch-orders")
    oid = om.submit_intent(entry(decision_id(), okx))
    row = DataService().order(oid)
    assert row["status"] == "filled", statuses(oid)
    assert len(sim.exchange.orders) == 1
    assert row["exchange_order_id"] == next(iter(sim.exchange.orders))
    assert len(DataService().trades(order_id=oid)) == 1
    assert any(e["rule"] == "submit" for e in DataService().risk_events())


def test_kill_switch_cancels_closes_halts_and_survives_restart(make_manager, decision_id, okx, sim, db_url):
    om = make_manager("auto")
    filled = om.submit_intent(entry(decision_id(), okx, amount=0.01))
    assert DataService().order(filled)["status"] == "filled"
    m = okx.mark_price(SYM)
    resting = om.submit_intent(
        OrderIntent(
            SYM,
            "buy",
            0.005,
            "limit",
            price=round(m * 0.99, 1),
            stop_loss=round(m * 0.97, 1),
            leverage=2.0,
            decision_id=decision_id(),
        )
    )
    assert DataService().order(resting)["status"] == "submitted"
    waiting = make_manager("manual").submit_intent(entry(decision_id(), okx))
    assert DataService().order(waiting)["status"] == "pending_approval"

    submit_command("kill", now_ms=sim.clock.now_ms(), payload={"reason": "drill"}, operator="carol")
    done = om.process_commands()
    assert done[0]["ok"], done
    ds = DataService()
    assert ds.order(resting)["status"] == "canceled"
    assert ds.order(waiting)["status"] == "canceled"
    assert okx.position(SYM).size == 0  # closed with a reduce-only market order
    close = [o for o in ds.orders() if o["reduce_only"]]
    assert len(close) == 1 and close[0]["status"] == "filled"
    assert ds.risk_events(rule="kill_switch", level="CRITICAL")

    # Restart: a new database connection and a new manager; the switch is still on.
    from cockpit.db import close_database, open_database

    close_database()
    open_database(db_url)
    om2 = make_manager("auto")
    assert om2.kill_switch_active()
    blocked = om2.submit_intent(entry(decision_id(), okx))
    assert DataService().order(blocked)["status"] == "rejected"
    assert "kill_switch" in DataService().order(blocked)["risk_assessment"]["reasons"][0]
    # Clearing is explicit.
    submit_command("clear_kill", now_ms=sim.clock.now_ms(), operator="carol")
    om2.process_commands()
    assert not om2.kill_switch_active()
    assert DataService().order(om2.submit_intent(entry(decision_id(), okx)))["status"] == "filled"


def test_reduce_only_close_is_allowed_while_halted(make_manager, decision_id, okx, sim):
    om = make_manager("manual")
    om2 = make_manager("auto")
    om2.submit_intent(entry(decision_id(), okx, amount=0.01))
    om.risk.engage_kill_switch(SYM, by="test")
    oid = om.submit_intent(OrderIntent(SYM, "sell", 0.01, reduce_only=True, decision_id=decision_id()))
    assert DataService().order(oid)["status"] == "filled"  # no approval wait, not blocked
    assert okx.position(SYM).size == 0


# ---------------------------------------------------------------- reconciliation after a crash


def _crashed_order(om, okx, did, status, *, place: bool, now_ms: int = 1):
    """An order row left in ``status`` by a crash; ``place`` says whether it reached the exchange."""
    from cockpit.domain.orders import Order

    m = okx.mark_price(SYM)
    cid = om.client_order_id(OrderIntent(SYM, "buy", 0.01, leg=0), did)
    order = Order(
        SYM, "buy", "market", 0.01, stop_loss=round(m * 0.98, 1), leverage=2.0, client_order_id=cid, decision_id=did
    )
    oid, _ = om.store.create(order, now_ms=now_ms, status=S.APPROVED)
    if status == S.SUBMITTED:
        om.store.transition(oid, S.SUBMITTED, now_ms=now_ms + 1)
    if place:
        okx.place(om.store.get(oid))  # the exchange got it; the crash lost the reply
    return oid


@pytest.mark.parametrize("status", [S.APPROVED, S.SUBMITTED])
def test_reconcile_adopts_an_order_the_exchange_has(make_manager, decision_id, okx, sim, status):
    om = make_manager("auto")
    oid = _crashed_order(om, okx, decision_id(), status, place=True)
    out = make_manager("auto").reconcile()  # the restarted engine
    row = DataService().order(oid)
    assert row["status"] == "filled" and row["exchange_order_id"]
    assert out["adopted"] == 1 and len(sim.exchange.orders) == 1
    assert len(DataService().trades(order_id=oid)) == 1
    assert DataService().latest_position_snapshot(SYM)["size"] == pytest.approx(0.01)
    assert any(e["rule"] == "reconcile" for e in DataService().risk_events())


def test_reconcile_resends_a_young_approved_order_the_exchange_never_saw(make_manager, decision_id, okx, sim):
    """A crash just before the placement: the restarted engine sends it once, under its client id."""
    om = make_manager("auto")
    oid = _crashed_order(om, okx, decision_id(), S.APPROVED, place=False, now_ms=sim.clock.now_ms())
    om2 = make_manager("auto")
    out = om2.sync()  # start-up: reconcile, then send what is approved
    assert out["retry"] == 1
    assert DataService().order(oid)["status"] == "filled" and len(sim.exchange.orders) == 1


@pytest.mark.parametrize("status", [S.APPROVED, S.SUBMITTED])
def test_reconcile_fails_an_order_the_exchange_never_saw(make_manager, decision_id, okx, sim, status):
    om = make_manager("auto")
    oid = _crashed_order(om, okx, decision_id(), status, place=False)
    out = make_manager("auto").reconcile()
    assert DataService().order(oid)["status"] == "failed"
    assert out["failed"] == 1 and sim.exchange.orders == {}
    assert any(e["rule"] == "reconcile" for e in DataService().risk_events())


def test_reconcile_reports_a_position_mismatch_and_shows_the_exchanges(make_manager, decision_id, okx, sim):
    om = make_manager("auto")
    om.sync()  # stores flat
    from cockpit.domain.orders import Order

    okx.place(Order(SYM, "buy", "market", 0.02, client_order_id="manualtrade1"))  # someone traded by hand
    out = om.reconcile()
    assert out["position_mismatch"] == 1
    assert DataService().positions(SYM)[0]["size"] == pytest.approx(0.02)


def test_reconcile_cancels_an_untracked_open_order_of_ours(make_manager, decision_id, okx, sim):
    om = make_manager("auto")
    m = okx.mark_price(SYM)
    oid = om.submit_intent(
        OrderIntent(
            SYM,
            "buy",
            0.005,
            "limit",
            price=round(m * 0.99, 1),
            stop_loss=round(m * 0.97, 1),
            leverage=2.0,
            decision_id=decision_id(),
        )
    )
    # The database lost track (a crash between the exchange's ack and our write): say it failed.
    om.store.transition(oid, S.FAILED, now_ms=5, message="test: lost")
    out = om.reconcile()
    assert out["unknown_canceled"] == 1
    assert okx.open_orders(SYM) == []


def test_approval_ttl_is_operator_time_on_an_accelerated_clock(make_manager, decision_id, okx, sim):
    om = make_manager("manual")
    sim.clock.set_speed(60.0)  # one wall second = one simulated minute
    try:
        oid = om.submit_intent(entry(decision_id(), okx))
        row = DataService().order(oid)
        span = row["expires_at"] - row["updated_at"]
        assert span == pytest.approx(om.ttl_ms * 60, rel=0.01)
    finally:
        sim.clock.set_speed(0.0)


def test_foreign_open_orders_are_reported_once_and_left_alone(make_manager, okx, sim):
    from cockpit.domain.orders import Order

    om = make_manager("auto")
    m = okx.mark_price(SYM)
    okx.place(Order(SYM, "buy", "limit", 0.01, price=round(m * 0.9, 1), client_order_id="byhand1"))
    assert om.reconcile()["foreign"] == 1
    assert om.reconcile()["foreign"] == 1
    assert len([e for e in DataService().risk_events(rule="reconcile") if "byhand1" in e["details"]]) == 1
    assert [r.client_order_id for r in okx.open_orders(SYM)] == ["byhand1"]


def test_an_order_being_sent_is_not_sent_again_by_another_worker(make_manager, decision_id, okx, sim):
    """The kill switch sends its close on its own thread while the fast loop's sync() sends every approved
    order it finds: seen in a real kill as `ERROR order_state: filled -> submitted`. While one worker is
    sending an order, another leaves it alone: one placement, filled once, no ERROR."""
    om, other = make_manager("auto"), make_manager("auto")
    other.sync()  # the fast loop has been running: its start-up reconcile is behind it
    real_place = okx.place
    placed: list[str] = []

    def place_while_the_fast_loop_syncs(order):
        placed.append(order.client_order_id)
        rep = real_place(order)
        if len(placed) == 1:
            # The fast loop wakes on its own thread (e.g. on the stream's order event) while this reply
            # is still on its way back.
            t = threading.Thread(target=other.sync)
            t.start()
            t.join(30)
        return rep

    okx.place = place_while_the_fast_loop_syncs
    try:
        oid = om.submit_intent(entry(decision_id(), okx))
    finally:
        okx.place = real_place
    ds = DataService()
    assert ds.order(oid)["status"] == "filled"
    assert placed == [ds.order(oid)["client_order_id"]]  # sent once, by the worker that started it
    assert not [e for e in ds.risk_events() if e["rule"] == "order_state" and e["level"] == "ERROR"]
    assert statuses(oid).count("filled") == 1
