"""Vectorised indicators over whole histories (numpy only, float64, NaN during warm-up).

Conventions (the reference is the ``ta`` package, 0.11; tests/indicators check every one):

* ``ema``: pandas ``ewm(span=n, adjust=False)`` — seeded with the first value, NaN for the first n-1 bars.
* ``rsi``: Wilder smoothing as ``ewm(alpha=1/n, adjust=False)`` of gains/losses, seeded with 0 at bar 0
  (the undefined first change); NaN before bar n-1; 100 when there are no losses. Same as ``ta``.
* ``atr``: Wilder; first value at bar n-1 = mean of TR[0..n-1] where TR[0] = high-low. ``ta`` gives 0
  instead of NaN before that; otherwise identical.
* ``adx``: Wilder's original sums (TR, +DM, -DM summed over bars 1..n, then S - S/n + x); DX from the
  DIs; ADX = mean of the first n DX, then Wilder. ``ta``'s ADX uses DX one bar late (its loop reads
  ``directional_index[i-1]``) and starts its sums one bar later; see tests for the mapping.
* ``bollinger``/``zscore``/``realized_vol``: population standard deviation (ddof=0) like ``ta``.
* ``obv``: Granville's rule: unchanged close adds nothing, OBV[0] = 0. ``ta`` adds the volume on an
  unchanged close and starts at volume[0]; tests compare the changes where the close moved.
* ``vwap``: rolling ``window`` VWAP of the typical price (h+l+c)/3 like ``ta``; NaN when the window
  has no volume.

Speed: the first-order recursions (EMA, Wilder) run block-wise: inside a block the recursion is a
scaled cumulative sum, and one short Python loop carries the state across blocks. Rolling sums use
block-local cumulative sums (so float error does not grow with the history), rolling max/min use
the van Herk/Gil-Werman prefix/suffix trick. All O(n).

With numba importable, EMA/Wilder, RSI, MACD, Bollinger, ATR, ADX and realized volatility run as compiled loops
(cockpit/indicators/kernels.py, equal to the numpy forms here to rounding); a NaN/inf input, or no numba,
takes the numpy forms.
"""

from __future__ import annotations

import math

import numpy as np

from cockpit.indicators import kernels as _k

_LOG_RANGE = 300.0  # keep scale factors within e^300 inside a block


def _as_f(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


# ---------------------------------------------------------------- linear recursion


def _lf_block(decay: float, n: int) -> int:
    return int(max(1, min(8192, _LOG_RANGE // -math.log(decay), n)))


def linear_filter(
    x: np.ndarray, decay: float, gain: float = 1.0, init: float | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """y[t] = gain*x[t] + decay*y[t-1], y[-1] = init (0 when None). NaN-free input expected.

    Block-wise: inside a block of b values y_j = decay^j * (cumsum_k gain*x_k*decay^-k + carry*decay),
    with b chosen so decay^-b stays below e^300; a short loop carries y across blocks.
    """
    x = _as_f(x)
    n = len(x)
    if n == 0:
        return x.copy()
    if decay <= 0.0:
        return gain * x
    if decay >= 1.0:
        out = np.cumsum(gain * x)
        if init:
            out += init
        return out
    ln_d = -math.log(decay)
    b = _lf_block(decay, n)
    nb = -(-n // b)
    # ``out`` (if given) must hold whole blocks: at least ceil(n / b) * b values
    buf = np.empty(nb * b) if out is None else out[: nb * b]
    j = np.arange(b, dtype=np.float64)
    up = np.exp(j * ln_d) * gain  # gain * decay^-j
    down = np.exp(-j * ln_d)  # decay^j
    blocks = buf.reshape(nb, b)
    full = (n // b) * b  # b <= n, so at least one whole block
    np.multiply(x[:full].reshape(-1, b), up, out=blocks[: n // b])
    if full < n:
        np.multiply(x[full:], up[: n - full], out=buf[full:n])
    buf[n:] = 0.0
    np.cumsum(blocks, axis=1, out=blocks)
    # carry across blocks: Y_k(end) = down[-1] * (S_k(end) + carry_k * decay), carry_{k+1} = Y_k(end)
    last = blocks[:, -1].copy()
    dl = float(down[-1])
    carry = np.empty(nb)
    c = 0.0 if init is None else float(init)
    for k in range(nb):
        carry[k] = c * decay
        c = dl * (last[k] + carry[k])
    blocks += carry[:, None]
    blocks *= down
    return buf[:n]


def ema(x, n: int, *, min_periods: int | None = None, pandas_exact: bool = False) -> np.ndarray:
    """Exponential moving average, span n (alpha = 2/(n+1)); like pandas ewm(span=n, adjust=False).

    NaN for the first ``min_periods - 1`` bars (default n; 1 gives a value from the first bar, as the chart
    draws it). ``pandas_exact``: bit for bit what pandas computes (alpha through the centre of mass, a
    sequential update skipped when the average equals the value, pandas' own NaN rules), which the backtest's
    reference signals are pinned to; the default form equals it to rounding (~1e-15 relative) and is faster.
    """
    mp = n if min_periods is None else min_periods
    if not pandas_exact:
        return _ewm(x, 2.0 / (n + 1.0), mp)
    x = _as_f(x)
    out = np.empty(len(x))
    if not (_k.HAVE_NUMBA and _k.ewm_pandas_into(x, _k.span_alpha(n), out)):
        import pandas as pd  # NaN input or no numba: pandas itself

        out = pd.Series(x, copy=False).ewm(span=n, adjust=False).mean().to_numpy()
    if mp > 1:
        out[: mp - 1] = np.nan
    return out


def wilder(x, n: int, *, min_periods: int | None = None) -> np.ndarray:
    """Wilder's smoothing as ewm(alpha=1/n, adjust=False): seeded with x[0]."""
    return _ewm(x, 1.0 / n, n if min_periods is None else min_periods)


def _ewm(x, alpha: float, min_periods: int) -> np.ndarray:
    """ewm(alpha, adjust=False) starting at the first finite value; NaN before min_periods valid values."""
    x = _as_f(x)
    n = len(x)
    if _k.HAVE_NUMBA and n:
        out = np.empty(n)
        if _k.ewm_into(x, float(alpha), int(min_periods), out):
            return out
    if n == 0 or not np.isfinite(x[-1]) and not np.isfinite(x).any():
        return np.full(n, np.nan)
    s = 0 if np.isfinite(x[0]) else int(np.argmax(np.isfinite(x)))
    seg = x[s:]
    # inner NaNs (none for our inputs after the first valid one) would poison the recursion: hold them
    if not math.isfinite(float(np.add.reduce(seg))):
        seg = _ffill(seg)
    decay = 1.0 - alpha
    m = len(seg) - 1
    pad = -(-m // _lf_block(decay, m)) * _lf_block(decay, m) if m > 0 and 0.0 < decay < 1.0 else m
    out = np.empty(s + 1 + pad)
    out[:s] = np.nan
    out[s] = seg[0]
    if m > 0:
        if 0.0 < decay < 1.0:
            linear_filter(seg[1:], decay, alpha, init=seg[0], out=out[s + 1 :])
        else:
            out[s + 1 : s + 1 + m] = linear_filter(seg[1:], decay, alpha, init=seg[0])
    if min_periods > 1:
        out[s : s + min_periods - 1] = np.nan
    return out[:n]


def _ffill(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    idx = np.where(ok, np.arange(len(x)), 0)
    np.maximum.accumulate(idx, out=idx)
    return x[idx]


# ---------------------------------------------------------------- rolling windows


def _blocks(x: np.ndarray, w: int) -> tuple[np.ndarray, int, int]:
    """x zero-padded to whole blocks of b >= w values, shape (nb, b)."""
    n = len(x)
    b = max(1024, 2 * w)
    nb = -(-n // b)
    out = np.empty(nb * b)
    out[:n] = x
    out[n:] = 0.0
    return out.reshape(nb, b), b, nb


def _excl_cumsum(blocks: np.ndarray) -> np.ndarray:
    """Per-block exclusive prefix sums, shape (nb, b + 1), column 0 = 0."""
    nb, b = blocks.shape
    cs = np.empty((nb, b + 1))
    cs[:, 0] = 0.0
    np.cumsum(blocks, axis=1, out=cs[:, 1:])
    return cs


def _window_sums(cs: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From block prefix sums: (sum of windows ending inside a block, shape (nb, b-w+1) for j >= w-1),
    (head sums of each block's first w-1 positions), (tail sums of the previous block), the last two
    shape (nb-1, w-1): a window ending at position j < w-1 = head[j] + tail[j]."""
    b = cs.shape[1] - 1
    inside = cs[:, w:] - cs[:, : b + 1 - w]
    head = cs[1:, 1:w]
    tail = cs[:-1, b : b + 1] - cs[:-1, b - w + 1 : b]
    return inside, head, tail


def rolling_sum(x, w: int) -> np.ndarray:
    """Sum over the last ``w`` values (NaN for the first w-1); block-local sums keep float error small."""
    x = _as_f(x)
    n = len(x)
    out = np.full(n, np.nan)
    if n < w:
        return out
    blocks, b, nb = _blocks(x, w)
    cs = _excl_cumsum(blocks)
    res = blocks  # reuse the padded copy for the result
    np.subtract(cs[:, w:], cs[:, : b + 1 - w], out=res[:, w - 1 :])
    res[0, : w - 1] = np.nan
    np.add(cs[1:, 1:w], cs[:-1, b : b + 1] - cs[:-1, b - w + 1 : b], out=res[1:, : w - 1])
    return res.reshape(-1)[:n]


def rolling_mean_var(x, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and population variance, precise for prices (sums around each block's first value)."""
    x = _as_f(x)
    n = len(x)
    if n < w:
        return np.full(n, np.nan), np.full(n, np.nan)
    blocks, b, nb = _blocks(x, w)
    ref = blocks[:, 0].copy()
    blocks -= ref[:, None]
    cs1 = _excl_cumsum(blocks)
    np.multiply(blocks, blocks, out=blocks)
    cs2 = _excl_cumsum(blocks)
    mean = np.empty((nb, b))
    var = blocks  # the padded buffer is free again: reuse it
    mean[0, : w - 1] = np.nan
    var[0, : w - 1] = np.nan
    if nb > 1:
        # windows that start in the previous block: its tail re-referenced to this block's ref, plus the head
        _, h1, t1 = _window_sums(cs1, w)
        _, h2, t2 = _window_sums(cs2, w)
        m = np.arange(w - 1, 0, -1, dtype=np.float64)  # values taken from the previous block
        sh = (ref[:-1] - ref[1:])[:, None]
        s1 = t1 + m * sh + h1
        s2 = t2 + 2.0 * sh * t1 + m * sh * sh + h2
        c1 = s1 / w
        cross_mean = c1 + ref[1:, None]
        cross_var = s2 / w - c1 * c1
    # windows inside one block (overwrites the cumsums' first columns, so after the cross part)
    m1 = np.subtract(cs1[:, w:], cs1[:, : b + 1 - w], out=mean[:, w - 1 :])
    m1 /= w
    v = np.subtract(cs2[:, w:], cs2[:, : b + 1 - w], out=var[:, w - 1 :])
    v /= w
    v -= np.square(m1, out=cs1[:, : b + 1 - w])
    m1 += ref[:, None]
    if nb > 1:
        mean[1:, : w - 1] = cross_mean
        var[1:, : w - 1] = cross_var
    np.maximum(var, 0.0, out=var)
    return mean.reshape(-1)[:n], var.reshape(-1)[:n]


def _rolling_extreme(x, w: int, fn) -> np.ndarray:
    x = _as_f(x)
    n = len(x)
    out = np.full(n, np.nan)
    if n < w:
        return out
    if w == 1:
        return x.copy()
    # van Herk / Gil-Werman: in blocks of w, a window is a suffix of one block plus a prefix of the next
    nb = -(-n // w)
    pad = nb * w - n
    if pad:
        xp = np.empty(nb * w)
        xp[:n] = x
        xp[n:] = -np.inf if fn is np.maximum else np.inf
    else:
        xp = x
    blocks = xp.reshape(nb, w)
    pre = fn.accumulate(blocks, axis=1).reshape(-1)
    suf = np.ascontiguousarray(fn.accumulate(blocks[:, ::-1], axis=1)[:, ::-1]).reshape(-1)
    fn(suf[: n - w + 1], pre[w - 1 : n], out=out[w - 1 :])
    return out


def rolling_max(x, w: int) -> np.ndarray:
    return _rolling_extreme(x, w, np.maximum)


def rolling_min(x, w: int) -> np.ndarray:
    return _rolling_extreme(x, w, np.minimum)


def shift(x: np.ndarray, k: int = 1) -> np.ndarray:
    """x shifted k bars later (x[t-k] at t), NaN-filled."""
    out = np.full(len(x), np.nan)
    if k < len(x):
        out[k:] = x[: len(x) - k]
    return out


# ---------------------------------------------------------------- indicators


def sma(x, n: int) -> np.ndarray:
    out = rolling_sum(x, n)
    out /= n
    return out


def rsi(close, n: int = 14) -> np.ndarray:
    c = _as_f(close)
    if _k.HAVE_NUMBA and n >= 1 and len(c) >= 2:
        out = np.empty(len(c))  # the kernel writes every value
        if _k.rsi_into(c, int(n), out):
            return out
    out = np.full(len(c), np.nan)
    if len(c) < 2:
        return out
    # like ta: the (undefined) change at bar 0 counts as 0, so the averages are seeded with 0 there
    diff = np.empty(len(c))
    diff[0] = 0.0
    np.subtract(c[1:], c[:-1], out=diff[1:])
    au = wilder(np.maximum(diff, 0.0), n)
    np.negative(diff, out=diff)
    ad = wilder(np.maximum(diff, 0.0, out=diff), n)
    # 100 - 100 / (1 + au/ad) == 100 * au / (au + ad); 100 when there are no losses (like ta)
    tot = au + ad
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(au, tot, out=tot)
    out *= 100.0
    out[ad == 0] = 100.0
    out[: min(n - 1, len(c))] = np.nan
    return out


def macd(close, fast: int = 12, slow: int = 26, signal: int = 9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(macd line, signal line, histogram)."""
    if _k.HAVE_NUMBA and fast >= 1 and slow >= 1 and signal >= 1:
        c = _as_f(close)
        line, sig, hist = np.empty(len(c)), np.empty(len(c)), np.empty(len(c))
        if len(c) == 0 or _k.macd_into(c, int(fast), int(slow), int(signal), line, sig, hist):
            return line, sig, hist
    line = ema(close, fast) - ema(close, slow)
    sig = ema(line, signal)
    return line, sig, line - sig


def bollinger(close, n: int = 20, k: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(upper, middle, lower) with the population standard deviation."""
    if _k.HAVE_NUMBA and n >= 1:
        c = _as_f(close)
        up, mid, lo = np.empty(len(c)), np.empty(len(c)), np.empty(len(c))
        if _k.bollinger_into(c, int(n), float(k), up, mid, lo, max(1024, 2 * int(n))):
            return up, mid, lo
    mid, var = rolling_mean_var(close, n)
    sd = np.sqrt(var)
    return mid + k * sd, mid, mid - k * sd


def true_range(high, low, close) -> np.ndarray:
    h, lo, c = _as_f(high), _as_f(low), _as_f(close)
    tr = h - lo
    if len(c) > 1:
        pc = c[:-1]
        tr[1:] = np.maximum(tr[1:], np.maximum(np.abs(h[1:] - pc), np.abs(lo[1:] - pc)))
    return tr


def _wilder_seeded_mean(x: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """Wilder average seeded with the mean of x[start:start+n] at index start+n-1 (ATR/ADX convention)."""
    out = np.full(len(x), np.nan)
    first = start + n - 1
    if len(x) <= first:
        return out
    seed = x[start : first + 1].mean()
    out[first] = seed
    if len(x) > first + 1:
        out[first + 1 :] = linear_filter(x[first + 1 :], 1.0 - 1.0 / n, 1.0 / n, init=seed)
    return out


def atr(high, low, close, n: int = 14) -> np.ndarray:
    if _k.HAVE_NUMBA and n >= 1:
        h, lo, c = _as_f(high), _as_f(low), _as_f(close)
        out = np.empty(len(c))
        if len(h) == len(lo) == len(c) and _k.atr_into(h, lo, c, int(n), out):
            return out
    return _wilder_seeded_mean(true_range(high, low, close), n)


def adx(high, low, close, n: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ADX, +DI, -DI), Wilder's definitions. +DI/-DI from bar n, ADX from bar 2n-1."""
    h, lo = _as_f(high), _as_f(low)
    m = len(h)
    if m > 2 * n - 1 and _k.HAVE_NUMBA and n >= 1:
        c = _as_f(close)
        a, pdi, mdi = np.empty(m), np.empty(m), np.empty(m)  # the kernel writes every value
        if len(lo) == len(c) == m and _k.adx_into(h, lo, c, int(n), a, pdi, mdi):
            return a, pdi, mdi
    nan = np.full(m, np.nan)
    if m <= 2 * n - 1:
        return nan, nan.copy(), nan.copy()
    tr = true_range(h, lo, close)
    up = np.zeros(m)
    dn = np.zeros(m)
    du = h[1:] - h[:-1]
    dd = lo[:-1] - lo[1:]
    up[1:] = np.where((du > dd) & (du > 0), du, 0.0)
    dn[1:] = np.where((dd > du) & (dd > 0), dd, 0.0)
    # Wilder's running sums over bars 1..n, then S_t = S_{t-1}*(1-1/n) + x_t; the DI ratios equal
    # those of the averages, so the seeded-mean form is used for all three.
    str_ = _wilder_seeded_mean(tr, n, 1)
    sup = _wilder_seeded_mean(up, n, 1)
    sdn = _wilder_seeded_mean(dn, n, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pdi = np.where(str_ > 0, 100.0 * sup / str_, 0.0)
        mdi = np.where(str_ > 0, 100.0 * sdn / str_, 0.0)
        tot = pdi + mdi
        dx = np.where(tot > 0, 100.0 * np.abs(pdi - mdi) / tot, 0.0)
    pdi[:n] = np.nan
    mdi[:n] = np.nan
    dx[:n] = np.nan
    a = _wilder_seeded_mean(np.nan_to_num(dx), n, n)
    return a, pdi, mdi


def donchian(high, low, n: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(upper, middle, lower) over the last n bars including the current one."""
    up = rolling_max(high, n)
    lo = rolling_min(low, n)
    return up, (up + lo) / 2.0, lo


def obv(close, volume) -> np.ndarray:
    c, v = _as_f(close), _as_f(volume)
    out = np.empty(len(c))
    if len(c):
        out[0] = 0.0
    if len(c) > 1:
        d = np.sign(np.subtract(c[1:], c[:-1]))
        np.multiply(d, v[1:], out=d)
        np.cumsum(d, out=out[1:])
    return out


def vwap(high, low, close, volume, n: int = 14) -> np.ndarray:
    tp = (_as_f(high) + _as_f(low) + _as_f(close)) / 3.0
    v = _as_f(volume)
    pv = rolling_sum(tp * v, n)
    vv = rolling_sum(v, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(vv > 0, pv / vv, np.nan)


def _rolling_var_centered(r: np.ndarray, w: int, out: np.ndarray) -> None:
    """Rolling population variance for data centred near 0 (returns) into out[w-1:]: plain prefix sums
    are precise here (no large offset to cancel), and faster than the block-referenced form."""
    n = len(r)
    cs1 = np.empty(n + 1)
    cs2 = np.empty(n + 1)
    cs1[0] = cs2[0] = 0.0
    np.cumsum(r, out=cs1[1:])
    np.multiply(r, r, out=cs2[1:])
    np.cumsum(cs2[1:], out=cs2[1:])
    m = np.subtract(cs1[w:], cs1[:-w], out=cs1[: n + 1 - w])
    m /= w
    v = np.subtract(cs2[w:], cs2[:-w], out=out[w - 1 :])
    v /= w
    m *= m
    v -= m
    np.maximum(v, 0.0, out=v)


def realized_vol(close, n: int = 24, periods_per_year: float | None = None) -> np.ndarray:
    """Population std of the last n log returns; annualised when ``periods_per_year`` is given."""
    c = _as_f(close)
    m = len(c)
    out = np.empty(m)
    if _k.HAVE_NUMBA and n >= 1 and m and float(np.min(c)) > 0.0 and _k.realized_vol_into(np.log(c), int(n), out):
        if periods_per_year:
            out *= math.sqrt(periods_per_year)
        return out
    out[: min(n, m)] = np.nan
    if m > n:
        lc = np.log(c)
        r = np.subtract(lc[1:], lc[:-1], out=lc[:-1])  # returns of bars 1..m-1, in place
        _rolling_var_centered(r, n, out[1:])
        np.sqrt(out[n:], out=out[n:])
    if periods_per_year:
        out *= math.sqrt(periods_per_year)
    return out


def zscore(x, n: int = 20) -> np.ndarray:
    """(x - rolling mean) / rolling population std; 0 when the window is flat (std below 1e-12 of the
    series' largest magnitude, i.e. rounding noise)."""
    x = _as_f(x)
    mean, var = rolling_mean_var(x, n)
    sd = np.sqrt(var, out=var)
    z = np.subtract(x, mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(z, sd, out=z)
    tol = 1e-12 * max(float(np.max(np.abs(x))) if len(x) else 0.0, 1.0)
    z[sd <= tol] = 0.0
    return z


def roc(close, n: int = 10) -> np.ndarray:
    """Rate of change in percent over n bars."""
    c = _as_f(close)
    p = shift(c, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (c / p - 1.0) * 100.0


def linreg_slope(x, n: int) -> np.ndarray:
    """Least-squares slope of the last n values against the bar index (per bar)."""
    x = _as_f(x)
    m = len(x)
    out = np.full(m, np.nan)
    if m < n or n < 2:
        return out
    k = np.arange(m, dtype=np.float64)
    sy = rolling_sum(x, n)
    sky = rolling_sum((k - k[0]) * x, n)
    kbar = k - (n - 1) / 2.0  # mean index of the window ending at t
    sxx = n * (n * n - 1) / 12.0
    out = (sky - kbar * sy) / sxx
    out[: n - 1] = np.nan
    return out


# ---------------------------------------------------------------- last values only
# The value of the newest bar alone, for the live report: the same definitions as the array forms above over
# the bars that value reads (equal to rounding, tests/indicators/test_analysis_fast.py), without the block
# machinery that only pays off on long histories. NaN where the array form gives NaN at the last bar.


def vwap_last(high, low, close, volume, n: int = 14) -> float:
    """vwap(...)[-1]: the last ``n`` bars' typical-price VWAP; NaN when they have no volume or are too few."""
    if len(close) < n:
        return math.nan
    tp = (_as_f(high)[-n:] + _as_f(low)[-n:] + _as_f(close)[-n:]) / 3.0
    v = _as_f(volume)[-n:]
    vv = float(v.sum())
    return float((tp * v).sum()) / vv if vv > 0 else math.nan


def zscore_last(x, n: int = 20) -> float:
    """zscore(x[-n:], n)[-1]: (last - mean) / population std of the last n values; 0 when that window is flat
    (std below 1e-12 of its largest magnitude)."""
    w = _as_f(x)[-n:]
    if len(w) < n:
        return math.nan
    m = float(w.mean())
    d = w - m
    sd = math.sqrt(float(np.dot(d, d)) / n)
    if not math.isfinite(sd):
        return math.nan
    if sd <= 1e-12 * max(float(np.max(np.abs(w))), 1.0):
        return 0.0
    return float(d[-1]) / sd


def linreg_slope_last(x, n: int) -> float:
    """linreg_slope(x, n)[-1]: least-squares slope of the last n values against the bar index. Summed as
    sum_j ((n-1)/2 - j) * (w[n-1-j] - w[j]) over the first half (the centred weights are antisymmetric): a flat
    window gives exactly 0, where the rolling form gives rounding noise of either sign."""
    w = _as_f(x)[-n:]
    if len(w) < n or n < 2:
        return math.nan
    half = n // 2
    k = (n - 1) / 2.0 - np.arange(half, dtype=np.float64)
    return float(np.dot(k, w[::-1][:half] - w[:half])) / (n * (n * n - 1) / 12.0)
