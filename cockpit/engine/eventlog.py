"""Structured engine log: one line per event, text or JSON, secrets redacted.

    2026-01-01T10:00:00Z INFO  decision  id=12 action=buy target=0.40 selector=offline
    {"ts": "2026-01-01T10:00:00Z", "level": "INFO", "event": "decision", "id": 12, ...}

``ts`` is the engine clock (exchange or simulator time); ``wall`` is the host's time, so a reader of an
accelerated simulator run can tell both apart. Every string that equals or contains a secret value
(API keys from the environment, as given by cockpit.config.secret_values) is replaced by ``***``
before it is written, and a text value with control characters (an escape sequence in a model's
rationale or an exchange's error) is written quoted and escaped, never raw.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, TextIO

from cockpit.domain.text import Redactor

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventLog:
    def __init__(
        self,
        *,
        fmt: str = "text",
        level: str = "INFO",
        stream: TextIO | None = None,
        secrets: Iterable[str] = (),
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.fmt = fmt
        self.level = LEVELS.get(level, 20)
        self.stream = stream if stream is not None else sys.stdout
        self._redactor = Redactor(secrets, token="***")
        self._clock = clock
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.on_event: Callable[[dict[str, Any]], None] | None = None

    def set_clock(self, clock: Callable[[], int] | None) -> None:
        self._clock = clock

    def redact(self, value: Any) -> Any:
        return self._redactor.value(value)

    def _now(self) -> int | None:
        if self._clock is None:
            return None
        try:
            return int(self._clock())
        except Exception:  # noqa: BLE001 - an unsynced clock must not stop logging
            return None

    def event(self, event: str, level: str = "INFO", **fields: Any) -> None:
        if LEVELS.get(level, 20) < self.level:
            return
        wall = int(time.time() * 1000)
        rec: dict[str, Any] = {"ts": iso_ms(self._now() or wall), "wall": iso_ms(wall), "level": level, "event": event}
        rec.update(self.redact(fields))
        if self.fmt == "json":
            line = json.dumps(rec, default=str, separators=(",", ":"))
        else:
            parts = [f"{k}={_text(v)}" for k, v in rec.items() if k not in ("ts", "wall", "level", "event")]
            line = f"{rec['ts']} {level:<5} {event:<12} {' '.join(parts)}".rstrip()
        with self._lock:
            self.counts[event] = self.counts.get(event, 0) + 1
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                pass
        if self.on_event is not None:
            try:
                self.on_event(rec)
            except Exception:  # noqa: BLE001 - observers never break the engine
                pass

    def info(self, event: str, **fields: Any) -> None:
        self.event(event, "INFO", **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.event(event, "WARNING", **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.event(event, "ERROR", **fields)

    def critical(self, event: str, **fields: Any) -> None:
        self.event(event, "CRITICAL", **fields)

    def debug(self, event: str, **fields: Any) -> None:
        self.event(event, "DEBUG", **fields)


def _text(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str, separators=(",", ":"))
    s = str(v)
    return json.dumps(s) if (" " in s or not s or not s.isprintable()) else s


class EventLogHandler(logging.Handler):
    """Routes the core packages' stdlib ``logging`` records into the EventLog as ``log`` events, so a
    headless run prints one structured line per event whatever module speaks."""

    def __init__(self, log: EventLog) -> None:
        super().__init__()
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARNING"}.get(
                record.levelno, "ERROR"
            )
            fields = {"logger": record.name, "message": record.getMessage()}
            if record.exc_info and record.exc_info[1] is not None:
                fields["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            self.log.event("log", level, **fields)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)


def route_stdlib_logging(log: EventLog, level: str = "INFO") -> EventLogHandler:
    """Install the bridge on the root logger (replacing its handlers); returns it for removal."""
    handler = EventLogHandler(log)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(max(LEVELS.get(level, 20), logging.INFO))  # library DEBUG chatter only when asked below
    if level == "DEBUG":
        root.setLevel(logging.DEBUG)
    for noisy in ("urllib3", "ccxt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
