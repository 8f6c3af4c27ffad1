"""Closed trades from the fills the OrderManager records on the built-in simulator (real ccxt): entry, exit,
exit reason (the triggered leg as the exchange says, a manual close, the kill switch, a signal), realised
P&L, fees and the position's funding."""

from __future__ import annotations

import pytest

from cockpit.data import DataService
from cockpit.data.account import AccountReads, closed_trades, exit_reason, realised, round_trips
from cockpit.data.operator import submit_command
from cockpit.domain.orders import OrderIntent

SYM = "BTC/USDT:USDT"


def test_a_triggered_stop_is_a_stop_loss_trade_with_its_pnl_fees_and_funding(make_manager, decision_id, okx, sim):
    om = make_manager("auto", min_stop_distance_pct=0.001)
    m = okx.mark_price(SYM)
    oid = om.submit_intent(
        OrderIntent(
            SYM,
            "buy",
            0.01,
            stop_loss=round(m * 0.998, 1),
            take_profit=round(m * 1.002, 1),
            leverage=2.0,
            decision_id=decision_id(),
        )
    )
    for _ in range(48):
        sim.clock.advance(600_000)
        if okx.position(SYM).size == 0:
            break
    assert okx.position(SYM).size == 0, "the simulated market never reached the stop or the take-profit"
    om.sync()
    algo = next(a for a in sim.exchange.algos.values() if a.state == "effective")
    leg = {"sl": "stop-loss", "tp": "take-profit"}[algo.actual_side]
    ds = DataService()
    (close,) = [o for o in ds.orders() if o["reduce_only"]]
    assert close["reason"] == f"{leg} triggered"  # as the exchange says, not guessed from the nearest level
    trades, open_trade = closed_trades(AccountReads(), SYM)
    assert open_trade is None and len(trades) == 1
    t = trades[0]
    entry = ds.order(oid)
    fills = ds.trades()
    assert t["side"] == "long" and t["exit_reason"] == leg
    assert t["entry_price"] == pytest.approx(entry["average_price"])
    assert t["exit_price"] == pytest.approx(close["average_price"])
    assert t["fees"] == pytest.approx(sum(f["fee"] for f in fills))
    assert t["pnl"] == pytest.approx(sum(f["realized_pnl"] or 0 for f in fills))
    assert t["funding"] is not None  # the position's fundingFee as last read while it was open
    assert t["net"] == pytest.approx(t["pnl"] - t["fees"] + t["funding"])
    assert realised(AccountReads().fills_with_orders(SYM)) == pytest.approx(t["pnl"] - t["fees"])


def test_manual_close_and_kill_switch_and_signal_exits(make_manager, decision_id, okx, sim):
    om = make_manager("auto")
    m = okx.mark_price(SYM)

    def entry(side="buy", amount=0.01):
        s = 1 if side == "buy" else -1
        return OrderIntent(
            SYM, side, amount, stop_loss=round(m * (1 - s * 0.02), 1), leverage=2.0, decision_id=decision_id()
        )

    om.submit_intent(entry())
    submit_command("close_position", now_ms=sim.clock.now_ms(), operator="erin")
    om.process_commands()
    om.submit_intent(entry("sell"))
    om.submit_intent(OrderIntent(SYM, "buy", 0.01, reduce_only=True, decision_id=decision_id()))  # the strategy exits
    om.submit_intent(entry())
    submit_command("kill", now_ms=sim.clock.now_ms(), operator="erin")
    om.process_commands()
    trades, open_trade = closed_trades(AccountReads(), SYM)
    assert open_trade is None
    assert [(t["side"], t["exit_reason"]) for t in trades] == [
        ("long", "kill switch"),
        ("short", "signal"),
        ("long", "manual"),
    ]
    assert all(t["size"] == pytest.approx(0.01) and t["fees"] > 0 for t in trades)


def test_a_flip_closes_one_trade_and_opens_the_next():
    fills = [
        dict(timestamp=1, side="buy", price=100.0, amount=2.0, fee=0.2, realized_pnl=0.0, decision_id=1),
        dict(timestamp=2, side="sell", price=110.0, amount=3.0, fee=0.3, realized_pnl=20.0, decision_id=2),
        dict(
            timestamp=3,
            side="buy",
            price=105.0,
            amount=1.0,
            fee=0.1,
            realized_pnl=5.0,
            reason="stop-loss triggered",
            client_order_id="ckabx9",
        ),
    ]
    done, cur = round_trips(fills)
    assert cur is None and len(done) == 2
    a, b = done
    assert (a.side, a.entry_price, a.exit_price, a.pnl, a.exit_reason) == ("long", 100.0, 110.0, 20.0, "signal")
    assert a.fees == pytest.approx(0.2 + 0.2)  # two thirds of the flipping fill's fee
    assert (b.side, b.size, b.entry_price, b.exit_price, b.pnl, b.exit_reason) == (
        "short",
        1.0,
        110.0,
        105.0,
        5.0,
        "stop-loss",
    )
    assert b.fees == pytest.approx(0.1 + 0.1)


@pytest.mark.parametrize(
    "row,reason",
    [
        ({"reason": "full_liquidation by the exchange"}, "liquidation"),
        ({"reason": "kill switch: close position"}, "kill switch"),
        ({"reason": "manual close"}, "manual"),
        ({"reason": "take-profit triggered"}, "take-profit"),
        ({"reason": "stop-loss/take-profit triggered"}, "stop/take-profit"),
        ({"reason": "exit", "decision_id": 4}, "signal"),
        ({"reason": "outside order", "client_order_id": "ckabx1"}, "outside order"),
    ],
)
def test_exit_reason_reads_what_the_order_row_records(row, reason):
    assert exit_reason(row) == reason


def test_funding_is_the_positions_own_and_restarts_with_the_next_position(make_manager, decision_id, okx, sim):
    """OKX lists fundingFee per position: a position opened after a flat one starts from zero, so each closed
    trade carries the funding of its own position (the simulator used to carry the total over)."""
    om = make_manager("auto")
    m = okx.mark_price(SYM)
    om.submit_intent(
        OrderIntent(SYM, "buy", 0.02, stop_loss=round(m * 0.95, 1), leverage=2.0, decision_id=decision_id())
    )
    sim.clock.advance(9 * 3_600_000)  # past a funding settlement (every 8 h)
    first = okx.position(SYM)
    assert first.size > 0 and first.funding_fee not in (None, 0.0), first
    om.record_account()
    sim.clock.advance(60_000)  # a snapshot per (time, side): the next position's must not replace this one
    submit_command("close_position", now_ms=sim.clock.now_ms(), operator="erin")
    om.process_commands()
    sim.clock.advance(60_000)
    m = okx.mark_price(SYM)
    om.submit_intent(
        OrderIntent(SYM, "buy", 0.02, stop_loss=round(m * 0.95, 1), leverage=2.0, decision_id=decision_id())
    )
    assert okx.position(SYM).funding_fee == 0.0
    om.record_account()
    submit_command("close_position", now_ms=sim.clock.now_ms(), operator="erin")
    om.process_commands()
    trades, _ = closed_trades(AccountReads(), SYM)
    assert [t["funding"] for t in trades] == [0.0, pytest.approx(first.funding_fee)]
