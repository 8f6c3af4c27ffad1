"""A standalone simulator's state file: a restarted `cockpit sim --state FILE` is the same exchange
(account, orders, positions, fills, clock, credentials), so an engine restarted against it can
reconcile. Written atomically (temp file + rename, mode 0600) every few seconds and at stop.

The file is a pickle written by this simulator for itself; it is only ever loaded from the path the
operator names, never from the network.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
from pathlib import Path
from typing import Any

from cockpit.domain.settings import SimConfig

VERSION = 1


class StateMismatch(ValueError):
    """The state file was written for another market (seed, replay file, ...)."""


def market_key(cfg_sim: SimConfig) -> dict[str, Any]:
    """What defines the market: a state file only fits the market it was written for."""
    return {k: cfg_sim.get(k) for k in ("seed", "replay_csv", "funding_csv", "history_days", "start_price")}


def load(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    p = Path(path)
    if not p.is_file():
        return None
    with p.open("rb") as fh:
        data = pickle.load(fh)  # noqa: S301 - our own file, see the module docstring
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError(f"{p}: not a simulator state file of version {VERSION}")
    return data


def save(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=p.name + ".", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump({**data, "version": VERSION}, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class PeriodicSaver:
    """Calls ``save_fn`` every ``interval_s`` in a daemon thread until stopped."""

    def __init__(self, save_fn, interval_s: float = 2.0) -> None:
        self._save = save_fn
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cockpit-sim-state", daemon=True)

    def start(self) -> "PeriodicSaver":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._save()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
