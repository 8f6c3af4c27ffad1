"""Open the database named by a URL and bind the models' DatabaseProxy to it.

SQLite is opened with WAL (readers never block the engine's writer), a busy timeout (a second
process such as `cockpit orders approve` waits instead of failing), and foreign keys on.
Peewee keeps one connection per thread.
"""

from __future__ import annotations

from pathlib import Path

import peewee

database_proxy = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -64 * 1024,
}


def sqlite_path(url: str) -> str | None:
    """The file path of a sqlite:/// URL (``:memory:`` kept as is); None for other schemes."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):]
    return None


def open_database(url: str, *, create_dirs: bool = True) -> peewee.Database:
    path = sqlite_path(url)
    if path is None:
        raise ValueError(f"database.url: only sqlite:/// URLs are supported so far, got {url!r}")
    if path != ":memory:" and create_dirs:
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    db = peewee.SqliteDatabase(str(Path(path).expanduser()) if path != ":memory:" else path,
                               pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    db.connect(reuse_if_open=True)
    database_proxy.initialize(db)
    return db


def close_database() -> None:
    obj = database_proxy.obj
    if obj is not None and not obj.is_closed():
        obj.close()
