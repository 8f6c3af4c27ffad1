"""Stores and DataService on PostgreSQL give what they give on SQLite (one scenario, both backends)."""

from __future__ import annotations

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


def test_insert_ids_quoting_and_ignored_duplicates(pg_db):
    """What the raw-SQL translator used to provide, now from Peewee's own statements: the new row's id
    (RETURNING), text with % ' ? kept as is, and an ignored duplicate reported as no id / no row."""
    from cockpit.db.models import ModelVersion, RiskEventRow
    from cockpit.db.portable import insert_many_ignore

    rid = RiskEventRow.insert(symbol="S", timestamp=1, level="INFO", rule="r", details="50% 'quoted' ?").execute()
    assert rid == 1
    assert RiskEventRow.get_by_id(rid).details == "50% 'quoted' ?"
    assert ModelVersion.insert(name="a", version="1").on_conflict_ignore().execute() == 1
    assert ModelVersion.insert(name="a", version="1").on_conflict_ignore().execute() is None
    fields = (ModelVersion.name, ModelVersion.version)
    assert insert_many_ignore(pg_db, ModelVersion, fields, [("a", "1"), ("a", "2")]) == 1
    assert insert_many_ignore(pg_db, ModelVersion, fields, [("a", "2")]) == 0
