"""Tabular scenarios: a few candles -> the expected fills, fees, funding, stop hits, liquidation.

Every scenario runs through both the event-driven engine and the fast path, which must agree.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cockpit.backtest.engine import BacktestCancelled, EngineSettings, SubBars, funding_per_bar, run_engine
from cockpit.backtest.fast import run_fast
from cockpit.domain.clock import ManualClock
from cockpit.domain.orders import Order, OrderStatus
from cockpit.execution.simulated import SimulatedExecutor

from .helpers import H, T0, bars, signals


def both(arrays, sig, settings, **kw):
    a = run_engine(arrays, sig, settings, **kw)
    b = run_fast(arrays, sig, settings, **kw)
    assert [(t.side, t.entry_time, t.exit_time, t.exit_reason) for t in a.trades] == [
        (t.side, t.entry_time, t.exit_time, t.exit_reason) for t in b.trades
    ]
    for x, y in zip(a.trades, b.trades):
        assert x.entry_price == pytest.approx(y.entry_price, rel=1e-12)
        assert x.exit_price == pytest.approx(y.exit_price, rel=1e-12)
        assert x.pnl == pytest.approx(y.pnl, rel=1e-9, abs=1e-9)
    assert a.final_equity == pytest.approx(b.final_equity, rel=1e-12)
    np.testing.assert_allclose(a.equity, b.equity, rtol=1e-12)
    return a


FREE = dict(capital=1000.0, taker_fee=0.0, slippage_bps=0.0, lot_size=0.0)


# (rows, direction, stop, take, expected trades: (side, entry bar, entry px, exit bar, exit px, reason))
SCENARIOS = {
    "entry at next open, exit at the open after the flat signal": (
        [(100, 101, 99, 100), (100, 102, 99, 101), (101, 103, 100, 102), (102, 104, 101, 103), (103, 104, 102, 103)],
        [1, 1, 0, 0, 0],
        None,
        None,
        [("long", 1, 100, 3, 102, "signal")],
    ),
    "reversal closes then opens at the same open": (
        [(100, 101, 99, 100), (100, 102, 99, 101), (101, 103, 100, 102), (102, 104, 101, 103), (103, 104, 102, 103)],
        [1, 1, -1, -1, -1],
        None,
        None,
        [("long", 1, 100, 3, 102, "signal")],
    ),
    "stop-loss inside a bar fills at the stop": (
        [(100, 101, 99, 100), (100, 101, 99.5, 100), (99, 99.5, 97, 97.5), (97.5, 98, 97, 97.5)],
        [1, 1, 1, 1],
        [98, 98, 98, 98],
        None,
        [("long", 1, 100, 2, 98, "stop")],
    ),
    "gap through the stop fills at the open": (
        [(100, 101, 99, 100), (100, 101, 99.5, 100), (96, 97, 95, 96), (96, 97, 95, 96)],
        [1, 1, 1, 1],
        [98, 98, 98, 98],
        None,
        [("long", 1, 100, 2, 96, "stop")],
    ),
    "take-profit fills at its price": (
        [(100, 101, 99, 100), (100, 101, 99.5, 100), (101, 104, 100.5, 103), (103, 104, 102, 103)],
        [1, 1, 1, 1],
        None,
        [103, 103, 103, 103],
        [("long", 1, 100, 2, 103, "take_profit")],
    ),
    "stop and take-profit in one bar: the stop first (conservative)": (
        [(100, 101, 99, 100), (100, 101, 99.5, 100), (100, 104, 97, 101), (101, 102, 100, 101)],
        [1, 1, 1, 1],
        [98] * 4,
        [103] * 4,
        [("long", 1, 100, 2, 98, "stop")],
    ),
    "stop can hit in the entry bar": (
        [(100, 101, 99, 100), (100, 100.5, 97, 98), (98, 99, 97, 98)],
        [1, 1, 1],
        [98.5] * 3,
        None,
        [("long", 1, 100, 1, 98.5, "stop")],
    ),
    "short stop above, no re-entry after a stop-out until the direction changes": (
        [(100, 101, 99, 100), (100, 100.5, 99, 100), (100, 103, 99.5, 102), (102, 103, 101, 102), (102, 103, 101, 102)],
        [-1, -1, -1, -1, -1],
        [102] * 5,
        None,
        [("short", 1, 100, 2, 102, "stop")],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(name):
    rows, d, stop, take, expected = SCENARIOS[name]
    arr = bars(rows)
    res = both(arr, signals(d, stop, take), EngineSettings(**FREE))
    got = [
        (t.side, (t.entry_time - T0) // H, t.entry_price, (t.exit_time - T0) // H, t.exit_price, t.exit_reason)
        for t in res.trades
    ]
    assert got == [(s, eb, pytest.approx(ep), xb, pytest.approx(xp), r) for s, eb, ep, xb, xp, r in expected]
    # Without fees every P&L is size x price move, and the books balance.
    assert res.final_equity == pytest.approx(
        1000.0 + sum(t.pnl for t in res.trades) + res.extra["open_position"] * (rows[-1][3] - res.extra["open_entry"])
    )


def test_fees_and_slippage():
    rows = [(100, 101, 99, 100), (100, 102, 99, 101), (101, 103, 100, 102), (102, 104, 101, 103), (103, 104, 102, 103)]
    st = EngineSettings(capital=1000.0, taker_fee=0.001, slippage_bps=10.0, lot_size=0.01)
    res = both(bars(rows), signals([1, 1, 0, 0, 0]), st)
    (t,) = res.trades
    entry = 100 * 1.001  # open + 10 bps
    size = np.floor(1000 / (entry * (1 + 0.001)) / 0.01 + 1e-9) * 0.01  # margin + fee fit the cash, lot 0.01
    exit_ = 102 * 0.999
    assert t.entry_price == pytest.approx(entry) and t.exit_price == pytest.approx(exit_)
    assert t.size == pytest.approx(size)
    assert t.fees == pytest.approx(size * entry * 0.001 + size * exit_ * 0.001)
    assert res.fees == pytest.approx(t.fees)
    assert res.final_equity == pytest.approx(1000 + size * (exit_ - entry) - t.fees)
    # the executor's fill log carries reasons and the closing fill's P&L
    assert [(f.side, f.reason) for f in res.fills] == [("buy", "signal"), ("sell", "signal")]
    assert res.fills[1].pnl == pytest.approx(t.pnl)


def test_intrabar_uses_lower_timeframe_when_given():
    rows = [(100, 101, 99, 100), (100, 101, 99.5, 100), (100, 104, 97, 101), (101, 102, 100, 101)]
    arr = bars(rows)
    # bar 2's four 15m bars: up to 104 first (take-profit), the dip to 97 comes later
    q = 900_000
    sub = SubBars(
        np.array([T0 + 2 * H + k * q for k in range(4)], dtype=np.int64),
        np.array([100, 103.5, 102, 99.0]),
        np.array([104, 103.8, 102.5, 99.5]),
        np.array([100, 102, 99, 97.0]),
    )
    res = both(arr, signals([1] * 4, [98] * 4, [103] * 4), EngineSettings(**FREE), sub=sub)
    assert [(t.exit_reason, t.exit_price) for t in res.trades] == [("take_profit", 103)]
    assert "lower timeframe" in res.intrabar
    res2 = run_engine(arr, signals([1] * 4, [98] * 4, [103] * 4), EngineSettings(**FREE))
    assert [(t.exit_reason, t.exit_price) for t in res2.trades] == [("stop", 98)]
    assert "conservative" in res2.intrabar


def test_funding_at_8h_settlements():
    # 12 flat-priced bars from 00:00; long entered at 01:00, closed at 09:00: pays the 08:00 settlement only.
    rows = [(100, 100.5, 99.5, 100)] * 12
    d = [1] * 8 + [0] * 4  # flat signal at bar 8's close -> exit at bar 9's open
    arr = bars(rows)
    fund = funding_per_bar(arr["timestamp"], arr["open"], None, 0.001)
    assert fund[0] == pytest.approx(0.1) and fund[8] == pytest.approx(0.1) and fund[1:8].sum() == 0
    res = both(arr, signals(d), EngineSettings(**FREE), funding=fund)
    (t,) = res.trades
    assert t.size == pytest.approx(10.0)
    assert t.funding == pytest.approx(10.0 * 100 * 0.001)  # one settlement
    assert res.funding == pytest.approx(1.0)
    assert res.final_equity == pytest.approx(1000 - 1.0)
    # a short receives positive funding
    res_s = both(arr, signals([-x for x in d]), EngineSettings(**FREE), funding=fund)
    assert res_s.final_equity == pytest.approx(1000 + 1.0)


def test_funding_from_a_table_forward_fills():
    ts = T0 + H * np.arange(24, dtype=np.int64)
    op = np.full(24, 100.0)
    f = funding_per_bar(ts, op, {T0: 0.0002, T0 + 16 * H: -0.0001}, 0.0005)
    assert f[0] == pytest.approx(0.02) and f[8] == pytest.approx(0.02) and f[16] == pytest.approx(-0.01)


def test_liquidation_loses_the_isolated_margin():
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (99, 99.5, 90, 91), (91, 92, 90, 91)]
    st = EngineSettings(capital=1000.0, taker_fee=0.0, leverage=10.0, maintenance_margin=0.005, position_fraction=0.5)
    res = both(bars(rows), signals([1] * 4), st)
    (t,) = res.trades
    liq = (100 - 100 / 10) / (1 - 0.005)  # where margin + P&L = maintenance margin
    assert t.exit_reason == "liquidation" and t.exit_price == pytest.approx(liq)
    assert t.size == pytest.approx(50.0)
    assert t.pnl == pytest.approx(-500.0)  # the whole isolated margin
    assert res.liquidations == 1 and res.final_equity == pytest.approx(500.0)


def test_stop_beyond_liquidation_price_never_triggers_first():
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (99, 99.5, 85, 88), (88, 89, 87, 88)]
    st = EngineSettings(capital=1000.0, taker_fee=0.0, leverage=10.0, maintenance_margin=0.005)
    res = both(bars(rows), signals([1] * 4, [86] * 4), st)
    assert [t.exit_reason for t in res.trades] == ["liquidation"]


def test_open_position_marked_to_last_close_and_strength_sizes():
    rows = [(100, 101, 99, 100), (100, 102, 99, 101), (101, 103, 100, 104)]
    res = both(bars(rows), signals([1, 1, 1], strength=[0.5, 0.5, 0.5]), EngineSettings(**FREE))
    assert res.trades == [] and res.extra["open_position"] == pytest.approx(5.0)
    assert res.final_equity == pytest.approx(1000 + 5 * 4)


def test_executor_orders_follow_the_state_machine_and_limits_fill_when_traded_through():
    clock = ManualClock(T0)
    ex = SimulatedExecutor(clock, cash=1000.0, maker_fee=0.0002, taker_fee=0.0005)
    o = Order("BTC/USDT:USDT", "buy", "limit", 1.0, price=95.0, stop_loss=90.0)
    rep = ex.place(o)
    assert rep.status == OrderStatus.SUBMITTED and [h[0] for h in o.history] == [
        OrderStatus.APPROVED,
        OrderStatus.SUBMITTED,
    ]
    assert ex.trigger_band() == (95.0, np.inf)
    ex.begin_bar(T0, 100, 101, 96)
    ex.end_bar(100)
    assert o.status == OrderStatus.SUBMITTED
    clock.set(T0 + H)
    ex.begin_bar(T0 + H, 97, 98, 94)
    ex.end_bar(96)
    assert o.status == OrderStatus.FILLED and o.average_price == 95.0
    assert ex.position().side == "long" and ex.records[-1].fee == pytest.approx(95 * 0.0002)
    assert ex.stop == 90.0
    # a market order placed between bars waits for the next open
    m = Order("BTC/USDT:USDT", "sell", "market", 1.0, reduce_only=True)
    ex.place(m)
    assert m.status == OrderStatus.SUBMITTED and ex.open_orders("BTC/USDT:USDT")
    clock.set(T0 + 2 * H)
    ex.begin_bar(T0 + 2 * H, 99, 100, 98)
    assert m.status == OrderStatus.FILLED and ex.position().side == "flat"
    assert ex.trades[-1].gross_pnl == pytest.approx(4.0)
    # idempotent per client order id; cancel of a filled order leaves it filled
    assert ex.place(m).status == OrderStatus.FILLED
    assert ex.cancel(m).status == OrderStatus.FILLED
    bad = ex.place(Order("BTC/USDT:USDT", "buy", "market", 0.0))
    assert bad.status == OrderStatus.REJECTED


def test_progress_and_cancellation():
    from .helpers import random_walk
    from cockpit.backtest.signals import EmaCross

    arr = random_walk(3000)
    sig = EmaCross(5, 10).generate(arr)
    seen = []
    run_engine(arr, sig, EngineSettings(), progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (3000, 3000) and all(a <= b for a, b in seen)
    ev = threading.Event()
    ev.set()
    with pytest.raises(BacktestCancelled):
        run_engine(arr, sig, EngineSettings(), cancel=ev)


def test_no_trades_without_signal_changes():
    res = both(bars([(100, 101, 99, 100)] * 5), signals([0] * 5), EngineSettings(**FREE))
    assert res.trades == [] and res.final_equity == 1000.0
    assert np.all(res.equity == 1000.0)


def test_executor_refuses_unapproved_orders_and_idle_reduce_only():
    ex = SimulatedExecutor(ManualClock(T0), cash=1000.0)
    pending = Order("BTC/USDT:USDT", "buy", "market", 1.0, status=OrderStatus.PENDING_APPROVAL)
    assert ex.place(pending).status == OrderStatus.FAILED and pending.status == OrderStatus.PENDING_APPROVAL
    ro = Order("BTC/USDT:USDT", "sell", "market", 1.0, reduce_only=True)
    ex.place(ro)
    ex.begin_bar(T0, 100, 101, 99)
    assert ro.status == OrderStatus.CANCELED and ex.position().side == "flat"


# ---------------------------------------------------------------- resizing toward the target (rebalance_band)

BAND = dict(FREE, rebalance_band=0.05)


def _trades(res):
    return [
        (t.side, (t.entry_time - T0) // H, t.entry_price, (t.exit_time - T0) // H, t.exit_price, t.size, t.exit_reason)
        for t in res.trades
    ]


def test_resize_strength_halved_halves_the_position_at_the_next_open():
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (100, 102, 99, 101), (102, 103, 101, 102), (102, 103, 101, 102)]
    sig = signals([1] * 5, strength=[1, 1, 0.5, 0.5, 0.5])
    res = both(bars(rows), sig, EngineSettings(**BAND))
    # bar 1: buy 10 at 100 (1000 / 100). Close of bar 2: equity 1010 at 101 -> full size 10, target 0.5 x 10 = 5
    # -> a reduce-only sell of 5 at bar 3's open (102). Afterwards the target stays 5: nothing more.
    assert [(f.side, f.price, f.amount, f.reason) for f in res.fills] == [
        ("buy", 100, pytest.approx(10.0), "signal"),
        ("sell", 102, pytest.approx(5.0), "rebalance"),
    ]
    assert _trades(res) == [("long", 1, 100, 3, 102, pytest.approx(5.0), "rebalance")]
    assert res.extra["open_position"] == pytest.approx(5.0) and res.extra["rebalances"] == 1
    assert res.final_equity == pytest.approx(1000 + 5 * 2 + 5 * 2)
    # Without a band (single-strategy default) the engines keep acting on direction changes only.
    plain = both(bars(rows), sig, EngineSettings(**FREE))
    assert plain.trades == [] and plain.extra["open_position"] == pytest.approx(10.0)


def test_resize_change_within_the_band_does_nothing():
    rows = [(100, 101, 99, 100)] * 6
    sig = signals([1] * 6, strength=[1, 1, 0.97, 0.97, 0.97, 0.97])  # 3% of the full size: inside a 5% band
    res = both(bars(rows), sig, EngineSettings(**BAND))
    assert res.trades == [] and res.extra["rebalances"] == 0 and res.extra["open_position"] == pytest.approx(10.0)
    wide = both(bars(rows), sig, EngineSettings(**dict(FREE, rebalance_band=0.02)))  # outside a 2% band
    assert _trades(wide) == [("long", 1, 100, 3, 100, pytest.approx(0.3), "rebalance")]


def test_resize_growth_adds_on_the_same_side_and_keeps_the_bracket():
    rows = [
        (100, 101, 99, 100),
        (100, 101, 99, 100),
        (100, 101, 99, 100),
        (104, 105, 103, 104),
        (104, 105, 93, 104),
    ]  # bar 4 dips to 93: under the new signal's stop (95), above the position's (90)
    st = EngineSettings(**dict(BAND, position_fraction=0.5))
    sig = signals([1] * 5, stop=[90, 90, 95, 95, 95], strength=[0.5, 0.5, 1, 1, 1])
    res = both(bars(rows), sig, st)
    # bar 1: 0.5 x 0.5 x 1000 / 100 = 2.5 bought. Close of bar 2: full size 0.5 x 1000 / 100 = 5, target 5
    # -> buy 2.5 more at bar 3's open (104): 5 held at an average 102, the stop still the entry's 90.
    assert [(f.side, f.price, f.amount, f.reason) for f in res.fills] == [
        ("buy", 100, pytest.approx(2.5), "signal"),
        ("buy", 104, pytest.approx(2.5), "rebalance"),
    ]
    assert res.trades == [] and res.extra["open_position"] == pytest.approx(5.0)
    assert res.extra["open_entry"] == pytest.approx(102.0)
    assert res.final_equity == pytest.approx(1000 + 5 * (104 - 102))


def test_resize_add_is_limited_to_what_the_free_cash_pays_for():
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 99, 100), (110, 111, 109, 110)]
    res = both(bars(rows), signals([1] * 4, strength=[0.5, 0.5, 1, 1]), EngineSettings(**BAND))
    # 5 bought at 100 (margin 500 of 1000). Target at bar 2's close: 10; the gap to 110 leaves 500 / 110 to add.
    assert res.extra["open_position"] == pytest.approx(5 + 500 / 110)


def test_resize_fees_and_slippage_as_for_any_market_order():
    rows = [(100, 101, 99, 100)] * 5
    st = EngineSettings(capital=1000.0, taker_fee=0.001, slippage_bps=10.0, lot_size=0.01, rebalance_band=0.05)
    res = both(bars(rows), signals([1] * 5, strength=[1, 1, 0.5, 0.5, 0.5]), st)
    entry, exit_ = 100 * 1.001, 100 * 0.999
    size = np.floor(1000 / (entry * 1.001) / 0.01 + 1e-9) * 0.01
    cash = 1000 - size * entry * 0.001
    eq = cash + size * (100 - entry)
    target = np.floor(0.5 * eq / (100 * 1.001) / 0.01 + 1e-9) * 0.01
    (t,) = res.trades
    assert (t.exit_reason, t.exit_price) == ("rebalance", pytest.approx(exit_))
    assert t.size == pytest.approx(size - target)
    # the closed share of the entry fee plus this fill's own fee
    assert t.fees == pytest.approx(size * entry * 0.001 * (size - target) / size + (size - target) * exit_ * 0.001)
    assert res.extra["open_position"] == pytest.approx(target)


def test_resize_direction_flip_still_closes_and_reverses():
    rows = [(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 99, 100), (101, 102, 100, 101), (101, 102, 100, 101)]
    res = both(bars(rows), signals([1, 1, -1, -1, -1], strength=[1, 1, 0.5, 0.5, 0.5]), EngineSettings(**BAND))
    assert _trades(res) == [("long", 1, 100, 3, 101, pytest.approx(10.0), "signal")]
    # the short is sized at the open from the equity then (1010) and strength 0.5, as any entry
    assert res.extra["open_position"] == pytest.approx(-0.5 * 1010 / 101)
    assert res.extra["rebalances"] == 0


def test_resize_funding_is_charged_on_the_resized_size():
    rows = [(100, 100.5, 99.5, 100)] * 12  # from 00:00: settlements at bars 0 and 8
    arr = bars(rows)
    fund = funding_per_bar(arr["timestamp"], arr["open"], None, 0.001)
    res = both(arr, signals([1] * 12, strength=[1, 1] + [0.5] * 10), EngineSettings(**BAND), funding=fund)
    # 10 bought at bar 1, cut to 5 at bar 3's open; the 08:00 settlement is paid on 5, not 10
    assert _trades(res) == [("long", 1, 100, 3, 100, pytest.approx(5.0), "rebalance")]
    assert res.trades[0].funding == 0.0
    assert res.funding == pytest.approx(5 * 100 * 0.001)
    assert res.final_equity == pytest.approx(1000 - 0.5)


def test_resize_follows_the_target_back_in_after_a_stop():
    rows = [
        (100, 101, 99, 100),
        (100, 101, 99.5, 100),
        (99, 99.5, 97, 97.5),
        (97.5, 98, 97, 97.5),
        (97.5, 98, 97, 97.5),
    ]
    sig = signals([1] * 5, stop=[98, 98, 95, 95, 95])
    res = both(bars(rows), sig, EngineSettings(**BAND))
    # stopped at 98 in bar 2; the signal still says long at full strength: back in at bar 3's open with the
    # stop of bar 2's signal (95). Edge-triggered (no band), the account stays flat until the direction changes.
    assert _trades(res) == [("long", 1, 100, 2, 98, pytest.approx(10.0), "stop")]
    assert res.extra["open_position"] == pytest.approx(980 / 97.5) and res.extra["open_entry"] == 97.5
    assert run_engine(bars(rows), sig, EngineSettings(**FREE)).extra["open_position"] == 0.0


def test_executor_partial_close_and_add_keep_the_isolated_margin_honest():
    """A partial close releases its share of the isolated margin (funding already settled stays deducted) and
    the liquidation price follows; an add brings its own notional / leverage."""
    clock = ManualClock(T0)
    ex = SimulatedExecutor(clock, cash=1000.0, taker_fee=0.0, leverage=10.0, maintenance_margin=0.005)
    ex.begin_bar(T0, 100, 101, 99)
    ex.place(Order("BTC/USDT:USDT", "buy", "market", 1.0, OrderStatus.APPROVED))
    ex.end_bar(100)
    assert ex.margin == pytest.approx(10.0)
    ex.charge_funding(1.0)  # a long pays 1 x 1.0: settled against the margin
    assert ex.margin == pytest.approx(9.0) and ex.liq == pytest.approx((100 - 9.0) / 0.995)
    clock.set(T0 + H)
    ex.begin_bar(T0 + H, 100, 101, 99)
    ex.place(Order("BTC/USDT:USDT", "sell", "market", 0.5, OrderStatus.APPROVED, reduce_only=True), reason="rebalance")
    assert ex.size == pytest.approx(0.5) and ex.margin == pytest.approx(4.5)
    assert ex.liq == pytest.approx((100 - 4.5 / 0.5) / 0.995)
    assert ex.trades[-1].funding == pytest.approx(0.5) and ex.trades[-1].exit_reason == "rebalance"
    ex.place(Order("BTC/USDT:USDT", "buy", "market", 0.5, OrderStatus.APPROVED), reason="rebalance")
    ex.end_bar(100)
    assert ex.size == pytest.approx(1.0) and ex.margin == pytest.approx(4.5 + 5.0)
    assert ex.liq == pytest.approx((100 - 9.5) / 0.995)
