"""Apply the numbered SQL files of ``migrations/`` in order, each inside a transaction.

Applied files are recorded in ``schema_migrations`` with a checksum; running again applies
nothing (idempotent). A file that changed after being applied is reported, not re-run.

The same files serve SQLite and PostgreSQL: on PostgreSQL each statement is translated by
:mod:`cockpit.db.dialect` (INTEGER -> BIGINT, AUTOINCREMENT -> identity, ...). Where a statement
cannot be translated, put the PostgreSQL version beside it as ``NNN_name.postgres.sql``; the runner
then uses that file (and its checksum) on PostgreSQL. Runs on PostgreSQL hold an advisory lock, so
two processes starting at once do not both apply the same file.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import peewee

from cockpit.db.dialect import POSTGRES, dialect

_NAME = re.compile(r"^(\d+)_([\w-]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def for_dialect(self, name: str) -> "Migration":
        """This migration as run on ``name`` ('sqlite' | 'postgres'): its ``.postgres.sql`` twin when present."""
        if name == POSTGRES:
            twin = self.path.with_name(f"{self.path.stem}.postgres.sql")
            if twin.is_file():
                return Migration(self.version, self.name, twin)
        return self


def migrations_dir() -> Path:
    """The source tree's migrations/ (editable install), else the copy installed under sys.prefix."""
    for cand in (Path(__file__).resolve().parents[2] / "migrations", Path(sys.prefix) / "share" / "cockpit" / "migrations"):
        if cand.is_dir() and any(cand.glob("*.sql")):
            return cand
    raise FileNotFoundError("migrations/ not found next to the package nor under sys.prefix/share/cockpit")


def discover(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    found = []
    for p in directory.iterdir():
        m = _NAME.match(p.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), p))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration numbers in {directory}")
    return found


def _ensure_table(db: peewee.Database) -> None:
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
        " applied_at INTEGER DEFAULT (strftime('%s', 'now')))"
    )


def applied_migrations(db: peewee.Database) -> dict[int, str]:
    _ensure_table(db)
    return {int(v): c for v, c in db.execute_sql("SELECT version, checksum FROM schema_migrations").fetchall()}


def pending_migrations(db: peewee.Database, directory: Path | None = None) -> list[Migration]:
    done = applied_migrations(db)
    d = dialect(db)
    return [m.for_dialect(d) for m in discover(directory) if m.version not in done]


def split_statements(sql: str) -> list[str]:
    """Split a script into statements (sqlite3.complete_statement knows about quotes and triggers)."""
    stmts, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                stmts.append(buf.strip())
            buf = ""
    if buf.strip() and not all(l.strip().startswith("--") or not l.strip() for l in buf.splitlines()):
        raise ValueError(f"incomplete SQL statement at end of migration: {buf.strip()[:80]!r}")
    return stmts


def migrate(db: peewee.Database, directory: Path | None = None) -> list[Migration]:
    """Apply every pending migration; return the ones applied (empty when up to date)."""
    if dialect(db) == POSTGRES:
        db.execute_sql("SELECT pg_advisory_lock(?)", (MIGRATE_LOCK_KEY,))
        try:
            return _apply(db, directory)
        finally:
            db.execute_sql("SELECT pg_advisory_unlock(?)", (MIGRATE_LOCK_KEY,))
    return _apply(db, directory)


# pg_advisory_lock key of the migration runner ("cockpit migrate" in ASCII, as a bigint).
MIGRATE_LOCK_KEY = 0x636B_6D69_6772


def _apply(db: peewee.Database, directory: Path | None) -> list[Migration]:
    applied = []
    for m in pending_migrations(db, directory):
        with db.atomic():
            for stmt in split_statements(m.sql):
                db.execute_sql(stmt)
            db.execute_sql("INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                           (m.version, m.name, m.checksum))
        applied.append(m)
    return applied


def changed_migrations(db: peewee.Database, directory: Path | None = None) -> list[Migration]:
    done = applied_migrations(db)
    d = dialect(db)
    return [m.for_dialect(d) for m in discover(directory)
            if m.version in done and done[m.version] != m.for_dialect(d).checksum]
