"""``cockpit db copy``: move a whole database between SQLite and PostgreSQL, verified per table.

The target is migrated first (same schema on both sides), must be empty, and receives every table
of the source (schema_migrations excepted: the target records its own) in foreign-key order, rows
with their ids, in one transaction, so a failed copy leaves nothing behind. Afterwards each table is
read back on both sides and compared by row count and checksum; identity sequences on PostgreSQL are
moved past the copied ids.

The checksum of a table is order-independent (the sum, mod 2**128, of a SHA-256 per row), so it does
not depend on how each server sorts text; values are normalised so that what SQLite and PostgreSQL
hand back for the same stored value hashes the same (NUMERIC 5 vs 5.0, Decimal vs float).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterator

import peewee

from cockpit.db.migrate import migrate
from cockpit.db.portable import POSTGRES, SQLITE, foreign_keys, insert_rows, list_tables, reset_sequences, table_columns

SKIP = {"schema_migrations"}
_MOD = 1 << 128


class CopyError(RuntimeError):
    """The copy cannot start (target not empty, schema mismatch) or did not verify."""


@dataclass
class TableCopy:
    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


def _norm(v: Any) -> Any:
    if isinstance(v, Decimal):
        v = float(v)
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer() and abs(v) < 2**53:
            return int(v)
        return repr(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "b:" + bytes(v).hex()
    return v


def row_digest(row: tuple) -> int:
    data = json.dumps([_norm(v) for v in row], separators=(",", ":"), ensure_ascii=False, default=str)
    return int.from_bytes(hashlib.sha256(data.encode()).digest()[:16], "big")


def _order(db, tables: list[str]) -> list[str]:
    """Parents before children (foreign keys), otherwise alphabetical."""
    deps = {t: {ref for _, ref in foreign_keys(db, t) if ref in tables and ref != t} for t in tables}
    out: list[str] = []
    while deps:
        ready = sorted(t for t, d in deps.items() if not (d - set(out)))
        if not ready:
            raise CopyError(f"foreign-key cycle among {', '.join(sorted(deps))}")
        out += ready
        for t in ready:
            del deps[t]
    return out


def _pk(db, table: str) -> str:
    pks = [c[0] for c in table_columns(db, table) if c[3]]
    if len(pks) != 1:
        raise CopyError(f"{table}: copy needs a single-column primary key, found {pks or 'none'}")
    return pks[0]


def _rows(db, table: str, cols: list[str], pk: str, batch: int) -> Iterator[list[tuple]]:
    """Batches of rows in primary-key order (keyset pagination: constant memory on large tables)."""
    t = peewee.Table(table)
    key = peewee.Column(t, pk)
    sel = t.select(*[peewee.Column(t, c) for c in cols]).order_by(key).limit(batch)
    pki = cols.index(pk)
    last = None
    while True:
        cur = db.execute(sel if last is None else sel.where(key > last))
        rows = [tuple(r) for r in cur.fetchall()]
        if not rows:
            return
        yield rows
        last = rows[-1][pki]


def table_summary(db, table: str, *, batch: int = 5000) -> tuple[int, str]:
    """(rows, checksum hex) of one table."""
    cols = [c[0] for c in table_columns(db, table)]
    pk = _pk(db, table)
    n, acc = 0, 0
    for rows in _rows(db, table, sorted(cols), pk, batch):  # sorted: column order may differ between backends
        n += len(rows)
        for r in rows:
            acc = (acc + row_digest(r)) % _MOD
    return n, f"{acc:032x}"


def copy_database(src, dst, *, batch: int = 5000, progress: Callable[[str], None] | None = None) -> list[TableCopy]:
    """Copy every table of ``src`` into ``dst`` (both open Peewee databases) and verify it."""
    say = progress or (lambda _m: None)
    migrate(dst)
    src_tables = [t for t in list_tables(src) if t not in SKIP]
    dst_tables = set(list_tables(dst))
    missing = [t for t in src_tables if t not in dst_tables]
    if missing:
        raise CopyError(f"target has no table {', '.join(missing)} (is the source newer than these migrations?)")
    cols_of: dict[str, list[str]] = {}
    for t in src_tables:
        scols = [c[0] for c in table_columns(src, t)]
        dcols = {c[0] for c in table_columns(dst, t)}
        extra = [c for c in scols if c not in dcols]
        if extra:
            raise CopyError(f"target table {t} lacks column(s) {', '.join(extra)}")
        cols_of[t] = scols
    busy = [t for t in src_tables if dst.execute(peewee.Table(t).select(peewee.SQL("1")).limit(1)).fetchone()]
    if busy:
        raise CopyError(f"target is not empty ({', '.join(busy)}); copy only into a freshly created database")
    order = _order(src, src_tables)
    with dst.atomic():
        for t in order:
            n = 0
            for rows in _rows(src, t, cols_of[t], _pk(src, t), batch):
                insert_rows(dst, t, cols_of[t], rows, batch=len(rows))
                n += len(rows)
            say(f"copied {t}: {n} rows")
    reset_sequences(dst, order)
    report = []
    for t in order:
        sn, sc = table_summary(src, t, batch=batch)
        tn, tc = table_summary(dst, t, batch=batch)
        report.append(TableCopy(t, sn, tn, sc, tc))
    return report


__all__ = ["CopyError", "TableCopy", "copy_database", "table_summary", "row_digest", "POSTGRES", "SQLITE"]
