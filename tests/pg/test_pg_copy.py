"""`cockpit db copy`: SQLite -> PostgreSQL -> SQLite keeps every row (counts and checksums per table)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.db import close_database, database_proxy, migrate, open_database
from cockpit.db.copy import CopyError, copy_database, table_summary
from cockpit.db.portable import list_tables

from . import scenario

REPO = Path(__file__).resolve().parents[2]


def _summaries(db) -> dict[str, tuple[int, str]]:
    return {t: table_summary(db, t) for t in list_tables(db) if t != "schema_migrations"}


def _filled_sqlite(path: Path):
    db = open_database(f"sqlite:///{path}")
    migrate(db)
    scenario.write(db)
    # Values that must survive the trip exactly: tiny/huge floats, unicode, quotes, NULLs, text keys.
    db.execute_sql(
        "INSERT INTO engine_state (key, value, updated_at) VALUES (?, ?, ?)", ("ünïcode 'key' %s ?", None, 2**62)
    )
    db.execute_sql(
        "INSERT INTO risk_events (symbol, timestamp, level, rule, details) VALUES (?, ?, ?, ?, ?)",
        ("S", 1, "INFO", "r", "1e-9 and 'quotes' and \"dq\" and 100%"),
    )
    db.execute_sql(
        "INSERT INTO balances (currency, timestamp, total, free, used) VALUES (?, ?, ?, ?, ?)",
        ("BTC", 7, 0.1 + 0.2, 1e-12, 12345678901.000123),
    )
    return db


def test_round_trip_sqlite_postgres_sqlite(tmp_path, pg_url):
    src = _filled_sqlite(tmp_path / "a.db")
    want = _summaries(src)
    reads = scenario.read(src)
    pg = open_database(pg_url, bind=False)
    report = copy_database(src, pg)
    assert all(r.ok for r in report) and {r.table for r in report} == set(want)
    assert _summaries(pg) == want
    assert want["market_data"][0] == len(scenario.candles())

    back = open_database(f"sqlite:///{tmp_path / 'b.db'}", bind=False)
    assert all(r.ok for r in copy_database(pg, back))
    assert _summaries(back) == want

    # The application reads the copy exactly as it read the original.
    database_proxy.initialize(pg)
    assert scenario.read(pg) == reads
    database_proxy.initialize(back)
    assert scenario.read(back) == reads
    row = pg.execute_sql("SELECT total, free, used FROM balances WHERE currency = 'BTC'").fetchone()
    assert row == (0.1 + 0.2, 1e-12, 12345678901.000123)

    # New rows on the copy continue after the copied ids (identity sequences were moved).
    database_proxy.initialize(pg)
    top = pg.execute_sql("SELECT MAX(id) FROM orders").fetchone()[0]
    from cockpit.db.models import OrderRow

    new_id = OrderRow.insert(symbol="S", side="buy", type="market", amount=1, status="new").execute()
    assert new_id == top + 1

    # Copying into a database that is not empty is refused and changes nothing.
    with pytest.raises(CopyError, match="not empty"):
        copy_database(src, pg)
    for db in (src, pg, back):
        db.close()
    close_database()


def test_cli_copy_prints_counts_and_checksums(tmp_path, pg_url):
    src = _filled_sqlite(tmp_path / "a.db")
    want = _summaries(src)
    src.close()
    close_database()
    r = subprocess.run(
        [sys.executable, "-m", "cockpit", "db", "copy", "--from", f"sqlite:///{tmp_path / 'a.db'}", "--to", pg_url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    for table, (n, checksum) in want.items():
        line = next(l for l in r.stdout.splitlines() if l.startswith(table + " "))
        assert line.split() == [table, str(n), str(n), checksum, checksum, "yes"], line
    assert "every row count and checksum matches" in r.stdout
    again = subprocess.run(
        [sys.executable, "-m", "cockpit", "db", "copy", "--from", f"sqlite:///{tmp_path / 'a.db'}", "--to", pg_url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert again.returncode == 1 and "not empty" in again.stderr
