"""Benchmark: candle import and read-back through the project's own paths vs plain sqlite3.

1. Generates N (default 1,000,000) 15m candles (from 1990 on, so that all of them lie before now, which
   the import checks) into a CSV, imports it with the project's import path
   (`cockpit.market.csv_import.import_csv`: parse, validate, one transaction) into a fresh,
   migrated database; in the same run inserts the same rows with plain `sqlite3.executemany` in one
   transaction into an identical table (same columns, UNIQUE constraint and index). Prints both
   rates and the ratio project/raw.
2. Reads the N rows back as a DataFrame through DataService and, in the same run, with plain
   sqlite3 into numpy arrays; prints that ratio too.

Usage: python bench/ingest.py [--rows N]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from cockpit.data import DataService
from cockpit.db import migrate, open_database
from cockpit.market.csv_import import import_csv, read_candles_csv

SYMBOL = "BTC/USDT:USDT"
TF, TF_MS = "15m", 900_000
RAW_DDL = """
CREATE TABLE market_data (
    id INTEGER PRIMARY KEY AUTOINCREMENT, symbol TEXT NOT NULL, timeframe TEXT NOT NULL, timestamp INTEGER NOT NULL,
    open NUMERIC NOT NULL, high NUMERIC NOT NULL, low NUMERIC NOT NULL, close NUMERIC NOT NULL, volume NUMERIC NOT NULL,
    created_at INTEGER DEFAULT (strftime('%s', 'now')), UNIQUE(symbol, timeframe, timestamp));
CREATE INDEX idx_market_data_symbol_timeframe_timestamp ON market_data(symbol, timeframe, timestamp DESC);
"""


def generate_csv(path: Path, n: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    ts = 631_152_000_000 + np.arange(n, dtype=np.int64) * TF_MS  # 1990-01-01 UTC; 1M bars end in 2018
    close = 20000 * np.exp(np.cumsum(rng.standard_t(4, n) * 0.004))
    open_ = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0, 0.003, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    vol = rng.gamma(2.0, 50.0, n)
    with path.open("w") as fh:
        fh.write("timestamp,open,high,low,close,volume\n")
        for row in zip(
            ts.tolist(),
            np.round(open_, 2).tolist(),
            np.round(high, 2).tolist(),
            np.round(low, 2).tolist(),
            np.round(close, 2).tolist(),
            np.round(vol, 4).tolist(),
        ):
            fh.write("%d,%r,%r,%r,%r,%r\n" % row)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    n = ap.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv_path = tmp / "candles.csv"
        generate_csv(csv_path, n)

        # Project path: parse + validate + insert, one transaction.
        db = open_database(f"sqlite:///{tmp / 'project.db'}")
        migrate(db)
        t = time.perf_counter()
        res = import_csv(db, csv_path, symbol=SYMBOL, timeframe=TF)
        project_s = time.perf_counter() - t
        assert res.rows_inserted == n, res

        # Raw reference: the same rows (already parsed) with executemany into an identical table.
        df = read_candles_csv(csv_path, TF)
        rows = list(
            zip(
                [SYMBOL] * n,
                [TF] * n,
                *(df[c].tolist() for c in ("timestamp", "open", "high", "low", "close", "volume")),
            )
        )
        con = sqlite3.connect(tmp / "raw.db")
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.executescript(RAW_DDL)
        t = time.perf_counter()
        with con:
            con.executemany(
                "INSERT INTO market_data (symbol, timeframe, timestamp, open, high, low, close, volume)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        raw_s = time.perf_counter() - t

        # Read back: DataService DataFrame vs plain sqlite3 into numpy.
        ds = DataService(db)
        t = time.perf_counter()
        frame = ds.candles(SYMBOL, TF)
        ds_read_s = time.perf_counter() - t
        assert len(frame) == n
        t = time.perf_counter()
        cur = con.execute(
            "SELECT timestamp, open, high, low, close, volume FROM market_data"
            " WHERE symbol=? AND timeframe=? ORDER BY timestamp",
            (SYMBOL, TF),
        )
        arr = np.array(cur.fetchall(), dtype=np.float64)
        raw_read_s = time.perf_counter() - t
        assert arr.shape == (n, 6)
        con.close()
        db.close()

    print(f"rows: {n:,}")
    print(f"import  project (parse+validate+insert): {n / project_s:>12,.0f} rows/s  ({project_s:.2f} s)")
    print(f"import  raw sqlite3.executemany:         {n / raw_s:>12,.0f} rows/s  ({raw_s:.2f} s)")
    print(f"import  ratio project/raw:               {raw_s / project_s:>12.2f}   (target >= 0.5)")
    print(f"read    project DataService.candles:     {n / ds_read_s:>12,.0f} rows/s  ({ds_read_s:.2f} s)")
    print(f"read    raw sqlite3 -> numpy:            {n / raw_read_s:>12,.0f} rows/s  ({raw_read_s:.2f} s)")
    print(f"read    ratio project/raw:               {raw_read_s / ds_read_s:>12.2f}   (target >= 0.5)")


if __name__ == "__main__":
    main()
