"""The simulator's market: base bars from a seeded generator or a replayed CSV, and everything
derived from them (candles of any coarser timeframe, the price path inside a bar, mark and index
price, funding, open interest, long/short ratio).

Every quantity is a deterministic function of (seed, time), so a restarted simulator with the same
seed serves the same history. Inside a base bar the price follows the path
open -> low -> high -> close (a rising bar) or open -> high -> low -> close (a falling bar), the
vertices at 0, 1/3, 2/3 and 1 of the bar: the forming candle, the ticker and the matching engine
all read this one path, so a fill price is always inside the candle shown for that time.

Thread safety: the HTTP server answers on several threads at once and a generated market grows
(one day at a time) from whichever request first reaches a new day, so the bar arrays are only
read and extended under the market's lock: a reader never sees the time column longer than the
price columns, and each day is generated exactly once, in order, from the one seeded stream (the
same seed gives the same market however requests interleave). A replayed market ends with its
file: asking about a later time raises ``MarketEnded`` (the server answers it as an OKX error).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path
from typing import Iterator, overload

import numpy as np

DAY_MS = 86_400_000
FUNDING_INTERVAL_MS = 8 * 3_600_000
TICK = 0.1

# Volatility regimes (per-minute sigma) and their hourly transition matrix: calm, normal, stormy.
REGIME_SIGMA = np.array([0.00045, 0.0008, 0.0019])
REGIME_P = np.array([[0.97, 0.03, 0.00], [0.02, 0.96, 0.02], [0.00, 0.08, 0.92]])


@overload
def round_tick(x: float) -> float: ...
@overload
def round_tick(x: np.ndarray) -> np.ndarray: ...
def round_tick(x: float | np.ndarray) -> float | np.ndarray:
    """Round to the 0.1 tick (one decimal, so no 5201.400000000001 artefacts)."""
    return np.round(x, 1) if isinstance(x, np.ndarray) else round(float(x), 1)


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class MarketEnded(RuntimeError):
    """A replayed market was asked about a time after the end of its file."""

    def __init__(self, end_ms: int, t_ms: int, source: str = "") -> None:
        self.end_ms, self.t_ms = int(end_ms), int(t_ms)
        what = f"the replayed file {source}" if source else "the replayed market"
        super().__init__(
            f"replay ended: {what} has no data after {_utc(end_ms)} (asked for {_utc(t_ms)}); "
            "restart the simulator with a longer file, an earlier start, or a generated market"
        )


def _locked(fn):
    @wraps(fn)
    def wrapper(self, *args, **kw):
        with self._lock:
            return fn(self, *args, **kw)

    return wrapper


@dataclass(frozen=True, slots=True)
class Bar:
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    confirmed: bool


class Market:
    """Base bars (epoch-ms open times, one ``step_ms`` apart) plus derived data."""

    def __init__(self, *, step_ms: int, seed: int) -> None:
        self.step_ms = int(step_ms)
        self.seed = int(seed)
        self._ts = np.empty(0, dtype=np.int64)
        self._o = self._h = self._l = self._c = self._v = np.empty(0)
        # Per timeframe: (base bars covered, candle columns, base index where each candle starts).
        self._agg_cache: dict[int, tuple[int, tuple[np.ndarray, ...], np.ndarray]] = {}
        self.funding_overrides: dict[int, float] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------ base bars

    @property
    def first_ms(self) -> int:
        return int(self._ts[0]) if len(self._ts) else 0

    @property
    def end_ms(self) -> int:
        """The close time of the last base bar known."""
        return int(self._ts[-1]) + self.step_ms if len(self._ts) else 0

    @property
    def horizon_ms(self) -> int | None:
        """The last time this market can answer for (None: it extends without end)."""
        return self.end_ms

    source = ""

    def ensure(self, until_ms: int) -> None:
        """Make sure base bars exist up to ``until_ms``; a finite market raises MarketEnded past its end."""
        if until_ms > self.end_ms:
            raise MarketEnded(self.end_ms, until_ms, self.source)

    def _append(self, ts, o, h, l, c, v) -> None:  # noqa: E741
        with self._lock:
            self._ts = np.concatenate([self._ts, ts.astype(np.int64)])
            self._o = np.concatenate([self._o, o])
            self._h = np.concatenate([self._h, h])
            self._l = np.concatenate([self._l, l])
            self._c = np.concatenate([self._c, c])
            self._v = np.concatenate([self._v, v])

    @_locked
    def volume_at(self, t_ms: int) -> float:
        """Volume of the base bar containing t (0 when the market has no bars)."""
        return float(self._v[self._index(t_ms)]) if len(self._v) else 0.0

    def _index(self, t_ms: int) -> int:
        """Index of the base bar containing t (clamped to the known range)."""
        i = int(np.searchsorted(self._ts, t_ms, side="right")) - 1
        return max(0, min(i, len(self._ts) - 1))

    def _vertices(self, i: int) -> tuple[list[float], list[float]]:
        o, h, l, c = float(self._o[i]), float(self._h[i]), float(self._l[i]), float(self._c[i])  # noqa: E741
        mid = [l, h] if c >= o else [h, l]
        t0 = float(self._ts[i])
        s = self.step_ms
        return [t0, t0 + s / 3, t0 + 2 * s / 3, t0 + s], [o, mid[0], mid[1], c]

    @_locked
    def price_at(self, t_ms: int) -> float:
        """Last traded price at t: a point on the intrabar path."""
        self.ensure(t_ms)
        if not len(self._ts):
            raise RuntimeError("market has no bars")
        if t_ms >= self.end_ms:
            return float(self._c[-1])
        if t_ms < self.first_ms:
            return float(self._o[0])
        times, prices = self._vertices(self._index(t_ms))
        for k in range(3):
            if t_ms <= times[k + 1]:
                f = (t_ms - times[k]) / (times[k + 1] - times[k])
                return round_tick(prices[k] + f * (prices[k + 1] - prices[k]))
        return prices[-1]

    def segments(self, t0: int, t1: int) -> Iterator[tuple[int, float, int, float]]:
        """Monotonic pieces (ta, pa, tb, pb) of the price path covering (t0, t1]."""
        if t1 <= t0:
            return
        with self._lock:
            self.ensure(t1)
            i = self._index(t0)
            p0, p1 = self.price_at(t0), self.price_at(t1)
        while True:
            # One bar at a time under the lock (the arrays only grow; the lock is never held across a yield).
            with self._lock:
                if i >= len(self._ts) or self._ts[i] >= t1:
                    return
                times, prices = self._vertices(i)
            for k in range(3):
                ta, tb = times[k], times[k + 1]
                if tb <= t0 or ta >= t1:
                    continue
                pa = prices[k] if ta >= t0 else p0
                pb = prices[k + 1] if tb <= t1 else p1
                yield int(max(ta, t0)), pa, int(min(tb, t1)), pb
            i += 1

    # ------------------------------------------------------------ candles

    def _group(self, tf_ms: int, a: int, b: int) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """Candles of ``tf_ms`` over base bars [a, b), and the base index where each one starts."""
        ts = self._ts[a:b]
        if b <= a:
            return (ts, self._o[a:a], self._h[a:a], self._l[a:a], self._c[a:a], self._v[a:a]), np.empty(
                0, dtype=np.int64
            )
        o, h, l, c, v = (x[a:b] for x in (self._o, self._h, self._l, self._c, self._v))  # noqa: E741
        g = ts // tf_ms
        starts = np.concatenate([[0], np.flatnonzero(np.diff(g)) + 1]).astype(np.int64)
        ends = np.concatenate([starts[1:], [len(ts)]])
        out = (
            g[starts] * tf_ms,
            o[starts],
            np.maximum.reduceat(h, starts),
            np.minimum.reduceat(l, starts),
            c[ends - 1],
            np.round(np.add.reduceat(v, starts), 6),
        )
        return out, starts + a

    def _aggregate(self, tf_ms: int, n: int) -> tuple[np.ndarray, ...]:
        """Candles of ``tf_ms`` over the first n base bars (the last group may be incomplete).

        Incremental: when n grows, only the cached last (possibly incomplete) candle and the new
        bars are aggregated again, so a long-running market costs the same per call as a new one.
        """
        if tf_ms == self.step_ms:
            return (self._ts[:n], self._o[:n], self._h[:n], self._l[:n], self._c[:n], self._v[:n])
        hit = self._agg_cache.get(tf_ms)
        if hit and hit[0] == n:
            return hit[1]
        if hit and 0 < hit[0] < n and len(hit[2]):
            old, old_starts = hit[1], hit[2]
            s = int(old_starts[-1])
            new, new_starts = self._group(tf_ms, s, n)
            out = tuple(np.concatenate([a[:-1], b]) for a, b in zip(old, new))
            starts = np.concatenate([old_starts[:-1], new_starts])
        else:
            out, starts = self._group(tf_ms, 0, n)
        self._agg_cache[tf_ms] = (n, out, starts)
        return out

    @_locked
    def forming_base(self, now_ms: int) -> Bar | None:
        """The base bar containing now, cut at now along the path."""
        if now_ms >= self.end_ms or now_ms < self.first_ms:
            return None
        i = self._index(now_ms)
        times, prices = self._vertices(i)
        seen = [p for t, p in zip(times, prices) if t <= now_ms] + [self.price_at(now_ms)]
        frac = (now_ms - times[0]) / self.step_ms
        return Bar(int(self._ts[i]), prices[0], max(seen), min(seen), seen[-1], float(self._v[i]) * frac, False)

    @_locked
    def candles(
        self, tf_ms: int, now_ms: int, *, after: int | None = None, before: int | None = None, limit: int = 100
    ) -> list[Bar]:
        """OKX semantics: newest first; ``after`` = older than, ``before`` = newer than (both exclusive).

        The forming candle (confirm "0") is included when it falls inside the window.
        """
        if tf_ms % self.step_ms:
            raise ValueError(f"timeframe {tf_ms} ms is finer than the market's {self.step_ms} ms bars")
        self.ensure(now_ms)
        n_closed = int(np.searchsorted(self._ts, now_ms - self.step_ms, side="right"))
        ts, o, h, l, c, v = self._aggregate(tf_ms, n_closed)  # noqa: E741
        tf_open = now_ms // tf_ms * tf_ms
        # Closed candles are those whose whole period lies before now.
        n_full = int(np.searchsorted(ts, tf_open, side="left"))
        hi = n_full
        if after is not None:
            hi = min(hi, int(np.searchsorted(ts, after, side="left")))
        lo = 0
        if before is not None:
            lo = int(np.searchsorted(ts, before, side="right"))
        out: list[Bar] = []
        forming = self._forming(tf_ms, now_ms, ts, o, h, l, c, v, n_full)
        if forming and (after is None or forming.ts < after) and (before is None or forming.ts > before):
            out.append(forming)
        start = max(lo, hi - (limit - len(out)))
        for k in range(hi - 1, start - 1, -1):
            out.append(Bar(int(ts[k]), float(o[k]), float(h[k]), float(l[k]), float(c[k]), float(v[k]), True))
        return out[:limit]

    def _forming(self, tf_ms, now_ms, ts, o, h, l, c, v, n_full) -> Bar | None:  # noqa: E741
        fb = self.forming_base(now_ms)
        if fb is None:
            return None
        tf_open = now_ms // tf_ms * tf_ms
        if n_full < len(ts) and ts[n_full] == tf_open:  # closed base bars already inside this period
            k = n_full
            return Bar(
                tf_open,
                float(o[k]),
                max(float(h[k]), fb.high),
                min(float(l[k]), fb.low),
                fb.close,
                float(v[k]) + fb.volume,
                False,
            )
        return Bar(tf_open, fb.open, fb.high, fb.low, fb.close, fb.volume, False)

    # ------------------------------------------------------------ derived series

    def _noise(self, *key: int) -> float:
        return float(np.random.default_rng([self.seed, *[int(k) & 0xFFFFFFFF for k in key]]).standard_normal())

    @staticmethod
    def mark_factor(t_ms: int) -> float:
        """Mark price / last price at t (a slow premium wave of +-3 bp)."""
        return 1 + 0.0003 * math.sin(2 * math.pi * t_ms / 21_600_000)

    @staticmethod
    def index_factor(t_ms: int) -> float:
        """Index price / last price at t."""
        return 1 - 0.0002 * math.sin(2 * math.pi * t_ms / 21_600_000 + 0.7)

    def mark_price(self, t_ms: int) -> float:
        return round_tick(self.price_at(t_ms) * self.mark_factor(t_ms))

    def index_price(self, t_ms: int) -> float:
        return round_tick(self.price_at(t_ms) * self.index_factor(t_ms))

    @_locked
    def rolling(self, t0: int, t1: int) -> tuple[float, float, float, float]:
        """(open, high, low, volume) of the last price over the window (t0, t1]: one window for all four.

        Base bars wholly inside count whole; the bars cut by either end count their path inside the
        window and a pro-rated share of their volume.
        """
        self.ensure(t1)
        o = self.price_at(t0)
        hi = lo = o
        c = self.price_at(t1)
        hi, lo = max(hi, c), min(lo, c)
        i0 = int(np.searchsorted(self._ts, t0, side="right"))  # first bar opening after t0
        i1 = int(np.searchsorted(self._ts, t1 - self.step_ms, side="right"))  # bars closed by t1
        vol = 0.0
        if i1 > i0:
            hi = max(hi, float(self._h[i0:i1].max()))
            lo = min(lo, float(self._l[i0:i1].min()))
            vol += float(self._v[i0:i1].sum())
        for k in {max(0, i0 - 1), min(i1, len(self._ts) - 1)}:  # the bars cut by the window's ends
            if not len(self._ts):
                break
            a, b = max(t0, int(self._ts[k])), min(t1, int(self._ts[k]) + self.step_ms)
            if b <= a or (i0 <= k < i1):
                continue
            times, prices = self._vertices(k)
            inside = [p for t, p in zip(times, prices) if a <= t <= b] + [self.price_at(a), self.price_at(b)]
            hi, lo = max(hi, max(inside)), min(lo, min(inside))
            vol += float(self._v[k]) * (b - a) / self.step_ms
        return o, hi, lo, round(vol, 6)

    def funding_rate(self, settle_ms: int, *, as_of: int | None = None) -> float:
        """The rate settled at ``settle_ms`` (a multiple of 8 h): replayed, or from the premium.

        ``as_of`` (before the settlement) gives the current estimate without looking ahead.
        """
        if settle_ms in self.funding_overrides:
            return self.funding_overrides[settle_ms]
        t = settle_ms if as_of is None else min(settle_ms, as_of)
        p1 = self.price_at(t)
        p0 = self.price_at(t - FUNDING_INTERVAL_MS)
        ret = p1 / p0 - 1 if p0 > 0 else 0.0
        rate = 0.0001 + 0.01 * ret + 0.00004 * self._noise(1, settle_ms // 1000)
        return round(min(max(rate, -0.00375), 0.00375), 8)

    def open_interest(self, t_ms: int) -> float:
        """Open interest in contracts at 5-minute resolution."""
        p = t_ms // 300_000
        x = 1 + 0.15 * math.sin(2 * math.pi * p / 2016 + self.seed) + 0.05 * math.sin(2 * math.pi * p / 288 + 1.3)
        return round(2_500_000 * x * (1 + 0.01 * self._noise(2, p)), 2)

    def long_short_ratio(self, t_ms: int) -> float:
        p = t_ms // 300_000
        r = 1.0 + 0.35 * math.sin(2 * math.pi * p / 1440 + self.seed % 7) + 0.08 * math.sin(2 * math.pi * p / 97)
        return round(max(0.2, r + 0.03 * self._noise(3, p)), 2)


class GeneratedMarket(Market):
    """Seeded random walk: volatility regimes (hourly Markov chain), Student-t returns, drift spells."""

    def __init__(
        self, *, seed: int, start_ms: int, history_days: int, start_price: float, step_ms: int = 60_000
    ) -> None:
        super().__init__(step_ms=step_ms, seed=seed)
        if DAY_MS % step_ms:
            raise ValueError("the base step must divide a day")
        self._rng = np.random.default_rng(seed)
        self._regime = 1
        self._drift = 0.0
        self._price = self._anchor = float(start_price)
        self._next_day = (start_ms - history_days * DAY_MS) // DAY_MS * DAY_MS
        with self._lock:
            self.ensure(start_ms + DAY_MS)
            # Scale the whole walk so the price at the clock's start is ``start_price``.
            f = float(start_price) / self.price_at(start_ms)
            self._o, self._h, self._l, self._c = (round_tick(a * f) for a in (self._o, self._h, self._l, self._c))
            self._agg_cache.clear()
            self._price = float(self._c[-1])
            self._anchor = float(start_price)

    @property
    def horizon_ms(self) -> int | None:
        return None  # extends lazily, day by day, as far as the clock goes

    @_locked
    def ensure(self, until_ms: int) -> None:
        # Under the lock: one thread generates a day, the others wait and then find it there.
        chunks = []
        while self._next_day <= until_ms:
            chunks.append(self._gen_day(self._next_day))
            self._next_day += DAY_MS
        if chunks:
            self._append(*(np.concatenate([ch[k] for ch in chunks]) for k in range(6)))

    def _gen_day(self, day_ms: int):
        rng, step = self._rng, self.step_ms
        n = DAY_MS // step
        per_hour = max(1, 3_600_000 // step)
        scale = math.sqrt(step / 60_000)
        sig = np.empty(n)
        for hr in range(0, n, per_hour):
            self._regime = int(rng.choice(3, p=REGIME_P[self._regime]))
            if rng.random() < 0.02:
                self._drift = float(rng.normal(0, 2e-6))
            sig[hr : hr + per_hour] = REGIME_SIGMA[self._regime]
        sig *= scale
        # Weak pull back toward the anchor price keeps multi-year histories in a plausible range.
        pull = -0.03 * math.log(self._price / self._anchor) / n
        r = rng.standard_t(3, n) / math.sqrt(3) * sig + self._drift * scale * scale + pull
        closes = self._price * np.exp(np.cumsum(r))
        c = round_tick(closes)
        o = np.concatenate([[round_tick(self._price)], c[:-1]])
        wick_up = np.abs(rng.standard_normal(n)) * sig * 0.6
        wick_dn = np.abs(rng.standard_normal(n)) * sig * 0.6
        h = np.maximum(round_tick(np.maximum(o, c) * np.exp(wick_up)), np.maximum(o, c))
        l = np.minimum(round_tick(np.minimum(o, c) * np.exp(-wick_dn)), np.minimum(o, c))  # noqa: E741
        v = np.round(
            4.0 * (step / 60_000) * np.exp(rng.normal(0, 0.5, n)) * (1 + np.abs(r) / np.maximum(sig, 1e-12)), 4
        )
        self._price = float(c[-1])
        ts = day_ms + np.arange(n, dtype=np.int64) * step
        return ts, o, h, l, c, v


class ReplayMarket(Market):
    """Replays a candle CSV (timestamp,open,high,low,close,volume) and optionally a funding CSV."""

    def __init__(self, *, candles_csv: str | Path, funding_csv: str | Path | None = None, seed: int = 0) -> None:
        import pandas as pd

        df = pd.read_csv(candles_csv, encoding="utf-8-sig")
        df.columns = [str(c).strip().lower() for c in df.columns]
        ts = df["timestamp"].to_numpy(dtype=np.int64)
        if len(ts) < 2:
            raise ValueError(f"{candles_csv}: need at least two candles to replay")
        step = int(np.min(np.diff(ts)))
        super().__init__(step_ms=step, seed=seed)
        self.source = str(candles_csv)
        self._append(ts, *(df[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close", "volume")))
        if funding_csv:
            # The same file and checks as `cockpit ingest --funding-csv` (header timestamp,funding_rate,
            # 8h settlement times in epoch ms); a replay has its own timeline, so no "after now" bound.
            from cockpit.market.csv_import import read_funding_csv

            f = read_funding_csv(funding_csv, now_ms=2**62)
            self.funding_overrides = {int(t): float(r) for t, r in zip(f["timestamp"], f["funding_rate"])}

    def _index(self, t_ms: int) -> int:
        # A replayed file may have gaps: a time inside a gap belongs to the bar before it.
        return super()._index(t_ms)
