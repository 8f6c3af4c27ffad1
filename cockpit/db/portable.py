"""What differs between SQLite and PostgreSQL, in one place; every query is built with Peewee.

The stores and DataService build their statements with Peewee's query builder (``Model.select()``,
``insert(...).on_conflict_ignore()``, ``on_conflict(...)``, ``fn``), so one query serves both
databases. What is left here is what a query builder does not cover: which backend a database is,
a write transaction that takes SQLite's lock first, bulk ``INSERT ... ignore duplicates`` at full
speed, replacing a row, and schema introspection (tables, columns, foreign keys, identity sequences).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import peewee

SQLITE = "sqlite"
POSTGRES = "postgres"


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def dialect(db: Any) -> str:
    """'sqlite' or 'postgres' for a Peewee database (or the bound DatabaseProxy)."""
    obj = getattr(db, "obj", None) if isinstance(db, peewee.DatabaseProxy) else db
    if obj is None:
        raise RuntimeError("the database proxy is not bound; call cockpit.db.open_database first")
    return POSTGRES if isinstance(obj, peewee.PostgresqlDatabase) else SQLITE


def write_transaction(db: Any):
    """A transaction that will write after reading. On SQLite it begins IMMEDIATE (takes the write
    lock first and waits busy_timeout for it): a deferred one that read first fails at once with
    "database is locked" when another process wrote meanwhile. Nested, it is a savepoint."""
    if dialect(db) == SQLITE:
        return db.atomic("IMMEDIATE")
    return db.atomic()


def insert_many_ignore(
    db, model: type[peewee.Model], fields: Sequence[peewee.Field], rows: Iterable[Sequence[Any]], *, batch: int = 5000
) -> int:
    """Insert ``rows`` (tuples in the order of ``fields``) into ``model``'s table in the caller's
    transaction, skipping rows that collide with a unique key; return how many were inserted.

    The statement is Peewee's one-row ``insert(...).on_conflict_ignore()``; only its execution is
    per backend: SQLite ``executemany`` (no per-row query building on the import hot path), psycopg2
    ``execute_values`` with ``RETURNING 1`` on PostgreSQL (its rows are the rows inserted)."""
    fields = list(fields)
    query = model.insert_many([tuple(None for _ in fields)], fields=fields).on_conflict_ignore()
    return _insert_rows(db, query, len(fields), rows, batch)


def insert_rows(db, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, batch: int = 5000) -> int:
    """Insert ``rows`` (tuples in the order of ``columns``, ids included) into ``table`` by name, in the
    caller's transaction (``cockpit db copy``); a duplicate key raises. Returns the rows inserted."""
    t = peewee.Table(table)
    query = t.insert([tuple(None for _ in columns)], columns=[peewee.Column(t, c) for c in columns])
    return _insert_rows(db, query, len(columns), rows, batch)


def _insert_rows(db, query: peewee.Insert, width: int, rows: Iterable[Sequence[Any]], batch: int) -> int:
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return 0
    if dialect(db) == SQLITE:
        sql, _ = db.get_sql_context().sql(query).query()
        conn = db.connection()
        before = conn.total_changes
        cur = conn.cursor()
        for i in range(0, len(rows), batch):
            cur.executemany(sql, rows[i : i + batch])
        return conn.total_changes - before
    from psycopg2.extras import execute_values

    sql, _ = db.get_sql_context().sql(query.returning(peewee.SQL("1"))).query()
    template = "(" + ", ".join(["%s"] * width) + ")"
    if sql.count("VALUES " + template) != 1:  # pragma: no cover - Peewee's own statement shape
        raise RuntimeError(f"insert_rows: unexpected statement from Peewee: {sql[:120]!r}")
    stmt = sql.replace("VALUES " + template, "VALUES %s")
    cur = db.cursor()
    inserted = 0
    for i in range(0, len(rows), batch):
        inserted += len(execute_values(cur, stmt, rows[i : i + batch], template=template, page_size=batch, fetch=True))
    return inserted


def replace_row(model, keys: Sequence[str], **values: Any) -> None:
    """SQLite's ``INSERT OR REPLACE`` on both: the row with the same ``keys`` (a unique constraint) is
    replaced by a new row (a new id, so followers of the table see it again)."""
    db = model._meta.database
    if dialect(db) == SQLITE:
        model.insert(**values).on_conflict_replace().execute()
        return
    with db.atomic():
        cond = None
        for k in keys:
            c = getattr(model, k) == values[k]
            cond = c if cond is None else (cond & c)
        model.delete().where(cond).execute()
        model.insert(**values).execute()


# ---------------------------------------------------------------------------------------- introspection


def list_tables(db) -> list[str]:
    """User tables of the database, sorted (schema_migrations included, SQLite internals excluded)."""
    if dialect(db) == SQLITE:
        sql = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    else:
        sql = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
    return [r[0] for r in db.execute_sql(sql).fetchall()]


def table_columns(db, table: str) -> list[tuple[str, str, bool, bool]]:
    """(name, declared type upper-cased, not null, primary key) per column, in table order."""
    if dialect(db) == SQLITE:
        return [
            (r[1], r[2].upper(), bool(r[3]), bool(r[5]))
            for r in db.execute_sql(f'PRAGMA table_info("{table}")').fetchall()
        ]
    rows = db.execute_sql(
        """
        SELECT c.column_name, upper(c.data_type), c.is_nullable = 'NO',
               EXISTS (SELECT 1 FROM information_schema.table_constraints tc
                       JOIN information_schema.key_column_usage k
                         ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema
                        AND k.table_name = tc.table_name
                       WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema
                         AND tc.table_name = c.table_name AND k.column_name = c.column_name)
        FROM information_schema.columns c
        WHERE c.table_schema = current_schema() AND c.table_name = %s ORDER BY c.ordinal_position""",
        (table,),
    ).fetchall()
    return [(r[0], r[1], bool(r[2]), bool(r[3])) for r in rows]


def foreign_keys(db, table: str) -> set[tuple[str, str]]:
    """(column, referenced table) of every foreign key of ``table``."""
    if dialect(db) == SQLITE:
        return {(r[3], r[2]) for r in db.execute_sql(f'PRAGMA foreign_key_list("{table}")').fetchall()}
    rows = db.execute_sql(
        """
        SELECT a.attname, cf.relname FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class cf ON cf.oid = con.confrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)
        WHERE con.contype = 'f' AND c.relname = %s AND n.nspname = current_schema()""",
        (table,),
    ).fetchall()
    return {(r[0], r[1]) for r in rows}


def reset_sequences(db, tables: Iterable[str] | None = None) -> None:
    """After rows were inserted with explicit ids (``cockpit db copy``): move each identity past MAX(id)."""
    if dialect(db) != POSTGRES:
        return
    ids = {
        r[0]
        for r in db.execute_sql(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'id' "
            "AND table_schema = current_schema()"
        ).fetchall()
    }
    for table in tables if tables is not None else list_tables(db):
        if table not in ids:
            continue
        seq = db.execute_sql("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()
        if seq and seq[0]:
            db.execute_sql(f'SELECT setval(%s, COALESCE((SELECT MAX(id) FROM "{table}"), 0) + 1, false)', (seq[0],))
