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
    r = subprocess.run(
        [sys.executable, "-m", "cockpit", "--db", str(dbfile), "ingest", "--csv", str(p), "--timeframe", "1h"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 1
    assert "c.csv:4: high < low" in r.stderr and "nothing was imported" in r.stderr
    import sqlite3

    con = sqlite3.connect(dbfile)
    assert con.execute("SELECT COUNT(*) FROM market_data").fetchone()[0] == 0
    status, error = con.execute("SELECT status, error FROM ingestion_runs").fetchone()
    assert status == "failed" and "c.csv:4" in error
    r = subprocess.run(
        [sys.executable, "-m", "cockpit", "--db", str(dbfile), "ingest", "--csv", str(p), "--timeframe", "7h"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 2 and "--timeframe: expected one of" in r.stderr


def test_real_file_imports_completely(db, ds, shared_data_dir):
    r = import_csv(db, shared_data_dir / "btc_usdt_swap_4h.csv", symbol="BTC/USDT:USDT", timeframe="4h")
    assert r.rows_inserted == r.rows_read == 14_655
    cov = ds.coverage("BTC/USDT:USDT")
    assert cov == [
        {
            "symbol": "BTC/USDT:USDT",
            "timeframe": "4h",
            "rows": 14_655,
            "first": 1567972800000,
            "last": 1778990400000,
            "gaps": 0,
        }
    ]


# ---------------------------------------------------------------- input checks (issue 19, item 14)


def test_byte_order_mark_is_accepted(db, tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes(("\ufeff" + H + good_rows(3)).encode("utf-8"))
    r = import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    assert (r.rows_read, r.rows_inserted) == (3, 3)


def test_conflicting_reimport_is_refused_and_counted_unless_overwrite(db, ds, tmp_path):
    import_csv(db, write(tmp_path, H + good_rows(5), "a.csv"), symbol="BTC/USDT:USDT", timeframe="1h")
    # rows 2 and 4 (file lines 4 and 6) say other prices for the same hours; row 6 is new
    changed = "".join(
        f"{T0 + i * HOUR},{100 + i},{102 + i},{99 + i},{(101.5 if i in (2, 4) else 101) + i},{10 + i}\n"
        for i in range(6)
    )
    p = write(tmp_path, H + changed, "b.csv")
    with pytest.raises(CsvImportError) as e:
        import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    msg = str(e.value)
    assert "b.csv:4: 2 rows conflict with the BTC/USDT:USDT 1h candles already stored" in msg
    assert "stored close 103, file close 103.5" in msg and "--overwrite" in msg and "nothing was imported" in msg
    assert count(db) == 5 and list(ds.candles("BTC/USDT:USDT", "1h")["close"]) == [101.0, 102.0, 103.0, 104.0, 105.0]
    r = import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h", overwrite=True)
    assert (r.rows_read, r.rows_inserted, r.rows_conflicting, r.rows_replaced) == (6, 1, 2, 2)
    assert list(ds.candles("BTC/USDT:USDT", "1h")["close"]) == [101.0, 102.0, 103.5, 104.0, 105.5, 106.0]


def test_cli_says_how_many_rows_conflict_and_overwrites_only_with_the_flag(tmp_path):
    import sqlite3

    dbfile = tmp_path / "cli.db"
    base = [sys.executable, "-m", "cockpit", "--db", str(dbfile), "ingest", "--timeframe", "1h", "--csv"]
    assert (
        subprocess.run(
            base + [str(write(tmp_path, H + good_rows(3), "a.csv"))], capture_output=True, cwd=tmp_path
        ).returncode
        == 0
    )
    p = write(tmp_path, H + good_rows(3).replace(",103,12", ",103.5,12"), "b.csv")
    r = subprocess.run(base + [str(p)], capture_output=True, text=True, cwd=tmp_path)
    assert (
        r.returncode == 1
        and "b.csv:4: 1 row conflict with" in r.stderr
        and "stored close 103, file close 103.5" in r.stderr
        and "--overwrite" in r.stderr
    )
    r = subprocess.run(base + [str(p), "--overwrite"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "imported 0 new of 3 rows" in r.stdout and "replaced 1 stored rows that differed (--overwrite)" in r.stdout
    con = sqlite3.connect(dbfile)
    assert con.execute("SELECT close FROM market_data ORDER BY timestamp").fetchall() == [(101,), (102,), (103.5,)]


NOW = T0 + 100 * HOUR  # "now" for the bound on future candles


@pytest.mark.parametrize(
    "bad_line, message",
    [
        (f"{T0 + 5 * HOUR},1e300,1e300,1e300,1e300,1\n", "price above 1e+08 USDT: not a plausible BTC price"),
        ("-3600000,105,107,104,106,1\n", "timestamp -3600000 is before 1970"),
        (f"{NOW},105,107,104,106,1\n", "the candle closes after now"),
        (f"{T0 + 5 * HOUR},1005,1007,1004,1006,1\n", "open 1005 jumps from the previous close 105"),
    ],
)
def test_implausible_prices_and_times_abort_with_line_number(db, tmp_path, bad_line, message):
    rows = good_rows(5)
    p = write(tmp_path, (H + bad_line + rows) if bad_line.startswith("-") else (H + rows + bad_line))
    with pytest.raises(CsvImportError) as e:
        import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h", now_ms=NOW)
    assert f"c.csv:{2 if bad_line.startswith('-') else 7}:" in str(e.value)
    assert message in str(e.value)
    assert count(db) == 0


def test_future_candle_is_refused_against_the_wall_clock(db, tmp_path):
    """Issue 19 item 10, CSV side: `1830297600000,100,101,99,100,1` (2028) imported as 1h."""
    p = write(tmp_path, H + "1830297600000,100,101,99,100,1\n")
    with pytest.raises(
        CsvImportError,
        match=r"c.csv:2: timestamp 1830297600000 \(2028-01-01 00:00 UTC\): the candle "
        r"closes after now",
    ):
        import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    assert count(db) == 0


def test_a_1h_file_imported_as_15m_is_refused(db, tmp_path):
    p = write(tmp_path, H + good_rows(6))
    with pytest.raises(CsvImportError) as e:
        import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="15m")
    assert "c.csv:3: rows are not 15m apart: only 0 of 5 spacings are 15m" in str(e.value)
    assert "is this a 1h file? import it with --timeframe 1h" in str(e.value)
    assert count(db) == 0


def test_batches_are_checked_across_their_boundaries_and_all_or_nothing(db, ds, tmp_path):
    """Streaming: rows are read chunk_rows at a time; order and jumps are checked across batches and a
    bad row in a late batch leaves nothing from the earlier ones."""
    p = write(tmp_path, H + good_rows(7))
    r = import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h", chunk_rows=2)
    assert (r.rows_read, r.rows_inserted, r.first, r.last) == (7, 7, T0, T0 + 6 * HOUR)
    db.execute_sql("DELETE FROM market_data")
    back = H + good_rows(4) + f"{T0 + 3 * HOUR},103,105,102,104,1\n"  # line 6 repeats line 5's time, batch 3
    with pytest.raises(CsvImportError, match=r"c.csv:6: timestamp .* is not after the previous row"):
        import_csv(db, write(tmp_path, back), symbol="BTC/USDT:USDT", timeframe="1h", chunk_rows=2)
    late = H + good_rows(6) + f"{T0 + 6 * HOUR},106,105,107,106,1\n"
    with pytest.raises(CsvImportError, match=r"c.csv:8: high < low"):
        import_csv(db, write(tmp_path, late), symbol="BTC/USDT:USDT", timeframe="1h", chunk_rows=2)
    assert count(db) == 0


def test_memory_stays_flat_while_streaming_a_long_file(db, tmp_path):
    """Peak Python allocations while importing 60k rows in 2k-row batches stay near one batch's worth
    (the whole-file reader held every row as a DataFrame and as a list of tuples at once)."""
    import tracemalloc

    n = 60_000
    p = tmp_path / "long.csv"
    with p.open("w", encoding="utf-8") as fh:
        fh.write(H)
        fh.writelines(f"{T0 + i * 60_000},{100 + i % 7},{108},{99},{100 + (i + 1) % 7},1\n" for i in range(n))
    tracemalloc.start()
    try:
        r = import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1m", chunk_rows=2_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.rows_inserted == n
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB"
