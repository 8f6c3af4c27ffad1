"""The single-instance lock: a second engine on the same database is refused with a clear message;
the lock is released on exit (and by the OS when the holder dies)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cockpit.engine.lock import EngineLock, EngineLocked


def test_second_lock_refused_then_free(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    a = EngineLock(url)
    a.acquire()
    b = EngineLock(url)
    with pytest.raises(EngineLocked, match="another engine is already running") as e:
        b.acquire()
    assert "--attach" in str(e.value)
    a.release()
    b.acquire()
    b.release()


def test_lock_released_when_holder_process_dies(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    code = (
        f"from cockpit.engine.lock import EngineLock; l = EngineLock({url!r}); l.acquire(); "
        "import os; os._exit(0)"
    )  # exits without releasing: like kill -9
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    lock = EngineLock(url)
    lock.acquire()
    lock.release()


def test_memory_database_needs_no_lock():
    lock = EngineLock("sqlite:///:memory:")
    lock.acquire()
    assert lock.held
    lock.release()
