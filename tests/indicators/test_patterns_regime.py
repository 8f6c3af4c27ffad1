"""PatternRecognizer on hand-written candles; RegimeClassifier on constructed markets."""

from __future__ import annotations

import numpy as np
import pytest

from cockpit.domain.signals import Regime
from cockpit.indicators import PatternRecognizer, RegimeClassifier
from cockpit.indicators.regime import REGIME_CODES, rolling_percentile_rank


def bars(rows):
    """rows of (open, high, low, close)."""
    a = np.asarray(rows, dtype=np.float64)
    n = len(a)
    return {
        "timestamp": np.arange(n, dtype=np.int64) * 3_600_000,
        "open": a[:, 0],
        "high": a[:, 1],
        "low": a[:, 2],
        "close": a[:, 3],
        "volume": np.ones(n),
    }


# (name, candles (o, h, l, c), pattern expected on the last bar)
PATTERN_CASES = [
    ("bullish engulfing", [(100, 101, 97, 98), (97.5, 102, 97, 101)], "bullish_engulfing"),
    ("bearish engulfing", [(98, 101, 97, 100), (100.5, 101, 96, 97)], "bearish_engulfing"),
    ("doji", [(100, 101, 99, 100), (100, 102, 98, 100.1)], "doji"),
    (
        "hammer after a decline",
        [
            (110, 111, 109, 110),
            (110, 110, 107, 108),
            (108, 108, 105, 106),
            (106, 106, 103, 104),
            (104, 104, 101, 102),
            (102, 102, 99, 100),
            (100, 100.3, 95, 100.2),
        ],
        "hammer",
    ),
    (
        "shooting star after a rise",
        [
            (90, 91, 89, 90),
            (90, 93, 90, 92),
            (92, 95, 92, 94),
            (94, 97, 94, 96),
            (96, 99, 96, 98),
            (98, 101, 98, 100),
            (100, 105, 99.7, 99.8),
        ],
        "shooting_star",
    ),
    ("inside bar", [(100, 105, 95, 102), (101, 104, 96, 103)], "inside_bar"),
    (
        "higher highs",
        [(100, 101, 99, 100), (100, 102, 100, 101), (101, 103, 101, 102), (102, 104, 102, 103)],
        "higher_highs",
    ),
    (
        "lower lows",
        [(103, 104, 102, 103), (103, 103, 101, 102), (102, 102, 100, 101), (101, 101, 99, 100)],
        "lower_lows",
    ),
]


@pytest.mark.parametrize("name,rows,expected", PATTERN_CASES, ids=[c[0] for c in PATTERN_CASES])
def test_pattern_on_last_bar(name, rows, expected):
    found = PatternRecognizer().latest(bars(rows))
    assert expected in found, f"{name}: found {found}"


def test_plain_bar_has_no_candle_pattern():
    found = PatternRecognizer().latest(bars([(100, 102, 98, 101), (101, 104, 100, 103)]))
    assert not {"bullish_engulfing", "bearish_engulfing", "doji", "hammer", "shooting_star", "inside_bar"} & set(found)


def test_support_and_resistance_from_confirmed_swings():
    # a range between ~95 and ~105 touched several times, close in the middle
    closes = [100, 103, 105, 103, 100, 97, 95, 97, 100, 103, 105, 103, 100, 97, 95, 97, 100, 102, 101, 100]
    rows = [(c, c + 0.5, c - 0.5, c) for c in closes]
    lv = PatternRecognizer(pivot_k=2).levels(bars(rows), atr=1.0)
    assert lv["support"][0]["price"] == pytest.approx(94.5) and lv["support"][0]["touches"] == 2
    # nearest first: the minor swing high at 102.5 (confirmed two bars later), then the range top
    assert [r["price"] for r in lv["resistance"]] == pytest.approx([102.5, 105.5])
    assert lv["resistance"][1]["touches"] == 2


def test_pivots_need_k_later_bars():
    closes = [100, 101, 102, 110, 102, 101]
    rows = [(c, c + 0.5, c - 0.5, c) for c in closes]
    pr = PatternRecognizer(pivot_k=3)
    hi, _ = pr.pivots(bars(rows))
    assert 3 not in hi  # only 2 bars after the peak: not confirmed yet
    hi, _ = pr.pivots(bars(rows + [(100, 100.5, 99.5, 100)]))
    assert 3 in hi


def market(kind: str, n: int = 1500, seed: int = 0):
    rng = np.random.default_rng(seed)
    if kind == "up":
        r = 0.002 + rng.normal(0, 0.001, n)
    elif kind == "down":
        r = -0.002 + rng.normal(0, 0.001, n)
    elif kind == "range":
        level = rng.normal(0, 0.003, n)  # i.i.d. noise around a fixed level: no trend
        r = np.diff(level, prepend=0.0)
    else:  # calm, then a volatility burst at the end
        r = np.concatenate([rng.normal(0, 0.001, n - 30), rng.normal(0, 0.03, 30)])
    c = 50000 * np.exp(np.cumsum(r))
    o = np.concatenate([[c[0]], c[:-1]])
    h = np.maximum(o, c) * (1 + 0.0005)
    lo = np.minimum(o, c) * (1 - 0.0005)
    return {
        "timestamp": np.arange(n, dtype=np.int64) * 3_600_000,
        "open": o,
        "high": h,
        "low": lo,
        "close": c,
        "volume": np.ones(n),
    }


@pytest.mark.parametrize(
    "kind,expected",
    [
        ("up", Regime.TRENDING_UP),
        ("down", Regime.TRENDING_DOWN),
        ("range", Regime.RANGING),
        ("burst", Regime.HIGH_VOLATILITY),
    ],
)
def test_regime_of_constructed_markets(kind, expected):
    a = market(kind)
    if kind == "range":  # noise: ADX wanders around 20, so judge the bulk of the bars, not one
        codes = RegimeClassifier().classify_series(a)[600:]
        assert np.mean(codes == REGIME_CODES.index(expected)) > 0.6
        return
    regime, inputs = RegimeClassifier().classify(a)
    assert regime is expected, inputs


def test_regime_thresholds_come_from_config():
    a = market("up")
    assert RegimeClassifier({"adx_trend": 100.0}).classify(a)[0] is Regime.RANGING
    assert RegimeClassifier({"adx_trend": 0.0}).classify(market("down"))[0] is Regime.TRENDING_DOWN
    assert RegimeClassifier({"vol_high_pct": 0.0}).classify(a)[0] is Regime.HIGH_VOLATILITY


def test_regime_series_agrees_with_last_bar_and_warms_up_unknown():
    a = market("range", n=900)
    rc = RegimeClassifier({"vol_lookback": 200})
    codes = rc.classify_series(a)
    assert REGIME_CODES[codes[0]] is Regime.UNKNOWN
    for t in (400, 650, 899):
        assert REGIME_CODES[codes[t]] is rc.classify({k: v[: t + 1] for k, v in a.items()})[0]


def test_percentile_rank():
    x = np.array([np.nan, 1, 2, 3, 4, 5, 1.0])
    r = rolling_percentile_rank(x, 3)
    assert np.isnan(r[2]) and r[3] == 1.0 and r[6] == pytest.approx(1 / 3)
