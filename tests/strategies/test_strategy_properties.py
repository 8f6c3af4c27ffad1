"""Properties every strategy must have.

* No look-ahead (hypothesis): altering any bars after t (and funding / on-chain points stamped after
  bar t's close) does not change the signal at t.
* The live form equals the vectorised form: ``on_bar`` on a context holding bars 0..t equals
  ``generate`` over the whole history at t, for every bar.
* Every non-flat signal has a stop-loss on the correct side.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.strategies.base import StrategyContext
from cockpit.strategies.library import STRATEGY_CLASSES

H = 3_600_000
T0 = 1_704_067_200_000  # Monday 00:00 UTC

# short periods so every rule fires within a few hundred bars
FAST_PARAMS = {
    "ema_trend": dict(fast=5, slow=13, atr_period=5),
    "bollinger_range": dict(period=10, adx_period=7, atr_period=5, adx_max=40),
    "funding_rate": dict(threshold=0.0003, lookback=2, atr_period=5),
    "breakout": dict(period=10, atr_period=5),
    "grid": dict(period=20, levels=6, range_pct=0.04),
    "momentum": dict(rsi_period=7, roc_period=5, atr_period=5),
    "mean_reversion": dict(period=10, z_entry=1.5, atr_period=5),
    "volatility": dict(period=10, lookback=40, std=1.5, atr_period=5),
    "time_cycle": dict(atr_period=5, session_start_hour=8, session_end_hour=20, trade_weekends=True),
    "onchain": dict(lookback=10, threshold=1.0, atr_period=5),
    # lookbacks are in days: 1, 2 and 4 days of 1h bars
    "trend_core": dict(
        lookback_1=1, lookback_2=2, lookback_3=4, lookback_4=0, vol_days=2, atr_period=5, allow_short=True
    ),
}


def market(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    drift = np.repeat(rng.normal(0, 0.004, n // 40 + 1), 40)[:n]
    vol = np.repeat(rng.uniform(0.002, 0.02, n // 60 + 1), 60)[:n]
    c = 40000 * np.exp(np.cumsum(drift + rng.normal(0, 1, n) * vol))
    o = np.concatenate([[c[0]], c[:-1]])
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.003, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.003, n)))
    return {
        "timestamp": T0 + np.arange(n, dtype=np.int64) * H,
        "open": o,
        "high": h,
        "low": lo,
        "close": c,
        "volume": rng.gamma(2, 10, n),
    }


def funding_for(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    k = n // 8 + 2
    return {"timestamp": T0 + np.arange(k, dtype=np.int64) * 8 * H, "funding_rate": rng.normal(0.0001, 0.0006, k)}


def onchain_for(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed + 2)
    k = n // 4 + 2
    return {
        "timestamp": T0 + np.arange(k, dtype=np.int64) * 4 * H + 1_800_000,
        "value": rng.gamma(2, 50, k) * np.where(rng.random(k) < 0.1, 4, 1),
    }


def make(name: str):
    return STRATEGY_CLASSES[name](FAST_PARAMS[name], timeframe="1h")


def frame_rows(fr, upto: int):
    return (fr.direction[:upto], fr.strength[:upto], fr.stop_loss[:upto], fr.take_profit[:upto], fr.reason[:upto])


@pytest.mark.parametrize("name", list(STRATEGY_CLASSES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), t=st.integers(0, 299), seed2=st.integers(0, 10_000))
def test_no_look_ahead(name, seed, t, seed2):
    n = 300
    a = market(n, seed)
    f = funding_for(n, seed)
    x = {"onchain": onchain_for(n, seed)}
    strat = make(name)
    base = strat.generate(a, f, x)
    # replace everything after bar t with another market, and funding / on-chain after bar t's close
    b = market(n, seed2)
    altered = {k: np.concatenate([a[k][: t + 1], b[k][t + 1 :]]) for k in a}
    close_t = a["timestamp"][t] + H
    f2 = {k: v.copy() for k, v in f.items()}
    f2["funding_rate"][f2["timestamp"] > close_t] = -f2["funding_rate"][f2["timestamp"] > close_t] * 7
    x2 = {"onchain": {k: v.copy() for k, v in x["onchain"].items()}}
    late = x2["onchain"]["timestamp"] > close_t
    x2["onchain"]["value"][late] = x2["onchain"]["value"][late] * 9 + 1000
    other = strat.generate(altered, f2, x2)
    for u, v in zip(frame_rows(base, t + 1), frame_rows(other, t + 1)):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("name", list(STRATEGY_CLASSES))
def test_on_bar_equals_generate_at_every_bar(name):
    n = 260
    a = market(n, seed=123)
    f = funding_for(n, 123)
    x = {"onchain": onchain_for(n, 123)}
    strat = make(name)
    frame = strat.generate(a, f, x)
    active = 0
    for t in range(n):
        now = int(a["timestamp"][t]) + H  # bar t has just closed
        ctx = StrategyContext(
            symbol="BTC/USDT:USDT",
            now_ms=now,
            candles_by_tf={"1h": {k: v[: t + 1] for k, v in a.items()}},
            funding={k: v[f["timestamp"] <= now] for k, v in f.items()},
            extra={"onchain": {k: v[x["onchain"]["timestamp"] <= now] for k, v in x["onchain"].items()}},
        )
        live = strat.on_bar(ctx)
        want = frame.signal_at(t, name, int(a["timestamp"][t]))
        assert live == want, f"bar {t}"
        active += live.direction.sign != 0
    assert active > 0, f"{name} never signalled on the test market"


@pytest.mark.parametrize("name", list(STRATEGY_CLASSES))
def test_every_signal_has_a_stop_on_the_correct_side(name):
    a = market(2000, seed=7)
    fr = make(name).generate(a, funding_for(2000, 7), {"onchain": onchain_for(2000, 7)})
    d = fr.direction
    assert np.all(np.isfinite(fr.stop_loss[d != 0]))
    assert np.all(fr.stop_loss[d > 0] < a["close"][d > 0]) and np.all(fr.stop_loss[d < 0] > a["close"][d < 0])
    tp = fr.take_profit
    assert np.all(~(tp[d > 0] <= a["close"][d > 0])) and np.all(~(tp[d < 0] >= a["close"][d < 0]))
    assert np.all(np.isnan(fr.stop_loss[d == 0])) and np.all(fr.strength[d == 0] == 0)
    assert np.all((fr.strength >= 0) & (fr.strength <= 1))
    assert (d != 0).any()


def test_build_context_reads_closed_bars_and_settled_funding_through_dataservice(ds, db, tmp_path):
    from cockpit.db.models import FundingRate
    from cockpit.market.csv_import import import_csv
    from cockpit.strategies import build_context

    a = market(50, seed=1)
    p = tmp_path / "c.csv"
    with p.open("w") as fh:
        fh.write("timestamp,open,high,low,close,volume\n")
        for i in range(50):
            fh.write(
                f"{a['timestamp'][i]},{a['open'][i]},{a['high'][i]},{a['low'][i]},{a['close'][i]},{a['volume'][i]}\n"
            )
    import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    with db.atomic():
        for i in range(7):
            FundingRate.create(symbol="BTC/USDT:USDT", timestamp=T0 + i * 8 * H, funding_rate=0.0001 * i)
    now = T0 + 20 * H + 30 * 60_000  # 20:30: bars up to 19:00 have closed, the 20:00 bar has not
    ctx = build_context(ds, "BTC/USDT:USDT", ["1h"], now, bars=10)
    c = ctx.candles("1h")
    assert len(c["close"]) == 10 and c["timestamp"][-1] == T0 + 19 * H
    np.testing.assert_allclose(c["close"], a["close"][10:20])
    assert list(ctx.funding["timestamp"]) == [T0, T0 + 8 * H, T0 + 16 * H]
    strat = make("ema_trend")
    full = strat.generate({k: v[:20] for k, v in a.items()})
    sig = strat.on_bar(build_context(ds, "BTC/USDT:USDT", ["1h"], now, bars=1000))
    assert sig == full.signal_at(19, "ema_trend", int(a["timestamp"][19]))


@pytest.mark.shared_data
def test_all_strategies_on_real_candles_and_funding(shared_data_dir):
    import pandas as pd

    from cockpit.config import defaults

    df = pd.read_csv(shared_data_dir / "btc_usdt_swap_1h.csv").iloc[10:]
    fdf = pd.read_csv(shared_data_dir / "btc_usdt_swap_funding_8h.csv")
    a = {k: df[k].to_numpy() for k in df.columns}
    f = {"timestamp": fdf["timestamp"].to_numpy(), "funding_rate": fdf["funding_rate"].to_numpy()}
    cfg = defaults()["strategies"]
    rng = np.random.default_rng(0)
    for name, cls in STRATEGY_CLASSES.items():
        if name == "onchain":
            continue  # no real on-chain series in the shared data
        strat = cls(cfg[name]["params"], timeframe="1h")
        fr = strat.generate(a, f)
        d = fr.direction
        c = a["close"]
        assert (d != 0).sum() > 100, f"{name}: almost never signals on 6 years of BTC"
        assert np.all(fr.stop_loss[d > 0] < c[d > 0]) and np.all(fr.stop_loss[d < 0] > c[d < 0]), name
        # the live form on a context cut at a random bar equals the full-history frame at that bar
        for t in rng.integers(1000, len(c), 5):
            now = int(a["timestamp"][t]) + H
            ctx = StrategyContext(
                "BTC/USDT:USDT",
                now,
                {"1h": {k: v[: t + 1] for k, v in a.items()}},
                {k: v[f["timestamp"] <= now] for k, v in f.items()},
            )
            assert strat.on_bar(ctx) == fr.signal_at(int(t), name, int(a["timestamp"][t])), (name, t)
