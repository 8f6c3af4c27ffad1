"""Persistent risk state: risk_events rows and the engine_state keys of the risk manager.

engine_state keys (values are JSON):
  kill_switch     {"since", "by", "reason"} while engaged; absent when clear. Survives restarts.
  drawdown_halt   {"since", "peak", "equity", "drawdown"} while halted.
  risk_day_start  {"day", "equity"}: the first equity seen in the current UTC day.
  risk_peak       {"equity"}: the equity peak for the drawdown rule.
The order-rate rule counts 'submitted' order_lifecycle_events, so it needs no state of its own.
Risk event details (often an exchange's error text) pass through the run's ``Redactor`` before they are
written.
"""

from __future__ import annotations

import json
from typing import Any

import peewee

from cockpit.db.connection import database_proxy
from cockpit.db.models import EngineState, OrderLifecycleEvent, RiskEventRow
from cockpit.db.portable import write_transaction
from cockpit.domain.signals import RiskEvent
from cockpit.domain.text import Redactor

KILL_SWITCH = "kill_switch"
DRAWDOWN_HALT = "drawdown_halt"
DAY_START = "risk_day_start"
PEAK = "risk_peak"


class RiskStore:
    """The database-backed ``RiskState`` (see cockpit.risk.state)."""

    def __init__(self, db: peewee.Database | None = None, *, redactor: Redactor | None = None) -> None:
        self._db = db if db is not None else database_proxy
        self._redact = redactor or Redactor()

    # ---------------------------------------------------------------- engine_state

    def get(self, key: str) -> Any:
        row = EngineState.get_or_none(EngineState.key == key)
        if row is None or row.value is None:
            return None
        try:
            return json.loads(row.value)
        except ValueError:
            return row.value

    def put(self, key: str, value: Any, *, now_ms: int) -> None:
        EngineState.insert(key=key, value=json.dumps(value), updated_at=int(now_ms)).on_conflict(
            conflict_target=[EngineState.key],
            update={EngineState.value: json.dumps(value), EngineState.updated_at: int(now_ms)},
        ).execute()

    def delete(self, key: str) -> None:
        EngineState.delete().where(EngineState.key == key).execute()

    # ---------------------------------------------------------------- RiskState

    def record_events(self, events: list[RiskEvent]) -> None:
        if not events:
            return
        with write_transaction(self._db):
            RiskEventRow.insert_many(
                [
                    {
                        "symbol": e.symbol,
                        "timestamp": int(e.timestamp),
                        "level": getattr(e.level, "value", e.level),
                        "rule": e.rule,
                        "details": self._redact(e.details),
                    }
                    for e in events
                ]
            ).execute()

    def kill_switch(self) -> dict[str, Any] | None:
        return self.get(KILL_SWITCH)

    def set_kill_switch(self, active: bool, *, now_ms: int, by: str = "", reason: str = "") -> None:
        if active:
            if self.get(KILL_SWITCH) is None:  # keep the original engagement time
                self.put(KILL_SWITCH, {"since": int(now_ms), "by": by, "reason": reason}, now_ms=now_ms)
        else:
            self.delete(KILL_SWITCH)

    def drawdown_halt(self) -> dict[str, Any] | None:
        return self.get(DRAWDOWN_HALT)

    def set_drawdown_halt(self, active: bool, *, now_ms: int, details: dict[str, Any] | None = None) -> None:
        if active:
            self.put(DRAWDOWN_HALT, {"since": int(now_ms), **(details or {})}, now_ms=now_ms)
        else:
            self.delete(DRAWDOWN_HALT)

    def day_start_equity(self, day: int, equity: float, *, now_ms: int) -> float:
        cur = self.get(DAY_START)
        if not isinstance(cur, dict) or cur.get("day") != day:
            cur = {"day": int(day), "equity": float(equity)}
            self.put(DAY_START, cur, now_ms=now_ms)
        return float(cur["equity"])

    def peak_equity(self, equity: float, *, now_ms: int, reset: bool = False) -> float:
        cur = self.get(PEAK)
        peak = float(cur["equity"]) if isinstance(cur, dict) and "equity" in cur else None
        if reset or peak is None or equity > peak:
            peak = float(equity)
            self.put(PEAK, {"equity": peak}, now_ms=now_ms)
        return peak

    def submissions_since(self, since_ms: int) -> int:
        return (
            OrderLifecycleEvent.select()
            .where((OrderLifecycleEvent.status == "submitted") & (OrderLifecycleEvent.timestamp >= int(since_ms)))
            .count()
        )

    def note_submission(self, now_ms: int) -> None:
        """Nothing to do: submissions are counted from order_lifecycle_events."""
