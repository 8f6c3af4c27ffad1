"""Money safety on the built-in simulator through ccxt: an empty or unreadable positions reply is not evidence
of a flat position, stale snapshots are refused, and the ledger (``trades``) holds every fill on the account.

Each test fails on a build that reads an empty positions list as flat, sizes from a garbled snapshot, or
only adopts triggered closes that ended ``filled``."""

from __future__ import annotations

import io
import json

import pytest

from cockpit.data import DataService
from cockpit.domain.orders import Order, OrderIntent
from cockpit.domain.signals import Decision

SYM = "BTC/USDT:USDT"


def entry(did: int, okx, amount=0.01, side="buy", stop_pct=0.02, take_pct=0.04, **kw) -> OrderIntent:
    m = okx.mark_price(SYM)
    sign = 1 if side == "buy" else -1
    return OrderIntent(
        SYM,
        side,
        amount,
        stop_loss=round(m * (1 - sign * stop_pct), 1),
        take_profit=round(m * (1 + sign * take_pct), 1),
        leverage=2.0,
        decision_id=did,
        **kw,
    )


def true_position(sim) -> float:
    """The simulator's own account (no HTTP, no proxy): signed BTC."""
    sim.exchange.advance(sim.clock.now_ms())
    return round(sum(p.pos for p in sim.exchange.positions.values()) * 0.01, 10)


def ledger_sum() -> float:
    """Σ signed fills in the trades table (buy +, sell -)."""
    return round(sum(t["amount"] * (1 if t["side"] == "buy" else -1) for t in DataService().trades(limit=100000)), 10)


def sync(om) -> None:
    """One fast-loop step; an exception is swallowed as the engine's guard would (and retried next loop)."""
    try:
        om.sync()
    except Exception:  # noqa: BLE001
        pass


def events(rule: str) -> list[dict]:
    return DataService().risk_events(rule=rule, limit=1000)


# ---------------------------------------------------------------- 1. an empty positions reply


def test_empty_positions_reply_does_not_stack_entries(make_manager, decision_id, okx, sim):
    """A proxy answers GET account/positions with {"code":"0","data":[]} while a long is open: entries are
    refused (the ledger says we hold 0.05 BTC), the position stays within the cap, a risk event says why,
    and a reduce-only close still goes out."""
    om = make_manager("auto")
    first = om.submit_intent(entry(decision_id(), okx, amount=0.05))
    assert DataService().order(first)["status"] == "filled"
    equity = okx.account().equity
    cap_btc = min(
        om.risk.limits.max_position_notional, om.risk.limits.max_position_pct_equity * equity
    ) / okx.mark_price(SYM)
    sim.faults.add("empty", path="account/positions", count=-1)
    later = []
    for _ in range(4):  # four decisions in a row, each sized from what the positions reply says
        later.append(om.submit_intent(entry(decision_id(), okx, amount=0.05)))
        om.sync()
    pos = true_position(sim)
    assert pos == pytest.approx(0.05)  # nothing stacked on the forgotten long
    assert abs(pos) <= cap_btc
    for oid in later:
        row = DataService().order(oid)
        assert row["status"] == "rejected", row
        assert "position_unconfirmed" in row["risk_assessment"]["reasons"][0]
        assert row["risk_assessment"]["inputs"]["ledger_position"] == pytest.approx(0.05)
    why = [json.loads(e["details"]) for e in events("position_unconfirmed") if e["level"] == "ERROR"]
    assert why and any("empty reply" in (d.get("note") or d.get("detail") or "") for d in why), why
    assert any(d.get("ledger_position") == pytest.approx(0.05) for d in why)
    # The stored position is never overwritten by the unconfirmed "flat".
    assert DataService().latest_position_snapshot(SYM)["size"] == pytest.approx(0.05)

    # A reduce-only close is never blocked by the doubt (clipped to the ledger's position).
    close = om.submit_intent(OrderIntent(SYM, "sell", 0.05, reduce_only=True, decision_id=decision_id()))
    assert DataService().order(close)["status"] == "filled"
    assert true_position(sim) == 0
    sim.faults.clear()
    om.sync()
    assert om.last_position_check.confirmed and ledger_sum() == pytest.approx(0.0)


def test_exposure_cap_takes_the_ledger_when_the_exchange_reports_less(make_manager, decision_id, okx, sim):
    """The exchange lists a position smaller than our own recorded fills (a stale row): the cap starts from
    the larger of the two."""
    om = make_manager("auto", max_position_notional=5000.0)
    om.submit_intent(entry(decision_id(), okx, amount=0.06))
    assert true_position(sim) == pytest.approx(0.06)
    # Someone halves the position behind a proxy that hides the fill: the ledger still says 0.06.
    sim.faults.add("empty", path="trade/fills", count=-1)
    okx.place(Order(SYM, "sell", "market", 0.03, reduce_only=True, client_order_id="byhand2"))
    acct = om.account_state()
    assert acct.position.size == pytest.approx(0.03) and acct.ledger_position == pytest.approx(0.06)
    r = om.risk.check(entry(decision_id(), okx, amount=0.05), acct, om.market_state())
    cap = 5000.0 / om.market_state().mark_price
    assert r.intent.amount <= cap - 0.06 + 1e-9  # not cap - 0.03
    assert r.assessment["rules"]["max_position"]["ledger_position"] == pytest.approx(0.06)


# ---------------------------------------------------------------- 2. stale / garbage snapshots


def test_garbage_positions_snapshot_is_never_stored_and_stale_data_refuses_entries(
    make_manager, decision_id, okx, sim, cfg
):
    """The simulator garbles the positions reply (numbers -> null/NaN) while a long is open: the database keeps
    the last confirmed snapshot (never "flat"); once that is older than risk.max_snapshot_age_s the sizing of
    a decision refuses entries with a risk event naming the age, and the risk check refuses unconfirmed data."""
    from cockpit.engine.engine import Engine
    from cockpit.engine.eventlog import EventLog
    from cockpit.engine.stages import Analysis, Stages, _plan

    om = make_manager("auto")
    om.submit_intent(entry(decision_id(), okx, amount=0.02))
    om.sync()
    assert DataService().latest_position_snapshot(SYM)["size"] == pytest.approx(0.02)
    sim.faults.add("garbage", path="account/positions", count=-1)
    sync(om)
    sim.clock.advance(20_000)  # 20 s (frozen clock: exchange ms = wall ms)
    sync(om)
    snap = DataService().latest_position_snapshot(SYM)
    assert snap["side"] == "long" and snap["size"] == pytest.approx(0.02)  # garbage never became "flat"

    st = Stages(clock=sim.clock, orders=om)
    engine = Engine(cfg, st, log=EventLog(fmt="json", stream=io.StringIO()))
    account = engine._account_view()
    assert account["signed_size"] == pytest.approx(0.02)
    price = okx.mark_price(SYM)
    did = decision_id()
    dec = Decision(SYM, "1h", sim.clock.now_ms(), "buy", 0.9, "test", target_exposure=1.0)
    a = Analysis(bar=0, now_ms=sim.clock.now_ms(), price=price, signals=[], ta_report={}, regime="unknown")
    intents = _plan(cfg, st, did, dec, a, account)
    assert [i for i in intents if not i.reduce_only] == []  # sized from a 20 s old position: refused
    assert account["position_ts"] == snap["timestamp"] and account["balance_ts"] > snap["timestamp"]
    assert any(e["level"] == "ERROR" and "unreadable" in e["details"] for e in events("position_unconfirmed"))
    stale = [json.loads(e["details"]) for e in events("stale_data")]
    assert stale and stale[0]["position_age_s"] == pytest.approx(20.0, abs=0.5)
    assert "position snapshot 20.0 s old" in stale[0]["detail"]
    # The order path itself: the live read is unreadable, so the entry is refused there too.
    oid = om.submit_intent(entry(decision_id(), okx, amount=0.01))
    row = DataService().order(oid)
    assert row["status"] == "rejected" and "position_unconfirmed" in row["risk_assessment"]["reasons"][0]
    assert row["risk_assessment"]["inputs"]["data_age_s"] == pytest.approx(0.0)
    assert true_position(sim) == pytest.approx(0.02)

    # Fresh, confirmed data again: sizing states the age it used and lets the entry through.
    sim.faults.clear()
    om.sync()
    account = engine._account_view()
    intents = _plan(cfg, st, decision_id(), dec, a, account)
    assert intents and all("position read 0.0 s ago" in i.reason for i in intents)


# ---------------------------------------------------------------- 3. the ledger holds every fill


def test_ledger_equals_exchange_position_after_partial_triggered_closes_and_faults(make_manager, decision_id, okx, sim):
    """Two longs with tight attached stops, then a partial reduce: the second stop's close fills only what is
    left and ends "canceled" (ccxt's fetch_closed_orders never lists it). With transport faults on the way,
    Σ fills in ``trades`` equals the exchange's position, each trade id is stored once, and reconciling again
    changes nothing."""
    om = make_manager("auto", min_stop_distance_pct=0.001)
    sim.faults.add("garbage", path="trade/fills", count=1)  # the first entry's fill list is unreadable
    om.submit_intent(entry(decision_id(), okx, amount=0.01, stop_pct=0.002, take_pct=0.002))
    om.submit_intent(entry(decision_id(), okx, amount=0.01, stop_pct=0.002, take_pct=0.002))
    om.submit_intent(OrderIntent(SYM, "sell", 0.005, reduce_only=True, decision_id=decision_id()))
    assert true_position(sim) == pytest.approx(0.015)
    sim.faults.add("drop", path="account/positions", count=1)
    sim.faults.add("server_error", path="trade/fills-history", count=1)
    sim.faults.add("empty", path="trade/orders-history", count=2)
    for _ in range(96):
        sim.clock.advance(300_000)
        if true_position(sim) == 0:
            break
    assert true_position(sim) == 0, "the simulated market never reached the stops"
    canceled = [o for o in sim.exchange.orders.values() if o.source_algo_id and o.state == "canceled"]
    assert canceled and canceled[0].acc_fill_sz > 0  # the partial triggered close this test is about
    for _ in range(3):
        sync(om)
    om.reconcile()
    trades = DataService().trades(limit=100000)
    ids = [t["exchange_trade_id"] for t in trades]
    assert len(ids) == len(set(ids))
    assert not any(":" in i for i in ids)  # the synthetic fill was replaced by the exchange's own
    assert {f.trade_id for f in sim.exchange.fills} == set(ids)
    assert ledger_sum() == pytest.approx(true_position(sim)) == 0
    rows = [o for o in DataService().orders(limit=1000) if o["decided_by"] == "exchange"]
    assert any(o["status"] == "canceled" and o["filled"] > 0 for o in rows), rows
    om.reconcile()
    om.sync()
    assert len(DataService().trades(limit=100000)) == len(trades)  # idempotent
    assert om.last_position_check.confirmed


def test_ledger_starts_from_the_exchange_and_counts_earlier_fills_once(make_manager, okx, sim):
    """A database meets an account that already traded (fills it never recorded): those fills are in the
    ledger's baseline, not recorded again; fills after the start are."""
    okx.place(Order(SYM, "buy", "market", 0.03, client_order_id="beforeledger1"))
    om = make_manager("auto")
    om.reconcile()
    om.reconcile()
    assert om.ledger_position() == pytest.approx(0.03) and om.last_position_check.confirmed
    assert DataService().trades() == []
    sim.clock.advance(1000)
    okx.place(Order(SYM, "sell", "market", 0.01, client_order_id="afterledger1"))
    om.reconcile()
    assert om.ledger_position() == pytest.approx(0.02) == true_position(sim)
    assert len(DataService().trades()) == 1


def test_operator_can_rebase_a_ledger_that_is_wrong(make_manager, decision_id, okx, sim):
    """Entries stay held while the exchange says flat and the ledger does not; when the ledger is the one that
    is wrong, `cockpit orders confirm-position` re-bases it (a risk event names who), and trading resumes."""
    from cockpit.data.operator import submit_command

    om = make_manager("auto")
    om.sync()
    led = om.store.state(om._ledger_key())
    om.store.set_state(om._ledger_key(), {**led, "baseline": 0.02}, now_ms=sim.clock.now_ms())  # a lost fill
    om.sync()
    assert not om.last_position_check.confirmed
    held = om.submit_intent(entry(decision_id(), okx))
    assert DataService().order(held)["status"] == "rejected"
    submit_command("confirm_position", now_ms=sim.clock.now_ms(), operator="dana")
    done = om.process_commands()
    assert done[0]["ok"] and "+0 BTC" in done[0]["result"], done
    assert om.last_position_check.confirmed and om.ledger_position() == 0
    assert any("dana" in e["details"] for e in events("ledger"))
    assert DataService().order(om.submit_intent(entry(decision_id(), okx)))["status"] == "filled"


def test_kill_switch_closes_the_ledgers_position_behind_an_empty_reply(make_manager, decision_id, okx, sim):
    """The kill switch must not take an empty positions reply for flat: it closes what the ledger holds
    (reduce-only, so nothing can open if the exchange really were flat)."""
    from cockpit.data.operator import submit_command

    om = make_manager("auto")
    om.submit_intent(entry(decision_id(), okx, amount=0.03))
    sim.faults.add("empty", path="account/positions", count=-1)
    submit_command("kill", now_ms=sim.clock.now_ms(), payload={"reason": "drill"}, operator="erin")
    done = om.process_commands()
    assert "position closed by order" in done[0]["result"], done
    assert true_position(sim) == 0
    sim.faults.clear()
    om.sync()
    assert om.last_position_check.confirmed and ledger_sum() == pytest.approx(0.0)


def test_a_fill_of_an_order_placed_by_hand_is_adopted_and_followed_by_its_exchange_id(make_manager, okx, sim):
    """An order placed outside the cockpit fills: its fill reaches the ledger under an adopted order (stored as
    submitted, never approved, so it is never sent). When the order itself cannot be read at that moment,
    sync and reconcile follow it by exchange id (it has another client id there) until it ends."""
    om = make_manager("auto")
    om.sync()
    placed = okx.place(Order(SYM, "buy", "market", 0.02, client_order_id="byhand3"))
    sim.faults.add("garbage", path="trade/order", count=1)  # the adopted order's own read is unreadable
    assert om.reconcile_fills() == 1
    (row,) = [o for o in DataService().orders(limit=100) if o["exchange_order_id"] == placed.exchange_order_id]
    assert row["decided_by"] == "exchange" and row["status"] == "submitted"
    assert ledger_sum() == pytest.approx(true_position(sim)) == pytest.approx(0.02)
    om.sync()
    assert DataService().order(row["id"])["status"] == "filled"
    om.reconcile()
    assert DataService().order(row["id"])["status"] == "filled"
    assert len(sim.exchange.orders) == 1  # never sent again
    assert ledger_sum() == pytest.approx(0.02) and om.last_position_check.confirmed
