"""The decision path in-process, without an exchange: stored candles -> strategy signals -> decision
row (with rationale and weights) -> sized order intents. The real strategies and decision engine run;
the clock is a ManualClock on the bar grid."""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import pytest

from cockpit.data import DataService
from cockpit.domain.clock import ManualClock
from cockpit.domain.market import timeframe_ms
from cockpit.engine.engine import Engine
from cockpit.engine.eventlog import EventLog
from cockpit.engine.stages import build_stages

pytest.importorskip("cockpit.decision.engine")
pytest.importorskip("cockpit.strategies.registry")


def synthetic(tf: str, n: int, end_ms: int, seed: int) -> pd.DataFrame:
    step = timeframe_ms(tf)
    rng = np.random.default_rng(seed)
    # A trend then a range, so the strategies have something to say.
    drift = np.r_[np.full(n // 2, 0.002), np.full(n - n // 2, -0.0005)]
    close = 60_000 * np.exp(np.cumsum(drift + rng.normal(0, 0.006, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.003, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.003, n))
    ts = end_ms - step * np.arange(n, 0, -1)
    return pd.DataFrame(
        {"timestamp": ts, "open": open_, "high": high, "low": low, "close": close, "volume": rng.uniform(10, 100, n)}
    )


def test_decision_path_writes_decision_and_sizes_intents(db, cfg):
    from cockpit.market.csv_import import insert_candles

    tf_ms = timeframe_ms(cfg["decision_timeframe"])
    now = 1_767_225_600_000 + 600 * tf_ms  # on the bar grid
    with db.atomic():
        for i, tf in enumerate(cfg["timeframes"]):
            insert_candles(db, cfg["symbol"], tf, synthetic(tf, 400, now, seed=i))
    clock = ManualClock(now + 1000)
    out = io.StringIO()
    log = EventLog(fmt="json", stream=out, clock=clock.now_ms)
    stages = build_stages(cfg, log=log, clock=clock, with_exchange=False)
    assert stages.availability["analysis"] == "ok", stages.availability
    assert stages.availability["decision"] == "ok", stages.availability
    engine = Engine(cfg, stages, log=log, db=db)
    bar = now - tf_ms
    engine._decide(bar, time.monotonic())

    rows = DataService(db).decisions(limit=5)
    assert len(rows) == 1, out.getvalue()[-3000:]
    d = rows[0]
    assert d["reasoning"] and d["selector"] in ("offline", "fallback")
    assert isinstance(d["weights"], dict)
    assert engine.status.last_decision_id == d["id"] and engine.status.decisions == 1
    text = out.getvalue()
    assert '"event":"analysis"' in text and '"event":"decision"' in text
    # No order manager here: the engine says so instead of inventing orders.
    assert '"event":"orders_unavailable"' in text
    assert DataService(db).orders(limit=5) == []

    # The sizing stage turns the stored decision into intents consistent with its target exposure.
    analysis = stages.analyze(bar)
    from cockpit.domain.signals import Decision

    # The stored weights column holds each strategy's detail (signal, score, llm, final weight, ...);
    # a Decision carries the final weights.
    weights = {name: float(row["final"]) for name, row in d["weights"].items()}
    dec = Decision(
        symbol=cfg["symbol"],
        timeframe=cfg["decision_timeframe"],
        timestamp=now,
        action="buy",
        confidence=0.5,
        reasoning="x",
        target_exposure=0.8,
        weights=weights,
    )
    intents = stages.plan(d["id"], dec, analysis, {"equity": 10_000.0, "signed_size": 0.0})
    assert intents and intents[0].side == "buy" and intents[0].stop_loss < analysis.price


def test_failing_stage_is_retried_recorded_once_and_never_fatal(db, cfg):
    """A stage that raises: retried, logged each time, one risk event per stage+error per minute."""
    from cockpit.engine.stages import Stages

    calls = []

    def broken():
        calls.append(1)
        raise ConnectionError("exchange unreachable")

    out = io.StringIO()
    clock = ManualClock(1_767_225_600_000)
    engine = Engine(cfg, Stages(clock=clock, availability={}), log=EventLog(fmt="json", stream=out), db=db)
    for _ in range(3):
        assert engine._guard("sync", broken, retries=2) is None
    assert len(calls) == 9  # 3 attempts each time
    assert out.getvalue().count('"event":"stage_error"') == 3
    events = DataService(db).risk_events(rule="engine.sync")
    assert len(events) == 1 and "exchange unreachable" in events[0]["details"]
    assert engine.status.errors == 3 and "unreachable" in engine.status.last_error


def test_live_analysis_classifies_the_regime_with_default_history(db, cfg):
    """engine.history_bars holds enough bars for the regime classifier (ADX, a volatility percentile
    over regime.vol_lookback bars): with 800 stored 1h bars the live analysis names a regime."""
    from cockpit.market.csv_import import insert_candles

    tf = cfg["decision_timeframe"]
    tf_ms = timeframe_ms(tf)
    now = 1_767_225_600_000 + 900 * tf_ms
    with db.atomic():
        insert_candles(db, cfg["symbol"], tf, synthetic(tf, 800, now, seed=5))
    clock = ManualClock(now + 1000)
    stages = build_stages(cfg, log=EventLog(fmt="json", stream=io.StringIO()), clock=clock, with_exchange=False)
    a = stages.analyze(now - tf_ms)
    assert a.regime != "unknown", a.regime
    assert a.regime in ("trending_up", "trending_down", "ranging", "high_volatility")
