"""Open the database named by a URL and bind the models' DatabaseProxy to it.

``sqlite:///path`` (development, single machine): WAL (readers never block the engine's writer), a
busy timeout (a second process such as `cockpit orders approve` waits instead of failing), and
foreign keys on. ``postgresql://user@host[:port]/dbname`` (production): the password comes from the
environment variable named by ``database.password_env`` (never from config.yaml), and the project's
raw SQL is translated by :mod:`cockpit.db.dialect`. Peewee keeps one connection per thread.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee

from cockpit.db.dialect import PortablePostgresqlDatabase, is_postgres_url

DEFAULT_PASSWORD_ENV = "COCKPIT_DB_PASSWORD"

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


def postgres_params(url: str, *, password_env: str = DEFAULT_PASSWORD_ENV,
                    environ: dict[str, str] | None = None) -> tuple[str, dict]:
    """(database name, psycopg2 connect keywords) of a postgresql:// URL; the password from ``password_env``
    unless the URL carries one. Query parameters (``?sslmode=require``) are passed through."""
    u = urlsplit(url)
    name = unquote(u.path.lstrip("/"))
    if not name:
        raise ValueError("database.url: a PostgreSQL URL needs a database name, e.g. postgresql://user@host/cockpit")
    kw: dict = {k: v for k, v in parse_qsl(u.query)}
    if u.hostname:
        kw["host"] = u.hostname
    if u.port:
        kw["port"] = u.port
    if u.username:
        kw["user"] = unquote(u.username)
    env = os.environ if environ is None else environ
    password = unquote(u.password) if u.password else env.get(password_env) if password_env else None
    if password:
        kw["password"] = password
    return name, kw


def redact_url(url: str) -> str:
    """The URL without a password (for messages and logs)."""
    u = urlsplit(url)
    if u.password:
        return url.replace(":" + u.password + "@", ":***@", 1)
    return url


def open_database(url: str, *, create_dirs: bool = True, password_env: str = DEFAULT_PASSWORD_ENV,
                  bind: bool = True) -> peewee.Database:
    """Open ``url`` and (unless ``bind=False``) bind the models' proxy to it."""
    if is_postgres_url(url):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            raise ValueError("database.url is a PostgreSQL URL but the psycopg2 driver is not installed: "
                             "pip install 'psycopg2-binary>=2.9' (the project's [postgres] extra)") from None
        name, kw = postgres_params(url, password_env=password_env)
        db = PortablePostgresqlDatabase(name, **kw)
        db.connect(reuse_if_open=True)
        if bind:
            database_proxy.initialize(db)
        return db
    path = sqlite_path(url)
    if path is None:
        raise ValueError(f"database.url: expected sqlite:///path or postgresql://user@host/dbname, got {url!r}")
    if path != ":memory:" and create_dirs:
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    db = peewee.SqliteDatabase(str(Path(path).expanduser()) if path != ":memory:" else path,
                               pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    db.connect(reuse_if_open=True)
    if bind:
        database_proxy.initialize(db)
    return db


def close_database() -> None:
    obj = database_proxy.obj
    if obj is not None and not obj.is_closed():
        obj.close()
