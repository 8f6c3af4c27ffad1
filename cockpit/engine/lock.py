"""Single instance: one engine per database (and so per account).

An exclusive ``flock`` on ``<database file>.engine.lock``. The operating system drops it when the
process dies, even on ``kill -9``, so a crashed engine never blocks its restart; the file holds the
owner's pid and start time only for the message shown to a second engine.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.db.connection import DEFAULT_PASSWORD_ENV, sqlite_path
from cockpit.db.portable import is_postgres_url

if TYPE_CHECKING:
    from cockpit.db.locks import AdvisoryLock


class EngineLocked(RuntimeError):
    """Another engine holds the lock; ``str()`` is the message for the operator."""


def lock_path_for(database_url: str) -> Path | None:
    path = sqlite_path(database_url)
    if path is None or path == ":memory:":
        return None
    return Path(path).expanduser().resolve().with_name(Path(path).name + ".engine.lock")


class EngineLock:
    def __init__(self, database_url: str, *, password_env: str = DEFAULT_PASSWORD_ENV) -> None:
        self.database_url = database_url
        self.path = lock_path_for(database_url)
        self._fd: int | None = None
        self._password_env = password_env
        self._pg: AdvisoryLock | None = None  # PostgreSQL: an advisory lock in the server (cockpit.db.locks)

    def _acquire_pg(self) -> None:
        from cockpit.db.locks import AdvisoryLock

        lock = AdvisoryLock(self.database_url, "engine", password_env=self._password_env)
        if not lock.try_acquire():
            h = lock.holder() or {}
            raise EngineLocked(
                f"another engine is already running on this database ({h.get('application_name', 'unknown')} from "
                f"{h.get('client_addr') or 'local socket'}, connected {h.get('backend_start')}); PostgreSQL advisory "
                f"lock {lock.key}. Stop it first, or open the cockpit over it with `cockpit --attach`."
            )
        self._pg = lock
        self.info = lock.info

    def acquire(self) -> None:
        if is_postgres_url(self.database_url):
            self._acquire_pg()
            return
        if self.path is None:  # in-memory database: nobody else can open it
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = self._owner(fd)
            os.close(fd)
            who = (
                f"pid {owner.get('pid')} on {owner.get('host')}, started {owner.get('started')}" if owner else "unknown"
            )
            raise EngineLocked(
                f"another engine is already running on this database ({who}); lock file {self.path}. "
                "Stop it first, or open the cockpit over it with `cockpit --attach`."
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        self.info = info

    @staticmethod
    def _owner(fd: int) -> dict | None:
        try:
            return json.loads(os.pread(fd, 4096, 0).decode() or "null")
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._pg is not None:
            self._pg.release()
            self._pg = None
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    @property
    def held(self) -> bool:
        if is_postgres_url(self.database_url):
            return self._pg is not None
        return self._fd is not None or self.path is None

    def __enter__(self) -> "EngineLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
