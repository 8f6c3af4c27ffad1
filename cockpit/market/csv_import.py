"""Import candles (header ``timestamp,open,high,low,close,volume``) and funding rates (header
``timestamp,funding_rate``) from CSV files; timestamps are UTC epoch ms (a candle's open time,
a funding settlement's time).

All or nothing: the file is read in batches of ``CHUNK_ROWS`` rows (memory stays flat however long
the file), each batch validated and written inside one transaction; a bad row anywhere aborts the
import naming the file's line number, and nothing is written. A UTF-8 byte-order mark is accepted.

Checks besides the format: prices positive, finite and at most ``MAX_PRICE``; the open within a
factor ``MAX_JUMP`` of the previous bar's close; timestamps on the timeframe's grid, strictly
increasing, not before 1970 and not ahead of now (a candle must have closed); rows mostly one
timeframe apart (a 1h file imported as 15m is refused). Re-importing is idempotent; a row that
differs from the stored candle at the same time is a conflict: the import is refused, saying how
many rows conflict, unless ``overwrite`` replaces the stored ones.
"""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import peewee

from cockpit.db.models import FundingRate, IngestionRun, MarketData
from cockpit.db.portable import insert_many_ignore
from cockpit.domain.clock import WallClock
from cockpit.domain.market import TIMEFRAME_MS, timeframe_ms

EXPECTED_HEADER = ["timestamp", "open", "high", "low", "close", "volume"]
FUNDING_HEADER = ["timestamp", "funding_rate"]
# Column order of the row tuples given to insert_many_ignore.
CANDLE_FIELDS = (
    MarketData.symbol,
    MarketData.timeframe,
    MarketData.timestamp,
    MarketData.open,
    MarketData.high,
    MarketData.low,
    MarketData.close,
    MarketData.volume,
)
FUNDING_FIELDS = (FundingRate.symbol, FundingRate.timestamp, FundingRate.funding_rate, FundingRate.next_funding_time)
# One candle row as SQLite SQL, for tests that plant a row on a SQLite file (the code above does not use it).
INSERT_CANDLES = (
    "INSERT OR IGNORE INTO market_data (symbol, timeframe, timestamp, open, high, low, close, volume) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
BATCH = 50_000
CHUNK_ROWS = 100_000
MAX_PRICE = 1e8  # USDT per BTC: far above any real price, far below a unit or exponent mistake
MAX_JUMP = 2.0  # a bar's open within [prev close / 2, prev close * 2] (real BTC: within 4% on 1h)
FUNDING_MS = 8 * 3_600_000
MAX_FUNDING_RATE = 0.03  # per 8h settlement (OKX and Binance cap BTC far below this)


class CsvImportError(ValueError):
    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class ImportResult:
    rows_read: int
    rows_inserted: int
    first: int | None
    last: int | None
    rows_conflicting: int = 0
    rows_replaced: int = 0


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000)) if 0 <= ms < 253402300800000 else str(ms)


def _check_header(p: Path, name: str, expected: list[str]) -> None:
    if not p.is_file():
        raise CsvImportError(name, None, "file not found")
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:  # utf-8-sig: a byte-order mark is dropped
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError as e:
        raise CsvImportError(name, None, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    if header is None:
        raise CsvImportError(name, 1, "empty file: expected header " + ",".join(expected))
    if [h.strip().lower() for h in header] != expected:
        raise CsvImportError(name, 1, f"expected header {','.join(expected)}, got {','.join(header)}")


def _chunks(
    p: Path, name: str, columns: list[str], chunk_rows: int
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame]]:
    """(numbers per column, file line of each row, the raw text) per batch; errors name the line."""
    # Numbers are parsed by pandas' C reader (fast); a column holding anything else comes back as
    # text and is checked field by field, so the error names the line and the field.
    reader = pd.read_csv(
        p,
        na_filter=False,
        skip_blank_lines=False,
        header=0,
        names=columns,
        on_bad_lines="error",
        engine="c",
        encoding="utf-8-sig",
        chunksize=chunk_rows,
    )
    next_line = 2  # the header is line 1
    it = iter(reader)
    while True:
        try:
            raw = next(it)
        except StopIteration:
            return
        except pd.errors.ParserError as e:
            msg = str(e)
            m = re.search(r"line (\d+)", msg)
            raise CsvImportError(
                name, int(m.group(1)) if m else None, f"wrong number of fields ({msg.split('.')[-1].strip() or msg})"
            ) from None
        except UnicodeDecodeError as e:
            raise CsvImportError(name, None, f"not UTF-8 text ({e.reason})") from None
        lines = np.arange(len(raw), dtype=np.int64) + next_line
        next_line += len(raw)
        values = {}
        for col in columns:
            if raw[col].dtype.kind in "iuf":
                num = raw[col].to_numpy(dtype=np.float64)
                text = None
            else:
                text = raw[col].astype(str).str.strip()
                empty = (text == "").to_numpy()
                if empty.any():
                    i = int(np.argmax(empty))
                    raise CsvImportError(name, int(lines[i]), f"missing field {col!r}")
                num = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
            bad = ~np.isfinite(num)
            if bad.any():
                i = int(np.argmax(bad))
                got = text.iloc[i] if text is not None else str(raw[col].iloc[i])
                raise CsvImportError(name, int(lines[i]), f"{col}: expected a number, got {got!r}")
            values[col] = num
        yield values, lines, raw


def _timestamps(
    name: str, ts: np.ndarray, lines: np.ndarray, raw: pd.DataFrame, now_ms: int, length_ms: int, what: str
) -> np.ndarray:
    frac = ts != np.floor(ts)
    if frac.any():
        i = int(np.argmax(frac))
        raise CsvImportError(
            name, int(lines[i]), f"timestamp: expected whole epoch milliseconds, got {raw['timestamp'].iloc[i]!r}"
        )
    early = ts < 0
    if early.any():
        i = int(np.argmax(early))
        raise CsvImportError(
            name, int(lines[i]), f"timestamp {int(ts[i])} is before 1970 (expected UTC epoch milliseconds)"
        )
    late = ts + length_ms > now_ms
    if late.any():
        i = int(np.argmax(late))
        raise CsvImportError(
            name,
            int(lines[i]),
            f"timestamp {int(ts[i])} ({_utc(int(ts[i]))} UTC): {what} after now "
            f"({_utc(now_ms)} UTC); check the file's timestamps are epoch milliseconds",
        )
    return ts.astype(np.int64)


class _Candles:
    """Validates candle batches in order, carrying the previous row across batches."""

    def __init__(self, name: str, timeframe: str, now_ms: int) -> None:
        self.name, self.timeframe, self.now_ms = name, timeframe, now_ms
        self.step = timeframe_ms(timeframe)
        self.prev: tuple[int, float, int] | None = None  # (timestamp, close, line)
        self.spacings = 0
        self.on_step = 0
        self.first_off: tuple[int, int] | None = None  # (line, spacing) of the first row not one step on

    def check(self, values: dict[str, np.ndarray], lines: np.ndarray, raw: pd.DataFrame) -> pd.DataFrame:
        name, step = self.name, self.step
        ts = _timestamps(name, values["timestamp"], lines, raw, self.now_ms, step, "the candle closes")
        off = ts % step != 0
        if off.any():
            i = int(np.argmax(off))
            raise CsvImportError(name, int(lines[i]), f"timestamp {ts[i]} is not on the {self.timeframe} grid")
        o, h, l, c, v = (values[k] for k in ("open", "high", "low", "close", "volume"))  # noqa: E741
        checks = [
            (h < l, "high < low"),
            ((o > h) | (o < l), "open outside [low, high]"),
            ((c > h) | (c < l), "close outside [low, high]"),
            ((o <= 0) | (h <= 0) | (l <= 0) | (c <= 0), "prices must be positive"),
            (h > MAX_PRICE, f"price above {MAX_PRICE:g} USDT: not a plausible BTC price"),
            (v < 0, "volume must not be negative"),
        ]
        for mask, what in checks:
            if mask.any():
                i = int(np.argmax(mask))
                raise CsvImportError(
                    name,
                    int(lines[i]),
                    f"{what} (open={o[i]:g} high={h[i]:g} low={l[i]:g} close={c[i]:g} volume={v[i]:g})",
                )
        # order, spacing and jumps, with the previous batch's last row in front
        pts = np.concatenate(([self.prev[0]], ts)) if self.prev else ts
        pclose = np.concatenate(([self.prev[1]], c[:-1])) if self.prev else c[:-1]
        plines = np.concatenate(([self.prev[2]], lines)) if self.prev else lines
        cur_o = o if self.prev else o[1:]
        if len(pts) > 1:
            d = np.diff(pts)
            back = d <= 0
            if back.any():
                i = int(np.argmax(back)) + 1
                raise CsvImportError(
                    name,
                    int(plines[i]),
                    f"timestamp {pts[i]} is not after the previous row's "
                    f"{pts[i - 1]} (rows must be in strictly increasing time)",
                )
            adjacent = d == step
            ratio = cur_o / pclose
            jump = adjacent & ((ratio > MAX_JUMP) | (ratio < 1 / MAX_JUMP))
            if jump.any():
                i = int(np.argmax(jump))
                raise CsvImportError(
                    name,
                    int(plines[i + 1]),
                    f"open {cur_o[i]:g} jumps from the previous close "
                    f"{pclose[i]:g} (more than x{MAX_JUMP:g} in one bar): not a plausible price",
                )
            self.spacings += len(d)
            self.on_step += int(adjacent.sum())
            if self.first_off is None and not adjacent.all():
                i = int(np.argmax(~adjacent))
                self.first_off = (int(plines[i + 1]), int(d[i]))
        self.prev = (int(ts[-1]), float(c[-1]), int(lines[-1])) if len(ts) else self.prev
        return pd.DataFrame({"timestamp": ts, "open": o, "high": h, "low": l, "close": c, "volume": v, "line": lines})

    def finish(self) -> None:
        """Most rows must be one timeframe apart: a 1h file is on the 15m grid too, but 4 steps apart."""
        if self.spacings and self.on_step * 2 < self.spacings:
            line, d = self.first_off or (None, 0)
            guess = next((tf for tf, ms in TIMEFRAME_MS.items() if ms == d), None)
            hint = f"; is this a {guess} file? import it with --timeframe {guess}" if guess else ""
            raise CsvImportError(
                self.name,
                line,
                f"rows are not {self.timeframe} apart: only {self.on_step} of "
                f"{self.spacings} spacings are {self.timeframe} (this row is {d // 60_000} min after "
                f"the previous one){hint}",
            )


def iter_candles_csv(
    path: str | Path, timeframe: str, *, now_ms: int | None = None, chunk_rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """Validated candles in batches (columns timestamp..volume and ``line``); raises CsvImportError
    with the 1-based file line of the first bad row. The whole-file checks run after the last batch."""
    p, name = Path(path), str(path)
    _check_header(p, name, EXPECTED_HEADER)
    v = _Candles(name, timeframe, WallClock().now_ms() if now_ms is None else now_ms)
    for values, lines, raw in _chunks(p, name, EXPECTED_HEADER, chunk_rows):
        yield v.check(values, lines, raw)
    v.finish()


def read_candles_csv(path: str | Path, timeframe: str, *, now_ms: int | None = None) -> pd.DataFrame:
    """The whole file, parsed and validated (see ``iter_candles_csv``)."""
    parts = list(iter_candles_csv(path, timeframe, now_ms=now_ms))
    cols = EXPECTED_HEADER
    if not parts:
        return pd.DataFrame({c: np.array([], dtype=np.int64 if c == "timestamp" else np.float64) for c in cols})
    return pd.concat(parts, ignore_index=True)[cols]


def insert_candles(db: peewee.Database, symbol: str, timeframe: str, df: pd.DataFrame) -> int:
    """Insert candles (INSERT OR IGNORE) in the caller's transaction; return rows inserted."""
    if len(df) == 0:
        return 0
    n = len(df)
    cols = [df[c].tolist() for c in EXPECTED_HEADER]
    sym = [symbol] * n
    tf = [timeframe] * n
    return insert_many_ignore(db, MarketData, CANDLE_FIELDS, list(zip(sym, tf, *cols)), batch=BATCH)


def _differing(stored: list[tuple], df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The rows of ``df`` whose timestamp is stored with other values (``stored``: (timestamp, *cols))."""
    if not stored:
        return df.iloc[:0]
    st = pd.DataFrame(stored, columns=["timestamp", *cols]).astype({c: np.float64 for c in cols})
    m = df.merge(st, on="timestamp", suffixes=("", "_stored"))
    same = np.ones(len(m), dtype=bool)
    for c in cols:
        same &= np.isclose(m[c].to_numpy(np.float64), m[c + "_stored"].to_numpy(np.float64), rtol=1e-9, atol=0.0)
    return m[~same]


def _conflict_error(name: str, n: int, first: pd.Series, what: str, shown: str) -> CsvImportError:
    return CsvImportError(
        name,
        int(first["line"]),
        (
            f"{n} row{'s' if n != 1 else ''} conflict with {what} already stored (first: timestamp {int(first['timestamp'])}, "
            f"{shown}); nothing was imported. Check the file, or re-run with --overwrite to replace the stored rows"
        ),
    )


def _import_batches(
    db: peewee.Database,
    batches: Iterator[pd.DataFrame],
    *,
    stored: Callable[[int, int], list],
    cols: list[str],
    update: Callable[[Any], None],
    insert: Callable[[pd.DataFrame], int],
    overwrite: bool,
) -> tuple[ImportResult, Any]:
    """The shared loop of both importers, inside the caller's transaction: per batch, rows that differ from
    what is stored for the same timestamps are counted (and replaced with ``overwrite``), new rows inserted.
    Returns the counts and the first conflicting row (None when nothing conflicts)."""
    read = inserted = conflicting = replaced = 0
    first = last = None
    first_conflict = None
    for df in batches:
        if not len(df):
            continue
        read += len(df)
        first = int(df["timestamp"].iloc[0]) if first is None else first
        last = int(df["timestamp"].iloc[-1])
        diff = _differing(stored(int(df["timestamp"].iloc[0]), last), df, cols)
        if len(diff):
            conflicting += len(diff)
            if first_conflict is None:
                first_conflict = diff.iloc[0]
            if overwrite:
                for r in diff.itertuples(index=False):
                    update(r)
                replaced += len(diff)
        inserted += insert(df)
    return ImportResult(read, inserted, first, last, conflicting, replaced), first_conflict


def import_csv(
    db: peewee.Database,
    path: str | Path,
    *,
    symbol: str,
    timeframe: str,
    overwrite: bool = False,
    now_ms: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImportResult:
    """Import one candle file in one transaction, batch by batch (see the module docstring)."""
    prices = ["open", "high", "low", "close", "volume"]
    c = MarketData
    this = (c.symbol == symbol) & (c.timeframe == timeframe)
    with db.atomic():
        res, f = _import_batches(
            db,
            iter_candles_csv(path, timeframe, now_ms=now_ms, chunk_rows=chunk_rows),
            stored=lambda lo, hi: db.execute(
                c.select(c.timestamp, c.open, c.high, c.low, c.close, c.volume).where(
                    this & c.timestamp.between(lo, hi)
                )
            ).fetchall(),
            cols=prices,
            update=lambda r: (
                c.update(open=r.open, high=r.high, low=r.low, close=r.close, volume=r.volume)
                .where(this & (c.timestamp == int(r.timestamp)))
                .execute(db)
            ),
            insert=lambda df: insert_candles(db, symbol, timeframe, df),
            overwrite=overwrite,
        )
        if f is not None and not overwrite:
            col = next((c for c in prices if not np.isclose(f[c], f[c + "_stored"], rtol=1e-9, atol=0.0)), "close")
            raise _conflict_error(
                str(path),
                res.rows_conflicting,
                f,
                f"the {symbol} {timeframe} candles",
                f"stored {col} {f[col + '_stored']:g}, file {col} {f[col]:g}",
            )
    return res


# ---------------------------------------------------------------- funding rates


def iter_funding_csv(
    path: str | Path, *, now_ms: int | None = None, chunk_rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """Validated funding rates in batches (timestamp, funding_rate, line): settlement times on the 8h
    grid, strictly increasing, not after now; rates within +-MAX_FUNDING_RATE."""
    p, name = Path(path), str(path)
    _check_header(p, name, FUNDING_HEADER)
    now = WallClock().now_ms() if now_ms is None else now_ms
    prev: tuple[int, int] | None = None
    for values, lines, raw in _chunks(p, name, FUNDING_HEADER, chunk_rows):
        ts = _timestamps(name, values["timestamp"], lines, raw, now, 0, "the settlement is")
        off = ts % FUNDING_MS != 0
        if off.any():
            i = int(np.argmax(off))
            raise CsvImportError(
                name,
                int(lines[i]),
                f"timestamp {ts[i]} ({_utc(int(ts[i]))} UTC) is not an 8h funding "
                "settlement time (00:00, 08:00 or 16:00 UTC)",
            )
        rate = values["funding_rate"]
        wild = np.abs(rate) > MAX_FUNDING_RATE
        if wild.any():
            i = int(np.argmax(wild))
            raise CsvImportError(
                name,
                int(lines[i]),
                f"funding_rate {rate[i]:g} is beyond +-{MAX_FUNDING_RATE:g} per 8h: "
                "not a plausible rate (expected a fraction, e.g. 0.0001 for 0.01%)",
            )
        pts = np.concatenate(([prev[0]], ts)) if prev else ts
        plines = np.concatenate(([prev[1]], lines)) if prev else lines
        if len(pts) > 1:
            back = np.diff(pts) <= 0
            if back.any():
                i = int(np.argmax(back)) + 1
                raise CsvImportError(
                    name,
                    int(plines[i]),
                    f"timestamp {pts[i]} is not after the previous row's "
                    f"{pts[i - 1]} (rows must be in strictly increasing time)",
                )
        if len(ts):
            prev = (int(ts[-1]), int(lines[-1]))
        yield pd.DataFrame({"timestamp": ts, "funding_rate": rate, "line": lines})


def read_funding_csv(path: str | Path, *, now_ms: int | None = None) -> pd.DataFrame:
    parts = list(iter_funding_csv(path, now_ms=now_ms))
    if not parts:
        return pd.DataFrame({"timestamp": np.array([], dtype=np.int64), "funding_rate": np.array([], dtype=np.float64)})
    return pd.concat(parts, ignore_index=True)[FUNDING_HEADER]


def import_funding_csv(
    db: peewee.Database,
    path: str | Path,
    *,
    symbol: str,
    overwrite: bool = False,
    now_ms: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImportResult:
    """Import a funding file into ``funding_rates`` (what backtests and strategies read), all or nothing."""

    def insert(df: pd.DataFrame) -> int:
        rows = [
            (symbol, int(t), float(r), int(t) + FUNDING_MS)
            for t, r in zip(df["timestamp"].tolist(), df["funding_rate"].tolist())
        ]
        return insert_many_ignore(db, FundingRate, FUNDING_FIELDS, rows, batch=BATCH)

    fr = FundingRate
    with db.atomic():
        res, f = _import_batches(
            db,
            iter_funding_csv(path, now_ms=now_ms, chunk_rows=chunk_rows),
            stored=lambda lo, hi: db.execute(
                fr.select(fr.timestamp, fr.funding_rate).where((fr.symbol == symbol) & fr.timestamp.between(lo, hi))
            ).fetchall(),
            cols=["funding_rate"],
            update=lambda r: (
                fr.update(funding_rate=float(r.funding_rate))
                .where((fr.symbol == symbol) & (fr.timestamp == int(r.timestamp)))
                .execute(db)
            ),
            insert=insert,
            overwrite=overwrite,
        )
        if f is not None and not overwrite:
            raise _conflict_error(
                str(path),
                res.rows_conflicting,
                f,
                f"the {symbol} funding rates",
                f"stored {f['funding_rate_stored']:g}, file {f['funding_rate']:g}",
            )
    return res


def record_run(
    db: peewee.Database | peewee.DatabaseProxy,
    *,
    source: str,
    symbol: str,
    timeframe: str | None,
    data_type: str,
    started_at: int,
    ended_at: int,
    rows: int | None,
    status: str,
    error: str | None,
) -> int:
    return int(
        IngestionRun.insert(
            source=source,
            symbol=symbol,
            timeframe=timeframe,
            data_type=data_type,
            started_at=started_at,
            ended_at=ended_at,
            rows_inserted=rows,
            status=status,
            error=error,
        ).execute(db)
    )
