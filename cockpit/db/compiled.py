"""Peewee queries compiled once and run many times: the live loop's hot reads.

Peewee builds a query's SQL in Python every time it runs one: ~0.7 ms of a 2-core machine's time for the
candle and fingerprint reads the engine makes each decision, more than SQLite takes to answer them
(~0.2 ms). ``run`` builds a query with stand-in values once per database and query shape, keeps the SQL
Peewee generated for that database (so SQLite and PostgreSQL each get their own), and runs it with the real
values. The statement is still Peewee's; nothing here writes SQL.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import peewee

# Per database: query shape -> (SQL, per parameter: the index of the argument it takes, or the constant)
_COMPILED: weakref.WeakKeyDictionary[peewee.Database, dict[tuple, tuple[str, tuple[tuple[Any, Any], ...]]]] = (
    weakref.WeakKeyDictionary()
)
_CONSTANT = object()


def _marks(args: tuple, salt: int) -> tuple:
    """Stand-ins for ``args`` while a query is compiled: values no caller passes (ints for ints, so a
    builder's int() and the fields' conversions leave them as they are), a different set per ``salt``."""
    return tuple(
        -(7_331_000_000_000_000 + 1_000 * salt + i) if isinstance(a, int) else f"\x00arg{i}.{salt}\x00"
        for i, a in enumerate(args)
    )


def _compile(db: peewee.Database, build: Callable[..., peewee.Query], args: tuple):
    """(SQL, per parameter (argument index or _CONSTANT, value)), or None when the query's SQL or constants
    depend on the values: it is compiled with two different sets of stand-ins, which must give the same SQL,
    the same constants, and each argument exactly once as a parameter of its own."""
    out = []
    for salt in (0, 1):
        marks = _marks(args, salt)
        sql, params = db.get_sql_context().sql(build(*marks)).query()
        where = {mk: i for i, mk in enumerate(marks)}
        out.append((sql, [(where.get(v, _CONSTANT) if isinstance(v, (int, str)) else _CONSTANT, v) for v in params]))
    (sql, a), (sql2, b) = out
    if sql != sql2 or len(a) != len(b):
        return None
    for (i, v), (j, w) in zip(a, b):
        if (i is _CONSTANT) != (j is _CONSTANT):
            return None
        if i is _CONSTANT:
            if not (type(v) is type(w) and v == w):  # a constant that follows an argument's value
                return None
        elif i != j:
            return None
    if sorted(i for i, _ in a if isinstance(i, int)) != list(range(len(args))):
        return None
    return sql, tuple(a)


def run(database: peewee.Database | peewee.DatabaseProxy, key: tuple, build: Callable[..., peewee.Query], *args: Any):
    """The cursor of ``build(*args)`` run on ``database``, its SQL generated once per database and ``key``.

    ``key`` must name the query's shape: everything about ``build``'s query except the values in ``args``
    (ints and strings). Should a value not come out as one parameter of its own (a builder that folds it
    into the SQL or into another value, or uses it twice), nothing is kept and the query runs as built,
    every time."""
    db = database.obj if isinstance(database, peewee.DatabaseProxy) else database
    if db is None:
        return database.execute(build(*args))  # Peewee's own error for a proxy not yet initialised
    per_db = _COMPILED.get(db)
    if per_db is None:
        per_db = _COMPILED.setdefault(db, {})
    done = per_db.get(key)
    if done is None:
        done = _compile(db, build, args)
        if done is None:
            return db.execute(build(*args))
        per_db[key] = done
    sql, slots_params = done
    return db.execute_sql(sql, [v if i is _CONSTANT else args[i] for i, v in slots_params])
