"""Stores and DataService on PostgreSQL give what they give on SQLite (one scenario, both backends)."""

from __future__ import annotations

import pytest

from . import scenario


def test_stores_and_dataservice_match_sqlite(db, pg_db):
    from cockpit.db import database_proxy

    database_proxy.initialize(db)
    w_sqlite = scenario.write(db)
    r_sqlite = scenario.read(db)
    database_proxy.initialize(pg_db)
    w_pg = scenario.write(pg_db)
    r_pg = scenario.read(pg_db)
    assert w_pg == w_sqlite
    assert w_pg["inserted"] == len(scenario.candles()) and w_pg["inserted_again"] == 0
    assert w_pg["funding"] == 20 and w_pg["fills"] == [True, False] and w_pg["pv"][0] == w_pg["pv"][1]
    for key in r_sqlite:
        assert r_pg[key] == r_sqlite[key], key
    assert r_pg["gaps"] == [(scenario.T0 + 100 * scenario.H, scenario.T0 + 100 * scenario.H)]
    assert r_pg["counts"]["position_snapshots"] == 1 and r_pg["balances"][0]["total"] == 10_001.0


def test_raw_lastrowid_and_unsupported_sql(pg_db):
    from cockpit.db.dialect import UnsupportedSQL, changes, insert_returning_id

    rid = insert_returning_id(pg_db, "INSERT INTO risk_events (symbol, timestamp, level, rule, details) "
                                     "VALUES (?, ?, ?, ?, ?)", ("S", 1, "INFO", "r", "50% 'quoted' ?"))
    assert rid == 1
    assert pg_db.execute_sql("SELECT details FROM risk_events WHERE id = ?", (rid,)).fetchone()[0] == "50% 'quoted' ?"
    cur = pg_db.execute_sql("INSERT OR IGNORE INTO model_versions (name, version) VALUES (?, ?)", ("a", "1"))
    assert cur.lastrowid == 1 and changes(cur) == 1
    cur = pg_db.execute_sql("INSERT OR IGNORE INTO model_versions (name, version) VALUES (?, ?)", ("a", "1"))
    assert cur.lastrowid is None and changes(cur) == 0
    with pytest.raises(UnsupportedSQL):
        pg_db.execute_sql("PRAGMA journal_mode")
