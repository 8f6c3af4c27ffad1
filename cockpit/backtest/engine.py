"""The event-driven backtest engine over bars.

The strategy's signals are computed once, vectorised and without look-ahead (``generate()``);
the engine then walks the bars with a bar clock (``ManualClock``) and sends every order through
``SimulatedExecutor`` — the same fill model, OrderExecutor interface and OrderStatus state machine
paper trading uses. The Python loop only stops at bars where something can happen:

* a bar after the signal's direction changed (the decision taken at bar k's close is executed at
  bar k+1's open: exit the old position, then enter the new one sized from the equity at that open);
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
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cockpit.backtest.signals import Signals
from cockpit.domain.clock import ManualClock
from cockpit.domain.orders import Order, OrderStatus
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


def funding_per_bar(timestamp: np.ndarray, open_: np.ndarray, rates: dict[int, float] | None,
                    constant: float) -> np.ndarray:
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


def run_engine(arrays: dict[str, np.ndarray], signals: Signals, settings: EngineSettings, *,
               funding: np.ndarray | None = None, sub: SubBars | None = None, tf_ms: int = 3_600_000,
               progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None,
               executor: SimulatedExecutor | None = None) -> EngineResult:
    ts = np.asarray(arrays["timestamp"], dtype=np.int64)
    o = np.asarray(arrays["open"], dtype=np.float64)
    h = np.asarray(arrays["high"], dtype=np.float64)
    lo_ = np.asarray(arrays["low"], dtype=np.float64)
    c = np.asarray(arrays["close"], dtype=np.float64)
    n = len(ts)
    clock = ManualClock(int(ts[0]) if n else 0)
    ex = executor or SimulatedExecutor(
        clock, symbol=settings.symbol, cash=settings.capital, taker_fee=settings.taker_fee,
        maker_fee=settings.maker_fee, slippage_bps=settings.slippage_bps, slippage_range=settings.slippage_range,
        maintenance_margin=settings.maintenance_margin, leverage=settings.leverage, lot_size=settings.lot_size)
    fpay = np.zeros(n) if funding is None else np.asarray(funding, dtype=np.float64)
    fpre = np.concatenate(([0.0], np.cumsum(fpay)))  # funding over bars (a, b] = fpre[b+1] - fpre[a+1]
    fcount = np.concatenate(([0], np.cumsum(fpay != 0.0)))  # settlements among bars [a, b) = fcount[b] - fcount[a]
    sub_idx = sub_bar_index(ts, tf_ms, sub)
    sub_used = sub_fallback = 0

    d = signals.direction
    prev = np.empty_like(d)
    if n:
        prev[0] = 0
        prev[1:] = d[:-1]
    changes = np.flatnonzero(d != prev)
    fill_bars = (changes + 1)[changes + 1 < n].tolist()
    strength, stop, take = signals.strength, signals.stop_loss, signals.take_profit
    symbol, frac = settings.symbol, settings.position_fraction

    events: list[tuple[int, float, float, float]] = []  # (bar, cash, signed size, entry) after each processed bar
    record = events.append
    approved = OrderStatus.APPROVED  # the backtest engine is its own risk/approval step
    decisions = [(int(ts[k]), int(d[k]), float(strength[k])) for k in changes.tolist()]

    ptr, cur, last_f = 0, 0, -1
    nfill = len(fill_bars)
    report_every = max(1, nfill // 200) if progress else 0
    inf = np.inf
    while True:
        nxt = fill_bars[ptr] if ptr < nfill else n
        j = nxt
        if ex.side != 0 and cur < nxt and fcount[nxt] != fcount[cur]:
            # Funding settles against the isolated margin in this stretch: the liquidation level moves.
            blo, bhi = ex.trigger_band(include_liquidation=False)
            liqv = ex.liquidation_price(ex.margin - ex.side * ex.size * (fpre[cur + 1:nxt + 1] - fpre[last_f + 1]))
            if ex.side > 0:
                hit = (lo_[cur:nxt] <= np.maximum(liqv, blo)) | (h[cur:nxt] >= bhi)
            else:
                hit = (h[cur:nxt] >= np.minimum(liqv, bhi)) | (lo_[cur:nxt] <= blo)
            k = int(hit.argmax())
            if hit[k]:
                j = cur + k
        elif ex.side != 0 or ex._resting:
            blo, bhi = ex.trigger_band()
            if cur < nxt and (blo != -inf or bhi != inf):
                if bhi == inf:
                    hit = lo_[cur:nxt] <= blo
                elif blo == -inf:
                    hit = h[cur:nxt] >= bhi
                else:
                    hit = (lo_[cur:nxt] <= blo) | (h[cur:nxt] >= bhi)
                k = int(hit.argmax())
                if hit[k]:
                    j = cur + k
        if j >= n:
            break
        # Python floats from here on: numpy scalar arithmetic is several times slower.
        tj = int(ts[j])
        oj = float(o[j])
        clock.set(tj)
        if ex.side != 0:
            ex.charge_funding(float(fpre[j + 1] - fpre[last_f + 1]))
        last_f = j
        ex.begin_bar(tj, oj, float(h[j]), float(lo_[j]))
        if j == nxt:
            ptr += 1
            k = j - 1
            target = int(d[k])
            if ex.side != 0 and ex.side != target:
                ex.place(Order(symbol, "sell" if ex.side > 0 else "buy", "market", ex.size, approved,
                               reduce_only=True))
            if target != 0 and ex.side == 0:
                side = "buy" if target > 0 else "sell"
                size = ex.entry_size(ex.market_price(side, oj), frac * float(strength[k]))
                if size > 0:
                    ex.place(Order(symbol, side, "market", size, approved, stop_loss=float(stop[k]),
                                   take_profit=float(take[k])))
            if cancel is not None and cancel.is_set():
                raise BacktestCancelled(f"cancelled at bar {j} of {n}")
            if report_every and ptr % report_every == 0:
                progress(j, n)
        segments = None
        if sub_idx is not None and (ex.side != 0 or ex._resting):
            a, b = int(sub_idx[0][j]), int(sub_idx[1][j])
            if b > a:
                segments = zip(sub.open[a:b].tolist(), sub.high[a:b].tolist(), sub.low[a:b].tolist())
                sub_used += 1
            else:
                sub_fallback += 1
        ex.end_bar(float(c[j]), segments)
        record((j, ex.cash, ex.side * ex.size, ex.entry))
        cur = j + 1
    # Funding after the last processed bar, through the end.
    if n and ex.side != 0 and last_f < n - 1:
        clock.set(int(ts[-1]))
        ex.charge_funding(float(fpre[n] - fpre[last_f + 1]))
    if progress:
        progress(n, n)

    equity, position = _equity_curve(n, settings.capital, c, fpre, events)
    if sub_idx is None:
        intrabar = "conservative (stop first; no lower-timeframe bars)"
    else:
        intrabar = f"lower timeframe bars decided the order inside {sub_used} bars" + (
            f"; conservative (stop first) in {sub_fallback} bars without them" if sub_fallback else "")
    return EngineResult(equity, position, ex.trades, ex.records, decisions,
                        float(equity[-1]) if n else settings.capital, ex.fees_paid, ex.funding_paid,
                        ex.liquidations, intrabar, len(events),
                        {"open_position": ex.side * ex.size, "open_entry": ex.entry, "cash": ex.cash,
                         "last_close": float(c[-1]) if n else 0.0})


def _equity_curve(n: int, capital: float, close: np.ndarray, fpre: np.ndarray,
                  events: list[tuple[int, float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    if n == 0:
        return np.empty(0), np.empty(0)
    if not events:
        return np.full(n, float(capital)), np.zeros(n)
    ev = np.asarray(events, dtype=np.float64)
    bars = ev[:, 0].astype(np.int64)
    cash, pos, entry = ev[:, 1], ev[:, 2], ev[:, 3]
    idx = np.searchsorted(bars, np.arange(n), side="right") - 1
    before = idx < 0
    idx = np.clip(idx, 0, None)
    p = pos[idx]
    eb = bars[idx]
    # Funding accrued since the last processed bar is not yet in that bar's cash.
    eq = cash[idx] + p * (close - entry[idx]) - p * (fpre[1:] - fpre[eb + 1])
    eq[before] = capital
    p[before] = 0.0
    return eq, p
