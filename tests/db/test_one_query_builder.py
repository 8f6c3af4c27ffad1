"""One way to reach the database: the stores, DataService and the market ingest build their statements
with Peewee's query builder, so the same query serves SQLite and PostgreSQL with no SQL rewriting."""

from __future__ import annotations

import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "cockpit"


def test_stores_and_ingest_write_no_raw_sql():
    raw = []
    for folder in ("data", "market"):
        for path in sorted((PKG / folder).glob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"\.execute_sql\(|\.executemany\(", line):
                    raw.append(f"{path.relative_to(PKG.parent)}:{n}: {line.strip()}")
    assert raw == [], "raw SQL outside cockpit/db (build it with Peewee):\n" + "\n".join(raw)


def test_no_run_time_sql_translation():
    assert not (PKG / "db" / "dialect.py").exists()
    users = [
        str(p.relative_to(PKG.parent))
        for p in PKG.rglob("*.py")
        if re.search(r"cockpit\.db\.dialect|from cockpit\.db import .*\bdialect\b", p.read_text(encoding="utf-8"))
    ]
    assert users == []
