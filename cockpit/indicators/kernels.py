"""Compiled (numba) single-pass loops behind cockpit.indicators.core's EMA/Wilder, RSI, MACD, Bollinger, ATR and
ADX, equal to the numpy forms in core.py to rounding (tests/indicators/test_kernels.py: 1e-9 relative).

Each kernel writes into ``out`` arrays the caller allocates and returns False on a NaN/inf input it does not
handle: the caller then uses the numpy form (which has the NaN rules), so the kernels only ever see clean
histories. Without numba, ``HAVE_NUMBA`` is False and core.py uses its numpy forms throughout.

Compilation: ``cache=True``, so the first call on a machine compiles (a few seconds for all of them, once) and
writes the machine code next to this file in __pycache__; later processes load it in milliseconds.
``warm_up()`` triggers that on tiny inputs, for callers that want it off the hot path.
"""

from __future__ import annotations

import math

import numpy as np

try:
    from numba import njit
    HAVE_NUMBA = True
except Exception:  # pragma: no cover
    HAVE_NUMBA = False

    def njit(*args, **kwargs):
        if args and callable(args[0]):
            return args[0]
        return lambda f: f


@njit(cache=True)
def ewm_into(x, alpha, min_periods, out):
    """ewm(alpha, adjust=False) seeded with x[0]; NaN for the first min_periods-1 bars. False on NaN/inf."""
    n = len(x)
    if n == 0:
        return True
    d = 1.0 - alpha
    y = x[0]
    if not math.isfinite(y):
        return False
    out[0] = y
    for i in range(1, n):
        v = x[i]
        if not math.isfinite(v):
            return False
        y = alpha * v + d * y
        out[i] = y
    for i in range(min(min_periods - 1, n)):
        out[i] = np.nan
    return True


@njit(cache=True)
def rsi_into(c, n, out):
    """Wilder RSI like core.rsi: gains/losses seeded with 0 at bar 0; NaN before bar n-1. False on NaN/inf."""
    m = len(c)
    a = 1.0 / n
    d = 1.0 - a
    au = 0.0
    ad = 0.0
    if not math.isfinite(c[0]):
        return False
    out[0] = 100.0  # overwritten by the warm-up NaNs below (n >= 2)
    for i in range(1, m):
        if not math.isfinite(c[i]):
            return False
        ch = c[i] - c[i - 1]
        au = a * (ch if ch > 0.0 else 0.0) + d * au
        ad = a * (-ch if ch < 0.0 else 0.0) + d * ad
        if ad == 0.0:
            out[i] = 100.0
        else:
            out[i] = au / (au + ad) * 100.0
    for i in range(min(n - 1, m)):
        out[i] = np.nan
    return True


@njit(cache=True)
def macd_into(c, fast, slow, signal, line, sig, hist):
    """MACD like core.macd: line = EMA(fast) - EMA(slow) from bar slow-1, signal = EMA(signal) of the line
    seeded at its first value. False on NaN/inf."""
    m = len(c)
    af = 2.0 / (fast + 1.0)
    asl = 2.0 / (slow + 1.0)
    ag = 2.0 / (signal + 1.0)
    df = 1.0 - af
    dsl = 1.0 - asl
    dg = 1.0 - ag
    first = max(fast, slow) - 1  # first bar where both EMAs are defined
    sig_from = first + signal - 1
    ef = c[0]
    es = c[0]
    if not math.isfinite(ef):
        return False
    g = 0.0
    for i in range(m):
        v = c[i]
        if not math.isfinite(v):
            return False
        if i > 0:
            ef = af * v + df * ef
            es = asl * v + dsl * es
        if i < first:
            line[i] = np.nan
            sig[i] = np.nan
            hist[i] = np.nan
            continue
        ln = ef - es
        line[i] = ln
        if i == first:
            g = ln
        else:
            g = ag * ln + dg * g
        if i < sig_from:
            sig[i] = np.nan
            hist[i] = np.nan
        else:
            sig[i] = g
            hist[i] = ln - g
    return True


@njit(cache=True)
def bollinger_into(x, w, k, upper, mid, lower, block):
    """Rolling mean and population std over w values, sums taken around a reference value that is reset
    (and the window re-summed) every ``block`` bars so float error does not grow. False on NaN/inf."""
    n = len(x)
    for i in range(n):
        if not math.isfinite(x[i]):
            return False
    for i in range(min(w - 1, n)):
        upper[i] = np.nan
        mid[i] = np.nan
        lower[i] = np.nan
    if n < w:
        return True
    ref = 0.0
    s1 = 0.0
    s2 = 0.0
    since = block
    for i in range(w - 1, n):
        if since >= block:
            ref = x[i - w + 1]
            s1 = 0.0
            s2 = 0.0
            for j in range(i - w + 1, i + 1):
                e = x[j] - ref
                s1 += e
                s2 += e * e
            since = 0
        else:
            e_in = x[i] - ref
            e_out = x[i - w] - ref
            s1 += e_in - e_out
            s2 += e_in * e_in - e_out * e_out
        since += 1
        c1 = s1 / w
        var = s2 / w - c1 * c1
        if var < 0.0:
            var = 0.0
        m = c1 + ref
        sd = math.sqrt(var)
        mid[i] = m
        upper[i] = m + k * sd
        lower[i] = m - k * sd
    return True


@njit(cache=True)
def atr_into(h, lo, c, n, out):
    """Wilder ATR like core.atr: first value at bar n-1 = mean TR[0..n-1] (TR[0] = high - low). False on NaN/inf."""
    m = len(c)
    a = 1.0 / n
    d = 1.0 - a
    s = 0.0
    y = 0.0
    for i in range(m):
        hi = h[i]
        lw = lo[i]
        cl = c[i]
        if not (math.isfinite(hi) and math.isfinite(lw) and math.isfinite(cl)):
            return False
        tr = hi - lw
        if i > 0:
            pc = c[i - 1]
            t2 = abs(hi - pc)
            t3 = abs(lw - pc)
            if t3 > t2:
                t2 = t3
            if t2 > tr:
                tr = t2
        if i < n - 1:
            s += tr
            out[i] = np.nan
        elif i == n - 1:
            s += tr
            y = s / n
            out[i] = y
        else:
            y = a * tr + d * y
            out[i] = y
    return True


@njit(cache=True)
def adx_into(h, lo, c, n, adx, pdi, mdi):
    """ADX, +DI, -DI like core.adx (Wilder's sums over bars 1..n as seeded means, DX mean over bars n..2n-1,
    then Wilder). The caller handles len <= 2n-1. False on NaN/inf."""
    m = len(c)
    a = 1.0 / n
    d = 1.0 - a
    st = 0.0
    su = 0.0
    sd = 0.0
    sx = 0.0
    x = 0.0
    for i in range(m):
        if not (math.isfinite(h[i]) and math.isfinite(lo[i]) and math.isfinite(c[i])):
            return False
    for i in range(min(n, m)):
        pdi[i] = np.nan
        mdi[i] = np.nan
    for i in range(min(2 * n - 1, m)):
        adx[i] = np.nan
    for i in range(1, m):
        hi = h[i]
        lw = lo[i]
        pc = c[i - 1]
        tr = hi - lw
        t2 = abs(hi - pc)
        t3 = abs(lw - pc)
        if t3 > t2:
            t2 = t3
        if t2 > tr:
            tr = t2
        du = hi - h[i - 1]
        dd = lo[i - 1] - lw
        up = du if (du > dd and du > 0.0) else 0.0
        dn = dd if (dd > du and dd > 0.0) else 0.0
        if i < n:
            st += tr
            su += up
            sd += dn
            continue
        if i == n:
            st = (st + tr) / n
            su = (su + up) / n
            sd = (sd + dn) / n
        else:
            st = a * tr + d * st
            su = a * up + d * su
            sd = a * dn + d * sd
        if st > 0.0:
            p = 100.0 * su / st
            q = 100.0 * sd / st
        else:
            p = 0.0
            q = 0.0
        pdi[i] = p
        mdi[i] = q
        tot = p + q
        dx = 100.0 * abs(p - q) / tot if tot > 0.0 else 0.0
        if i < 2 * n - 1:
            sx += dx
        elif i == 2 * n - 1:
            x = (sx + dx) / n
            adx[i] = x
        else:
            x = a * dx + d * x
            adx[i] = x
    return True


def warm_up() -> None:
    """Compile (first run on this machine) or load from the cache every kernel, on tiny inputs: for writable
    inputs and for read-only ones (numba compiles those apart; e.g. arrays pandas hands out read-only)."""
    if not HAVE_NUMBA:
        return
    for writable in (True, False):
        x = np.linspace(1.0, 2.0, 64)
        hi, lw = x + 0.5, x - 0.5
        for a in (x, hi, lw):
            a.setflags(write=writable)
        o1, o2, o3 = np.empty(64), np.empty(64), np.empty(64)
        ewm_into(x, 0.1, 20, o1)
        rsi_into(x, 14, o1)
        macd_into(x, 12, 26, 9, o1, o2, o3)
        bollinger_into(x, 20, 2.0, o1, o2, o3, 1024)
        atr_into(hi, lw, x, 14, o1)
        adx_into(hi, lw, x, 14, o1, o2, o3)
