"""The fast path: the single-strategy hot loop compiled with numba, for sweeps and walk-forward.

It implements exactly the event-driven engine's semantics (engine.py + SimulatedExecutor) for the
orders a signal strategy produces (market entries/exits with stop-loss/take-profit brackets):
same funding per bar, sizing, lot rounding, slippage, fees, isolated-margin liquidation,
stop-before-take-profit inside a bar or lower-timeframe sub-bar, and resizing toward the target when
``EngineSettings.rebalance_band`` is set (off by default; see engine.py). ``tests/backtest`` asserts that
both produce the same trades and final equity on real and generated data. Without numba the same
function runs as plain Python (correct, slow).
"""

from __future__ import annotations

import math

import numpy as np

from cockpit.backtest.engine import EngineResult, EngineSettings, SubBars, sub_bar_index
from cockpit.backtest.signals import Signals
from cockpit.execution.simulated import ClosedTrade

try:  # numba is a runtime dependency; keep a working (slow) fallback if it cannot be imported.
    from numba import njit

    HAVE_NUMBA = True
except Exception:  # pragma: no cover
    HAVE_NUMBA = False

    def njit(*args, **kwargs):  # type: ignore[no-redef]  # numba's decorator when numba is absent
        if args and callable(args[0]):
            return args[0]
        return lambda f: f


REASONS = ("signal", "stop", "take_profit", "liquidation", "rebalance")


@njit(cache=True, inline="always")
def _band(side, sl, tp, liq):
    """(low, high) trigger band of an open position (same as SimulatedExecutor.trigger_band): a low at or
    below ``low`` or a high at or above ``high`` inside a bar triggers its stop, take-profit or liquidation."""
    inf = math.inf
    if side > 0:
        blo = sl if not math.isnan(sl) else -inf
        if not math.isnan(liq) and liq > blo:
            blo = liq
        bhi = tp if not math.isnan(tp) else inf
    else:
        bhi = sl if not math.isnan(sl) else inf
        if not math.isnan(liq) and liq < bhi:
            bhi = liq
        blo = tp if not math.isnan(tp) else -inf
    return blo, bhi


@njit(cache=True)
def _kernel(
    o,
    h,
    l,
    c,
    d,
    strength,
    stop,
    take,
    fpay,
    has_fund,
    sub_lo,
    sub_hi,
    sub_o,
    sub_h,
    sub_l,
    has_sub,
    capital,
    taker,
    slip_bps,
    slip_range,
    mmr,
    lev,
    lot,
    frac,
    resize,
    band,
):
    n = len(o)
    # Equity and position in one allocation: as two 8 MB arrays (1M bars) glibc handed their pages back to
    # the OS when a result was dropped and every run page-faulted them in again (~5 ms of an 11 ms kernel
    # at 1M bars, bench/backtest.py); one 16 MB block is kept by the allocator and reused.
    ep = np.empty((2, n))
    equity = ep[0]
    position = ep[1]
    # Per-trade columns, room for one trade per bar; only [:nt] is ever written or read. np.empty, not
    # np.zeros: zeroing ten arrays of n+1 values touched every page and was most of the kernel's time.
    t_side = np.empty(n + 1, np.int8)
    t_entry_bar = np.empty(n + 1, np.int64)
    t_exit_bar = np.empty(n + 1, np.int64)
    t_entry = np.empty(n + 1)
    t_exit = np.empty(n + 1)
    t_size = np.empty(n + 1)
    t_gross = np.empty(n + 1)
    t_fees = np.empty(n + 1)
    t_fund = np.empty(n + 1)
    t_reason = np.empty(n + 1, np.int8)
    nt = 0
    cash = capital
    side = 0
    size = 0.0
    entry = 0.0
    margin = 0.0
    sl = math.nan
    tp = math.nan
    liq = math.nan
    pos_fees = 0.0
    pos_fund = 0.0
    entry_bar = 0
    fees_total = 0.0
    fund_total = 0.0
    nliq = 0
    inf = math.inf
    kfull = frac / (1.0 / lev + taker)  # full-strength size = kfull x equity / price
    reb = False  # a resize decided at the previous bar's close
    reb_t = 0.0  # its signed target size
    nreb = 0
    j = 0
    while j < n:
        if not resize and j > 0:
            # Quiet bars, in a tight loop: no funding paid, no direction change to act on at the open and, in
            # a position, nothing inside the bar reaching its trigger band. The full step below would only
            # mark equity and position to the close for them (the same expressions); most bars are quiet.
            blo, bhi = _band(side, sl, tp, liq)
            while j < n:
                if (j >= 2 and d[j - 1] != d[j - 2]) or (j == 1 and d[0] != 0):
                    break
                if side != 0:
                    if (has_fund and fpay[j] != 0.0) or l[j] <= blo or h[j] >= bhi:
                        break
                    equity[j] = cash + side * size * (c[j] - entry)
                else:
                    equity[j] = cash
                position[j] = side * size
                j += 1
            if j >= n:
                break
        if has_fund and side != 0 and fpay[j] != 0.0:
            paid = side * size * fpay[j]
            cash -= paid
            margin -= paid
            if side > 0:
                v = (entry - margin / size) / (1.0 - mmr)
                liq = v if v > 0 else math.nan
            else:
                liq = (entry + margin / size) / (1.0 + mmr)
            fund_total += paid
            pos_fund += paid
        acted = False
        if j > 0:
            prev = d[j - 2] if j >= 2 else 0
            if d[j - 1] != prev:
                acted = True
                k = j - 1
                target = d[k]
                slip = o[j] * slip_bps * 1e-4 + slip_range * (h[j] - l[j])
                if side != 0 and side != target:
                    px = o[j] - slip if side > 0 else o[j] + slip
                    fee = size * px * taker
                    gross = side * size * (px - entry)
                    cash += gross - fee
                    fees_total += fee
                    t_side[nt] = side
                    t_entry_bar[nt] = entry_bar
                    t_exit_bar[nt] = j
                    t_entry[nt] = entry
                    t_exit[nt] = px
                    t_size[nt] = size
                    t_gross[nt] = gross
                    t_fees[nt] = pos_fees + fee
                    t_fund[nt] = pos_fund
                    t_reason[nt] = 0
                    nt += 1
                    side = 0
                    size = 0.0
                    entry = 0.0
                    margin = 0.0
                    sl = math.nan
                    tp = math.nan
                    liq = math.nan
                if target != 0 and side == 0 and (not resize or strength[k] >= band):
                    px = o[j] + slip if target > 0 else o[j] - slip
                    free = cash
                    sz = 0.0
                    if free > 0 and px > 0:
                        sz = free * (frac * strength[k]) / (px * (1.0 / lev + taker))
                        if lot > 0:
                            sz = math.floor(sz / lot + 1e-9) * lot
                    if sz > 1e-15:
                        fee = sz * px * taker
                        side = target
                        entry = px
                        size = sz
                        entry_bar = j
                        pos_fees = fee
                        pos_fund = 0.0
                        s_ = stop[k]
                        t_ = take[k]
                        sl = s_ if (s_ > 0 and math.isfinite(s_)) else math.nan
                        tp = t_ if (t_ > 0 and math.isfinite(t_)) else math.nan
                        margin = size * entry / lev
                        cash -= fee
                        fees_total += fee
                        if side > 0:
                            v = (entry - margin / size) / (1.0 - mmr)
                            liq = v if v > 0 else math.nan
                        else:
                            liq = (entry + margin / size) / (1.0 + mmr)
        if not acted and reb:
            # Resize at this open to the target decided at the previous close (engine._rebalance).
            acted = True
            nreb += 1
            k = j - 1
            slip = o[j] * slip_bps * 1e-4 + slip_range * (h[j] - l[j])
            if side != 0 and reb_t * side <= 0:
                closing = size
            elif side != 0 and abs(reb_t) < size:
                closing = size - abs(reb_t)
                if not closing > 1e-15:
                    closing = 0.0
            else:
                closing = 0.0
            if closing > 0.0:
                px = o[j] - slip if side > 0 else o[j] + slip
                fee = closing * px * taker
                gross = side * closing * (px - entry)
                cash += gross - fee
                fees_total += fee
                share = closing / size
                efee = pos_fees * share
                efund = pos_fund * share
                t_side[nt] = side
                t_entry_bar[nt] = entry_bar
                t_exit_bar[nt] = j
                t_entry[nt] = entry
                t_exit[nt] = px
                t_size[nt] = closing
                t_gross[nt] = gross
                t_fees[nt] = efee + fee
                t_fund[nt] = efund
                t_reason[nt] = 4
                nt += 1
                if closing < size:
                    size -= closing
                    pos_fees -= efee
                    pos_fund -= efund
                    margin -= margin * share
                    if side > 0:
                        v = (entry - margin / size) / (1.0 - mmr)
                        liq = v if v > 0 else math.nan
                    else:
                        liq = (entry + margin / size) / (1.0 + mmr)
                else:
                    side = 0
                    size = 0.0
                    entry = 0.0
                    margin = 0.0
                    sl = math.nan
                    tp = math.nan
                    liq = math.nan
                    pos_fees = 0.0
                    pos_fund = 0.0
            want = abs(reb_t)
            if reb_t != 0.0 and want > size:
                tside = 1 if reb_t > 0 else -1
                px = o[j] + slip if tside > 0 else o[j] - slip
                free = cash if side == 0 else cash - margin
                cap = 0.0
                if free > 0 and px > 0:
                    cap = free * 1.0 / (px * (1.0 / lev + taker))
                    if lot > 0:
                        cap = math.floor(cap / lot + 1e-9) * lot
                add = want - size
                if cap < add:
                    add = cap
                if add > 1e-15:
                    fee = add * px * taker
                    if side == 0:
                        side = tside
                        entry = px
                        size = add
                        entry_bar = j
                        pos_fees = fee
                        pos_fund = 0.0
                        s_ = stop[k]
                        t_ = take[k]
                        sl = s_ if (s_ > 0 and math.isfinite(s_)) else math.nan
                        tp = t_ if (t_ > 0 and math.isfinite(t_)) else math.nan
                        margin = size * entry / lev
                    else:
                        new = size + add
                        entry = (entry * size + px * add) / new
                        size = new
                        pos_fees += fee
                        margin += add * px / lev
                    cash -= fee
                    fees_total += fee
                    if side > 0:
                        v = (entry - margin / size) / (1.0 - mmr)
                        liq = v if v > 0 else math.nan
                    else:
                        liq = (entry + margin / size) / (1.0 + mmr)
        reb = False
        if side != 0:
            blo, bhi = _band(side, sl, tp, liq)
            if acted or l[j] <= blo or h[j] >= bhi:
                a = 0
                b = 1
                use_sub = False
                if has_sub and sub_hi[j] > sub_lo[j]:
                    a = sub_lo[j]
                    b = sub_hi[j]
                    use_sub = True
                for s in range(a, b):
                    if side == 0:
                        break
                    if use_sub:
                        so = sub_o[s]
                        sh = sub_h[s]
                        sl_ = sub_l[s]
                    else:
                        so = o[j]
                        sh = h[j]
                        sl_ = l[j]
                    reason = -1
                    px = 0.0
                    if side > 0:
                        adverse = sl if not math.isnan(sl) else -inf
                        lq = liq if not math.isnan(liq) else -inf
                        level = adverse if adverse >= lq else lq
                        if sl_ <= level:
                            px = so if so < level else level
                            reason = 3 if lq > adverse else 1
                        elif not math.isnan(tp) and sh >= tp:
                            px = so if so > tp else tp
                            reason = 2
                    else:
                        adverse = sl if not math.isnan(sl) else inf
                        lq = liq if not math.isnan(liq) else inf
                        level = adverse if adverse <= lq else lq
                        if sh >= level:
                            px = so if so > level else level
                            reason = 3 if lq < adverse else 1
                        elif not math.isnan(tp) and sl_ <= tp:
                            px = so if so < tp else tp
                            reason = 2
                    if reason < 0:
                        continue
                    fee = 0.0
                    if reason == 3:
                        gross = -margin
                        nliq += 1
                    else:
                        if reason == 1:
                            slip = px * slip_bps * 1e-4 + slip_range * (h[j] - l[j])
                            px = px - slip if side > 0 else px + slip
                        fee = size * px * taker
                        gross = side * size * (px - entry)
                    cash += gross - fee
                    fees_total += fee
                    t_side[nt] = side
                    t_entry_bar[nt] = entry_bar
                    t_exit_bar[nt] = j
                    t_entry[nt] = entry
                    t_exit[nt] = px
                    t_size[nt] = size
                    t_gross[nt] = gross
                    t_fees[nt] = pos_fees + fee
                    t_fund[nt] = pos_fund
                    t_reason[nt] = reason
                    nt += 1
                    side = 0
                    size = 0.0
                    entry = 0.0
                    margin = 0.0
                    sl = math.nan
                    tp = math.nan
                    liq = math.nan
        equity[j] = cash + side * size * (c[j] - entry) if side != 0 else cash
        position[j] = side * size
        if resize:
            # The target at this close (engine.first_rebalance): direction x strength x full-strength size.
            pos = side * size
            full = kfull * equity[j] / c[j]
            if full < 0.0:
                full = 0.0
            tgt = (d[j] * strength[j]) * full
            if lot > 0:
                sg = 1.0 if tgt > 0 else -1.0 if tgt < 0 else 0.0
                tgt = sg * (math.floor(abs(tgt) / lot + 1e-9) * lot)
            gap = abs(tgt - pos)
            reb = gap >= band * full and gap > 0.0
            reb_t = tgt
        j += 1
    return (
        equity,
        position,
        nt,
        t_side,
        t_entry_bar,
        t_exit_bar,
        t_entry,
        t_exit,
        t_size,
        t_gross,
        t_fees,
        t_fund,
        t_reason,
        fees_total,
        fund_total,
        nliq,
        side * size,
        entry,
        nreb,
    )


def _f64(x) -> np.ndarray:
    """float64 as given (any strides, e.g. a constant zero-stride view: the kernel reads it in place), else a copy."""
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        return x
    return np.ascontiguousarray(x, dtype=np.float64)


def run_fast(
    arrays: dict[str, np.ndarray],
    signals: Signals,
    settings: EngineSettings,
    *,
    funding: np.ndarray | None = None,
    sub: SubBars | None = None,
    tf_ms: int = 3_600_000,
    with_trades: bool = True,
) -> EngineResult:
    ts = np.asarray(arrays["timestamp"], dtype=np.int64)
    o = np.ascontiguousarray(arrays["open"], dtype=np.float64)
    h = np.ascontiguousarray(arrays["high"], dtype=np.float64)
    lo = np.ascontiguousarray(arrays["low"], dtype=np.float64)
    c = np.ascontiguousarray(arrays["close"], dtype=np.float64)
    n = len(ts)
    fpay = np.zeros(1) if funding is None else np.ascontiguousarray(funding, dtype=np.float64)
    idx = sub_bar_index(ts, tf_ms, sub)
    if idx is None:
        sub_lo = sub_hi = np.zeros(1, np.int64)
        so = sh = sl = np.zeros(1)
        has_sub = False
    else:
        assert sub is not None  # sub_bar_index finds sub-bars only in sub
        sub_lo, sub_hi = idx[0].astype(np.int64), idx[1].astype(np.int64)
        so, sh, sl = (np.ascontiguousarray(x, dtype=np.float64) for x in (sub.open, sub.high, sub.low))
        has_sub = True
    out = _kernel(
        o,
        h,
        lo,
        c,
        np.ascontiguousarray(signals.direction, dtype=np.int8),
        _f64(signals.strength),
        _f64(signals.stop_loss),
        _f64(signals.take_profit),
        fpay,
        funding is not None,
        sub_lo,
        sub_hi,
        so,
        sh,
        sl,
        has_sub,
        float(settings.capital),
        float(settings.taker_fee),
        float(settings.slippage_bps),
        float(settings.slippage_range),
        float(settings.maintenance_margin),
        float(settings.leverage),
        float(settings.lot_size),
        float(settings.position_fraction),
        settings.rebalance_band is not None,
        float(settings.rebalance_band or 0.0),
    )
    (
        equity,
        position,
        nt,
        t_side,
        t_eb,
        t_xb,
        t_entry,
        t_exit,
        t_size,
        t_gross,
        t_fees,
        t_fund,
        t_reason,
        fees,
        fund,
        nliq,
        open_pos,
        open_entry,
        nreb,
    ) = out
    trades: list[ClosedTrade] = []
    if with_trades:
        for i in range(int(nt)):
            trades.append(
                ClosedTrade(
                    "long" if t_side[i] > 0 else "short",
                    int(ts[t_eb[i]]),
                    int(ts[t_xb[i]]),
                    float(t_entry[i]),
                    float(t_exit[i]),
                    float(t_size[i]),
                    float(t_gross[i]),
                    float(t_fees[i]),
                    float(t_fund[i]),
                    REASONS[int(t_reason[i])],
                )
            )
    decisions = []
    if with_trades and n:
        d = signals.direction
        changes = np.flatnonzero(d != np.concatenate(([0], d[:-1])))
        decisions = [(int(ts[k]), int(d[k]), float(signals.strength[k])) for k in changes.tolist()]
    intrabar = (
        "conservative (stop first; no lower-timeframe bars)"
        if idx is None
        else "lower timeframe bars decided the order inside bars that had them"
    )
    return EngineResult(
        equity,
        position,
        trades,
        [],
        decisions,
        float(equity[-1]) if n else settings.capital,
        float(fees),
        float(fund),
        int(nliq),
        intrabar,
        n,
        {
            "open_position": float(open_pos),
            "open_entry": float(open_entry),
            "trade_count": int(nt),
            "last_close": float(c[-1]) if n else 0.0,
            "rebalances": int(nreb),
            "pnl": (t_gross[:nt] - t_fees[:nt] - t_fund[:nt]) if not with_trades else None,
        },
    )
