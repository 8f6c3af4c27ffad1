"""Trade management as operator commands, executed by the OrderManager against the built-in simulator over
loopback (real ccxt): close the position, move its stop-loss / take-profit, cancel all open orders."""

from __future__ import annotations

import json

from cockpit.data import DataService
from cockpit.data.operator import submit_command
from cockpit.domain.orders import OrderIntent

SYM = "BTC/USDT:USDT"


def entry(did: int, okx, amount=0.01, side="buy", **kw) -> OrderIntent:
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
        **kw,
    )


def run(om, sim, command, *, payload=None, who="dave"):
    cid = submit_command(command, now_ms=sim.clock.now_ms(), payload=payload, operator=who)
    done = om.process_commands()
    row = [r for r in DataService().operator_commands(status=None) if r["id"] == cid][0]
    assert [d["id"] for d in done] == [cid]
    return row


def test_close_position_is_a_reduce_only_market_order_by_the_operator_without_a_halt(
    make_manager, decision_id, okx, sim
):
    om = make_manager("manual")
    auto = make_manager("auto")
    auto.submit_intent(entry(decision_id(), okx, amount=0.02))
    assert okx.position(SYM).size > 0
    row = run(om, sim, "close_position", payload={"reason": "taking it off"})
    assert row["status"] == "done", row["result"]
    assert row["operator"] == "dave" and "closing the long 0.02 BTC" in row["result"]
    assert okx.position(SYM).size == 0
    close = [o for o in DataService().orders() if o["reduce_only"]]
    assert len(close) == 1
    c = close[0]
    assert (c["status"], c["side"], c["type"], c["decided_by"], c["reason"]) == (
        "filled",
        "sell",
        "market",
        "dave",
        "manual close",
    )
    assert not om.kill_switch_active()
    assert DataService().risk_events(rule="manual_close")
    # Nothing left: a second close is refused with a clear reason, not sent.
    again = run(om, sim, "close_position")
    assert again["status"] == "failed" and again["result"] == "no open position to close"
    assert len([o for o in DataService().orders() if o["reduce_only"]]) == 1


def test_move_stop_loss_and_take_profit_of_the_open_position(make_manager, decision_id, okx, sim):
    om = make_manager("auto")
    oid = om.submit_intent(entry(decision_id(), okx, amount=0.02))
    m = okx.mark_price(SYM)
    new_sl, new_tp = round(m * 0.99, 1), round(m * 1.05, 1)
    row = run(om, sim, "set_stop_loss", payload={"price": new_sl})
    assert row["status"] == "done", row["result"]
    assert f"stop-loss {new_sl:,.1f}" in row["result"]
    row = run(om, sim, "set_take_profit", payload={"price": new_tp})
    assert row["status"] == "done", row["result"]
    live = okx.protective_orders(SYM)
    assert [(p.side, p.stop_loss, p.take_profit) for p in live] == [("sell", new_sl, new_tp)]
    o = DataService().order(oid)
    assert (o["stop_loss"], o["take_profit"]) == (new_sl, new_tp)  # the chart and open risk follow
    ev = DataService().risk_events(rule="stop_loss")
    details = json.loads(ev[0]["details"])
    assert details["by"] == "dave" and "->" in details["action"]


def test_wrong_side_stop_is_refused_with_a_clear_message(make_manager, decision_id, okx, sim):
    om = make_manager("auto")
    oid = om.submit_intent(entry(decision_id(), okx, amount=0.02))
    before = okx.protective_orders(SYM)
    m = okx.mark_price(SYM)
    row = run(om, sim, "set_stop_loss", payload={"price": round(m * 1.01, 1)})
    assert row["status"] == "failed"
    assert "a long's stop-loss goes below the price" in row["result"] and "above the mark" in row["result"]
    row = run(om, sim, "set_take_profit", payload={"price": round(m * 0.99, 1)})
    assert row["status"] == "failed" and "a long's take-profit goes above the price" in row["result"]
    # Farther from the price than risk.max_stop_distance_pct: refused too.
    row = run(om, sim, "set_stop_loss", payload={"price": round(m * 0.85, 1)})
    assert row["status"] == "failed" and "max_stop_distance_pct" in row["result"]
    assert okx.protective_orders(SYM) == before
    assert DataService().order(oid)["stop_loss"] == round(m * 0.98, 1)


def test_a_stop_that_widens_the_loss_past_the_per_trade_cap_is_refused_tightening_is_not(
    make_manager, decision_id, okx, sim
):
    om = make_manager("auto", max_risk_per_trade_pct=0.001)  # 10 USDT on 10,000
    om.submit_intent(entry(decision_id(), okx, amount=0.02))  # sized down to risk 10 USDT at a 2% stop
    m = okx.mark_price(SYM)
    row = run(om, sim, "set_stop_loss", payload={"price": round(m * 0.95, 1)})
    assert row["status"] == "failed" and "risk.max_risk_per_trade_pct" in row["result"]
    row = run(om, sim, "set_stop_loss", payload={"price": round(m * 0.99, 1)})
    assert row["status"] == "done", row["result"]


def test_a_command_for_a_position_that_has_changed_side_does_nothing(make_manager, decision_id, okx, sim):
    om = make_manager("auto")
    om.submit_intent(entry(decision_id(), okx, amount=0.02, side="sell"))  # short now; the operator saw a long
    m = okx.mark_price(SYM)
    row = run(om, sim, "set_stop_loss", payload={"price": round(m * 1.01, 1), "side": "long"})
    assert row["status"] == "failed" and "the position is now short, not long" in row["result"]
    row = run(om, sim, "close_position", payload={"side": "long"})
    assert row["status"] == "failed" and "nothing closed" in row["result"]
    assert okx.position(SYM).side == "short"
    assert run(om, sim, "close_position", payload={"side": "short"})["status"] == "done"
    assert okx.position(SYM).size == 0


def test_moving_the_stop_without_a_position_is_refused(make_manager, sim):
    om = make_manager("auto")
    row = run(om, sim, "set_stop_loss", payload={"price": 50_000.0})
    assert row["status"] == "failed" and "no open position" in row["result"]


def test_a_stop_placed_when_the_position_has_none_closes_the_whole_position(make_manager, decision_id, okx, sim):
    om = make_manager("auto", require_stop_loss=False)
    om.submit_intent(OrderIntent(SYM, "sell", 0.02, leverage=2.0, decision_id=decision_id()))
    assert okx.protective_orders(SYM) == []
    m = okx.mark_price(SYM)
    row = run(om, sim, "set_stop_loss", payload={"price": round(m * 1.01, 1)})
    assert row["status"] == "done", row["result"]
    live = okx.protective_orders(SYM)
    assert len(live) == 1 and live[0].side == "buy" and live[0].close_fraction
    assert live[0].stop_loss == round(m * 1.01, 1) and live[0].take_profit is None


def test_cancel_all_cancels_waiting_and_working_orders_but_keeps_the_position_and_its_stop(
    make_manager, decision_id, okx, sim
):
    auto = make_manager("auto")
    auto.submit_intent(entry(decision_id(), okx, amount=0.01))
    m = okx.mark_price(SYM)
    resting = auto.submit_intent(
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
    om = make_manager("manual")
    waiting = om.submit_intent(entry(decision_id(), okx, amount=0.005))
    ds = DataService()
    assert (ds.order(resting)["status"], ds.order(waiting)["status"]) == ("submitted", "pending_approval")
    row = run(om, sim, "cancel_all")
    assert row["status"] == "done" and row["result"] == "canceled 2 open order(s)"
    assert (ds.order(resting)["status"], ds.order(waiting)["status"]) == ("canceled", "canceled")
    assert okx.position(SYM).size > 0 and okx.protective_orders(SYM)
    assert not om.kill_switch_active()
    assert run(om, sim, "cancel_all")["result"] == "no open orders to cancel"
