"""Fault injection for the simulator, switchable at run time (Python API or the admin endpoint).

Kinds:
- ``rate_limit``: HTTP 429 with OKX code 50011 (ccxt: RateLimitExceeded)
- ``server_error``: HTTP 503 with a non-JSON body (ccxt: ExchangeNotAvailable)
- ``slow``: the answer is held ``delay_s`` seconds (past the client's timeout: RequestTimeout)
- ``stall``: the answer is held until the fault is cleared (``clear()``) or ``delay_s`` passes: an
  endpoint that hangs for as long as a test needs, then lets go at once
- ``malformed``: HTTP 200 with a body that is not valid JSON (ccxt hands back a string; records come out empty)
- ``garbage``: HTTP 200, valid JSON, but numbers in the data replaced by nulls and junk (None-filled records)
- ``empty``: HTTP 200, ``{"code": "0", "data": []}`` whatever the truth (a proxy or cache answering "nothing")
- ``drop``: the connection is closed without an answer (ccxt: NetworkError)
- ``reject_order``: the next order placement fails with sCode ``code`` (default 51008)

A fault applies to the next ``count`` matching requests (``count=-1``: until cleared), optionally
only to paths containing ``path``.

WebSocket streams: a fault whose ``path`` starts with ``ws/`` applies to the simulator's pushes
instead, matched against ``ws/v5/<endpoint>/<channel>`` (``ws/`` = every push, ``ws/v5/private`` =
one endpoint, ``ws/v5/public/tickers`` = one channel); REST requests never take it and streams never
take a fault without that prefix. On a stream, ``drop`` ends the connection without a close frame,
``stall`` holds that connection's pushes and pong replies until cleared or ``delay_s`` passes (the
backlog follows), ``malformed`` sends the push cut in half (a text frame that is not valid JSON).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

KINDS = ("rate_limit", "server_error", "slow", "stall", "malformed", "garbage", "empty", "drop", "reject_order")


@dataclass
class Fault:
    kind: str
    count: int = 1
    path: str = ""
    delay_s: float = 3.0
    code: str = "51008"
    hits: int = field(default=0)

    def __post_init__(self) -> None:
        self.released = threading.Event()  # set by clear(): ends a ``stall`` (not a field: asdict stays plain)


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.fired: list[tuple[str, str]] = []  # (kind, path) of every fault served

    def add(self, kind: str, *, count: int = 1, path: str = "", delay_s: float = 3.0, code: str = "51008") -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; allowed: {', '.join(KINDS)}")
        f = Fault(kind, int(count), path, float(delay_s), str(code))
        with self._lock:
            self._faults.append(f)
        return f

    def clear(self) -> None:
        with self._lock:
            for f in self._faults:
                f.released.set()
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, path: str, *, order: bool = False, stream: bool = False) -> Fault | None:
        """The fault to apply to this request (consuming one use), or None.

        ``reject_order`` faults only match order placements (``order=True``); the others never do
        there, so an order test can still meet a transport fault by setting ``path``. ``stream=True``:
        a WebSocket push, which only ``ws/`` faults match.
        """
        with self._lock:
            for f in self._faults:
                if f.path and f.path not in path:
                    continue
                if f.path.startswith("ws/") != stream:
                    continue
                if (f.kind == "reject_order") != order:
                    continue
                f.hits += 1
                if f.count > 0:
                    f.count -= 1
                    if f.count == 0:
                        self._faults.remove(f)
                self.fired.append((f.kind, path))
                return f
        return None
