"""The compiled single-pass indicators (cockpit/indicators/kernels.py) against the numpy forms in core.py,
which stay as the fallback without numba and for NaN/inf inputs: same warm-up NaNs, values within 1e-9
relative, on generated candles and on the whole real BTC/USDT 1h history. MACD is the difference of two
EMAs of the price, so its values are compared relative to the price scale (cancellation makes them
ill-conditioned relative to themselves: both forms differ from TA-Lib by ~1e-8 of the value already)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cockpit.indicators import core as ind
from cockpit.indicators import kernels

from test_indicators import make_candles

pytestmark = pytest.mark.skipif(not kernels.HAVE_NUMBA, reason="numba not importable: core.py runs numpy only")


def _outputs(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    h, lo, c = a["high"], a["low"], a["close"]
    out = {
        "ema20": ind.ema(c, 20),
        "ema200": ind.ema(c, 200),
        "wilder14": ind.wilder(c, 14),
        "wilder14_mp1": ind.wilder(c, 14, min_periods=1),
        "rsi14": ind.rsi(c, 14),
        "rsi2": ind.rsi(c, 2),
        "atr14": ind.atr(h, lo, c, 14),
        "atr1": ind.atr(h, lo, c, 1),
        "rvol24": ind.realized_vol(c, 24),
        "rvol3": ind.realized_vol(c, 3),
    }
    for name, res in (
        ("macd", ind.macd(c)),
        ("macd5_35_5", ind.macd(c, 5, 35, 5)),
        ("bb20", ind.bollinger(c, 20, 2.0)),
        ("bb50", ind.bollinger(c, 50, 1.5)),
        ("adx14", ind.adx(h, lo, c, 14)),
        ("adx7", ind.adx(h, lo, c, 7)),
    ):
        for i, x in enumerate(res):
            out[f"{name}[{i}]"] = x
    return out


def _compare(a: dict[str, np.ndarray], monkeypatch) -> None:
    price = float(np.median(np.abs(a["close"])))
    fast = _outputs(a)
    with monkeypatch.context() as m:
        m.setattr(kernels, "HAVE_NUMBA", False)
        slow = _outputs(a)
    for name, ref in slow.items():
        got = fast[name]
        assert got.shape == ref.shape, name
        assert np.array_equal(np.isnan(got), np.isnan(ref)), f"{name}: warm-up NaNs differ"
        ok = ~np.isnan(ref)
        assert ok.any(), name
        err = np.abs(got[ok] - ref[ok])
        # relative to the value; oscillators (RSI, DI, ADX) can sit at 0, so near 0 relative to their 0..100 scale
        # realized volatility relative to its typical size: the numpy form's prefix sums over the whole history
        # carry ~1e-12 absolute error, more than a tiny window's value (the kernel re-sums its window)
        floor = price if name.startswith("macd") else float(np.median(ref[ok])) if name.startswith("rvol") else 1e-3
        lim = 1e-9 * np.maximum(np.abs(ref[ok]), floor)
        worst = int(np.argmax(err - lim))
        assert np.all(err <= lim), f"{name}: error {err[worst]} at value {ref[ok][worst]}"


def test_compiled_indicators_equal_numpy_forms_on_generated_candles(monkeypatch):
    _compare(make_candles(30_000, seed=7), monkeypatch)


def test_compiled_indicators_equal_numpy_forms_on_real_candles(shared_data_dir, monkeypatch):
    df = pd.read_csv(shared_data_dir / "btc_usdt_swap_1h.csv")
    _compare({k: df[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close")}, monkeypatch)


def test_short_and_nan_inputs_keep_the_numpy_rules(monkeypatch):
    a = make_candles(200, seed=3)
    short = {k: v[:10] for k, v in a.items()}
    gappy = {k: v.astype(float).copy() for k, v in a.items()}
    for k in ("high", "low", "close"):
        gappy[k][:5] = np.nan  # leading NaNs (e.g. a derived series) and an inner gap
        gappy[k][100] = np.nan
    for case in (short, gappy):
        fast = _outputs(case)
        with monkeypatch.context() as m:
            m.setattr(kernels, "HAVE_NUMBA", False)
            slow = _outputs(case)
        for name, ref in slow.items():
            np.testing.assert_allclose(fast[name], ref, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_single_bad_value_anywhere_falls_back_to_the_numpy_rules(monkeypatch, bad):
    """The kernels test finiteness once, from their state at the end (not per value): one NaN/inf in any
    input at any position, the last bar and the bars inside and around a four-bar block included, must still
    hand over to the numpy forms."""
    a = make_candles(120, seed=5)
    for col in ("high", "low", "close"):
        for pos in (0, 1, 13, 14, 30, 31, 32, 33, 60, 117, 118, 119):
            case = {k: v.astype(float).copy() for k, v in a.items()}
            case[col][pos] = bad
            fast = _outputs(case)
            with monkeypatch.context() as m:
                m.setattr(kernels, "HAVE_NUMBA", False)
                slow = _outputs(case)
            for name, ref in slow.items():  # the tolerances of _compare (kernels run on the clean columns)
                atol = 1e-9 * (float(np.median(a["close"])) if name.startswith("macd") else 1e-3)
                np.testing.assert_allclose(
                    fast[name], ref, rtol=1e-9, atol=atol, equal_nan=True, err_msg=f"{name}: {bad} in {col}[{pos}]"
                )


def test_a_prefix_gives_the_start_of_the_full_values_bit_for_bit():
    """The kernels step four bars at a time; a history ending inside a block must still give exactly the values
    the longer history has there (strategies compare on_bar on a prefix with generate on the whole)."""
    a = make_candles(90, seed=11)
    h, lo, c = a["high"], a["low"], a["close"]
    full = {
        "ema": ind.ema(c, 5),
        "wilder": ind.wilder(c, 3),
        "atr": ind.atr(h, lo, c, 3),
        "macd": ind.macd(c, 3, 6, 2),
        "bb": ind.bollinger(c, 5, 2.0),
        "rsi": ind.rsi(c, 3),
        "adx": ind.adx(h, lo, c, 3),
    }
    for n in range(1, 91):
        part = {
            "ema": ind.ema(c[:n], 5),
            "wilder": ind.wilder(c[:n], 3),
            "atr": ind.atr(h[:n], lo[:n], c[:n], 3),
            "macd": ind.macd(c[:n], 3, 6, 2),
            "bb": ind.bollinger(c[:n], 5, 2.0),
            "rsi": ind.rsi(c[:n], 3),
            "adx": ind.adx(h[:n], lo[:n], c[:n], 3),
        }
        for name, got in part.items():
            if name == "adx" and n <= 5:
                continue  # ADX gives all NaN up to 2n-1 bars (its numpy form's rule), not a prefix of the values
            ref = full[name]
            for g, r in zip(got, ref) if isinstance(got, tuple) else [(got, ref)]:
                np.testing.assert_array_equal(g, r[:n], err_msg=f"{name}, {n} bars")


def _gapped(n: int, seed: int) -> dict[str, np.ndarray]:
    """Candles whose open is away from the previous close (true range from the gap, not the bar's own range),
    some bars with high == low, long enough for many of ATR's chunks."""
    rng = np.random.default_rng(seed)
    c = 30000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = np.concatenate([[c[0]], c[:-1]]) * np.exp(rng.normal(0, 0.006, n))
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.002, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.002, n)))
    flat = rng.random(n) < 0.05
    h[flat] = lo[flat] = c[flat]
    return {"high": h, "low": lo, "close": c}


@pytest.mark.parametrize("period", [1, 3, 14, 200])
def test_atr_over_many_chunks_with_gaps_equals_the_numpy_form(monkeypatch, period):
    """ATR's kernel computes true ranges a chunk at a time (kernels.ATR_CHUNK bars, vectorised) and runs the
    recursion over them; the gaps make |high - previous close| or |low - previous close| the true range."""
    a = _gapped(20 * kernels.ATR_CHUNK + 37, seed=period)
    h, lo, c = a["high"], a["low"], a["close"]
    assert np.mean(np.maximum(np.abs(h[1:] - c[:-1]), np.abs(lo[1:] - c[:-1])) > h[1:] - lo[1:]) > 0.2
    fast = ind.atr(h, lo, c, period)
    with monkeypatch.context() as m:
        m.setattr(kernels, "HAVE_NUMBA", False)
        slow = ind.atr(h, lo, c, period)
    assert np.array_equal(np.isnan(fast), np.isnan(slow))
    ok = ~np.isnan(slow)
    np.testing.assert_allclose(fast[ok], slow[ok], rtol=1e-12, atol=0)


def test_atr_prefixes_ending_around_chunk_boundaries_are_bit_for_bit_the_full_values():
    """Whether a bar falls in a full chunk or in the last, partial one, it gets the same arithmetic: histories
    ending just before, at and after each chunk boundary give exactly the start of the longer history's values."""
    B = kernels.ATR_CHUNK
    a = _gapped(4 * B + 50, seed=21)
    h, lo, c = a["high"], a["low"], a["close"]
    for period in (3, 14):
        full = ind.atr(h, lo, c, period)
        for boundary in (period + B, period + 2 * B, period + 3 * B):
            for n in range(boundary - 9, boundary + 10):
                np.testing.assert_array_equal(ind.atr(h[:n], lo[:n], c[:n], period), full[:n], err_msg=f"{n} bars")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_atr_a_bad_value_inside_a_chunk_falls_back_to_the_numpy_rules(monkeypatch, bad):
    B = kernels.ATR_CHUNK
    a = _gapped(3 * B + 20, seed=5)
    for col in ("high", "low", "close"):
        for pos in (14 + B - 1, 14 + B, 14 + B + 1, 14 + B + 77, 14 + 2 * B, 3 * B + 19):
            case = {k: v.copy() for k, v in a.items()}
            case[col][pos] = bad
            fast = ind.atr(case["high"], case["low"], case["close"], 14)
            with monkeypatch.context() as m:
                m.setattr(kernels, "HAVE_NUMBA", False)
                slow = ind.atr(case["high"], case["low"], case["close"], 14)
            np.testing.assert_allclose(fast, slow, rtol=1e-12, equal_nan=True, err_msg=f"{bad} in {col}[{pos}]")
