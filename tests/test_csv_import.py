"""CSV candle import: validation names the file line, a bad file writes nothing, re-import is idempotent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.market.csv_import import CsvImportError, import_csv

H = "timestamp,open,high,low,close,volume\n"
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
HOUR = 3_600_000


def good_rows(n: int = 5) -> str:
    return "".join(f"{T0 + i * HOUR},{100 + i},{102 + i},{99 + i},{101 + i},{10 + i}\n" for i in range(n))


def write(tmp_path: Path, body: str, name: str = "c.csv") -> Path:
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return p


def count(db) -> int:
    return db.execute_sql("SELECT COUNT(*) FROM market_data").fetchone()[0]


def test_import_and_reimport_is_idempotent(db, ds, tmp_path):
    p = write(tmp_path, H + good_rows(5))
    r = import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    assert (r.rows_read, r.rows_inserted, r.first, r.last) == (5, 5, T0, T0 + 4 * HOUR)
    r2 = import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    assert (r2.rows_read, r2.rows_inserted) == (5, 0)
    df = ds.candles("BTC/USDT:USDT", "1h")
    assert list(df["timestamp"]) == [T0 + i * HOUR for i in range(5)]
    assert list(df["close"]) == [101.0, 102.0, 103.0, 104.0, 105.0]


@pytest.mark.parametrize(
    "bad_line, line_no, message",
    [
        (f"{T0 + 5 * HOUR},105,107,104\n", 7, "missing field 'close'"),
        (f"{T0 + 5 * HOUR},105,107,104,106,1,9\n", 7, "wrong number of fields"),
        (f"{T0 + 5 * HOUR},105,107,104,,1\n", 7, "missing field 'close'"),
        (f"{T0 + 5 * HOUR},105,abc,104,106,1\n", 7, "high: expected a number, got 'abc'"),
        (f"{T0 + 5 * HOUR},105,103,104,103.5,1\n", 7, "high < low"),
        (f"{T0 + 5 * HOUR + 60_000},105,107,104,106,1\n", 7, "is not on the 1h grid"),
        (f"{T0 + 3 * HOUR},105,107,104,106,1\n", 7, "is not after the previous row"),
        (f"{T0 + 5 * HOUR},105,107,104,106,-1\n", 7, "volume must not be negative"),
        (f"{T0 + 5 * HOUR},105,107,104,106,nan\n", 7, "volume: expected a number, got 'nan'"),
    ],
)
def test_bad_row_aborts_with_line_number_and_writes_nothing(db, tmp_path, bad_line, line_no, message):
    p = write(tmp_path, H + good_rows(5) + bad_line + f"{T0 + 6 * HOUR},1,2,0.5,1.5,1\n")
    with pytest.raises(CsvImportError) as e:
        import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    assert f"c.csv:{line_no}:" in str(e.value)
    assert message in str(e.value)
    assert count(db) == 0


def test_wrong_header_is_line_1(db, tmp_path):
    p = write(tmp_path, "time,o,h,l,c,v\n" + good_rows(2))
    with pytest.raises(CsvImportError, match=r"c.csv:1: expected header timestamp,open,high,low,close,volume"):
        import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    assert count(db) == 0


def test_bad_file_leaves_earlier_imports_untouched(db, tmp_path):
    import_csv(db, write(tmp_path, H + good_rows(3), "a.csv"), symbol="BTC/USDT:USDT", timeframe="1h")
    bad = H + good_rows(5) + "garbage,1,2,3,4,5\n"
    with pytest.raises(CsvImportError):
        import_csv(db, write(tmp_path, bad, "b.csv"), symbol="BTC/USDT:USDT", timeframe="1h")
    assert count(db) == 3


def test_cli_reports_line_and_records_failed_run(tmp_path):
    p = write(tmp_path, H + good_rows(2) + f"{T0 + 2 * HOUR},1,0.5,2,1,1\n")
    dbfile = tmp_path / "cli.db"
    r = subprocess.run([sys.executable, "-m", "cockpit", "--db", str(dbfile), "ingest", "--csv", str(p), "--timeframe", "1h"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1
    assert "c.csv:4: high < low" in r.stderr and "nothing was imported" in r.stderr
    import sqlite3

    con = sqlite3.connect(dbfile)
    assert con.execute("SELECT COUNT(*) FROM market_data").fetchone()[0] == 0
    status, error = con.execute("SELECT status, error FROM ingestion_runs").fetchone()
    assert status == "failed" and "c.csv:4" in error
    r = subprocess.run([sys.executable, "-m", "cockpit", "--db", str(dbfile), "ingest", "--csv", str(p), "--timeframe", "7h"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "--timeframe: expected one of" in r.stderr


def test_real_file_imports_completely(db, ds, shared_data_dir):
    r = import_csv(db, shared_data_dir / "btc_usdt_swap_4h.csv", symbol="BTC/USDT:USDT", timeframe="4h")
    assert r.rows_inserted == r.rows_read == 14_655
    cov = ds.coverage("BTC/USDT:USDT")
    assert cov == [{"symbol": "BTC/USDT:USDT", "timeframe": "4h", "rows": 14_655, "first": 1567972800000,
                    "last": 1778990400000, "gaps": 0}]
