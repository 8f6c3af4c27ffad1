"""Writes of the engine runtime: engine_state rows (heartbeat, lock owner), engine-level risk
events (an exchange call that kept failing, a stage that raised) and ingestion_runs for calls
retried by the engine. Reads go through DataService (engine_state, risk_events, ...).
"""

from __future__ import annotations

import json
from typing import Any

import peewee

from cockpit.db import models as m
from cockpit.db.connection import database_proxy


def is_database_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the database refused an operation (read-only, locked past the busy timeout,
    disk full or I/O error), as opposed to a bug in what was written (an integrity error)."""
    import sqlite3

    if isinstance(exc, (peewee.IntegrityError, sqlite3.IntegrityError)):
        return False
    return isinstance(exc, (peewee.DatabaseError, sqlite3.DatabaseError))


def set_state(key: str, value: Any, *, now_ms: int, db: peewee.Database | peewee.DatabaseProxy | None = None) -> None:
    """Upsert one engine_state row; dicts and lists are stored as JSON."""
    db = db or database_proxy
    text = value if isinstance(value, str) or value is None else json.dumps(value, default=str, separators=(",", ":"))
    s = m.EngineState
    (
        s.insert(key=key, value=text, updated_at=int(now_ms))
        .on_conflict(conflict_target=[s.key], preserve=[s.value, s.updated_at])
        .execute(db)
    )


def record_risk_event(
    symbol: str,
    *,
    now_ms: int,
    level: str,
    rule: str,
    details: str | dict[str, Any],
    db: peewee.Database | peewee.DatabaseProxy | None = None,
) -> int:
    db = db or database_proxy
    if not isinstance(details, str):
        details = json.dumps(details, default=str, separators=(",", ":"))
    return int(
        m.RiskEventRow.insert(symbol=symbol, timestamp=int(now_ms), level=level, rule=rule, details=details).execute(db)
    )


def record_ingestion_run(
    *,
    source: str,
    symbol: str,
    data_type: str,
    started_at: int,
    ended_at: int,
    status: str,
    rows_inserted: int = 0,
    timeframe: str | None = None,
    error: str | None = None,
    db: peewee.Database | peewee.DatabaseProxy | None = None,
) -> int:
    db = db or database_proxy
    return int(
        m.IngestionRun.insert(
            source=source,
            symbol=symbol,
            timeframe=timeframe,
            data_type=data_type,
            started_at=int(started_at),
            ended_at=int(ended_at),
            rows_inserted=int(rows_inserted),
            status=status,
            error=error,
        ).execute(db)
    )
