"""Import candles from a CSV file (header ``timestamp,open,high,low,close,volume``, epoch ms).

All or nothing: the file is parsed and validated completely before anything is written, and
written in one transaction; a malformed row aborts the import naming the file's line number.
Re-importing is idempotent (``UNIQUE(symbol, timeframe, timestamp)``; existing rows are kept).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import peewee

from cockpit.db.dialect import insert_many_ignore
from cockpit.domain.market import timeframe_ms

EXPECTED_HEADER = ["timestamp", "open", "high", "low", "close", "volume"]
INSERT_CANDLES = ("INSERT OR IGNORE INTO market_data (symbol, timeframe, timestamp, open, high, low, close, volume) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
BATCH = 50_000


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


def read_candles_csv(path: str | Path, timeframe: str) -> pd.DataFrame:
    """Parse and validate; raise CsvImportError with the 1-based file line of the first bad row."""
    p = Path(path)
    name = str(path)
    if not p.is_file():
        raise CsvImportError(name, None, "file not found")
    step = timeframe_ms(timeframe)
    with p.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), None)
    if header is None:
        raise CsvImportError(name, 1, "empty file: expected header " + ",".join(EXPECTED_HEADER))
    if [h.strip().lower() for h in header] != EXPECTED_HEADER:
        raise CsvImportError(name, 1, f"expected header {','.join(EXPECTED_HEADER)}, got {','.join(header)}")
    fast = _parse_fast(p)
    if fast is not None:
        values = fast
        lines = np.arange(len(values["timestamp"])) + 2
        return _check_values(name, values, lines, timeframe, step, None)
    # Slow, diagnostic path: everything as text, so a missing field or a non-number is named per line.
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, skip_blank_lines=False, header=0,
                          names=EXPECTED_HEADER, on_bad_lines="error", engine="c")
    except pd.errors.ParserError as e:
        msg = str(e)
        line = None
        import re

        m = re.search(r"line (\d+)", msg)
        if m:
            line = int(m.group(1))
        raise CsvImportError(name, line, f"wrong number of fields ({msg.split('.')[-1].strip() or msg})") from None
    lines = np.arange(len(raw)) + 2  # header is line 1
    values = {}
    for col in EXPECTED_HEADER:
        s = raw[col].str.strip()
        empty = (s == "").to_numpy()
        if empty.any():
            i = int(np.argmax(empty))
            raise CsvImportError(name, int(lines[i]), f"missing field {col!r}")
        num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(num)
        if bad.any():
            i = int(np.argmax(bad))
            raise CsvImportError(name, int(lines[i]), f"{col}: expected a number, got {s.iloc[i]!r}")
        values[col] = num
    return _check_values(name, values, lines, timeframe, step, raw)


def _parse_fast(p: Path) -> dict[str, np.ndarray] | None:
    """The common case: a clean file parsed straight to floats by pandas' C reader; None if anything is off."""
    try:
        df = pd.read_csv(p, header=0, names=EXPECTED_HEADER, dtype=np.float64, engine="c", on_bad_lines="error",
                         na_filter=True)
    except (ValueError, pd.errors.ParserError):
        return None
    values = {c: df[c].to_numpy(dtype=np.float64) for c in EXPECTED_HEADER}
    if any(not np.isfinite(v).all() for v in values.values()):
        return None
    return values


def _check_values(name: str, values: dict[str, np.ndarray], lines: np.ndarray, timeframe: str, step: int,
                  raw: pd.DataFrame | None) -> pd.DataFrame:
    ts = values["timestamp"]
    frac = ts != np.floor(ts)
    if frac.any():
        i = int(np.argmax(frac))
        raise CsvImportError(name, int(lines[i]), f"timestamp: expected whole epoch milliseconds, got {raw['timestamp'].iloc[i] if raw is not None else ts[i]!r}")
    ts_i = ts.astype(np.int64)
    off = ts_i % step != 0
    if off.any():
        i = int(np.argmax(off))
        raise CsvImportError(name, int(lines[i]), f"timestamp {ts_i[i]} is not on the {timeframe} grid")
    o, h, l, c, v = (values[k] for k in ("open", "high", "low", "close", "volume"))
    checks = [
        (h < l, "high < low"),
        ((o > h) | (o < l), "open outside [low, high]"),
        ((c > h) | (c < l), "close outside [low, high]"),
        ((o <= 0) | (h <= 0) | (l <= 0) | (c <= 0), "prices must be positive"),
        (v < 0, "volume must not be negative"),
    ]
    for mask, what in checks:
        if mask.any():
            i = int(np.argmax(mask))
            raise CsvImportError(name, int(lines[i]), f"{what} (open={o[i]:g} high={h[i]:g} low={l[i]:g} close={c[i]:g} volume={v[i]:g})")
    if len(ts_i) > 1:
        d = np.diff(ts_i)
        dup = d <= 0
        if dup.any():
            i = int(np.argmax(dup)) + 1
            raise CsvImportError(name, int(lines[i]), f"timestamp {ts_i[i]} is not after the previous row's {ts_i[i-1]} "
                                 "(rows must be in strictly increasing time)")
    return pd.DataFrame({"timestamp": ts_i, "open": o, "high": h, "low": l, "close": c, "volume": v})


def insert_candles(db: peewee.Database, symbol: str, timeframe: str, df: pd.DataFrame) -> int:
    """Insert candles (INSERT OR IGNORE) in the caller's transaction; return rows inserted."""
    if len(df) == 0:
        return 0
    n = len(df)
    cols = [df[c].tolist() for c in EXPECTED_HEADER]
    sym = [symbol] * n
    tf = [timeframe] * n
    return insert_many_ignore(db, INSERT_CANDLES, list(zip(sym, tf, *cols)), batch=BATCH)


def import_csv(db: peewee.Database, path: str | Path, *, symbol: str, timeframe: str) -> ImportResult:
    df = read_candles_csv(path, timeframe)
    with db.atomic():
        inserted = insert_candles(db, symbol, timeframe, df)
    return ImportResult(len(df), inserted, int(df["timestamp"].iloc[0]) if len(df) else None,
                        int(df["timestamp"].iloc[-1]) if len(df) else None)


def record_run(db: peewee.Database, *, source: str, symbol: str, timeframe: str | None, data_type: str,
               started_at: int, ended_at: int, rows: int | None, status: str, error: str | None) -> int:
    cur = db.execute_sql(
        "INSERT INTO ingestion_runs (source, symbol, timeframe, data_type, started_at, ended_at, rows_inserted, status, error)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (source, symbol, timeframe, data_type, started_at, ended_at, rows, status, error))
    return int(cur.lastrowid)
