"""Destinations: one Apprise URL each, with its own bounded queue, worker thread, retries with
backoff and rate limit, so a slow or broken destination never delays the others (or the engine).

Secrets live in the environment: ``${VAR}`` in a configured URL is expanded here, at start-up,
and the expanded URL is only ever shown in Apprise's privacy form (tokens masked).
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import apprise

from cockpit.config import ENV_REF
from cockpit.notify.format import Message, redact

# Apprise reports failures to us in its results; without this its warnings would reach stderr
# through logging's last-resort handler when the application configured no logging.
logging.getLogger("apprise").addHandler(logging.NullHandler())

_TYPES = {
    "info": apprise.NotifyType.INFO,
    "success": apprise.NotifyType.SUCCESS,
    "warning": apprise.NotifyType.WARNING,
    "failure": apprise.NotifyType.FAILURE,
}


class DestinationError(ValueError):
    """A configured URL that cannot be used; the message names the URL in its safe form."""


def expand(url: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """(``url`` with each ``${VAR}`` replaced, the values substituted); DestinationError when one is unset."""
    values: list[str] = []
    missing: list[str] = []

    def sub(m: Any) -> str:
        v = environ.get(m.group(1))
        if not v:
            missing.append(m.group(1))
            return ""
        values.append(v)
        return v

    out = ENV_REF.sub(sub, url)
    if missing:
        raise DestinationError(f"{_scheme(url)}: environment variable {', '.join(missing)} is not set")
    return out, values


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] + "://…"


def safe_label(url: str) -> str:
    """Apprise's privacy form of a URL (tokens masked), without the query string."""
    try:
        plugin = apprise.Apprise.instantiate(url)
    except Exception:  # noqa: BLE001 - a URL apprise rejects is still named safely
        plugin = None
    if plugin is None:
        return _scheme(url)
    return plugin.url(privacy=True).split("?", 1)[0]


@dataclass
class Destination:
    label: str  # safe to log, store and show
    apprise: Any
    secrets: list[str] = field(default_factory=list)

    @classmethod
    def from_url(cls, url: str, environ: Mapping[str, str] | None = None) -> "Destination":
        environ = os.environ if environ is None else environ
        expanded, values = expand(url, environ)
        ap = apprise.Apprise()
        if not ap.add(expanded):
            raise DestinationError(f"{safe_label(expanded)}: not a URL Apprise understands")
        label = redact(safe_label(expanded), values)
        # The expanded URL is itself a secret when a ${VAR} went into it.
        return cls(label=label, apprise=ap, secrets=values + [expanded] if values else [])

    def send_once(self, msg: Message, *, timeout_s: float) -> tuple[bool, str]:
        """One attempt: (ok, error text). Never raises."""
        try:
            res = self.apprise.notify(
                body=msg.body,
                title=msg.title,
                notify_type=_TYPES.get(msg.level),
                body_format=apprise.NotifyFormat.TEXT,
                timeout=timeout_s,
            )
        except Exception as e:  # noqa: BLE001 - a plugin bug is a failed send, not a crash
            return False, f"{type(e).__name__}: {e}"
        if res:
            return True, ""
        err = ""
        try:
            logs = [e for e in res.logs() if getattr(e, "level", "") in ("WARNING", "ERROR", "CRITICAL")]
            err = "; ".join(e.message for e in logs[-2:])
        except Exception:  # noqa: BLE001
            pass
        return False, err or "the service did not accept the notification"


class TokenBucket:
    """``rate_per_minute`` sustained, ``burst`` back to back. Time from a monotonic function."""

    def __init__(self, rate_per_minute: float, burst: int, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate_per_minute) / 60.0
        self.capacity = float(burst)
        self.tokens = float(burst)
        self._mono = monotonic
        self._last = monotonic()

    def wait_s(self) -> float:
        """Seconds until a token is available (0 when one is)."""
        now = self._mono()
        self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
        self._last = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class DestinationWorker:
    """Sends the messages of one destination in its own thread: bounded queue (oldest dropped),
    rate limit, retries with exponential backoff; a final failure goes to ``on_failure``."""

    def __init__(
        self,
        dest: Destination,
        *,
        retries: int,
        backoff_s: float,
        rate_per_minute: float,
        burst: int,
        queue_size: int,
        timeout_s: float,
        max_backoff_s: float = 300.0,
        on_failure: Callable[["DestinationWorker", Message, str, int], None] | None = None,
        on_exit: Callable[[], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dest = dest
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)  # the doubling backoff's cap (``notify test`` waits 30 s at most)
        self.timeout_s = float(timeout_s)
        self.bucket = TokenBucket(rate_per_minute, burst, monotonic=monotonic)
        self._q: collections.deque[Message] = collections.deque(maxlen=int(queue_size))
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._busy = False
        self._on_failure = on_failure
        self._on_exit = on_exit
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.attempts = 0

    # ---------------------------------------------------------------- producer side

    def put(self, msg: Message) -> None:
        with self._cv:
            if len(self._q) == self._q.maxlen:
                self.dropped += 1  # deque drops the oldest
            self._q.append(msg)
            self._cv.notify()

    def idle(self) -> bool:
        with self._cv:
            return not self._q and not self._busy

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._q or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or (self._thread is None or not self._thread.is_alive()):
                    return False
                self._cv.wait(min(left, 0.2))
        return True

    # ---------------------------------------------------------------- the thread

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"cockpit-notify-{id(self) % 10000}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                with self._cv:
                    while not self._q and not self._stop.is_set():
                        self._cv.wait()
                    if not self._q:
                        return  # stopped and drained
                    msg = self._q.popleft()
                    self._busy = True
                try:
                    self.deliver(msg)
                finally:
                    with self._cv:
                        self._busy = False
                        self._cv.notify_all()
        finally:
            if self._on_exit is not None:
                self._on_exit()

    def deliver(self, msg: Message) -> bool:
        """Rate limit, then up to 1 + retries attempts with backoff. True when delivered. Runs in the worker's
        thread, or in the caller's (``cockpit notify test``: one message, no thread)."""
        wait = self.bucket.wait_s()
        while wait > 0 and not self._stop.is_set():
            self._stop.wait(wait)
            wait = self.bucket.wait_s()
        self.bucket.take()
        err = ""
        for attempt in range(self.retries + 1):
            if attempt:
                # Backoff doubles; a stop request shortens it but the attempts still happen.
                if self._stop.wait(min(self.backoff_s * (2 ** (attempt - 1)), self.max_backoff_s)):
                    pass
            self.attempts += 1
            ok, err = self.dest.send_once(msg, timeout_s=self.timeout_s)
            if ok:
                self.sent += 1
                return True
        self.failed += 1
        if self._on_failure is not None:
            try:
                self._on_failure(self, msg, redact(err, self.dest.secrets), self.retries + 1)
            except Exception:  # noqa: BLE001 - recording a failure must not kill the worker
                pass
        return False
