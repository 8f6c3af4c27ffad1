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
"""

from __future__ import annotations

import math

import numpy as np

_LOG_RANGE = 300.0  # keep scale factors within e^300 inside a block


def _as_f(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


# ---------------------------------------------------------------- linear recursion


def linear_filter(x: np.ndarray, decay: float, gain: float = 1.0, init: float | None = None) -> np.ndarray:
    """y[t] = gain*x[t] + decay*y[t-1], y[-1] = init (0 when None). NaN-free input expected."""
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
    b = int(max(1, min(4096, _LOG_RANGE // ln_d)))
    nb = -(-n // b)
    pad = nb * b - n
    xp = np.concatenate([x, np.zeros(pad)]) if pad else x
    blocks = xp.reshape(nb, b)
    j = np.arange(b, dtype=np.float64)
    up = np.exp(j * ln_d)  # decay^-j
    down = np.exp(-j * ln_d)  # decay^j
    local = np.cumsum(blocks * (gain * up), axis=1) * down  # recursion inside each block from 0
    # carry the last value across blocks: Y_k = local[k, -1] + decay^b * Y_{k-1}
    db = decay ** b
    last = local[:, -1]
    carry = np.empty(nb)
    c = 0.0 if init is None else float(init)
    for k in range(nb):
        carry[k] = c
        c = last[k] + db * c
    local += np.outer(carry, down * decay)
    return local.reshape(-1)[:n]


def ema(x, n: int) -> np.ndarray:
    """Exponential moving average, span n (alpha = 2/(n+1)); like pandas ewm(span=n, adjust=False)."""
    return _ewm(x, 2.0 / (n + 1.0), n)


def wilder(x, n: int, *, min_periods: int | None = None) -> np.ndarray:
    """Wilder's smoothing as ewm(alpha=1/n, adjust=False): seeded with x[0]."""
    return _ewm(x, 1.0 / n, n if min_periods is None else min_periods)


def _ewm(x, alpha: float, min_periods: int) -> np.ndarray:
    """ewm(alpha, adjust=False) starting at the first finite value; NaN before min_periods valid values."""
    x = _as_f(x)
    out = np.full(len(x), np.nan)
    fin = np.flatnonzero(np.isfinite(x))
    if len(fin) == 0:
        return out
    s = fin[0]
    seg = x[s:]
    # inner NaNs (none for our inputs after the first valid one) would poison the recursion; hold them
    if not np.isfinite(seg).all():
        seg = _ffill(seg)
    y = linear_filter(seg[1:], 1.0 - alpha, alpha, init=seg[0]) if len(seg) > 1 else np.empty(0)
    out[s] = seg[0]
    out[s + 1:] = y
    if min_periods > 1:
        out[s:s + min_periods - 1] = np.nan
    return out


def _ffill(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    idx = np.where(ok, np.arange(len(x)), 0)
    np.maximum.accumulate(idx, out=idx)
    return x[idx]


# ---------------------------------------------------------------- rolling windows


def _block_cumsum(x: np.ndarray, b: int) -> np.ndarray:
    """Cumulative sums restarted every ``b`` elements (inclusive)."""
    n = len(x)
    nb = -(-n // b)
    pad = nb * b - n
    xp = np.concatenate([x, np.zeros(pad)]) if pad else x
    return np.cumsum(xp.reshape(nb, b), axis=1).reshape(-1)[:n]


def _block_size(w: int) -> int:
    return max(w, 1024)


def rolling_sum(x, w: int) -> np.ndarray:
    """Sum over the last ``w`` values (NaN for the first w-1), with block-local cumsums for precision."""
    x = _as_f(x)
    n = len(x)
    out = np.full(n, np.nan)
    if n < w:
        return out
    b = _block_size(w)
    cs = _block_cumsum(x, b)
    t = np.arange(w - 1, n)
    start = t - w + 1
    same = (start // b) == (t // b)
    # window inside one block: cs[t] - cs[start-1] (0 if start is a block start)
    prev = np.where(start % b == 0, 0.0, cs[np.maximum(start - 1, 0)])
    res = cs[t] - prev
    # window across two blocks: tail of the earlier block + head of this one
    blk_end = np.minimum((start // b + 1) * b - 1, n - 1)
    cross = cs[blk_end] - prev + cs[t]
    out[w - 1:] = np.where(same, res, cross)
    return out


def rolling_mean_var(x, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and population variance, precise for prices (sums taken around a local reference)."""
    x = _as_f(x)
    n = len(x)
    if n < w:
        return np.full(n, np.nan), np.full(n, np.nan)
    b = _block_size(w)
    blk = np.arange(n) // b
    ref_of_block = x[::b]
    d = x - ref_of_block[blk]
    cs1 = _block_cumsum(d, b)
    cs2 = _block_cumsum(d * d, b)
    t = np.arange(w - 1, n)
    start = t - w + 1
    bs, bt = start // b, t // b
    first = start % b == 0
    p1 = np.where(first, 0.0, cs1[np.maximum(start - 1, 0)])
    p2 = np.where(first, 0.0, cs2[np.maximum(start - 1, 0)])
    same = bs == bt
    # part A: [start, end of block bs] around ref(bs); part B: [block start of t, t] around ref(bt)
    end_a = np.minimum((bs + 1) * b - 1, n - 1)
    a1 = np.where(same, cs1[t], cs1[end_a]) - p1
    a2 = np.where(same, cs2[t], cs2[end_a]) - p2
    m_a = np.where(same, w, end_a - start + 1).astype(np.float64)
    b1 = np.where(same, 0.0, cs1[t])
    b2 = np.where(same, 0.0, cs2[t])
    shift = ref_of_block[bs] - ref_of_block[bt]  # re-reference part A to ref(bt)
    s1 = a1 + m_a * shift + b1
    s2 = a2 + 2.0 * shift * a1 + m_a * shift * shift + b2
    mean_d = s1 / w
    var = np.maximum(s2 / w - mean_d * mean_d, 0.0)
    mean = np.full(n, np.nan)
    v = np.full(n, np.nan)
    mean[w - 1:] = ref_of_block[bt] + mean_d
    v[w - 1:] = var
    return mean, v


def _rolling_extreme(x, w: int, fn) -> np.ndarray:
    x = _as_f(x)
    n = len(x)
    out = np.full(n, np.nan)
    if n < w:
        return out
    if w == 1:
        return x.copy()
    nb = -(-n // w)
    pad = nb * w - n
    fill = -np.inf if fn is np.maximum else np.inf
    xp = np.concatenate([x, np.full(pad, fill)]) if pad else x
    blocks = xp.reshape(nb, w)
    pre = fn.accumulate(blocks, axis=1).reshape(-1)
    suf = fn.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].reshape(-1)
    t = np.arange(w - 1, n)
    out[w - 1:] = fn(suf[t - w + 1], pre[t])
    return out


def rolling_max(x, w: int) -> np.ndarray:
    return _rolling_extreme(x, w, np.maximum)


def rolling_min(x, w: int) -> np.ndarray:
    return _rolling_extreme(x, w, np.minimum)


def shift(x: np.ndarray, k: int = 1) -> np.ndarray:
    """x shifted k bars later (x[t-k] at t), NaN-filled."""
    out = np.full(len(x), np.nan)
    if k < len(x):
        out[k:] = x[:len(x) - k]
    return out


# ---------------------------------------------------------------- indicators


def sma(x, n: int) -> np.ndarray:
    return rolling_mean_var(x, n)[0]


def rsi(close, n: int = 14) -> np.ndarray:
    c = _as_f(close)
    out = np.full(len(c), np.nan)
    if len(c) < 2:
        return out
    # like ta: the (undefined) change at bar 0 counts as 0, so the averages are seeded with 0 there
    diff = np.concatenate([[0.0], np.diff(c)])
    up = np.where(diff > 0, diff, 0.0)
    dn = np.where(diff < 0, -diff, 0.0)
    au = wilder(up, n)
    ad = wilder(dn, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(ad == 0, 100.0, 100.0 - 100.0 / (1.0 + au / ad))
    out[np.isnan(au)] = np.nan
    return out


def macd(close, fast: int = 12, slow: int = 26, signal: int = 9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(macd line, signal line, histogram)."""
    line = ema(close, fast) - ema(close, slow)
    sig = ema(line, signal)
    return line, sig, line - sig


def bollinger(close, n: int = 20, k: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(upper, middle, lower) with the population standard deviation."""
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
    seed = x[start:first + 1].mean()
    out[first] = seed
    if len(x) > first + 1:
        out[first + 1:] = linear_filter(x[first + 1:], 1.0 - 1.0 / n, 1.0 / n, init=seed)
    return out


def atr(high, low, close, n: int = 14) -> np.ndarray:
    return _wilder_seeded_mean(true_range(high, low, close), n)


def adx(high, low, close, n: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ADX, +DI, -DI), Wilder's definitions. +DI/-DI from bar n, ADX from bar 2n-1."""
    h, lo = _as_f(high), _as_f(low)
    m = len(h)
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
    out = np.zeros(len(c))
    if len(c) > 1:
        out[1:] = np.cumsum(np.sign(np.diff(c)) * v[1:])
    return out


def vwap(high, low, close, volume, n: int = 14) -> np.ndarray:
    tp = (_as_f(high) + _as_f(low) + _as_f(close)) / 3.0
    v = _as_f(volume)
    pv = rolling_sum(tp * v, n)
    vv = rolling_sum(v, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(vv > 0, pv / vv, np.nan)


def log_returns(close) -> np.ndarray:
    c = _as_f(close)
    out = np.full(len(c), np.nan)
    if len(c) > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[1:] = np.log(c[1:] / c[:-1])
    return out


def realized_vol(close, n: int = 24, periods_per_year: float | None = None) -> np.ndarray:
    """Population std of the last n log returns; annualised when ``periods_per_year`` is given."""
    r = log_returns(close)
    out = np.full(len(r), np.nan)
    if len(r) > n:
        _, var = rolling_mean_var(r[1:], n)
        out[1:] = np.sqrt(var)
    if periods_per_year:
        out *= math.sqrt(periods_per_year)
    return out


def zscore(x, n: int = 20) -> np.ndarray:
    """(x - rolling mean) / rolling population std; 0 when the window is flat."""
    x = _as_f(x)
    mean, var = rolling_mean_var(x, n)
    sd = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 1e-12 * np.maximum(np.abs(mean), 1.0), (x - mean) / sd, 0.0)
    z[np.isnan(mean)] = np.nan
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
    out[:n - 1] = np.nan
    return out
