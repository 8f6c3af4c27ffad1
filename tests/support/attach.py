"""Shared by the attach end-to-end tests (SQLite and PostgreSQL): a fast headless engine's settings
and waiting on the attached UI."""

from __future__ import annotations

import os
import time

from support.trading import ACTIVE_TRADER_ENV

# Simulated time: a day is 24 s of wall time at 3600x, long enough to approve. The active trader
# decides hourly and trades often, so an order waits for approval within seconds.
FAST = {
    "COCKPIT__SIM__SPEED": "3600",
    "COCKPIT__EXCHANGE__BACKFILL_DAYS": "12",
    "COCKPIT__ENGINE__FAST_LOOP_S": "0.25",
    "COCKPIT__ENGINE__INGEST_INTERVAL_S": "0.5",
    "COCKPIT__EXECUTION__APPROVAL_TTL_S": "86400",
    "PYTHONUNBUFFERED": "1",
    **ACTIVE_TRADER_ENV,
}


def fast_engine_env() -> dict[str, str]:
    """This environment without any COCKPIT__ override of its own, plus FAST."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COCKPIT__")} | FAST


async def until(pilot, cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.2)
