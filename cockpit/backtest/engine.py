"""The event-driven backtest engine over bars.

The strategy's signals are computed once, vectorised and without look-ahead (``generate()``);
the engine then walks the bars with a bar clock (``ManualClock``) and sends every order through
``SimulatedExecutor`` — the same fill model paper trading uses. Being its own approval step, it fills
its market orders at the open through ``market_at_open`` (the fill ``place()`` gives an approved market
order, without an Order object and its status history: a long run keeps only compact fill and trade
records). The Python loop only stops at bars where something can happen:

* a bar after the signal's direction changed (the decision taken at bar k's close is executed at
  bar k+1's open: exit the old position, then enter the new one sized from the equity at that open);
* with ``EngineSettings.rebalance_band`` set, a bar after a close at which the target position moved
  away from the held one by at least the band (below), found with one vectorised scan per stretch;
* a bar whose high/low reaches a level of the executor's ``trigger_band()`` (stop-loss,
  take-profit, liquidation price, resting limit orders), found with one vectorised scan per
  quiet stretch.

Funding settlements between those bars are charged in one go from a prefix sum (the position does
not change in between, so the amount is identical to settling each one), and the equity curve is
rebuilt vectorised from the state after each processed bar.

Fill convention (shared with the fast path and matched by the backtesting.py parity test):
decision at bar k's close; market orders at bar k+1's open +/- slippage; taker fee per side; the
position from before is closed at that open before any intrabar stop is considered; a new position's
stop/take-profit can trigger in its entry bar; stop before take-profit when both are inside one
bar (or one 15m sub-bar when those are supplied); an open position at the end is marked to the last
close, not closed.

Resizing (``rebalance_band``). ``None`` (the default, and what a single-strategy backtest uses unless a
band is asked for): the engine is edge-triggered, positions are sized at entry and never resized, and a
stop-out stays flat until the direction changes. A number b in [0, 1] (``backtest --portfolio`` passes
``portfolio.rebalance_band``, the band the live engine trades by, cockpit/engine/sizing.py): at every
bar k's close the target is direction x strength x the full-strength size, where the full-strength
size is the entry rule at strength 1, ``position_fraction x equity / (close x (1/leverage + taker_fee))``
(equity marked to that close, funding included), rounded down to ``lot_size``. When
|target - position| >= b x full-strength size (and is not zero), bar k+1's open trades the difference
as market orders with slippage and taker fee: a reduce-only partial close when shrinking, an add on the
same side when growing (at most what the free cash pays for), an entry from flat, e.g. back in after a
stop while the signal still points that way. An add keeps the position's stop-loss / take-profit (net
mode: one bracket for the whole position, as set at entry); a position opened from flat takes bar k's
levels. A direction change is still handled as above (exit, then an entry sized at the open), except
that a new position is opened only when its strength is at least the band (from flat, a smaller target
is inside the band). Each partial close is a closed trade (exit reason ``rebalance``) carrying its share
of entry fees and funding. The live engine applies the same rules to target exposures (sizing.py).
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cockpit.backtest.kernels import first_cross_fn
from cockpit.backtest.signals import Signals
from cockpit.domain.clock import ManualClock
from cockpit.execution.simulated import ClosedTrade, FillRecord, SimulatedExecutor

FUNDING_INTERVAL_MS = 8 * 3_600_000


class BacktestCancelled(Exception):
    """Raised when the cancel event is set during a run."""


@dataclass(slots=True)
class EngineSettings:
    capital: float = 10_000.0
    taker_fee: float = 0.0005
    maker_fee: float = 0.0002
    slippage_bps: float = 0.0
    slippage_range: float = 0.0  # fraction of the bar's high-low range added to market/stop fills
    maintenance_margin: float = 0.004
    leverage: float = 1.0
    lot_size: float = 0.0  # BTC; 0 = no rounding
    position_fraction: float = 1.0  # share of free cash committed (margin + fee) at full strength
    rebalance_band: float | None = None  # None: act on direction changes only; else resize (module docstring)
    symbol: str = "BTC/USDT:USDT"


@dataclass(slots=True)
class SubBars:
    """A lower timeframe's bars (e.g. 15m for a 1h run) that decide the order of hits inside a bar."""

    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray


@dataclass(slots=True)
class EngineResult:
    equity: np.ndarray
    position: np.ndarray  # signed size after each bar
    trades: list[ClosedTrade]
    fills: list[FillRecord]
    decisions: list[tuple[int, int, float]]  # (timestamp, direction, strength) at each direction change
    final_equity: float
    fees: float
    funding: float
    liquidations: int
    intrabar: str  # how stop/take-profit order inside a bar was decided
    events: int = 0  # bars the loop processed
    extra: dict = field(default_factory=dict)


def funding_per_bar(
    timestamp: np.ndarray, open_: np.ndarray, rates: dict[int, float] | None, constant: float
) -> np.ndarray:
    """rate x mark summed per bar for every 8h settlement; a settlement at time s is charged on the first
    bar opening at or after s (the position held into that open pays it), marked at that bar's open.

    ``rates`` maps settlement time -> rate (missing settlements take the last known rate, or
    ``constant`` before the first); ``rates=None`` uses ``constant`` everywhere.
    """
    n = len(timestamp)
    out = np.zeros(n)
    if n == 0 or (rates is None and constant == 0.0):
        return out
    first = -(-int(timestamp[0]) // FUNDING_INTERVAL_MS) * FUNDING_INTERVAL_MS
    settle = np.arange(first, int(timestamp[-1]) + 1, FUNDING_INTERVAL_MS, dtype=np.int64)
    if len(settle) == 0:
        return out
    if rates:
        keys = np.array(sorted(rates), dtype=np.int64)
        vals = np.array([rates[k] for k in keys], dtype=np.float64)
        pos = np.searchsorted(keys, settle, side="right") - 1
        r = np.where(pos >= 0, vals[np.clip(pos, 0, None)], constant)
    else:
        r = np.full(len(settle), constant)
    bar = np.searchsorted(timestamp, settle, side="left")
    ok = bar < n
    np.add.at(out, bar[ok], r[ok] * open_[bar[ok]])
    return out


def sub_bar_index(timestamp: np.ndarray, tf_ms: int, sub: SubBars | None) -> tuple[np.ndarray, np.ndarray] | None:
    if sub is None or len(sub.timestamp) == 0:
        return None
    lo = np.searchsorted(sub.timestamp, timestamp, side="left")
    hi = np.searchsorted(sub.timestamp, timestamp + tf_ms, side="left")
    return lo, hi


_gc_lock = threading.Lock()
_gc_runs = 0  # runs in progress that paused automatic garbage collection
_gc_restore = False  # whether the first of them found it enabled


@contextmanager
def gc_paused():
    """Automatic garbage collection paused while backtests run, restored when the last one ends (also
    on error; concurrent runs in threads share one pause). The bar loop creates no reference cycles, so
    reference counting frees what it drops; what it keeps (fills, trades, events) made CPython's
    generation-2 passes walk an ever larger heap: 22% of a 1M-bar run, and a per-bar cost that grew
    with the run's length."""
    global _gc_runs, _gc_restore
    with _gc_lock:
        if _gc_runs == 0:
            _gc_restore = gc.isenabled()
            gc.disable()
        _gc_runs += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_runs -= 1
            if _gc_runs == 0 and _gc_restore:
                gc.enable()


def run_engine(
    arrays: dict[str, np.ndarray],
    signals: Signals,
    settings: EngineSettings,
    *,
    funding: np.ndarray | None = None,
    sub: SubBars | None = None,
    tf_ms: int = 3_600_000,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    executor: SimulatedExecutor | None = None,
) -> EngineResult:
    with gc_paused():
        return _run_engine(
            arrays,
            signals,
            settings,
            funding=funding,
            sub=sub,
            tf_ms=tf_ms,
            progress=progress,
            cancel=cancel,
            executor=executor,
        )


def _run_engine(
    arrays: dict[str, np.ndarray],
    signals: Signals,
    settings: EngineSettings,
    *,
    funding: np.ndarray | None,
    sub: SubBars | None,
    tf_ms: int,
    progress: Callable[[int, int], None] | None,
    cancel: threading.Event | None,
    executor: SimulatedExecutor | None,
) -> EngineResult:
    run = _BarRun(arrays, signals, settings, funding=funding, sub=sub, tf_ms=tf_ms, executor=executor)
    run.walk(progress, cancel)
    return run.result()


class _BarRun:
    """One run of the engine in three steps: the constructor prepares the bars, the signal changes and the
    funding sums; ``walk`` steps the executor through the bars where something can happen; ``result``
    rebuilds the equity curve. The bar arrays are read-only; the executor, ``cur`` (the first bar not yet
    processed) and ``last_f`` (the last bar funding was charged through) carry the state."""

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        signals: Signals,
        settings: EngineSettings,
        *,
        funding: np.ndarray | None,
        sub: SubBars | None,
        tf_ms: int,
        executor: SimulatedExecutor | None,
    ) -> None:
        self.settings = settings
        self.ts = ts = np.asarray(arrays["timestamp"], dtype=np.int64)
        self.o = o = np.asarray(arrays["open"], dtype=np.float64)
        self.h = h = np.asarray(arrays["high"], dtype=np.float64)
        self.lo = lo_ = np.asarray(arrays["low"], dtype=np.float64)
        self.c = c = np.asarray(arrays["close"], dtype=np.float64)
        self.n = n = len(ts)
        self.clock = clock = ManualClock(int(ts[0]) if n else 0)
        self.ex = executor or SimulatedExecutor(
            clock,
            symbol=settings.symbol,
            cash=settings.capital,
            taker_fee=settings.taker_fee,
            maker_fee=settings.maker_fee,
            slippage_bps=settings.slippage_bps,
            slippage_range=settings.slippage_range,
            maintenance_margin=settings.maintenance_margin,
            leverage=settings.leverage,
            lot_size=settings.lot_size,
            retain_orders=False,
        )
        fpay = np.zeros(n) if funding is None else np.asarray(funding, dtype=np.float64)
        self.fpre = np.concatenate(([0.0], np.cumsum(fpay)))  # funding over bars (a, b] = fpre[b+1] - fpre[a+1]
        # settlements among bars [a, b) = fcount[b] - fcount[a]
        self.fcount = fcount = np.concatenate(([0], np.cumsum(fpay != 0.0)))
        self.funded = bool(fcount[-1])  # no funding settles anywhere: skip its bookkeeping
        self.sub = sub
        self.sub_idx = sub_bar_index(ts, tf_ms, sub)
        self.sub_used = self.sub_fallback = 0

        d = signals.direction
        prev = np.empty_like(d)
        if n:
            prev[0] = 0
            prev[1:] = d[:-1]
        changes = np.flatnonzero(d != prev)
        fb = (changes + 1)[changes + 1 < n]
        self.fill_bars: list[int] = fb.tolist()
        strength = signals.strength
        self.stop, self.take = signals.stop_loss, signals.take_profit
        # Python values at the fill bars (and their decision bars), gathered once: numpy scalar access per bar is slow.
        self.f_bar = [x[fb].tolist() for x in (ts, o, h, lo_, c)]
        self.f_d, self.f_str, self.f_stop, self.f_take = (
            x[fb - 1].tolist() for x in (d, strength, self.stop, self.take)
        )
        self.decisions = [(int(ts[k]), int(d[k]), float(strength[k])) for k in changes.tolist()]

        self.band = settings.rebalance_band
        self.resize = self.band is not None
        # full-strength size = kfull x equity / price (the entry rule: margin + taker fee = fraction x equity)
        self.kfull = settings.position_fraction / (1.0 / settings.leverage + settings.taker_fee)
        # signed target as a fraction of full size
        self.dstr = d.astype(np.float64) * strength if self.resize else None
        self.scan = first_cross_fn()

        self.events: list[
            tuple[int, float, float, float]
        ] = []  # (bar, cash, signed size, entry) after each processed bar
        self.cur, self.last_f = 0, -1
        self.rebalances = 0

    # ---------------------------------------------------------------- where the next event is

    def first_trigger(self, a: int, b: int) -> int:
        """The first bar in [a, b) whose high/low reaches the executor's trigger band, else b."""
        ex, lo_, h = self.ex, self.lo, self.h
        if self.funded and ex.side != 0 and self.fcount[b] != self.fcount[self.cur]:
            # Funding settles against the isolated margin in this stretch: the liquidation level moves.
            fpre = self.fpre
            blo, bhi = ex.trigger_band(include_liquidation=False)
            liqv = ex.liquidation_price(ex.margin - ex.side * ex.size * (fpre[a + 1 : b + 1] - fpre[self.last_f + 1]))
            if ex.side > 0:
                hit = (lo_[a:b] <= np.maximum(liqv, blo)) | (h[a:b] >= bhi)
            else:
                hit = (h[a:b] >= np.minimum(liqv, bhi)) | (lo_[a:b] <= blo)
        elif ex.side != 0 or ex._resting:
            blo, bhi = ex.trigger_band()
            if blo == -_INF and bhi == _INF:
                return b
            if self.scan is not None:  # compiled: one call instead of three numpy passes over the stretch
                return self.scan(lo_, h, a, b, blo, bhi)
            if bhi == _INF:
                hit = lo_[a:b] <= blo
            elif blo == -_INF:
                hit = h[a:b] >= bhi
            else:
                hit = (lo_[a:b] <= blo) | (h[a:b] >= bhi)
        else:
            return b
        k = int(hit.argmax())
        return a + k if hit[k] else b

    def first_rebalance(self, a: int, b: int) -> tuple[int, float]:
        """The first fill bar r in [a, b) whose decision (at bar r-1's close, position unchanged since the
        last processed bar) moves the position by at least the band: (r, signed target size), else (b, 0)."""
        k0, k1 = max(a, 1) - 1, b - 1
        if k1 <= k0:
            return b, 0.0
        ex, dstr, fpre, lot = self.ex, self.dstr, self.fpre, self.settings.lot_size
        assert dstr is not None and self.band is not None
        pos = ex.side * ex.size
        if pos == 0.0 and not dstr[k0:k1].any():
            return b, 0.0
        cl = self.c[k0:k1]
        eq = ex.cash + pos * (cl - ex.entry) - pos * (fpre[k0 + 1 : k1 + 1] - fpre[self.last_f + 1]) if pos else ex.cash
        full = np.maximum(self.kfull * eq / cl, 0.0)
        tgt = dstr[k0:k1] * full
        if lot > 0:
            tgt = np.sign(tgt) * (np.floor(np.abs(tgt) / lot + 1e-9) * lot)
        gap = np.abs(tgt - pos)
        hit = (gap >= self.band * full) & (gap > 0.0)
        k = int(hit.argmax())
        return (a + k, float(tgt[k])) if hit[k] else (b, 0.0)

    def next_event(self, nxt: int) -> tuple[int, float | None]:
        """The next bar where something can happen before the fill bar ``nxt`` (a trigger, or with a band a
        rebalance: then its signed target), else ``nxt``. Looked for in growing windows so that a stretch
        cut short by an early event is not scanned to its end."""
        j, reb, a, w = nxt, None, self.cur, 256
        while a < nxt:
            b = min(nxt, a + w)
            jt = self.first_trigger(a, b)
            if self.resize:
                jr, tgt = self.first_rebalance(a, min(jt + 1, b))
                if jr < b and jr <= jt:
                    return jr, tgt
            if jt < b:
                return jt, reb
            a, w = b, w * 2
        return j, reb

    # ---------------------------------------------------------------- what happens at a bar

    def follow_signal(self, ptr: int, open_: float) -> None:
        """At the fill bar of signal change ``ptr``: exit a position on the old side, then enter the new
        direction sized from the equity at this open (with a band, only when its strength reaches it)."""
        ex, band = self.ex, self.band
        target, sk = self.f_d[ptr], self.f_str[ptr]
        if ex.side != 0 and ex.side != target:
            ex.market_at_open("sell" if ex.side > 0 else "buy", ex.size, reduce_only=True)
        if target != 0 and ex.side == 0 and (band is None or sk >= band):
            side = "buy" if target > 0 else "sell"
            size = ex.entry_size(ex.market_price(side, open_), self.settings.position_fraction * sk)
            if size > 0:
                ex.market_at_open(side, size, stop_loss=self.f_stop[ptr], take_profit=self.f_take[ptr])

    def segments(self, j: int):
        """The lower-timeframe bars inside bar ``j`` that order its hits, when a position or order is open."""
        ex, sub_idx, sub = self.ex, self.sub_idx, self.sub
        if sub_idx is None or sub is None or not (ex.side != 0 or ex._resting):
            return None
        a, b = int(sub_idx[0][j]), int(sub_idx[1][j])
        if b > a:
            self.sub_used += 1
            return zip(sub.open[a:b].tolist(), sub.high[a:b].tolist(), sub.low[a:b].tolist())
        self.sub_fallback += 1
        return None

    # ---------------------------------------------------------------- the loop

    def walk(self, progress: Callable[[int, int], None] | None, cancel: threading.Event | None) -> None:
        """Step through the bars where something can happen (fill bars, triggers, rebalances), then charge
        the funding through the end."""
        ex, clock, n, fpre = self.ex, self.clock, self.n, self.fpre
        ts, o, h, lo_, c = self.ts, self.o, self.h, self.lo, self.c
        fill_bars, (f_ts, f_o, f_h, f_l, f_c) = self.fill_bars, self.f_bar
        funded = self.funded
        record = self.events.append
        nfill = len(fill_bars)
        report_every = max(1, nfill // 200) if progress else 0
        ptr = 0
        while True:
            nxt = fill_bars[ptr] if ptr < nfill else n
            j, reb = self.next_event(nxt)
            if j >= n:
                break
            # Python floats from here on: numpy scalar arithmetic is several times slower.
            if j == nxt:
                tj, oj, hj, lj, cj = f_ts[ptr], f_o[ptr], f_h[ptr], f_l[ptr], f_c[ptr]
            else:
                tj, oj, hj, lj, cj = int(ts[j]), float(o[j]), float(h[j]), float(lo_[j]), float(c[j])
            clock.set(tj)
            if funded and ex.side != 0:
                ex.charge_funding(float(fpre[j + 1] - fpre[self.last_f + 1]))
            self.last_f = j
            ex.begin_bar(tj, oj, hj, lj)
            if j == nxt:
                self.follow_signal(ptr, oj)
                ptr += 1
                _check_cancel(cancel, j, n)
                if progress and ptr % report_every == 0:
                    progress(j, n)
            elif reb is not None:
                _rebalance(ex, reb, j - 1, oj, self.stop, self.take)
                self.rebalances += 1
                _check_cancel(cancel, j, n)
            ex.end_bar(cj, self.segments(j))
            record((j, ex.cash, ex.side * ex.size, ex.entry))
            self.cur = j + 1
        # Funding after the last processed bar, through the end.
        if n and ex.side != 0 and self.last_f < n - 1:
            clock.set(int(ts[-1]))
            ex.charge_funding(float(fpre[n] - fpre[self.last_f + 1]))
        if progress:
            progress(n, n)

    # ---------------------------------------------------------------- the result

    def result(self) -> EngineResult:
        ex, n, c, settings = self.ex, self.n, self.c, self.settings
        equity, position = _equity_curve(n, settings.capital, c, self.fpre, self.events)
        if self.sub_idx is None:
            intrabar = "conservative (stop first; no lower-timeframe bars)"
        else:
            intrabar = f"lower timeframe bars decided the order inside {self.sub_used} bars" + (
                f"; conservative (stop first) in {self.sub_fallback} bars without them" if self.sub_fallback else ""
            )
        return EngineResult(
            equity,
            position,
            ex.trades,
            ex.records,
            self.decisions,
            float(equity[-1]) if n else settings.capital,
            ex.fees_paid,
            ex.funding_paid,
            ex.liquidations,
            intrabar,
            len(self.events),
            {
                "open_position": ex.side * ex.size,
                "open_entry": ex.entry,
                "cash": ex.cash,
                "last_close": float(c[-1]) if n else 0.0,
                "rebalances": self.rebalances,
            },
        )


_INF = np.inf


def _check_cancel(cancel: threading.Event | None, j: int, n: int) -> None:
    if cancel is not None and cancel.is_set():
        raise BacktestCancelled(f"cancelled at bar {j} of {n}")


def _rebalance(ex: SimulatedExecutor, target: float, k: int, open_: float, stop: np.ndarray, take: np.ndarray) -> None:
    """Move the position to ``target`` (signed size decided at bar k's close) at this bar's open: a
    reduce-only close of the difference when shrinking, an add on the same side when growing (at most
    what the free cash pays for), a close then a new entry when the side changes. An add keeps the
    position's stop-loss/take-profit; a position opened from flat takes bar k's levels."""
    if ex.side != 0 and target * ex.side <= 0:
        ex.market_at_open("sell" if ex.side > 0 else "buy", ex.size, reduce_only=True, reason="rebalance")
    if target == 0.0:
        return
    want = abs(target)
    if ex.side != 0 and want < ex.size:
        amount = ex.size - want
        if amount > 1e-15:
            ex.market_at_open("sell" if ex.side > 0 else "buy", amount, reduce_only=True, reason="rebalance")
        return
    side = "buy" if target > 0 else "sell"
    amount = min(want - ex.size, ex.entry_size(ex.market_price(side, open_), 1.0))
    if amount > 1e-15:
        ex.market_at_open(side, amount, stop_loss=float(stop[k]), take_profit=float(take[k]), reason="rebalance")


def _equity_curve(
    n: int, capital: float, close: np.ndarray, fpre: np.ndarray, events: list[tuple[int, float, float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    if n == 0:
        return np.empty(0), np.empty(0)
    if not events:
        return np.full(n, float(capital)), np.zeros(n)
    ev = np.asarray(events, dtype=np.float64)
    bars = ev[:, 0].astype(np.int64)  # strictly increasing
    cash, pos, entry = ev[:, 1], ev[:, 2], ev[:, 3]
    f = int(bars[0])
    counts = np.diff(bars, append=n)  # bars from each processed bar to the next (its state holds until then)
    eq = np.full(n, float(capital))
    p = np.zeros(n)
    pi = np.repeat(pos, counts)
    eq[f:] = close[f:]
    eq[f:] -= np.repeat(entry, counts)
    eq[f:] *= pi
    eq[f:] += np.repeat(cash, counts)
    if fpre[-1] != 0.0 or fpre.any():
        # Funding accrued since the last processed bar is not yet in that bar's cash.
        eq[f:] -= pi * (fpre[f + 1 :] - np.repeat(fpre[bars + 1], counts))
    p[f:] = pi
    return eq, p
