"""ContextCache (the live loop's build_context): reads only the candles newer than the previous decision's,
and its context equals build_context's for the same database; any rewritten, back-filled or earlier
history makes it read the timeframe in full again (never a decision on a stale window)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cockpit.db.models import MarketData
from cockpit.domain.market import timeframe_ms
from cockpit.market.csv_import import insert_candles
from cockpit.strategies.base import ContextCache, build_context

SYMBOL = "BTC/USDT:USDT"
TFS = ("1h", "4h")
BARS = 20
T0 = 1_700_000_000_000 // 86_400_000 * 86_400_000


def candles(tf: str, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    c = 30000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = np.concatenate([[c[0]], c[:-1]])
    return pd.DataFrame(
        {
            "timestamp": T0 + np.arange(n, dtype=np.int64) * timeframe_ms(tf),
            "open": o,
            "high": np.maximum(o, c) * 1.001,
            "low": np.minimum(o, c) * 0.999,
            "close": c,
            "volume": rng.gamma(2, 10, n),
        }
    )


def same(a, b) -> None:
    assert a.candles_by_tf.keys() == b.candles_by_tf.keys()
    for tf in a.candles_by_tf:
        x, y = a.candles_by_tf[tf], b.candles_by_tf[tf]
        assert x.keys() == y.keys()
        for k in x:
            assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k]), (tf, k)
    for k in a.funding:
        assert np.array_equal(a.funding[k], b.funding[k])


def fill(db, upto_hours: int, missing: int | None = None) -> dict[str, pd.DataFrame]:
    series = {"1h": candles("1h", 400, 1), "4h": candles("4h", 100, 2)}
    with db.atomic():
        for tf, df in series.items():
            df = df[df.timestamp < T0 + upto_hours * 3_600_000]
            if missing is not None and tf == "1h":
                df = df[df.timestamp != missing]
            insert_candles(db, SYMBOL, tf, df)
    return series


def test_appended_bars_are_read_incrementally_and_equal_a_full_read(db, ds):
    series = fill(db, 100)
    cache = ContextCache()
    for h in range(100, 200):
        now = T0 + h * 3_600_000
        with db.atomic():  # the hour that just closed (and the 4h bar when it closes)
            for tf, df in series.items():
                insert_candles(db, SYMBOL, tf, df[(df.timestamp >= now - timeframe_ms(tf)) & (df.timestamp < now)])
        got = cache.build(ds, SYMBOL, TFS, now + 3_600_000, BARS)
        same(got, build_context(ds, SYMBOL, TFS, now + 3_600_000, BARS))
        got.candles("1h")["close"][:] = 0.0  # a caller changing its copy does not reach the cache
    assert cache.full_reads == len(TFS) and cache.incremental_reads == 99 * len(TFS)


def test_rewritten_backfilled_or_earlier_history_is_read_in_full(db, ds):
    gap = T0 + 190 * 3_600_000
    fill(db, 200, missing=gap)
    cache = ContextCache()
    now = T0 + 201 * 3_600_000
    same(cache.build(ds, SYMBOL, TFS, now, BARS), build_context(ds, SYMBOL, TFS, now, BARS))

    def check(full: int = 1) -> None:
        before = cache.full_reads
        same(cache.build(ds, SYMBOL, TFS, now, BARS), build_context(ds, SYMBOL, TFS, now, BARS))
        assert cache.full_reads == before + full, "the window changed under the cache: it must be read in full"

    # a stored candle inside the window rewritten
    MarketData.update(close=MarketData.close * 1.5).where(
        (MarketData.timeframe == "1h") & (MarketData.timestamp == T0 + 185 * 3_600_000)
    ).execute()
    check()
    # the missing hour back-filled
    insert_candles(db, SYMBOL, "1h", candles("1h", 400, 1).query("timestamp == @gap"))
    check()
    # one candle's volume only
    MarketData.update(volume=MarketData.volume + 1).where(
        (MarketData.timeframe == "1h") & (MarketData.timestamp == T0 + 199 * 3_600_000)
    ).execute()
    check()
    # a candle deleted
    MarketData.delete().where((MarketData.timeframe == "1h") & (MarketData.timestamp == T0 + 183 * 3_600_000)).execute()
    check()
    # the clock earlier than the newest candle held
    now = T0 + 195 * 3_600_000
    check(full=len(TFS))
    before = cache.incremental_reads
    same(cache.build(ds, SYMBOL, TFS, now, BARS), build_context(ds, SYMBOL, TFS, now, BARS))
    assert cache.incremental_reads == before + len(TFS)  # nothing changed: nothing read in full
