"""Tabular scenario tests, freqtrade style: a handful of hand-written candles (and funding) per row,
and the expected signal on the last bar: direction, stop, take-profit, reason.

Candles are built from closes: open = previous close, high = max(open, close) + 1, low = min(open,
close) - 1, so a bar moving by d has a true range of |d| + 2. A series moving by 1 each bar has
TR = 3 everywhere (the first bar's open is set one tick away) and so ATR = 3 exactly; the expected
stops below are worked out by hand from that.
"""

from __future__ import annotations

import numpy as np
import pytest

from cockpit.domain.signals import Direction
from cockpit.strategies.library import STRATEGY_CLASSES

H = 3_600_000
MON = 1_704_067_200_000  # 2024-01-01 00:00 UTC, a Monday
SAT = MON + 5 * 24 * H


def candles(closes, *, start=MON, first_open=None, spread=1.0):
    c = np.asarray(closes, dtype=np.float64)
    o = np.concatenate([[c[0] - 1 if first_open is None else first_open], c[:-1]])
    return {
        "timestamp": start + np.arange(len(c), dtype=np.int64) * H,
        "open": o,
        "high": np.maximum(o, c) + spread,
        "low": np.minimum(o, c) - spread,
        "close": c,
        "volume": np.full(len(c), 10.0),
    }


def osc(tail):
    """100,101,... alternating (first bar 101->100, so every bar spans 99..102: no directional movement)."""
    return candles(OSC + list(tail), first_open=101)


def wilder(true_ranges, n=3):
    """ATR by hand: mean of the first n true ranges, then atr += (tr - atr) / n."""
    atr = sum(true_ranges[:n]) / n
    for tr in true_ranges[n:]:
        atr += (tr - atr) / n
    return atr


RISE = list(range(100, 111))  # 100..110, +1 per bar: ATR(3) = 3
FALL = list(range(210, 199, -1))  # 210..200, first open 211
OSC = [100, 101] * 5  # 100,101,...,101: TR 3, no directional movement
LONG, SHORT, FLAT = Direction.LONG, Direction.SHORT, Direction.FLAT
TREND = dict(lookback_1=1, lookback_2=0, lookback_3=0, lookback_4=0, vol_days=2, atr_period=3)

# (id, strategy, params, candles, funding or extra, direction, stop, take_profit, reason fragment)
SCENARIOS = [
    # a trend follower: no take-profit by default
    (
        "ema rising -> long",
        "ema_trend",
        dict(fast=2, slow=4, atr_period=3),
        candles(RISE),
        None,
        LONG,
        110 - 2 * 3,
        None,
        "EMA2 above EMA4",
    ),
    (
        "ema falling -> short",
        "ema_trend",
        dict(fast=2, slow=4, atr_period=3),
        candles(FALL, first_open=211),
        None,
        SHORT,
        200 + 2 * 3,
        None,
        "EMA2 below EMA4",
    ),
    (
        "ema take-profit when asked",
        "ema_trend",
        dict(fast=2, slow=4, atr_period=3, take_atr=4),
        candles(RISE),
        None,
        LONG,
        110 - 2 * 3,
        110 + 4 * 3,
        "EMA2 above EMA4",
    ),
    # a plain cross does not churn: the close dips below the slow EMA (108 < EMA4 108.3) while EMA2 (108.5)
    # stays above it, and the direction holds (the old rule, close beyond the slow EMA too, went flat here)
    (
        "ema dip through the slow EMA keeps the trend",
        "ema_trend",
        dict(fast=2, slow=4, atr_period=3),
        candles(RISE + [108]),
        None,
        LONG,
        108 - 2 * wilder([3] * 11 + [4]),
        None,
        "EMA2 above EMA4",
    ),
    (
        "ema warming up -> flat",
        "ema_trend",
        dict(fast=2, slow=4, atr_period=3),
        candles(RISE[:2]),
        None,
        FLAT,
        None,
        None,
        "warming up",
    ),
    (
        "ema no take-profit",
        "ema_trend",
        dict(fast=2, slow=4, atr_period=3, take_atr=0),
        candles(RISE),
        None,
        LONG,
        104,
        None,
        "above",
    ),
    # 100,101,100,101,96: mean 99.6, sd 1.8547, z -1.94 < -1.5; TR 7 -> ATR (3+3+7)/3; ADX 33.3
    (
        "bollinger drop in a range -> long",
        "bollinger_range",
        dict(period=5, std=1.5, adx_max=50, adx_period=3, atr_period=3),
        osc([96]),
        None,
        LONG,
        96 - 1.5 * 13 / 3,
        99.6,
        "below the lower band",
    ),
    (
        "bollinger spike in a range -> short",
        "bollinger_range",
        dict(period=5, std=1.5, adx_max=50, adx_period=3, atr_period=3),
        osc([105]),
        None,
        SHORT,
        105 + 1.5 * 4,
        101.4,
        "above the upper band",
    ),
    # next bar 97: back inside the bands but below the middle band (99): the fade is held to its target
    (
        "bollinger held until the middle band",
        "bollinger_range",
        dict(period=5, std=1.5, adx_max=50, adx_period=3, atr_period=3),
        osc([96, 97]),
        None,
        LONG,
        97 - 1.5 * 35 / 9,
        99.0,
        "holding long until the middle band",
    ),
    (
        "bollinger exits at the middle band",
        "bollinger_range",
        dict(period=5, std=1.5, adx_max=50, adx_period=3, atr_period=3),
        osc([96, 97, 101]),
        None,
        FLAT,
        None,
        None,
        "inside the bands",
    ),
    (
        "bollinger drop but ADX 33 >= 25 -> flat",
        "bollinger_range",
        dict(period=5, std=1.5, adx_max=25, adx_period=3, atr_period=3),
        osc([96]),
        None,
        FLAT,
        None,
        None,
        "range rules off",
    ),
    (
        "funding crowded longs -> short",
        "funding_rate",
        dict(atr_period=3),
        candles(RISE),
        {"funding": ([MON, MON + 4 * H, MON + 8 * H], [0.001, 0.0008, 0.0009])},
        SHORT,
        110 + 2 * 3,
        110 - 3 * 3,
        "longs crowded",
    ),
    (
        "funding crowded shorts -> long",
        "funding_rate",
        dict(atr_period=3),
        candles(RISE),
        {"funding": ([MON, MON + 4 * H, MON + 8 * H], [-0.001, -0.0008, -0.0009])},
        LONG,
        110 - 2 * 3,
        110 + 3 * 3,
        "shorts crowded",
    ),
    (
        "funding mild -> flat",
        "funding_rate",
        dict(atr_period=3),
        candles(RISE),
        {"funding": ([MON, MON + 4 * H, MON + 8 * H], [0.0001, 0.0001, 0.0001])},
        FLAT,
        None,
        None,
        "not extreme",
    ),
    # the last bar closes at MON + 11h; a settlement stamped after that is not known yet
    (
        "funding after the bar close is ignored",
        "funding_rate",
        dict(atr_period=3, lookback=1),
        candles(RISE),
        {"funding": ([MON, MON + 11 * H + 1], [0.0001, 0.01])},
        FLAT,
        None,
        None,
        "not extreme",
    ),
    (
        "funding with none at all -> flat",
        "funding_rate",
        dict(atr_period=3),
        candles(RISE),
        None,
        FLAT,
        None,
        None,
        "no funding data",
    ),
    # previous 3 bars high 102; close 104 (TR 5 -> ATR (3+3+5)/3 = 11/3)
    (
        "breakout above the channel -> long",
        "breakout",
        dict(period=3, atr_period=3),
        osc([104]),
        None,
        LONG,
        104 - 2 * 11 / 3,
        None,
        "broke above the 3-bar high",
    ),
    (
        "breakout take-profit when asked",
        "breakout",
        dict(period=3, atr_period=3, take_atr=4),
        osc([104]),
        None,
        LONG,
        104 - 2 * 11 / 3,
        104 + 4 * 11 / 3,
        "broke above the 3-bar high",
    ),
    # channel of the previous 3 bars 99..105, middle 102 < 103: hold; TR 3 -> ATR (2*11/3 + 3)/3 = 31/9
    (
        "breakout held above the middle",
        "breakout",
        dict(period=3, atr_period=3),
        osc([104, 103]),
        None,
        LONG,
        103 - 2 * 31 / 9,
        None,
        "holding the upside breakout",
    ),
    (
        "breakout back below the middle -> flat",
        "breakout",
        dict(period=3, atr_period=3),
        osc([104, 103, 101]),
        None,
        FLAT,
        None,
        None,
        "inside the 3-bar channel",
    ),
    (
        "breakout below the channel -> short",
        "breakout",
        dict(period=3, atr_period=3),
        osc([97]),
        None,
        SHORT,
        97 + 2 * 4,
        None,
        "broke below the 3-bar low",
    ),
    # centre = mean(100,100,100,100,93) = 98.6, step = 2*9.86/4 = 4.93, 5.6 below -> level 1
    (
        "grid one level below centre -> long",
        "grid",
        dict(levels=4, range_pct=0.1, stop_pct=0.02, period=5),
        candles([100, 100, 100, 100, 93]),
        None,
        LONG,
        93 * 0.98,
        98.6,
        "buy level",
    ),
    (
        "grid one level above centre -> short",
        "grid",
        dict(levels=4, range_pct=0.1, stop_pct=0.02, period=5),
        candles([100, 100, 100, 100, 107]),
        None,
        SHORT,
        107 * 1.02,
        101.4,
        "sell level",
    ),
    (
        "grid near centre -> flat",
        "grid",
        dict(levels=4, range_pct=0.1, stop_pct=0.02, period=5),
        candles([100, 100, 100, 100, 106]),
        None,
        FLAT,
        None,
        None,
        "near the grid centre",
    ),
    (
        "grid broken by a trend -> flat",
        "grid",
        dict(levels=4, range_pct=0.1, stop_pct=0.02, period=5),
        candles([100, 100, 100, 100, 80]),
        None,
        FLAT,
        None,
        None,
        "left the grid range",
    ),
    (
        "momentum rising -> long",
        "momentum",
        dict(rsi_period=3, roc_period=3, atr_period=3),
        candles(RISE),
        None,
        LONG,
        110 - 2 * 3,
        None,
        "RSI above 55",
    ),
    (
        "momentum falling -> short",
        "momentum",
        dict(rsi_period=3, roc_period=3, atr_period=3, take_atr=4),
        candles(FALL, first_open=211),
        None,
        SHORT,
        200 + 6,
        200 - 12,
        "RSI below 45",
    ),
    (
        "momentum flat market -> flat",
        "momentum",
        dict(rsi_period=3, roc_period=3, atr_period=3),
        candles([100] * 10),
        None,
        FLAT,
        None,
        None,
        "no momentum",
    ),
    (
        "mean reversion stretched below -> long",
        "mean_reversion",
        dict(period=5, z_entry=1.5, atr_period=3),
        osc([96]),
        None,
        LONG,
        96 - 1.5 * 13 / 3,
        99.6,
        "stretched below",
    ),
    # next bar 97: z = -0.95, still below the mean (99): hold; TR 3 -> ATR (13/3*2+3)/3
    (
        "mean reversion holds until the mean",
        "mean_reversion",
        dict(period=5, z_entry=1.5, atr_period=3),
        osc([96, 97]),
        None,
        LONG,
        97 - 1.5 * (26 / 3 + 3) / 3,
        99.0,
        "holding long",
    ),
    (
        "mean reversion exits at the mean",
        "mean_reversion",
        dict(period=5, z_entry=1.5, atr_period=3),
        osc([96, 97, 101]),
        None,
        FLAT,
        None,
        None,
        "near its mean",
    ),
    (
        "mean reversion stretched above -> short",
        "mean_reversion",
        dict(period=5, z_entry=1.5, atr_period=3),
        osc([105]),
        None,
        SHORT,
        105 + 1.5 * 4,
        101.4,
        "stretched above",
    ),
    # wide swings, then a tight range (the squeeze), then a jump: upper band 110.76 < 112; ATR 14/3
    (
        "volatility expansion after a squeeze -> long",
        "volatility",
        dict(period=5, std=1.5, lookback=10, atr_period=3),
        candles([100, 110] * 4 + [105, 106] * 4 + [112]),
        None,
        LONG,
        112 - 2 * wilder([3] + [12] * 7 + [7] + [3] * 7 + [8]),
        None,
        "close above the upper band",
    ),
    # next bar 111: inside the bands again (upper 112.35) but above the middle (108): the expansion is held
    (
        "volatility holds the expansion above the middle band",
        "volatility",
        dict(period=5, std=1.5, lookback=10, atr_period=3),
        candles([100, 110] * 4 + [105, 106] * 4 + [112, 111]),
        None,
        LONG,
        111 - 2 * wilder([3] + [12] * 7 + [7] + [3] * 7 + [8, 3]),
        None,
        "holding the upside expansion",
    ),
    (
        "volatility exits below the middle band",
        "volatility",
        dict(period=5, std=1.5, lookback=10, atr_period=3),
        candles([100, 110] * 4 + [105, 106] * 4 + [112, 111, 104]),
        None,
        FLAT,
        None,
        None,
        "no squeeze breakout",
    ),
    (
        "volatility squeeze, no breakout -> flat",
        "volatility",
        dict(period=5, std=1.5, lookback=10, atr_period=3),
        candles([100, 110] * 4 + [105, 106] * 4 + [105.5]),
        None,
        FLAT,
        None,
        None,
        "squeeze: waiting",
    ),
    (
        "volatility drop after a squeeze -> short",
        "volatility",
        dict(period=5, std=1.5, lookback=10, atr_period=3),
        candles([100, 110] * 4 + [105, 106] * 4 + [99]),
        None,
        SHORT,
        99 + 2 * wilder([3] + [12] * 7 + [7] + [3] * 7 + [9]),
        None,
        "close below the lower band",
    ),
    # 1h bars from Monday 00:00, close 100+h: the 15:00 bar closes 115, session (13:00) opened 112
    (
        "time cycle in session, up -> long",
        "time_cycle",
        dict(atr_period=3),
        candles(range(100, 116)),
        None,
        LONG,
        115 - 1.5 * 3,
        115 + 3 * 3,
        "above the session open",
    ),
    (
        "time cycle in session, down -> short",
        "time_cycle",
        dict(atr_period=3),
        candles(range(300, 284, -1), first_open=301),
        None,
        SHORT,
        285 + 4.5,
        285 - 9,
        "below the session open",
    ),
    (
        "time cycle before the session -> flat",
        "time_cycle",
        dict(atr_period=3),
        candles(range(100, 113)),
        None,
        FLAT,
        None,
        None,
        "outside the 13-21 UTC session",
    ),
    (
        "time cycle on a Saturday -> flat",
        "time_cycle",
        dict(atr_period=3),
        candles(range(100, 116), start=SAT),
        None,
        FLAT,
        None,
        None,
        "weekend",
    ),
    (
        "time cycle weekends allowed",
        "time_cycle",
        dict(atr_period=3, trade_weekends=True),
        candles(range(100, 116), start=SAT),
        None,
        LONG,
        110.5,
        124,
        "above the session open",
    ),
    # metric window 10,10,10,10,30: mean 14, sd 8, z = 2 (high inflow: bearish by default)
    (
        "onchain metric high -> short",
        "onchain",
        dict(lookback=5, atr_period=3),
        candles(RISE),
        {"onchain": ([MON + i * H for i in range(7)], [10, 10, 10, 10, 10, 10, 30])},
        SHORT,
        116,
        None,
        "unusually high",
    ),
    (
        "onchain bullish when high -> long",
        "onchain",
        dict(lookback=5, atr_period=3, bullish_when="high"),
        candles(RISE),
        {"onchain": ([MON + i * H for i in range(7)], [10, 10, 10, 10, 10, 10, 30])},
        LONG,
        104,
        None,
        "unusually high",
    ),
    # trend core on 1h bars: lookback 1 day = 24 bars, volatility over 2 days; a steady rise is calm (strength 1)
    (
        "trend core rising -> long, no take-profit",
        "trend_core",
        TREND,
        candles(range(100, 161)),
        None,
        LONG,
        160 - 2.5 * 3,
        None,
        "trend up",
    ),
    (
        "trend core falling, long/flat -> cash",
        "trend_core",
        TREND,
        candles(range(300, 239, -1), first_open=301),
        None,
        FLAT,
        None,
        None,
        "stay in cash",
    ),
    (
        "trend core falling, shorts allowed -> short",
        "trend_core",
        dict(TREND, allow_short=True),
        candles(range(300, 239, -1), first_open=301),
        None,
        SHORT,
        240 + 2.5 * 3,
        None,
        "trend down",
    ),
    (
        "trend core warming up -> flat",
        "trend_core",
        TREND,
        candles(range(100, 120)),
        None,
        FLAT,
        None,
        None,
        "warming up",
    ),
    (
        "onchain unremarkable -> flat",
        "onchain",
        dict(lookback=5, atr_period=3),
        candles(RISE),
        {"onchain": ([MON + i * H for i in range(7)], [10, 11, 10, 11, 10, 11, 10.5])},
        FLAT,
        None,
        None,
        "unremarkable",
    ),
]


def run(name, params, a, inputs):
    strat = STRATEGY_CLASSES[name](params, timeframe="1h")
    funding = extra = None
    if inputs and "funding" in inputs:
        ts, fr = inputs["funding"]
        funding = {"timestamp": np.asarray(ts, dtype=np.int64), "funding_rate": np.asarray(fr, dtype=float)}
    if inputs and "onchain" in inputs:
        ts, v = inputs["onchain"]
        extra = {"onchain": {"timestamp": np.asarray(ts, dtype=np.int64), "value": np.asarray(v, dtype=float)}}
    frame = strat.generate(a, funding, extra)
    return frame.signal_at(len(a["close"]) - 1, name, int(a["timestamp"][-1]))


@pytest.mark.parametrize("case", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_scenario(case):
    _id, name, params, a, inputs, direction, stop, take, reason = case
    sig = run(name, params, a, inputs)
    assert sig.direction is direction, sig
    assert reason in sig.reason, sig.reason
    if direction is FLAT:
        assert sig.stop_loss is None and sig.take_profit is None and sig.strength == 0
        return
    assert sig.entry == pytest.approx(a["close"][-1])
    assert sig.stop_loss == pytest.approx(stop, abs=1e-9), sig
    if take is None:
        assert sig.take_profit is None
    else:
        assert sig.take_profit == pytest.approx(take, abs=1e-9), sig
    assert 0 < sig.strength <= 1
    # the stop is on the correct side; so is the target
    if direction is LONG:
        assert sig.stop_loss < sig.entry and (sig.take_profit is None or sig.take_profit > sig.entry)
    else:
        assert sig.stop_loss > sig.entry and (sig.take_profit is None or sig.take_profit < sig.entry)


def test_every_strategy_has_scenarios_for_long_short_and_flat():
    seen: dict[str, set] = {}
    for case in SCENARIOS:
        seen.setdefault(case[1], set()).add(case[5])
    assert set(seen) == set(STRATEGY_CLASSES)
    for name, dirs in seen.items():
        assert {LONG, SHORT, FLAT} <= dirs, name
