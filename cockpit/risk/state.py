"""Where the risk manager keeps what must outlive one check: the kill switch, the drawdown halt,
the day's starting equity, the equity peak and recent order submissions.

``MemoryRiskState`` keeps them in memory (backtests, unit tests); ``cockpit.data.risk_store.RiskStore``
keeps them in the database (engine_state, risk_events, order_lifecycle_events) so they survive a restart.
Both have the same methods.
"""

from __future__ import annotations

from typing import Any, Protocol

from cockpit.domain.signals import RiskEvent

DAY_MS = 86_400_000


def utc_day(ms: int) -> int:
    """Days since the epoch (UTC) of a millisecond timestamp: the daily-loss window key."""
    return int(ms) // DAY_MS


class RiskState(Protocol):  # pragma: no cover - protocol
    def record_events(self, events: list[RiskEvent]) -> None: ...
    def kill_switch(self) -> dict[str, Any] | None: ...
    def set_kill_switch(self, active: bool, *, now_ms: int, by: str = "", reason: str = "") -> None: ...
    def drawdown_halt(self) -> dict[str, Any] | None: ...
    def set_drawdown_halt(self, active: bool, *, now_ms: int, details: dict[str, Any] | None = None) -> None: ...
    def day_start_equity(self, day: int, equity: float, *, now_ms: int) -> float: ...
    def peak_equity(self, equity: float, *, now_ms: int, reset: bool = False) -> float: ...
    def submissions_since(self, since_ms: int) -> int: ...
    def note_submission(self, now_ms: int) -> None: ...


class MemoryRiskState:
    """In-memory risk state for backtests and tests (nothing survives the process)."""

    def __init__(self) -> None:
        self.events: list[RiskEvent] = []
        self._kill: dict[str, Any] | None = None
        self._halt: dict[str, Any] | None = None
        self._day: tuple[int, float] | None = None
        self._peak: float | None = None
        self._submissions: list[int] = []

    def record_events(self, events: list[RiskEvent]) -> None:
        self.events.extend(events)

    def kill_switch(self) -> dict[str, Any] | None:
        return self._kill

    def set_kill_switch(self, active: bool, *, now_ms: int, by: str = "", reason: str = "") -> None:
        self._kill = {"since": now_ms, "by": by, "reason": reason} if active else None

    def drawdown_halt(self) -> dict[str, Any] | None:
        return self._halt

    def set_drawdown_halt(self, active: bool, *, now_ms: int, details: dict[str, Any] | None = None) -> None:
        self._halt = {"since": now_ms, **(details or {})} if active else None

    def day_start_equity(self, day: int, equity: float, *, now_ms: int) -> float:
        if self._day is None or self._day[0] != day:
            self._day = (day, float(equity))
        return self._day[1]

    def peak_equity(self, equity: float, *, now_ms: int, reset: bool = False) -> float:
        if reset or self._peak is None or equity > self._peak:
            self._peak = float(equity)
        return self._peak

    def submissions_since(self, since_ms: int) -> int:
        return sum(1 for t in self._submissions if t >= since_ms)

    def note_submission(self, now_ms: int) -> None:
        self._submissions.append(int(now_ms))
