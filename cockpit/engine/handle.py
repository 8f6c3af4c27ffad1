"""The engine as a surface holds it: take the single-instance lock, check the database's venue, build the
stages, start; stop and release. ``cockpit`` (``cockpit.commands.run``), the TUI and the benchmarks use it."""

from __future__ import annotations

import time
from typing import Any, Callable

from cockpit.data.venue import claim_venue
from cockpit.domain.settings import Config
from cockpit.engine.engine import Engine, EngineStatus
from cockpit.engine.eventlog import EventLog
from cockpit.engine.lock import EngineLock


class EngineHandle:
    """The engine as the in-process TUI sees it: start(), stop(), status (a plain EngineStatus).

    The TUI reads everything it shows through the database (DataService) so that attach mode works
    identically; ``status`` is only for what the database cannot say (e.g. "stopping").
    """

    def __init__(
        self, cfg: Config, *, log: EventLog, db=None, stages_factory: Callable[..., Any] | None = None
    ) -> None:
        self.cfg = cfg
        self.log = log
        self.db = db
        self._stages_factory = stages_factory
        self._lock = EngineLock(cfg["database"]["url"], password_env=cfg["database"]["password_env"])
        self.engine: Engine | None = None
        self._stop_requested = False
        self._idle = EngineStatus(state="stopped", mode=cfg["exchange"]["mode"], approval=cfg["execution"]["approval"])

    @property
    def status(self) -> EngineStatus:
        return self.engine.status if self.engine is not None else self._idle

    @property
    def clock(self) -> Any:
        """The engine's clock (the exchange's: accelerated on a simulator); None before start()."""
        return self.engine.clock if self.engine is not None else None

    def start(self) -> None:
        """Take the single-instance lock (EngineLocked when another engine runs), check the database's venue
        (VenueMismatch when it belongs to another), build the stages, start."""
        self._lock.acquire()
        try:
            if self.db is None:
                from cockpit.db import migrate, open_database

                self.db = open_database(self.cfg["database"]["url"], password_env=self.cfg["database"]["password_env"])
                migrate(self.db)
            # A database belongs to one venue: refuse another's engine before anything starts or is written.
            from cockpit.db.connection import redact_url

            claim_venue(
                self.db,
                self.cfg["exchange"]["mode"],
                now_ms=int(time.time() * 1000),
                url=redact_url(self.cfg["database"]["url"]),
            )
            factory = self._stages_factory
            if factory is None:
                from cockpit.engine.stages import build_stages

                factory = build_stages
            stages = factory(self.cfg, log=self.log)
            self.log.set_clock(stages.clock.now_ms)
            self.engine = Engine(self.cfg, stages, log=self.log, db=self.db)
            self.engine.start()
            if self._stop_requested:  # a signal arrived while we were starting
                self.engine.request_stop()
        except BaseException:
            if self.engine is not None:
                self.engine.stop()
            self._lock.release()
            raise

    def request_stop(self) -> None:
        self._stop_requested = True
        if self.engine is not None:
            self.engine.request_stop()

    def stop(self) -> None:
        try:
            if self.engine is not None:
                self.engine.stop()
        finally:
            self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        return self.engine.wait(timeout) if self.engine is not None else True
