"""Compiled (numba) single-pass loops behind cockpit.indicators.core's EMA/Wilder, RSI, MACD, Bollinger, ATR,
ADX and realized volatility, equal to the numpy forms in core.py to rounding (tests/indicators/test_kernels.py:
1e-9 relative).

Each kernel writes into ``out`` arrays the caller allocates and returns False on a NaN/inf input it does not
handle: the caller then uses the numpy form (which has the NaN rules), so the kernels only ever see clean
histories. Without numba, ``HAVE_NUMBA`` is False and core.py uses its numpy forms throughout.

Compilation: ``cache=True``, so the first call on a machine compiles (5-10 s for all of them on the 2-core box, once) and
writes the machine code next to this file in __pycache__; later processes load it on first use (0.2-0.4 s measured).
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

    def njit(*args, **kwargs):  # type: ignore[no-redef]  # numba's decorator when numba is absent
        if args and callable(args[0]):
            return args[0]
        return lambda f: f


def _make_fma():
    """a*b + c rounded once (llvm.fma: one instruction on CPUs with FMA), exactly where it is written: unlike
    fastmath's contraction, which fuses where the optimiser chooses, so the same expression could round
    differently in two places. Without numba a plain Python stand-in (the kernels do not run then)."""
    if not HAVE_NUMBA:  # pragma: no cover
        return lambda a, b, c: a * b + c
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def fma(typingctx, a, b, c):
        sig = types.float64(types.float64, types.float64, types.float64)

        def codegen(context, builder, signature, args):
            d = ir.DoubleType()
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(d, [d, d, d]), "llvm.fma.f64")
            return builder.call(fn, args)

        return sig, codegen

    return fma


_fma = _make_fma()


def _make_prefetch():
    """A hint to the CPU to start loading the cache line holding ``arr[i]`` (llvm.prefetch: no result, never
    faults, no effect on any value). Lets a kernel that works in two phases per chunk (a vectorised pass,
    then a serial one) have the next chunk's inputs on their way while it does the serial part. Without
    numba a no-op stand-in (the kernels do not run then)."""
    if not HAVE_NUMBA:  # pragma: no cover
        return lambda arr, i: None
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def prefetch(typingctx, arr, i):
        if not isinstance(arr, types.Array) or not isinstance(i, types.Integer):
            return None
        sig = types.void(arr, i)

        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
            i8p = ir.IntType(8).as_pointer()
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = builder.module.declare_intrinsic("llvm.prefetch", [i8p], fnty)
            # read, high temporal locality (keep in all cache levels), data cache
            builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
            return context.get_dummy_value()

        return sig, codegen

    return prefetch


_prefetch = _make_prefetch()

# Array indices in the hot loops are cast to unsigned: numba then skips its negative-index (wraparound)
# arithmetic, several integer instructions per load that LLVM cannot prove away.
_u = np.uint64


@njit(cache=True, inline="always", error_model="numpy")
def _two(y, a, d, d2, v0, v1):
    """Two steps of y = a*v + d*y at once: the loop-carried chain is one multiply-add per two bars
    (y1 from y directly), which halves the latency that bounds these recursions."""
    p0 = a * v0
    return p0 + d * y, (a * v1 + d * p0) + d2 * y


@njit(cache=True, inline="always", error_model="numpy")
def _four(y, a, d, d2, d3, d4, v0, v1, v2, v3):
    """Four steps of y = a*v + d*y: the partial sums u_k of the block's own inputs are independent of y (the
    next block's can start at once), and each output is u_k + d^(k+1)*y, so the loop-carried chain is one
    multiply-add per four bars.

    Output k depends on v0..vk only, so a history's last, partial block goes through this same function with
    the missing inputs 0: every bar gets the same arithmetic whether the history ends there or runs on (a
    prefix of a history gives bit for bit the start of its values, which the strategies' on_bar = generate
    relies on). Fused multiply-adds written out (_fma), not left to fastmath's contraction for the same reason."""
    u0 = a * v0
    u1 = _fma(d, u0, a * v1)
    u2 = _fma(d, u1, a * v2)
    u3 = _fma(d, u2, a * v3)
    return _fma(d, y, u0), _fma(d2, y, u1), _fma(d3, y, u2), _fma(d4, y, u3)


@njit(cache=True, inline="always", error_model="numpy")
def _ok(hi, lw, cl):
    return math.isfinite(hi) and math.isfinite(lw) and math.isfinite(cl)


@njit(cache=True, inline="always", error_model="numpy")
def _tr(hi, lw, pc):
    """True range (ternaries: no data-dependent branches, where the max() builtin keeps its NaN branches)."""
    a = hi - lw
    b = abs(hi - pc)
    e = abs(lw - pc)
    b = b if b > e else e
    return a if a > b else b


@njit(cache=True, inline="always", error_model="numpy")
def _tr_dm(hi, lw, ph, pl, pc):
    """True range, +DM and -DM of a bar from its high/low and the previous bar's high/low/close (scalars:
    array arguments to a helper cost reference counting in the loop)."""
    tr = _tr(hi, lw, pc)
    du = hi - ph
    dd = pl - lw
    up = du if (du > dd) & (du > 0.0) else 0.0
    dn = dd if (dd > du) & (dd > 0.0) else 0.0
    return tr, up, dn


def span_alpha(span: float) -> float:
    """pandas' alpha for ``span``: through the centre of mass, as pandas computes it (not 2 / (span + 1))."""
    com = (span - 1) / 2.0
    return 1.0 / (1.0 + com)


@njit(cache=True)
def ewm_pandas_into(x, alpha, out):
    """pandas ``ewm(alpha, adjust=False).mean()`` bit for bit (core.ema(pandas_exact=True), the backtest's
    reference signals): ``w = ((1 - a) * w + a * x) / ((1 - a) + a)``, the update skipped when ``w == x``, the
    division dropped when the divisor is exactly 1.0. No warm-up NaNs. False on a NaN (pandas has its own rules)."""
    n = len(x)
    if n == 0:
        return True
    f = 1.0 - alpha
    s = f + alpha
    w = x[0]
    if w != w:
        return False
    out[0] = w
    for i in range(1, n):
        cur = x[i]
        if cur != cur:
            return False
        if w != cur:
            w = f * w + alpha * cur
            if s != 1.0:
                w = w / s
        out[i] = w
    return True


@njit(cache=True, error_model="numpy")
def ewm_into(x, alpha, min_periods, out):
    """ewm(alpha, adjust=False) seeded with x[0]; NaN for the first min_periods-1 bars. False on NaN/inf.

    No test per value: a NaN/inf input leaves the state non-finite from there on (NaN and inf propagate
    through a*v + d*y, also for d = 0 since 0*inf and 0*NaN are NaN), so the state at the end tells."""
    n = len(x)
    if n == 0:
        return True
    d = 1.0 - alpha
    d2 = d * d
    d3 = d2 * d
    d4 = d2 * d2
    y = x[0]
    out[0] = y
    i = 1
    while i + 3 < n:
        j0, j1, j2, j3 = _u(i), _u(i + 1), _u(i + 2), _u(i + 3)
        y0, y1, y2, y = _four(y, alpha, d, d2, d3, d4, x[j0], x[j1], x[j2], x[j3])
        out[j0] = y0
        out[j1] = y1
        out[j2] = y2
        out[j3] = y
        i += 4
    r = n - i  # 0..3 left: a partial block, the same arithmetic (see _four)
    if r > 0:
        y0, y1, y2, _ = _four(
            y, alpha, d, d2, d3, d4, x[i], x[i + 1] if r > 1 else 0.0, x[i + 2] if r > 2 else 0.0, 0.0
        )
        out[i] = y0
        y = y0
        if r > 1:
            out[i + 1] = y1
            y = y1
        if r > 2:
            out[i + 2] = y2
            y = y2
    if not math.isfinite(y):
        return False
    for i in range(min(min_periods - 1, n)):
        out[i] = np.nan
    return True


@njit(cache=True, error_model="numpy")
def rsi_into(c, n, out):
    """Wilder RSI like core.rsi: gains/losses seeded with 0 at bar 0; NaN before bar n-1. False on NaN/inf."""
    m = len(c)
    a = 1.0 / n
    d = 1.0 - a
    d2 = d * d
    au = 0.0
    ad = 0.0
    if not math.isfinite(c[0]):
        return False
    out[0] = 100.0  # overwritten by the warm-up NaNs below (n >= 2)
    # a NaN/inf price makes the running sum ``chk`` non-finite (max() would hide it in the gains/losses)
    chk = 0.0
    pc = c[0]
    i = 1
    while i + 1 < m:
        j0, j1 = _u(i), _u(i + 1)
        c0 = c[j0]
        c1 = c[j1]
        chk += c0 + c1
        ch0 = c0 - pc
        ch1 = c1 - c0
        u0, u1 = _two(au, a, d, d2, max(ch0, 0.0), max(ch1, 0.0))
        l0, l1 = _two(ad, a, d, d2, max(-ch0, 0.0), max(-ch1, 0.0))
        out[j0] = 100.0 if l0 == 0.0 else u0 / (u0 + l0) * 100.0
        out[j1] = 100.0 if l1 == 0.0 else u1 / (u1 + l1) * 100.0
        au = u1
        ad = l1
        pc = c1
        i += 2
    if i < m:  # the last bar alone: the first output of a pair, the same arithmetic as inside the history
        c0 = c[i]
        chk += c0
        ch0 = c0 - pc
        u0, _ = _two(au, a, d, d2, max(ch0, 0.0), 0.0)
        l0, _ = _two(ad, a, d, d2, max(-ch0, 0.0), 0.0)
        out[i] = 100.0 if l0 == 0.0 else u0 / (u0 + l0) * 100.0
    if not math.isfinite(chk):
        return False
    for i in range(min(n - 1, m)):
        out[i] = np.nan
    return True


@njit(cache=True, error_model="numpy")
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
    head = min(m, sig_from + 1)  # warm-up bars one at a time
    for i in range(head):
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
    if m <= head:
        return True
    # the rest in blocks of four bars; a NaN/inf price leaves both EMAs non-finite from there on (see
    # ewm_into), so the states at the end tell
    df2 = df * df
    df3 = df2 * df
    df4 = df2 * df2
    ds2 = dsl * dsl
    ds3 = ds2 * dsl
    ds4 = ds2 * ds2
    dg2 = dg * dg
    dg3 = dg2 * dg
    dg4 = dg2 * dg2
    i = head
    while i + 3 < m:
        j0, j1, j2, j3 = _u(i), _u(i + 1), _u(i + 2), _u(i + 3)
        v0 = c[j0]
        v1 = c[j1]
        v2 = c[j2]
        v3 = c[j3]
        f0, f1, f2, ef = _four(ef, af, df, df2, df3, df4, v0, v1, v2, v3)
        s0, s1, s2, es = _four(es, asl, dsl, ds2, ds3, ds4, v0, v1, v2, v3)
        ln0 = f0 - s0
        ln1 = f1 - s1
        ln2 = f2 - s2
        ln3 = ef - es
        g0, g1, g2, g = _four(g, ag, dg, dg2, dg3, dg4, ln0, ln1, ln2, ln3)
        line[j0] = ln0
        line[j1] = ln1
        line[j2] = ln2
        line[j3] = ln3
        sig[j0] = g0
        sig[j1] = g1
        sig[j2] = g2
        sig[j3] = g
        hist[j0] = ln0 - g0
        hist[j1] = ln1 - g1
        hist[j2] = ln2 - g2
        hist[j3] = ln3 - g
        i += 4
    r = m - i  # 0..3 left: a partial block, the same arithmetic (see _four)
    if r > 0:
        v0 = c[i]
        v1 = c[i + 1] if r > 1 else 0.0
        v2 = c[i + 2] if r > 2 else 0.0
        f0, f1, f2, _ = _four(ef, af, df, df2, df3, df4, v0, v1, v2, 0.0)
        s0, s1, s2, _ = _four(es, asl, dsl, ds2, ds3, ds4, v0, v1, v2, 0.0)
        ln0 = f0 - s0
        ln1 = f1 - s1
        ln2 = f2 - s2
        g0, g1, g2, _ = _four(g, ag, dg, dg2, dg3, dg4, ln0, ln1, ln2, 0.0)
        line[i] = ln0
        sig[i] = g0
        hist[i] = ln0 - g0
        ef = f0
        es = s0
        if r > 1:
            line[i + 1] = ln1
            sig[i + 1] = g1
            hist[i + 1] = ln1 - g1
            ef = f1
            es = s1
        if r > 2:
            line[i + 2] = ln2
            sig[i + 2] = g2
            hist[i + 2] = ln2 - g2
            ef = f2
            es = s2
    return math.isfinite(ef) and math.isfinite(es)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def bollinger_into(x, w, k, upper, mid, lower, block):
    """Rolling mean and population std over w values, sums taken around a reference value that is reset
    (and the window re-summed) every ``block`` bars so float error does not grow. False on NaN/inf.

    No test per value: every value enters the running sum ``chk`` (once as it enters the window, or in the
    re-summed window), which a NaN/inf makes non-finite for good."""
    n = len(x)
    for i in range(min(w - 1, n)):
        upper[i] = np.nan
        mid[i] = np.nan
        lower[i] = np.nan
    if n < w:
        for i in range(n):
            if not math.isfinite(x[i]):
                return False
        return True
    iw = 1.0 / w
    ref = 0.0
    s1 = 0.0
    s2 = 0.0
    chk = 0.0
    since = block
    for i in range(w - 1, n):
        ui = _u(i)
        if since >= block:
            ref = x[ui - _u(w - 1)]
            s1 = 0.0
            s2 = 0.0
            for j in range(i - w + 1, i + 1):
                e = x[_u(j)] - ref
                s1 += e
                s2 += e * e
            chk += s1
            since = 0
        else:
            e_in = x[ui] - ref
            e_out = x[ui - _u(w)] - ref
            chk += e_in
            s1 += e_in - e_out
            s2 += e_in * e_in - e_out * e_out
        since += 1
        c1 = s1 * iw
        var = s2 * iw - c1 * c1
        if var < 0.0:
            var = 0.0
        m = c1 + ref
        sd = math.sqrt(var)
        mid[ui] = m
        upper[ui] = m + k * sd
        lower[ui] = m - k * sd
    return math.isfinite(chk)


@njit(cache=True, error_model="numpy")
def realized_vol_into(lc, n, out):
    """Population std of the last n log returns like core.realized_vol, from the log prices ``lc`` (NaN for the
    first n bars): sums of the returns and their squares over the window, re-summed every n bars so float
    error does not grow. False on a NaN/inf log price."""
    m = len(lc)
    for i in range(min(n, m)):
        out[i] = np.nan
    chk = 0.0
    for i in range(m):
        chk += lc[i]
    if not math.isfinite(chk):
        return False
    s1 = 0.0
    s2 = 0.0
    since = n
    for i in range(n, m):
        if since >= n:
            s1 = 0.0
            s2 = 0.0
            for j in range(i - n + 1, i + 1):
                r = lc[j] - lc[j - 1]
                s1 += r
                s2 += r * r
            since = 0
        else:
            r_in = lc[i] - lc[i - 1]
            r_out = lc[i - n] - lc[i - n - 1]
            s1 += r_in - r_out
            s2 += r_in * r_in - r_out * r_out
        since += 1
        mu = s1 / n
        var = s2 / n - mu * mu
        out[i] = math.sqrt(var) if var > 0.0 else 0.0
    return True


# ATR's chunk: true ranges are computed for this many bars at a time by a loop the compiler vectorises (four bars
# per instruction), into a small buffer that stays in L1, then the Wilder recursion runs over the buffer; while it
# does, the inputs ATR_PREFETCH bars ahead are prefetched, so the next chunk's loads overlap this chunk's serial
# work. Chosen with bench/indicators.py-style timings at 10k, 100k and 1M bars (128 bars / 3 chunks ahead: the
# best at 1M, within noise of the best at 100k; 2x a fused scalar loop's speed when the data is in cache).
ATR_CHUNK = 128
ATR_PREFETCH = 3 * ATR_CHUNK


@njit(cache=True, error_model="numpy", fastmath={"reassoc"})
def _tr_chunk(h, lo, c, i0, nb, buf):
    """True ranges of bars i0 .. i0+nb-1 (i0 >= 1) into buf[0 .. nb-1]; returns the sum of their high - low.

    _tr per bar in a plain loop, so it is vectorised (the values do not depend on how).
    ``reassoc`` is for the sum only: it lets the compiler keep four partial sums. The sum is only ever tested
    for being finite (a NaN/inf high or low), which no order of addition changes."""
    s = 0.0
    one = _u(1)
    for k in range(nb):
        j = _u(i0 + k)
        hi = h[j]
        lw = lo[j]
        buf[_u(k)] = _tr(hi, lw, c[j - one])
        s += hi - lw
    return s


@njit(cache=True, error_model="numpy")
def atr_into(h, lo, c, n, out):
    """Wilder ATR like core.atr: first value at bar n-1 = mean TR[0..n-1] (TR[0] = high - low). False on NaN/inf.

    Bars from n on go in blocks of four (_four) from bar n, whether a block falls in a full chunk (ATR_CHUNK,
    true ranges from _tr_chunk) or in the last, partial chunk (true ranges one by one, _tr): the same arithmetic
    for every bar either way, so a prefix of a history gives bit for bit the start of its values."""
    m = len(c)
    a = 1.0 / n
    d = 1.0 - a
    d2 = d * d
    s = 0.0
    for i in range(min(n, m)):
        if not _ok(h[i], lo[i], c[i]):
            return False
        tr = h[i] - lo[i]
        if i > 0:
            tr = _tr(h[i], lo[i], c[i - 1])
        s += tr
        out[i] = np.nan
    if m < n:
        return True
    y = s / n
    out[n - 1] = y
    d3 = d2 * d
    d4 = d2 * d2
    # No test per value: a NaN/inf high or low makes high - low non-finite, and so the running sum ``chk``; a
    # NaN/inf close (the previous close of the next bar) makes that bar's true range, and from there the
    # average, non-finite; the last close is tested on its own.
    chk = 0.0
    B = ATR_CHUNK
    buf = np.empty(B)
    last = _u(m - 1)
    i = n
    while i + B <= m:
        chk += _tr_chunk(h, lo, c, i, B, buf)
        ahead = _u(i + ATR_PREFETCH)
        for k in range(0, B, 8):
            p = min(ahead + _u(k), last)  # one line (8 bars) of each input per 8 bars
            _prefetch(h, p)
            _prefetch(lo, p)
            _prefetch(c, p)
            j = _u(k)
            q = _u(i + k)
            y0, y1, y2, y = _four(y, a, d, d2, d3, d4, buf[j], buf[j + 1], buf[j + 2], buf[j + 3])
            out[q] = y0
            out[q + 1] = y1
            out[q + 2] = y2
            out[q + 3] = y
            y0, y1, y2, y = _four(y, a, d, d2, d3, d4, buf[j + 4], buf[j + 5], buf[j + 6], buf[j + 7])
            out[q + 4] = y0
            out[q + 5] = y1
            out[q + 6] = y2
            out[q + 7] = y
        i += B
    while i < m:  # the last, partial chunk: blocks of four, the last one partial (see _four)
        r = min(m - i, 4)
        t0 = _tr(h[i], lo[i], c[i - 1])
        chk += h[i] - lo[i]
        t1 = 0.0
        t2 = 0.0
        t3 = 0.0
        if r > 1:
            chk += h[i + 1] - lo[i + 1]
            t1 = _tr(h[i + 1], lo[i + 1], c[i])
        if r > 2:
            chk += h[i + 2] - lo[i + 2]
            t2 = _tr(h[i + 2], lo[i + 2], c[i + 1])
        if r > 3:
            chk += h[i + 3] - lo[i + 3]
            t3 = _tr(h[i + 3], lo[i + 3], c[i + 2])
        y0, y1, y2, y3 = _four(y, a, d, d2, d3, d4, t0, t1, t2, t3)
        out[i] = y0
        y = y0
        if r > 1:
            out[i + 1] = y1
            y = y1
        if r > 2:
            out[i + 2] = y2
            y = y2
        if r > 3:
            out[i + 3] = y3
            y = y3
        i += r
    return math.isfinite(chk) and math.isfinite(y) and math.isfinite(c[m - 1])


@njit(cache=True, inline="always", error_model="numpy")
def _dx(st, su, sd):
    if st > 0.0:
        r = 100.0 / st  # one division for both DIs (equal to 100 * s / st within an ulp or two)
        p = su * r
        q = sd * r
    else:
        p = 0.0
        q = 0.0
    tot = p + q
    return p, q, (100.0 * abs(p - q) / tot if tot > 0.0 else 0.0)


@njit(cache=True, error_model="numpy")
def adx_into(h, lo, c, n, adx, pdi, mdi):
    """ADX, +DI, -DI like core.adx (Wilder's sums over bars 1..n as seeded means, DX mean over bars n..2n-1,
    then Wilder). The caller handles len <= 2n-1. False on NaN/inf."""
    m = len(c)
    if m == 0 or not _ok(h[0], lo[0], c[0]):
        return m == 0
    a = 1.0 / n
    d = 1.0 - a
    d2 = d * d
    st = 0.0
    su = 0.0
    sd = 0.0
    sx = 0.0
    for i in range(min(n, m)):
        pdi[i] = np.nan
        mdi[i] = np.nan
    for i in range(min(2 * n - 1, m)):
        adx[i] = np.nan
    end = min(2 * n, m)  # warm-up: Wilder's sums, then the DX mean
    for i in range(1, end):
        if not _ok(h[i], lo[i], c[i]):
            return False
        tr, up, dn = _tr_dm(h[i], lo[i], h[i - 1], lo[i - 1], c[i - 1])
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
        p, q, dx = _dx(st, su, sd)
        pdi[i] = p
        mdi[i] = q
        sx += dx
        if i == 2 * n - 1:
            sx /= n
            adx[i] = sx
    x = sx
    i = end
    # the previous bar's high/low/close carried; a NaN/inf input makes the running sum ``chk`` non-finite
    # (the true range and the directional moves could hide it)
    chk = 0.0
    if i + 1 < m:
        ph = h[i - 1]
        pl = lo[i - 1]
        pc = c[i - 1]
        while i + 1 < m:
            j0, j1 = _u(i), _u(i + 1)
            h0 = h[j0]
            l0 = lo[j0]
            c0 = c[j0]
            h1 = h[j1]
            l1 = lo[j1]
            c1 = c[j1]
            chk += ((h0 - l0) + c0) + ((h1 - l1) + c1)
            tr0, up0, dn0 = _tr_dm(h0, l0, ph, pl, pc)
            tr1, up1, dn1 = _tr_dm(h1, l1, h0, l0, c0)
            st0, st = _two(st, a, d, d2, tr0, tr1)
            su0, su = _two(su, a, d, d2, up0, up1)
            sd0, sd = _two(sd, a, d, d2, dn0, dn1)
            p0, q0, dx0 = _dx(st0, su0, sd0)
            p1, q1, dx1 = _dx(st, su, sd)
            pdi[j0] = p0
            mdi[j0] = q0
            pdi[j1] = p1
            mdi[j1] = q1
            x0, x = _two(x, a, d, d2, dx0, dx1)
            adx[j0] = x0
            adx[j1] = x
            ph = h1
            pl = l1
            pc = c1
            i += 2
        if not math.isfinite(chk):
            return False
    if i < m:
        if not _ok(h[i], lo[i], c[i]):
            return False
        tr0, up0, dn0 = _tr_dm(h[i], lo[i], h[i - 1], lo[i - 1], c[i - 1])
        st = a * tr0 + d * st
        su = a * up0 + d * su
        sd = a * dn0 + d * sd
        p0, q0, dx0 = _dx(st, su, sd)
        pdi[i] = p0
        mdi[i] = q0
        adx[i] = a * dx0 + d * x
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
        ewm_pandas_into(x, span_alpha(20), o1)
        rsi_into(x, 14, o1)
        macd_into(x, 12, 26, 9, o1, o2, o3)
        bollinger_into(x, 20, 2.0, o1, o2, o3, 1024)
        atr_into(hi, lw, x, 14, o1)
        realized_vol_into(np.log(x), 24, o1)
        adx_into(hi, lw, x, 14, o1, o2, o3)
