"""The live report computes windowed indicators over the bars their last value reads (VWAP, z-score, slope,
Donchian, the volatility over the regime's lookback), MACD in its fused pass and the last bar's patterns from
floats. Here every field equals the report computed the long way (each indicator over the whole history, as
TechnicalAnalysis did before, written out below) on real candles of every timeframe and on generated ones:
the regime, trend and patterns exactly, numbers to the report's own rounding."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cockpit.indicators import core as ind
from cockpit.indicators.analysis import TechnicalAnalysis, _last, _num

from test_analysis_reuse import candles

EXACT = ("regime", "trend", "patterns", "bars", "timestamp")


def full_report(ta: TechnicalAnalysis, arrays: dict[str, np.ndarray]) -> dict:
    """The report's indicator fields, each from the whole-history array form (before: the live report)."""
    a = {k: np.asarray(v)[-ta.tail :] for k, v in arrays.items()}
    h, lo, c, v = (np.asarray(a[k], dtype=np.float64) for k in ("high", "low", "close", "volume"))
    up, mid, lw = ind.bollinger(c, 20, 2.0)
    emas = {p: ind.ema(c, p) for p in (12, 26, 50, 200)}
    m_line = emas[12] - emas[26]
    m_sig = ind.ema(m_line, 9)
    adx, pdi, mdi = ind.adx(h, lo, c, 14)
    atr = ind.atr(h, lo, c, 14)
    dc_u, dc_m, dc_l = ind.donchian(h, lo, 20)
    obv = ind.obv(c, v)
    ef, es, close = emas[12][-1], emas[26][-1], float(c[-1])
    trend = "flat"
    if np.isfinite(ef) and np.isfinite(es):
        trend = "up" if ef > es and close > es else "down" if ef < es and close < es else "flat"
    regime, inputs = ta.regime.classify(a)  # computes ADX, volatility and slope over the whole history itself
    atr_last = float(atr[-1]) if np.isfinite(atr[-1]) else None
    return {
        "bars": len(arrays["close"]),
        "timestamp": int(a["timestamp"][-1]),
        "close": _num(close),
        "ema": {f"ema{p}": _last(e) for p, e in emas.items()},
        "sma20": _last(mid),
        "rsi14": _last(ind.rsi(c, 14)),
        "macd": {"macd": _last(m_line), "signal": _last(m_sig), "hist": _last(m_line - m_sig)},
        "bollinger": {"upper": _last(up), "middle": _last(mid), "lower": _last(lw)},
        "atr14": _num(atr_last),
        "adx": {"adx": _last(adx), "plus_di": _last(pdi), "minus_di": _last(mdi)},
        "donchian20": {"upper": _last(dc_u), "middle": _last(dc_m), "lower": _last(dc_l)},
        "obv": _last(obv),
        "vwap14": _last(ind.vwap(h, lo, c, v, 14)),
        "realized_vol24": _last(ind.realized_vol(c, 24)),
        "zscore20": _last(ind.zscore(c, 20)),
        "trend": trend,
        "patterns": [k for k, x in ta.patterns.detect(a).items() if bool(x[-1])],
        "regime": regime.value,
        "regime_inputs": inputs,
    }


def same(got, ref, path: str) -> None:
    if isinstance(ref, dict):
        for k in ref:
            same(got[k], ref[k], f"{path}.{k}")
    elif isinstance(ref, float) and not any(path.endswith(e) for e in EXACT):
        # both sides rounded (8 significant digits; regime inputs 6): one unit of the last digit apart at most
        rel = 2e-5 if ".regime_inputs." in path else 2e-7
        assert isinstance(got, float) and math.isclose(got, ref, rel_tol=rel, abs_tol=1e-9), (path, got, ref)
    else:
        assert got == ref, (path, got, ref)


def check_windows(ta: TechnicalAnalysis, arrays: dict[str, np.ndarray], window: int, ends) -> int:
    n = 0
    for end in ends:
        w = {k: v[max(0, end - window) : end] for k, v in arrays.items()}
        got, ref = ta.timeframe_report(w), full_report(ta, w)
        slope = ref["regime_inputs"].get("slope")
        if slope is not None and abs(slope) < 1e-12:
            # a flat slope window: the fast form gives exactly 0 (slope >= 0: trending up when ADX is high), the
            # rolling form rounding noise of either sign; the rest must agree
            assert got["regime_inputs"]["slope"] == 0.0, f"bar {end}"
            del ref["regime"], ref["regime_inputs"]["slope"]
        same(got, ref, f"bar {end}")
        n += 1
    return n


@pytest.mark.parametrize("tf", ["15m", "1h", "4h", "1d"])
def test_fast_report_equals_the_full_recompute_on_real_candles(shared_data_dir, tf):
    path = shared_data_dir / f"btc_usdt_swap_{tf}.csv"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    df = pd.read_csv(path)
    arrays = {k: df[k].to_numpy() for k in ("timestamp", "open", "high", "low", "close", "volume")}
    m = len(df)
    ends = sorted(set(np.linspace(min(m, 30), m, 60, dtype=int).tolist()))  # short histories too
    assert check_windows(TechnicalAnalysis(), arrays, 1000, ends) >= 30


def test_fast_report_equals_the_full_recompute_on_generated_candles():
    ta = TechnicalAnalysis({"vol_lookback": 300, "slope_window": 30})  # other lookbacks than the defaults
    for seed in range(4):
        a = candles(1600, seed, 3_600_000)
        if seed == 3:  # a flat stretch: z-score 0, no true range, doji
            for k in ("open", "high", "low", "close"):
                a[k][1500:1530] = 30000.0
        check_windows(ta, a, 1000, range(1, 1600, 41))
        check_windows(TechnicalAnalysis(), a, 1000, [1599, 1530, 1529, 1515])
