"""The same migrations on PostgreSQL: every table and index, models == schema column by column."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from cockpit.db import migrate, open_database
from cockpit.db.migrate import discover
from cockpit.db.models import ALL_MODELS, SEED_TABLES, EngineState, OrderRow
from cockpit.db.portable import foreign_keys, list_tables, table_columns

REPO = Path(__file__).resolve().parents[2]
# Peewee field_type -> the PostgreSQL type the translated migrations declare.
PG_TYPES = {
    "AUTO": "BIGINT",
    "INT": "BIGINT",
    "BIGINT": "BIGINT",
    "TEXT": "TEXT",
    "NUMERIC": "NUMERIC",
    "FLOAT": "DOUBLE PRECISION",
    "DOUBLE": "DOUBLE PRECISION",
}


def test_tables_and_seed_indexes(pg_db):
    tables = set(list_tables(pg_db))
    assert set(SEED_TABLES) <= tables and "schema_migrations" in tables
    seed_sql = (REPO / "migrations" / "001_init.sql").read_text(encoding="utf-8")
    seed_indexes = set(re.findall(r"CREATE INDEX (\w+)", seed_sql))
    have = {r[0] for r in pg_db.execute_sql("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}
    assert seed_indexes <= have


def test_models_agree_with_migrated_schema(pg_db):
    tables = set(list_tables(pg_db)) - {"schema_migrations"}
    assert tables == {m._meta.table_name for m in ALL_MODELS}
    for model in ALL_MODELS:
        table = model._meta.table_name
        schema = table_columns(pg_db, table)
        expected = []
        for f in model._meta.sorted_fields:
            ftype = "INT" if f.__class__.__name__ == "ForeignKeyField" else f.field_type
            expected.append((f.column_name, PG_TYPES[ftype], not f.null and not f.primary_key, bool(f.primary_key)))
        assert [c[0] for c in schema] == [c[0] for c in expected], table
        for s, m in zip(schema, expected):
            assert s[1] == m[1], f"{table}.{s[0]}: schema {s[1]} vs model {m[1]}"
            assert s[3] == m[3], f"{table}.{s[0]}: primary key differs"
            if not s[3]:
                assert s[2] == m[2], f"{table}.{s[0]}: NOT NULL differs"
        model_fks = {
            (f.column_name, f.rel_model._meta.table_name)
            for f in model._meta.sorted_fields
            if f.__class__.__name__ == "ForeignKeyField"
        }
        assert foreign_keys(pg_db, table) == model_fks, table


def test_epoch_ms_fit_and_defaults_fill_created_at(pg_db):
    oid = OrderRow.insert(
        symbol="BTC/USDT:USDT",
        side="buy",
        type="limit",
        price=0.1,
        amount=0.001,
        status="new",
        client_order_id="c1",
        updated_at=1_790_000_000_123,
    ).execute()
    row = OrderRow.get_by_id(oid)
    assert row.updated_at == 1_790_000_000_123, "timestamps in ms need BIGINT"
    assert isinstance(row.price, float) and row.price == 0.1, "NUMERIC comes back as float"
    assert 1_600_000_000 < row.created_at < 4_000_000_000, "created_at default: epoch seconds"
    EngineState.insert(key="k", value="v", updated_at=1).execute()
    assert EngineState.get_by_id("k").value == "v"


def test_migrate_idempotent_recorded_and_failed_file_rolled_back(pg_url_factory, tmp_path):
    db = open_database(pg_url_factory())
    assert [m.version for m in migrate(db)] == [m.version for m in discover()]
    assert migrate(db) == []
    rows = db.execute_sql("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == [m.version for m in discover()]
    db.close()
    d = tmp_path / "mig"
    d.mkdir()
    (d / "001_ok.sql").write_text("CREATE TABLE a (id INTEGER PRIMARY KEY);\n")
    (d / "002_bad.sql").write_text("CREATE TABLE b (id INTEGER PRIMARY KEY);\nINSERT INTO nope VALUES (1);\n")
    db = open_database(pg_url_factory())
    try:
        migrate(db, d)
    except Exception:
        pass
    tables = set(list_tables(db))
    assert "a" in tables and "b" not in tables
    assert [r[0] for r in db.execute_sql("SELECT version FROM schema_migrations").fetchall()] == [1]
    db.close()


def test_postgres_twin_file_replaces_the_sqlite_one(pg_url_factory, tmp_path):
    d = tmp_path / "mig"
    d.mkdir()
    (d / "001_x.sql").write_text("CREATE TABLE x (id INTEGER PRIMARY KEY, v BLOB);\n")
    (d / "001_x.postgres.sql").write_text("CREATE TABLE x (id BIGSERIAL PRIMARY KEY, v JSONB);\n")
    db = open_database(pg_url_factory())
    applied = migrate(db, d)
    assert [m.path.name for m in applied] == ["001_x.postgres.sql"]
    assert [c[1] for c in table_columns(db, "x")] == ["BIGINT", "JSONB"]
    db.close()


def test_cli_migrate_twice(pg_url):
    for expect in ("applied 001_init", "database is up to date"):
        r = subprocess.run(
            [sys.executable, "-m", "cockpit", "--db", pg_url, "db", "migrate"], capture_output=True, text=True, cwd=REPO
        )
        assert r.returncode == 0, r.stderr
        assert expect in r.stdout
