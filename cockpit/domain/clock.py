"""Time comes from a Clock object, never from the wall clock directly in core code.

Implementations: ``WallClock`` and ``ManualClock`` here (tests, bar clock in backtests), an
exchange-synchronised clock in ``cockpit.engine.clock``, an accelerated clock in ``cockpit.sim``.
All clocks speak UTC epoch milliseconds.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now_ms(self) -> int:  # pragma: no cover - protocol
        """Current time in UTC epoch milliseconds."""
        ...


class WallClock:
    """UTC epoch milliseconds from the operating system."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)


class ManualClock:
    """A clock that only moves when told to: the bar clock of backtests and of tests."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = int(start_ms)

    def now_ms(self) -> int:
        return self._now

    def set(self, ms: int) -> None:
        self._now = int(ms)

    def advance(self, ms: int) -> None:
        self._now += int(ms)


def clock_rate(clock: object) -> float:
    """Exchange milliseconds per wall millisecond: the accelerated simulator clock's speed, 1 otherwise
    (also for a frozen simulator clock, speed 0)."""
    for attr in ("speed", "rate"):
        v = getattr(clock, attr, None)
        if isinstance(v, (int, float)) and v > 0:
            return float(v)
    return 1.0
