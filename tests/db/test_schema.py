"""Migrations create the seed's 22 tables exactly; models agree with the schema column by column."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from cockpit.db import migrate, open_database
from cockpit.db.migrate import discover, split_statements
from cockpit.db.models import ALL_MODELS, SEED_TABLES

REPO = Path(__file__).resolve().parents[2]


def _seed_sql() -> str:
    return (REPO / "migrations" / "001_init.sql").read_text(encoding="utf-8")


def test_001_has_all_22_seed_tables_and_their_indexes(db):
    assert len(SEED_TABLES) == 22
    tables = {r[0] for r in db.execute_sql("SELECT name FROM sqlite_master WHERE type='table'").fetchall()}
    assert set(SEED_TABLES) <= tables
    assert "schema_migrations" in tables
    seed_indexes = re.findall(r"CREATE INDEX (\w+)", _seed_sql())
    assert len(seed_indexes) == 14
    indexes = {r[0] for r in db.execute_sql("SELECT name FROM sqlite_master WHERE type='index'").fetchall()}
    assert set(seed_indexes) <= indexes


def test_seed_columns_match_the_design_document(db):
    """Every column of 001 (as written in the seed's section 5.2) exists with its declared type."""
    for stmt in split_statements(_seed_sql()):
        m = re.match(r"CREATE TABLE (\w+) \((.*)\);?$", stmt, re.S)
        if not m:
            continue
        table, body = m.groups()
        declared = {}
        for line in body.splitlines():
            line = line.strip().rstrip(",")
            cm = re.match(r"^([a-z_]+) (INTEGER|TEXT|NUMERIC|REAL)\b", line)
            if cm:
                declared[cm.group(1)] = cm.group(2)
        info = {r[1]: r[2] for r in db.execute_sql(f"PRAGMA table_info({table})").fetchall()}
        for col, typ in declared.items():
            assert info.get(col) == typ, f"{table}.{col}: schema has {info.get(col)}, seed says {typ}"


def test_models_agree_with_migrated_schema(db):
    tables = {
        r[0]
        for r in db.execute_sql(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations'"
        ).fetchall()
    }
    assert tables == {m._meta.table_name for m in ALL_MODELS}, "every table has exactly one model"
    for model in ALL_MODELS:
        info = db.execute_sql(f"PRAGMA table_info({model._meta.table_name})").fetchall()
        schema_cols = [(r[1], r[2].upper(), bool(r[3]), bool(r[5])) for r in info]
        model_cols = []
        for f in model._meta.sorted_fields:
            ddl = db._field_types.get(f.field_type, f.field_type)
            if f.__class__.__name__ == "ForeignKeyField":
                ddl = "INTEGER"
            model_cols.append((f.column_name, ddl.upper(), not f.null and not f.primary_key, bool(f.primary_key)))
        assert [c[0] for c in schema_cols] == [c[0] for c in model_cols], model._meta.table_name
        for s, m in zip(schema_cols, model_cols):
            assert s[1] == m[1], f"{model._meta.table_name}.{s[0]}: schema {s[1]} vs model {m[1]}"
            assert s[3] == m[3], f"{model._meta.table_name}.{s[0]}: primary key differs"
            if not s[3]:
                assert s[2] == m[2], f"{model._meta.table_name}.{s[0]}: NOT NULL differs (schema {s[2]}, model {m[2]})"
        # foreign keys declared in SQL are declared on the model too
        fks = {(r[3], r[2]) for r in db.execute_sql(f"PRAGMA foreign_key_list({model._meta.table_name})").fetchall()}
        model_fks = {
            (f.column_name, f.rel_model._meta.table_name)
            for f in model._meta.sorted_fields
            if f.__class__.__name__ == "ForeignKeyField"
        }
        assert fks == model_fks, model._meta.table_name


def test_sqlite_pragmas(db):
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_migrate_is_idempotent_and_recorded(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'm.db'}")
    first = migrate(db)
    assert [m.version for m in first] == [m.version for m in discover()]
    assert migrate(db) == []
    rows = db.execute_sql("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == [m.version for m in discover()]
    db.close()


def test_failed_migration_rolls_back_and_is_not_recorded(tmp_path):
    d = tmp_path / "mig"
    d.mkdir()
    (d / "001_ok.sql").write_text("CREATE TABLE a (id INTEGER PRIMARY KEY);\n")
    (d / "002_bad.sql").write_text("CREATE TABLE b (id INTEGER PRIMARY KEY);\nINSERT INTO nope VALUES (1);\n")
    db = open_database(f"sqlite:///{tmp_path / 'f.db'}")
    try:
        migrate(db, d)
    except Exception:
        pass
    tables = {r[0] for r in db.execute_sql("SELECT name FROM sqlite_master WHERE type='table'").fetchall()}
    assert "a" in tables and "b" not in tables, "the failed file's statements are rolled back"
    assert [r[0] for r in db.execute_sql("SELECT version FROM schema_migrations").fetchall()] == [1]
    db.close()


def test_cli_migrate_twice_exits_0(tmp_path):
    dbfile = tmp_path / "cli.db"
    for expect in ("applied 001_init", "database is up to date"):
        r = subprocess.run(
            [sys.executable, "-m", "cockpit", "--db", str(dbfile), "db", "migrate"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert r.returncode == 0, r.stderr
        assert expect in r.stdout
