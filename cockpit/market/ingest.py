"""Market-data ingest through ccxt: candles (every timeframe), funding history, price snapshots,
open interest and long/short ratio, into the seed's tables, idempotently (INSERT OR IGNORE).

- Candles are paged backward from the exchange's clock (OKX's ``after`` cursor, history endpoint),
  first down to the newest stored candle, then from the oldest stored one down to ``since``;
  internal holes are left to ``repair`` (DataService.gaps -> refetch exactly those ranges).
- Only closed candles are stored; the forming one is read by ``fetch_forming_candle`` for display.
- Every record is validated (ccxt turns malformed JSON into empty lists or None-filled records):
  fields present and finite, high >= low, open/close inside [low, high], on the timeframe grid, and
  not ahead of the exchange's clock. Bad records are rejected, logged and never stored.
- NetworkError / RateLimitExceeded / RequestTimeout (and responses ccxt could not parse) are retried
  with exponential backoff and jitter, up to ``exchange.max_retries``; then the step gives up and
  its ``ingestion_runs`` row says why. ``run_once`` never raises on exchange faults.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeGuard

import ccxt
import peewee
from peewee import SQL, fn

from cockpit.db.connection import database_proxy
from cockpit.db.models import FundingRate, LongShortRatio, MarketData, OpenInterest, PriceSnapshot
from cockpit.db.portable import insert_many_ignore
from cockpit.domain.market import timeframe_ms
from cockpit.domain.settings import Config
from cockpit.market.csv_import import CANDLE_FIELDS, FUNDING_FIELDS, record_run

log = logging.getLogger("cockpit.market.ingest")

RETRYABLE = (ccxt.NetworkError, ccxt.RateLimitExceeded, ccxt.RequestTimeout, ccxt.BadResponse)
PAGE = 300
LS_PERIOD = "1h"
FUNDING_MS = 8 * 3_600_000


class IngestError(RuntimeError):
    pass


@dataclass
class StepResult:
    data_type: str
    timeframe: str | None
    rows: int = 0
    rejected: int = 0
    status: str = "success"
    error: str | None = None


@dataclass
class IngestSummary:
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.status == "success" for s in self.steps)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.steps)

    @property
    def errors(self) -> list[str]:
        return [f"{s.data_type}{'/' + s.timeframe if s.timeframe else ''}: {s.error}" for s in self.steps if s.error]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "errors": self.errors,
            "steps": [s.__dict__.copy() for s in self.steps],
        }


def _finite(x: Any, *more: Any) -> TypeGuard[float]:
    """Whether every argument is a finite int or float (the type checker then takes the first for a float)."""
    xs = (x, *more)
    return all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in xs)


def valid_candle(row: Any, tf_ms: int, now_ms: int) -> str | None:
    """Why a ccxt OHLCV row is bad (None when good); closed-ness is checked by the caller."""
    if not isinstance(row, (list, tuple)) or len(row) < 6:
        return "not a 6-field row"
    ts, o, h, l, c, v = row[:6]  # noqa: E741
    if not isinstance(ts, int) or isinstance(ts, bool):
        return "timestamp missing"
    if not _finite(o, h, l, c, v):
        return "missing or non-finite field"
    if ts % tf_ms:
        return f"timestamp {ts} off the grid"
    if ts > now_ms:
        return f"timestamp {ts} ahead of the exchange clock {now_ms}"
    if h < l or not (l <= o <= h and l <= c <= h):
        return "inconsistent OHLC"
    if min(o, h, l, c) <= 0 or v < 0:
        return "non-positive price or negative volume"
    return None


class MarketIngestor:
    """Keeps the database's market data current from one ccxt exchange. Thread: the caller's."""

    def __init__(
        self,
        exchange: ccxt.Exchange,
        cfg: Config,
        clock,
        *,
        db: peewee.Database | None = None,
        symbol: str | None = None,
        timeframes: list[str] | None = None,
        source: str | None = None,
        backoff_s: float = 0.25,
        max_backoff_s: float = 4.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_pages: int = 1000,
    ) -> None:
        self.x = exchange
        self.cfg = cfg
        self.clock = clock
        self.db = db if db is not None else database_proxy
        self.symbol = symbol or cfg["symbol"]
        self.timeframes = list(timeframes or cfg["timeframes"])
        self.source = source or cfg["exchange"]["mode"]
        self.max_retries = int(cfg["exchange"]["max_retries"])
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.max_pages = max_pages
        self.rejected_log: list[tuple[str, str]] = []
        self._markets_loaded = False
        self._warned_future: set[tuple[str, int]] = set()
        self.timing = {"http": 0.0, "parse": 0.0, "db": 0.0}
        exchange.enableLastJsonResponse = True  # lets _call tell a malformed answer from an empty one

    # ------------------------------------------------------------ plumbing

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Call the exchange with retries; raise IngestError after the last attempt."""
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            try:
                if not self._markets_loaded:
                    self.x.load_markets()
                    self._markets_loaded = True
                self.x.last_json_response = None
                result = fn(*args, **kw)
                if not isinstance(self.x.last_json_response, (dict, list)):
                    # ccxt hands a body it could not parse back as a string and the caller gets
                    # empty or None-filled records: treat it like a transport fault.
                    raise ccxt.BadResponse(f"{what}: the answer was not valid JSON")
                return result
            except RETRYABLE as e:
                last = e
            except ccxt.BaseError:
                raise
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
                # ccxt choked on a malformed answer: as transient as a dropped connection.
                last = e
            if attempt < self.max_retries:
                delay = min(self.max_backoff_s, self.backoff_s * 2**attempt)
                self.sleep(delay + self.rng.uniform(0, delay))
        raise IngestError(
            f"{what}: gave up after {self.max_retries + 1} attempts: {type(last).__name__}: {str(last)[:200]}"
        )

    def exchange_now(self) -> int:
        try:
            t = self._call("fetch_time", self.x.fetch_time)
            if isinstance(t, int) and t > 0:
                return t
        except (IngestError, ccxt.BaseError) as e:
            log.warning("fetch_time failed (%s); using the local clock", e)
        return int(self.clock.now_ms())

    def _reject(self, what: str, why: str, row: Any) -> None:
        self.rejected_log.append((what, why))
        log.warning("rejected %s record (%s): %r", what, why, row)

    def _record(self, step: StepResult, started: int) -> StepResult:
        record_run(
            self.db,
            source=self.source,
            symbol=self.symbol,
            timeframe=step.timeframe,
            data_type=step.data_type,
            started_at=started,
            ended_at=int(self.clock.now_ms()),
            rows=step.rows,
            status=step.status,
            error=step.error,
        )
        return step

    def _step(self, data_type: str, timeframe: str | None, body: Callable[[StepResult], None]) -> StepResult:
        started = int(self.clock.now_ms())
        step = StepResult(data_type, timeframe)
        try:
            body(step)
        except (IngestError, ccxt.BaseError) as e:
            step.status, step.error = ("partial" if step.rows else "failed"), str(e)[:500]
        if step.rejected and step.status == "success":
            step.status, step.error = "partial", f"rejected {step.rejected} invalid record(s)"
        return self._record(step, started)

    def _stored_range(self, tf: str, now: int) -> tuple[int | None, int | None]:
        """Oldest and newest stored candle open times, ignoring rows dated beyond the exchange clock ``now``
        (a bad import): one such row must not make every real candle look already stored."""
        c = MarketData
        this = (c.symbol == self.symbol) & (c.timeframe == tf)
        r = self.db.execute(
            c.select(fn.MIN(c.timestamp), fn.MAX(c.timestamp)).where(this & (c.timestamp <= int(now)))
        ).fetchone()
        ahead = self.db.execute(
            c.select(fn.COUNT(SQL("*")), fn.MIN(c.timestamp)).where(this & (c.timestamp > int(now)))
        ).fetchone()
        if ahead and ahead[0] and (tf, ahead[1]) not in self._warned_future:
            self._warned_future.add((tf, ahead[1]))
            log.warning(
                "%d stored %s candle(s) dated beyond the exchange clock %d (first %d): ignored; "
                "delete them (they were imported, never fetched)",
                ahead[0],
                tf,
                now,
                ahead[1],
            )
        return (r[0], r[1]) if r else (None, None)

    # ------------------------------------------------------------ candles

    def _insert_candles(self, tf: str, rows: list[tuple]) -> int:
        if not rows:
            return 0
        t = time.perf_counter()
        with self.db.atomic():
            n = insert_many_ignore(self.db, MarketData, CANDLE_FIELDS, [(self.symbol, tf, *r) for r in rows])
        self.timing["db"] += time.perf_counter() - t
        return n

    def _page_back(self, step: StepResult, tf: str, upper: int, lower: int, now: int) -> None:
        """Store closed candles with lower <= ts < upper, newest pages first."""
        tf_ms = timeframe_ms(tf)
        cursor = upper
        for _ in range(self.max_pages):
            if cursor <= lower:
                return
            t = time.perf_counter()
            rows = self._call(
                f"fetch_ohlcv {tf}",
                self.x.fetch_ohlcv,
                self.symbol,
                tf,
                None,
                PAGE,
                {"until": cursor, "type": "HistoryCandles"},
            )
            self.timing["http"] += time.perf_counter() - t
            if not rows:
                return  # nothing older (listing start), or a malformed answer: repair finds holes later
            t = time.perf_counter()
            good, oldest = [], None
            for r in rows:
                why = valid_candle(r, tf_ms, now)
                if isinstance(r, (list, tuple)) and r and isinstance(r[0], int):
                    oldest = r[0] if oldest is None else min(oldest, r[0])
                if why:
                    step.rejected += 1
                    self._reject(f"candle {tf}", why, r)
                    continue
                if r[0] + tf_ms > now or r[0] < lower or r[0] >= upper:
                    continue  # forming candle, or outside the asked range
                good.append((r[0], float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5])))
            self.timing["parse"] += time.perf_counter() - t
            step.rows += self._insert_candles(tf, good)
            nxt = oldest if oldest is not None else cursor - PAGE * tf_ms
            if nxt >= cursor:
                return
            cursor = nxt

    def backfill_ms(self, tf: str) -> int:
        """How far back a first backfill reaches: ``exchange.backfill_days``, and for the decision timeframe
        at least ``engine.history_bars`` bars (its strategies need that much history to decide at all)."""
        days = int(self.cfg["exchange"]["backfill_days"]) * 86_400_000
        if tf == self.cfg.get("decision_timeframe"):
            return max(days, int(self.cfg["engine"]["history_bars"]) * timeframe_ms(tf))
        return days

    def backfill_candles(self, tf: str, since_ms: int, *, now: int | None = None) -> StepResult:
        """Fill [since, now) around what is stored: newer than the newest, then older than the oldest."""
        tf_ms = timeframe_ms(tf)
        since_ms = -(-since_ms // tf_ms) * tf_ms

        def body(step: StepResult) -> None:
            t_now = self.exchange_now() if now is None else now
            first, last = self._stored_range(tf, t_now)
            top = t_now // tf_ms * tf_ms  # open time of the forming candle: everything below is closed
            if last is None:
                self._page_back(step, tf, top, since_ms, t_now)
                return
            if last + tf_ms < top:
                self._page_back(step, tf, top, max(since_ms, last + tf_ms), t_now)
            if first is not None and first > since_ms:  # (first is set whenever last is)
                self._page_back(step, tf, first, since_ms, t_now)

        return self._step("candles", tf, body)

    def update_candles(self, tf: str, *, now: int | None = None) -> StepResult:
        """Incremental: from the newest stored candle (or exchange.backfill_days back) to now."""
        t_now = self.exchange_now() if now is None else now
        _, last = self._stored_range(tf, t_now)
        since = last + timeframe_ms(tf) if last is not None else t_now - self.backfill_ms(tf)
        return self.backfill_candles(tf, min(since, t_now), now=t_now)

    def repair(self, timeframes: list[str] | None = None) -> list[StepResult]:
        """Refetch exactly the missing grid ranges DataService.gaps finds."""
        from cockpit.data.data_service import DataService

        ds = DataService(self.db)
        out = []
        t_now = self.exchange_now()
        for tf in timeframes or self.timeframes:
            tf_ms = timeframe_ms(tf)
            gaps = ds.gaps(self.symbol, tf)

            def body(step: StepResult, gaps=gaps, tf=tf, tf_ms=tf_ms) -> None:
                for a, b in gaps:
                    self._page_back(step, tf, b + tf_ms, a, t_now)

            saved = self.source
            self.source = f"{saved}:repair"
            try:
                out.append(self._step("candles", tf, body))
            finally:
                self.source = saved
        return out

    def fetch_forming_candle(self, tf: str) -> dict[str, Any] | None:
        """The candle still forming (for the live chart; never stored). None on any exchange fault."""
        tf_ms = timeframe_ms(tf)
        try:
            now = self.exchange_now()
            rows = self._call(f"fetch_ohlcv {tf}", self.x.fetch_ohlcv, self.symbol, tf, None, 2)
        except (IngestError, ccxt.BaseError):
            return None
        for r in reversed(rows or []):
            if valid_candle(r, tf_ms, now) is None and r[0] + tf_ms > now:
                return dict(zip(("timestamp", "open", "high", "low", "close", "volume"), r[:6]), closed=False)
        return None

    # ------------------------------------------------------------ funding, snapshots, OI, L/S

    def _newest(self, model) -> tuple | None:
        """(MAX(timestamp),) of this symbol's rows of ``model``."""
        return self.db.execute(model.select(fn.MAX(model.timestamp)).where(model.symbol == self.symbol)).fetchone()

    def ingest_funding(self, since_ms: int | None = None) -> StepResult:
        def body(step: StepResult) -> None:
            now = self.exchange_now()
            r = self._newest(FundingRate)
            lower = (
                (r[0] + 1)
                if r and r[0] is not None
                else (
                    since_ms if since_ms is not None else now - int(self.cfg["exchange"]["backfill_days"]) * 86_400_000
                )
            )
            cursor = now + 1
            for _ in range(self.max_pages):
                rows = self._call(
                    "fetch_funding_rate_history",
                    self.x.fetch_funding_rate_history,
                    self.symbol,
                    None,
                    100,
                    {"after": cursor},
                )
                if not rows:
                    return
                good, oldest = [], None
                for x in rows:
                    ts, rate = x.get("timestamp"), x.get("fundingRate")
                    if isinstance(ts, int):
                        oldest = ts if oldest is None else min(oldest, ts)
                    if not isinstance(ts, int) or not _finite(rate) or abs(rate) > 0.05 or ts > now or ts % 3_600_000:
                        step.rejected += 1
                        self._reject("funding", "bad timestamp or rate", x.get("info"))
                        continue
                    if ts >= lower:
                        good.append((self.symbol, ts, float(rate), ts + FUNDING_MS))
                with self.db.atomic():
                    step.rows += insert_many_ignore(self.db, FundingRate, FUNDING_FIELDS, good)
                if oldest is None or oldest <= lower or oldest >= cursor:
                    return
                cursor = oldest

        return self._step("funding", None, body)

    def _index_price(self) -> float | None:
        """OKX's index price for the swap's underlying (``market/index-tickers``; ccxt has no unified
        call for it). None when unavailable: a snapshot without an index is still worth storing."""
        try:
            uly = (self.x.market(self.symbol).get("info") or {}).get("uly") or ""
            res = self._call("index ticker", self.x.publicGetMarketIndexTickers, {"instId": uly})
            px = float(((res or {}).get("data") or [{}])[0].get("idxPx"))
        except (IngestError, ccxt.BaseError, TypeError, ValueError, IndexError, AttributeError) as e:
            log.debug("index price unavailable: %s", e)
            return None
        return px if math.isfinite(px) and px > 0 else None

    @staticmethod
    def _snapshot_time(ts: Any, now: int) -> tuple[int | None, str | None]:
        """The record's own time (OKX's ``ts``), or the exchange clock's when it has none; why not when
        it is ahead of the exchange clock read after the record arrived (beyond 60 s of skew)."""
        if ts is None:
            return now, None
        if not isinstance(ts, int) or isinstance(ts, bool) or ts <= 0:
            return None, f"bad timestamp {ts!r}"
        if ts > now + 60_000:
            return None, f"timestamp {ts} ahead of the exchange clock {now}"
        return ts, None

    def ingest_snapshot(self) -> StepResult:
        def body(step: StepResult) -> None:
            tk = self._call("fetch_ticker", self.x.fetch_ticker, self.symbol)
            mk = self._call("fetch_mark_price", self.x.fetch_mark_price, self.symbol)
            index = tk.get("indexPrice") if _finite(tk.get("indexPrice")) else self._index_price()
            # The exchange clock read after the answers: a record cannot be newer than that (reading it
            # first rejected every record at 3600x, where one request takes tens of simulated seconds).
            now = self.exchange_now()
            last = tk.get("last")
            mark = mk.get("markPrice") if isinstance(mk, dict) else None
            ts, why = self._snapshot_time(tk.get("timestamp"), now)
            if why is None and (not _finite(last) or last <= 0):
                why = f"missing or bad last price {last!r}"
            if why:
                step.rejected += 1
                self._reject("price_snapshot", why, tk.get("info"))
                return
            mark = float(mark) if _finite(mark) and mark > 0 else None
            index = float(index) if _finite(index) and index > 0 else None
            p = PriceSnapshot
            step.rows += insert_many_ignore(
                self.db,
                p,
                (p.symbol, p.timestamp, p.last_price, p.mark_price, p.index_price),
                [(self.symbol, ts, float(last), mark, index)],
            )

        return self._step("price_snapshot", None, body)

    def ingest_open_interest(self) -> StepResult:
        def body(step: StepResult) -> None:
            oi = self._call("fetch_open_interest", self.x.fetch_open_interest, self.symbol)
            now = self.exchange_now()  # after the answer, as for snapshots
            amount, value = oi.get("baseVolume"), oi.get("openInterestValue")
            if amount is None and _finite(oi.get("openInterestAmount")):
                amount = oi["openInterestAmount"] * float(self.x.market(self.symbol).get("contractSize") or 1)
            ts, why = self._snapshot_time(oi.get("timestamp"), now)
            if why is None and (not _finite(amount) or amount < 0):
                why = f"missing or bad amount {amount!r}"
            if why:
                step.rejected += 1
                self._reject("open_interest", why, oi.get("info"))
                return
            o = OpenInterest
            step.rows += insert_many_ignore(
                self.db,
                o,
                (o.symbol, o.timestamp, o.open_interest, o.open_interest_value),
                [(self.symbol, ts, float(amount), float(value) if _finite(value) else None)],
            )

        return self._step("open_interest", None, body)

    def ingest_long_short(self, since_ms: int | None = None) -> StepResult:
        def body(step: StepResult) -> None:
            now = self.exchange_now()
            r = self._newest(LongShortRatio)
            period = timeframe_ms(LS_PERIOD)
            since = (
                (r[0] + period)
                if r and r[0] is not None
                else (
                    since_ms
                    if since_ms is not None
                    else now - min(int(self.cfg["exchange"]["backfill_days"]), 30) * 86_400_000
                )
            )
            for _ in range(self.max_pages):
                if since > now - period:
                    return
                rows = self._call(
                    "fetch_long_short_ratio_history",
                    self.x.fetch_long_short_ratio_history,
                    self.symbol,
                    LS_PERIOD,
                    since,
                    100,
                )
                if not rows:  # an empty window (before the series starts): move on
                    since += 100 * period
                    continue
                good = []
                for x in rows:
                    ts, ratio = x.get("timestamp"), x.get("longShortRatio")
                    if not isinstance(ts, int) or not _finite(ratio) or ratio <= 0 or ts > now or ts % period:
                        step.rejected += 1
                        self._reject("long_short_ratio", "bad timestamp or ratio", x.get("info"))
                        continue
                    good.append((self.symbol, ts, float(ratio)))
                with self.db.atomic():
                    ls = LongShortRatio
                    step.rows += insert_many_ignore(self.db, ls, (ls.symbol, ls.timestamp, ls.ratio), good)
                since += 100 * period

        return self._step("long_short_ratio", None, body)

    # ------------------------------------------------------------ one engine cycle

    def run_once(self) -> dict[str, Any]:
        """Bring every timeframe and series up to date; faults are recorded, never raised."""
        summary = IngestSummary()
        try:
            now = self.exchange_now()
            for tf in self.timeframes:
                summary.steps.append(self.update_candles(tf, now=now))
            summary.steps.append(self.ingest_funding())
            summary.steps.append(self.ingest_snapshot())
            summary.steps.append(self.ingest_open_interest())
            summary.steps.append(self.ingest_long_short())
        except peewee.DatabaseError as e:  # the database is ours: worth a loud log, still not a crash
            log.error("ingest: database error: %s", e)
            summary.steps.append(StepResult("database", None, status="failed", error=str(e)))
        return summary.as_dict()
