"""Writes of the engine runtime: engine_state rows (heartbeat, lock owner), engine-level risk
events (an exchange call that kept failing, a stage that raised) and ingestion_runs for calls
retried by the engine. Reads go through DataService (engine_state, risk_events, ...).
"""

from __future__ import annotations

import json
from typing import Any

import peewee

from cockpit.db.connection import database_proxy


def is_database_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the database refused an operation (read-only, locked past the busy timeout,
    disk full or I/O error), as opposed to a bug in what was written (an integrity error)."""
    import sqlite3

    if isinstance(exc, (peewee.IntegrityError, sqlite3.IntegrityError)):
        return False
    return isinstance(exc, (peewee.DatabaseError, sqlite3.DatabaseError))


def set_state(key: str, value: Any, *, now_ms: int, db: peewee.Database | None = None) -> None:
    """Upsert one engine_state row; dicts and lists are stored as JSON."""
    db = db or database_proxy
    text = value if isinstance(value, str) or value is None else json.dumps(value, default=str, separators=(",", ":"))
    db.execute_sql("INSERT INTO engine_state (key, value, updated_at) VALUES (?, ?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                   (key, text, int(now_ms)))


def record_risk_event(symbol: str, *, now_ms: int, level: str, rule: str, details: str | dict[str, Any],
                      db: peewee.Database | None = None) -> int:
    db = db or database_proxy
    if not isinstance(details, str):
        details = json.dumps(details, default=str, separators=(",", ":"))
    cur = db.execute_sql("INSERT INTO risk_events (symbol, timestamp, level, rule, details) VALUES (?, ?, ?, ?, ?)",
                         (symbol, int(now_ms), level, rule, details))
    return int(cur.lastrowid)


def record_ingestion_run(*, source: str, symbol: str, data_type: str, started_at: int, ended_at: int, status: str,
                         rows_inserted: int = 0, timeframe: str | None = None, error: str | None = None,
                         db: peewee.Database | None = None) -> int:
    db = db or database_proxy
    cur = db.execute_sql(
        "INSERT INTO ingestion_runs (source, symbol, timeframe, data_type, started_at, ended_at, rows_inserted,"
        " status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (source, symbol, timeframe, data_type, int(started_at), int(ended_at), int(rows_inserted), status, error))
    return int(cur.lastrowid)
