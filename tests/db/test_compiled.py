"""cockpit.db.compiled: the hot reads compile their Peewee query once per database and shape, and give the
same rows as the query built and run each time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from peewee import fn

from cockpit.data import DataService
from cockpit.db import compiled
from cockpit.db import models as m
from cockpit.db.connection import database_proxy
from cockpit.market.csv_import import insert_candles

H = 3_600_000


def _fill(db, n: int = 300) -> None:
    rng = np.random.default_rng(3)
    c = 30000 + np.cumsum(rng.normal(0, 50, n))
    for sym in ("BTC/USDT:USDT", "ETH/USDT:USDT"):
        for tf, step in (("1h", H), ("4h", 4 * H)):
            df = pd.DataFrame(
                {
                    "timestamp": 1_700_000_000_000 + np.arange(n, dtype=np.int64) * step,
                    "open": c,
                    "high": c + 10,
                    "low": c - 10,
                    "close": c + (1 if sym.startswith("E") else 0),
                    "volume": rng.gamma(2, 10, n),
                }
            )
            with db.atomic():
                insert_candles(db, sym, tf, df)
    with db.atomic():
        m.FundingRate.insert_many(
            [
                {"symbol": "BTC/USDT:USDT", "timestamp": 1_700_000_000_000 + k * 8 * H, "funding_rate": k * 1e-6}
                for k in range(90)
            ]
        ).execute()


def _built_each_time(symbol, tf, start=None, end=None, limit=None):
    """candle_arrays' query as Peewee builds and runs it, for comparison."""
    c = m.MarketData
    q = c.select(c.timestamp, c.open, c.high, c.low, c.close, c.volume).where(
        (c.symbol == symbol) & (c.timeframe == tf)
    )
    if start is not None:
        q = q.where(c.timestamp >= start)
    if end is not None:
        q = q.where(c.timestamp <= end)
    q = q.order_by(c.timestamp.desc()).limit(limit) if limit is not None else q.order_by(c.timestamp.asc())
    rows = database_proxy.execute(q).fetchall()
    return rows[::-1] if limit is not None else rows


def test_compiled_reads_equal_the_queries_built_each_time(db):
    _fill(db)
    ds = DataService(db)
    rng = np.random.default_rng(7)
    t0 = 1_700_000_000_000
    for _ in range(200):
        sym = str(rng.choice(["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]))
        tf = str(rng.choice(["1h", "4h"]))
        start = None if rng.random() < 0.3 else int(t0 + rng.integers(-5, 400) * H)
        end = None if rng.random() < 0.3 else int(t0 + rng.integers(-5, 1300) * H)
        limit = None if rng.random() < 0.3 else int(rng.integers(0, 350))
        got = ds.candle_arrays(sym, tf, start=start, end=end, limit=limit)
        want = _built_each_time(sym, tf, start, end, limit)
        assert len(got["timestamp"]) == len(want), (sym, tf, start, end, limit)
        if want:
            w = np.array(want, dtype=np.float64)
            assert np.array_equal(got["timestamp"], w[:, 0].astype(np.int64))
            assert np.array_equal(got["close"], w[:, 4])
        if start is not None and end is not None:
            c = m.MarketData
            fp = database_proxy.execute(
                c.select(
                    fn.COUNT(c.timestamp),
                    *(fn.SUM(getattr(c, k)) for k in ("timestamp", "open", "high", "low", "close", "volume")),
                ).where((c.symbol == sym) & (c.timeframe == tf) & (c.timestamp >= start) & (c.timestamp <= end))
            ).fetchone()
            assert ds.candle_fingerprint(sym, tf, start, end) == tuple(fp)
    f = ds.funding_rates("BTC/USDT:USDT", limit=10)
    assert list(f["funding_rate"]) == [k * 1e-6 for k in range(80, 90)]
    f = ds.funding_rates("BTC/USDT:USDT", start=t0 + 8 * H, end=t0 + 24 * H)
    assert list(f["timestamp"]) == [t0 + 8 * H, t0 + 16 * H, t0 + 24 * H]


def test_the_sql_is_generated_once_per_shape_and_database(db, tmp_path):
    _fill(db)
    calls = []

    def build(symbol, tf, end):
        calls.append((symbol, tf, end))
        c = m.MarketData
        return (
            c.select(c.close)
            .where((c.symbol == symbol) & (c.timeframe == tf) & (c.timestamp <= end))
            .order_by(c.timestamp)
        )

    t0 = 1_700_000_000_000
    a = compiled.run(db, ("t", 1), build, "BTC/USDT:USDT", "1h", t0 + 2 * H).fetchall()
    b = compiled.run(db, ("t", 1), build, "ETH/USDT:USDT", "4h", t0 + 8 * H).fetchall()
    # compiled once (built twice with two sets of stand-ins), never with either caller's values
    assert len(calls) == 2
    assert not {"BTC/USDT:USDT", "ETH/USDT:USDT"} & {s for s, _, _ in calls}
    assert len(a) == 3 and len(b) == 3 and b[0][0] == a[0][0] + 1  # ETH's closes are BTC's + 1

    from cockpit.db import open_database, migrate

    other = open_database(f"sqlite:///{tmp_path / 'other.db'}")  # another database gets its own compile
    try:
        migrate(other)
        assert compiled.run(other, ("t", 1), build, "BTC/USDT:USDT", "1h", t0 + 2 * H).fetchall() == []
        assert len(calls) == 4
    finally:
        other.close()


def test_a_builder_that_folds_a_value_into_the_sql_is_run_as_built_every_time(db):
    _fill(db)
    calls = []

    def build(symbol, n):
        calls.append(n)
        c = m.MarketData
        # n used twice: cannot be one parameter of its own
        return c.select(c.close).where(
            (c.symbol == symbol) & (c.timestamp >= 1_700_000_000_000 + n) & (c.timestamp >= n)
        )

    x = compiled.run(db, ("fold",), build, "BTC/USDT:USDT", 5 * H).fetchall()
    y = compiled.run(db, ("fold",), build, "BTC/USDT:USDT", 295 * H).fetchall()
    assert [n for n in calls if n > 0] == [5 * H, 295 * H]  # built with the real values each time
    c = m.MarketData
    for rows, n in ((x, 5 * H), (y, 295 * H)):
        want = c.select(c.close).where((c.symbol == "BTC/USDT:USDT") & (c.timestamp >= 1_700_000_000_000 + n))
        assert len(rows) == want.count() > 0


def test_an_unset_proxy_raises_peeweess_own_error():
    import peewee

    proxy = peewee.DatabaseProxy()
    with pytest.raises(AttributeError):
        compiled.run(
            proxy,
            ("x",),
            lambda: m.MarketData.select(),
        )
