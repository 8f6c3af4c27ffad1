"""Open the database named by a URL and bind the models' DatabaseProxy to it.

``sqlite:///path`` (development, single machine): WAL (readers never block the engine's writer), a
busy timeout (a second process such as `cockpit orders approve` waits instead of failing), and
foreign keys on. ``postgresql://user@host[:port]/dbname`` (production): the password comes from the
environment variable named by ``database.password_env`` (never from config.yaml); NUMERIC comes back
as float, as from SQLite. Queries are built with Peewee, so the same query serves both; see
:mod:`cockpit.db.portable` for what differs. Peewee keeps one connection per thread.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee

from cockpit.db.portable import is_postgres_url

DEFAULT_PASSWORD_ENV = "COCKPIT_DB_PASSWORD"

database_proxy = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -64 * 1024,
}


def _numeric_as_float():
    import psycopg2.extensions as ext

    return ext.new_type(
        ext.DECIMAL.values, "COCKPIT_NUMERIC_FLOAT", lambda value, cur: float(value) if value is not None else None
    )


_ADAPTERS_DONE = False


def _register_numpy_adapters() -> None:
    """numpy scalars as parameters (sqlite3 takes np.float64 as a float; psycopg2 needs telling)."""
    global _ADAPTERS_DONE
    if _ADAPTERS_DONE:
        return
    try:
        import numpy as np
        from psycopg2.extensions import AsIs, Float, register_adapter
    except ImportError:  # pragma: no cover
        return
    for t in (np.float64, np.float32, np.float16):
        register_adapter(t, lambda v: Float(float(v)))
    for it in (np.int64, np.int32, np.int16, np.int8, np.uint64, np.uint32, np.uint16, np.uint8):
        register_adapter(it, lambda v: AsIs(int(v)))
    register_adapter(np.bool_, lambda v: AsIs("true" if v else "false"))
    _ADAPTERS_DONE = True


class CockpitPostgresqlDatabase(peewee.PostgresqlDatabase):
    """PostgreSQL as the project uses it: NUMERIC read as float, numpy scalars accepted as parameters, and
    a connection the server dropped (restart, failover, idle timeout) replaced outside a transaction."""

    def _connect(self):
        import psycopg2.extensions as ext

        conn = super()._connect()
        ext.register_type(_numeric_as_float(), conn)
        _register_numpy_adapters()
        return conn

    def execute_sql(self, sql, params=None):
        """Execute; when the server dropped the connection outside a transaction, reconnect. A read is
        retried once; a write is not (it may have been applied before the connection broke), its error
        is raised and the next statement runs on the new connection."""
        try:
            return super().execute_sql(sql, params)
        except (peewee.OperationalError, peewee.InterfaceError):
            conn = self._state.conn
            if self.in_transaction() or conn is None or not conn.closed:
                raise
            self.close()
            self.connect()
            if not sql.lstrip()[:6].upper() == "SELECT":
                raise
            return super().execute_sql(sql, params)


def sqlite_path(url: str) -> str | None:
    """The file path of a sqlite:/// URL (``:memory:`` kept as is); None for other schemes."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    return None


def postgres_params(
    url: str, *, password_env: str = DEFAULT_PASSWORD_ENV, environ: dict[str, str] | None = None
) -> tuple[str, dict]:
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


def open_database(
    url: str, *, create_dirs: bool = True, password_env: str = DEFAULT_PASSWORD_ENV, bind: bool = True
) -> peewee.Database:
    """Open ``url`` and (unless ``bind=False``) bind the models' proxy to it."""
    if is_postgres_url(url):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            raise ValueError(
                "database.url is a PostgreSQL URL but the psycopg2 driver is not installed: "
                "pip install 'psycopg2-binary>=2.9' (the project's [postgres] extra)"
            ) from None
        name, kw = postgres_params(url, password_env=password_env)
        db: peewee.Database = CockpitPostgresqlDatabase(name, **kw)
        db.connect(reuse_if_open=True)
        if bind:
            database_proxy.initialize(db)
        return db
    path = sqlite_path(url)
    if path is None:
        raise ValueError(f"database.url: expected sqlite:///path or postgresql://user@host/dbname, got {url!r}")
    if path != ":memory:" and create_dirs:
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    db = peewee.SqliteDatabase(
        str(Path(path).expanduser()) if path != ":memory:" else path, pragmas=SQLITE_PRAGMAS, check_same_thread=False
    )
    db.connect(reuse_if_open=True)
    if bind:
        database_proxy.initialize(db)
    return db


def close_database() -> None:
    obj = database_proxy.obj
    if obj is not None and not obj.is_closed():
        obj.close()
