"""Cross-process locks on PostgreSQL: ``pg_try_advisory_lock`` held by a dedicated connection.

The engine's single-instance lock on SQLite is a ``flock`` beside the database file; a PostgreSQL
database has no file, and engines on different machines may share it, so the lock lives in the
server instead. It is a session lock on a connection of its own (not Peewee's per-thread ones):
when the engine exits, or is killed with ``kill -9``, the session ends and the server drops the
lock, so a crashed engine never blocks its restart. TCP keepalives make the server notice a dead
client within about half a minute. The holder's pid, host and start time travel in the session's
``application_name`` so a second engine can say who holds it.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from typing import Any

from cockpit.db.connection import DEFAULT_PASSWORD_ENV, database_proxy, postgres_params

APP_PREFIX = "cockpit-lock"


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class AdvisoryLock:
    """``AdvisoryLock(url, "engine").try_acquire()`` -> True when this process now holds the lock."""

    def __init__(self, url: str, name: str, *, password_env: str = DEFAULT_PASSWORD_ENV) -> None:
        self.url = url
        self.name = name
        self.key = lock_key(f"cockpit:{name}")
        self._password_env = password_env
        self._conn = None

    def _connect(self, application_name: str):
        import psycopg2

        dbname, kw = postgres_params(self.url, password_env=self._password_env)
        bound = database_proxy.obj
        if (
            "password" not in kw
            and bound is not None
            and bound.database == dbname
            and bound.connect_params.get("password")
        ):  # the process's open database knows it (custom password_env)
            kw["password"] = bound.connect_params["password"]
        conn = psycopg2.connect(
            dbname=dbname,
            application_name=application_name[:63],
            connect_timeout=10,
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
            **kw,
        )
        conn.autocommit = True
        return conn

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return True
        host = socket.gethostname()
        conn = self._connect(f"{APP_PREFIX} {self.name} pid={os.getpid()} host={host}")
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            got = bool(cur.fetchone()[0])
        if not got:
            conn.close()
            return False
        self._conn = conn
        self.info = {"pid": os.getpid(), "host": host, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        return True

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock: {'application_name', 'client_addr', 'backend_start', 'server_pid'}; None if free."""
        conn = self._conn or self._connect(f"{APP_PREFIX} probe pid={os.getpid()}")
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT a.application_name, host(a.client_addr), to_char(a.backend_start AT TIME ZONE 'UTC',"
                    ' \'YYYY-MM-DD"T"HH24:MI:SS"Z"\'), a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid'
                    " WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database()) AND l.objsubid = 1"
                    " AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
                    (self.key,),
                )
                r = cur.fetchone()
        finally:
            if conn is not self._conn:
                conn.close()
        if r is None:
            return None
        return {"application_name": r[0], "client_addr": r[1], "backend_start": r[2], "server_pid": r[3]}

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            with self._conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        finally:
            self._conn.close()
            self._conn = None

    @property
    def held(self) -> bool:
        return self._conn is not None and not self._conn.closed
