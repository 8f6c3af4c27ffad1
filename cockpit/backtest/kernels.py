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
def _first_cross(low, high, a, b, lo_level, hi_level):
    for i in range(a, b):
        if low[i] <= lo_level or high[i] >= hi_level:
            return i
    return b


def first_cross_fn():
    """``f(low, high, a, b, lo_level, hi_level)``: the first i in [a, b) with low[i] <= lo_level or
    high[i] >= hi_level, else b (the event engine's trigger scan, compiled); None without numba."""
    return _first_cross if HAVE_NUMBA else None
