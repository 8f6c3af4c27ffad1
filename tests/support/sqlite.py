"""Reading a cockpit SQLite file from a test the way another process would: its own connection."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def query(path: str | Path, sql: str, *params, missing_ok: bool = False) -> list[dict]:
    """Rows as dicts. ``missing_ok``: [] while the file is not migrated yet (an engine still starting)."""
    con = sqlite3.connect(path, timeout=10)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(sql, params).fetchall()]
    except sqlite3.OperationalError:
        if missing_ok:
            return []
        raise
    finally:
        con.close()
