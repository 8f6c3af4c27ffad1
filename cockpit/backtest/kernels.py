"""Compiled (numba) loops behind the reference signals: ``ewm(span, adjust=False).mean()`` exactly as pandas
computes it, and the EMA-crossover direction in one pass.

Bit-for-bit equal to pandas (tests/backtest/test_kernels.py): pandas' ``ewm`` with ``adjust=False`` updates
``w = ((1 - a) * w + a * x) / ((1 - a) + a)`` with ``a = 1 / (1 + (span - 1) / 2)``, and skips the update when
``w == x``; the division is by exactly 1.0 for every span we use, so it is dropped only then. A NaN in the
input returns None: the caller falls back to pandas (which has its own NaN rules).
Without numba the loops run as plain Python (correct, slow); callers use pandas then. The EMA kernel itself
lives with the other indicators (cockpit.indicators.kernels.ewm_pandas_into, behind ``core.ema(pandas_exact=True)``).
"""

from __future__ import annotations

import math

import numpy as np

from cockpit.indicators.kernels import ewm_pandas_into, span_alpha

try:
    from numba import njit

    HAVE_NUMBA = True
except Exception:  # pragma: no cover
    HAVE_NUMBA = False

    def njit(*args, **kwargs):  # type: ignore[no-redef]  # numba's decorator when numba is absent
        if args and callable(args[0]):
            return args[0]
        return lambda f: f


@njit(cache=True)
def _cross_direction(x, a_fast, a_slow, warmup, out):
    n = len(x)
    if n == 0:
        return True
    ff = 1.0 - a_fast
    sf = ff + a_fast
    fs = 1.0 - a_slow
    ss = fs + a_slow
    wf = x[0]
    ws = x[0]
    if wf != wf:
        return False
    for i in range(n):
        cur = x[i]
        if cur != cur:
            return False
        if i > 0:
            if wf != cur:
                wf = ff * wf + a_fast * cur
                if sf != 1.0:
                    wf = wf / sf
            if ws != cur:
                ws = fs * ws + a_slow * cur
                if ss != 1.0:
                    ws = ws / ss
        if i < warmup:
            out[i] = 0
        else:
            diff = wf - ws
            out[i] = 1 if diff > 0 else (-1 if diff < 0 else 0)
    return True


def ewm_mean(x: np.ndarray, span: float) -> np.ndarray | None:
    """pandas ``Series(x).ewm(span=span, adjust=False).mean()``, or None (no numba, or NaN in ``x``)."""
    if not HAVE_NUMBA:
        return None
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty(len(x))
    return out if ewm_pandas_into(x, span_alpha(span), out) else None


def cross_direction(x: np.ndarray, fast: int, slow: int, warmup: int) -> np.ndarray | None:
    """sign(EMA(fast) - EMA(slow)) as int8 (pandas EMAs), 0 for the first ``warmup`` bars; None as above."""
    if not HAVE_NUMBA:
        return None
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty(len(x), np.int8)
    return out if _cross_direction(x, span_alpha(fast), span_alpha(slow), warmup, out) else None


@njit(cache=True)
def _sum4(x, centre, square, negative_only):
    """Sum of x (minus ``centre``, squared with ``square``; only x < 0 with ``negative_only``) over four
    accumulators, so the adds do not wait on each other."""
    n = len(x)
    a0 = a1 = a2 = a3 = 0.0
    i = 0
    while i + 3 < n:
        v0, v1, v2, v3 = x[i] - centre, x[i + 1] - centre, x[i + 2] - centre, x[i + 3] - centre
        if negative_only:
            v0 = v0 if v0 < 0.0 else 0.0
            v1 = v1 if v1 < 0.0 else 0.0
            v2 = v2 if v2 < 0.0 else 0.0
            v3 = v3 if v3 < 0.0 else 0.0
        if square:
            v0, v1, v2, v3 = v0 * v0, v1 * v1, v2 * v2, v3 * v3
        a0 += v0
        a1 += v1
        a2 += v2
        a3 += v3
        i += 4
    while i < n:
        v = x[i] - centre
        if negative_only:
            v = v if v < 0.0 else 0.0
        a0 += v * v if square else v
        i += 1
    return (a0 + a1) + (a2 + a3)


@njit(cache=True)
def _equity_stats(eq, capital):
    """(max drawdown, mean, sample standard deviation, downside root mean square) of an equity curve's
    per-bar simple returns (the first against ``capital``), as metrics.compute_metrics defines them; None for
    a NaN/inf value or fewer than two bars (the caller then uses its numpy form)."""
    n = len(eq)
    if n < 2:
        return None
    r = np.empty(n)
    peak = eq[0]
    max_dd = 0.0
    prev = capital
    for i in range(n):
        x = eq[i]
        if not math.isfinite(x):
            return None
        if x > peak:
            peak = x
        if peak > 0.0:
            dd = x / peak - 1.0
            if dd < max_dd:
                max_dd = dd
        r[i] = x / prev - 1.0 if prev > 0.0 else 0.0
        prev = x
    mean = _sum4(r, 0.0, False, False) / n
    ss = _sum4(r, mean, True, False)
    down = _sum4(r, 0.0, True, True)
    return max_dd, mean, math.sqrt(ss / (n - 1)), math.sqrt(down / n)


def equity_stats(eq: np.ndarray, capital: float) -> tuple[float, float, float, float] | None:
    """_equity_stats compiled, or None (no numba, NaN/inf, fewer than two bars)."""
    if not HAVE_NUMBA:
        return None
    return _equity_stats(np.ascontiguousarray(eq, dtype=np.float64), float(capital))


@njit(cache=True)
def _first_cross(low, high, a, b, lo_level, hi_level):
    for i in range(a, b):
        if low[i] <= lo_level or high[i] >= hi_level:
            return i
    return b


def first_cross_fn():
    """``f(low, high, a, b, lo_level, hi_level)``: the first i in [a, b) with low[i] <= lo_level or
    high[i] >= hi_level, else b (the event engine's trigger scan, compiled); None without numba."""
    return _first_cross if HAVE_NUMBA else None
