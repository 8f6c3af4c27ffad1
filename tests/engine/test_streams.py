"""The engine follows the exchange through streams (exchange.streams): the live price reaches
price_snapshots between ingest cycles, an account event is reconciled at once (not a fast-loop period
later), and a dropped or stalled stream is recorded (risk event, ingestion_runs) and back-filled from
REST when it is live again. In-process engine, the built-in simulator, real ccxt and ccxt.pro."""

from __future__ import annotations

import io
import time

import pytest

from cockpit.config import load_config
from cockpit.data import DataService
from cockpit.engine.engine import Engine
from cockpit.engine.eventlog import EventLog
from cockpit.engine.stages import build_stages

SYM = "BTC/USDT:USDT"


def wait_for(pred, timeout: float = 45.0, what: str = "condition"):
    """Bounded wait (a test must never hang); returns the first truthy value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def engine(db, db_url):
    overrides = {
        "database.url": db_url,
        "sim.history_days": 3,
        "sim.speed": 60.0,
        "exchange.backfill_days": 2,
        # Slow REST loops: whatever arrives sooner came through the streams.
        "engine.fast_loop_s": 30.0,
        "engine.ingest_interval_s": 3600.0,
        "risk.max_snapshot_age_s": 100.0,
        "exchange.stream_stale_s": 1.5,
        "timeframes": ["1h"],
        "decision_timeframe": "1h",
    }
    cfg = load_config(None, environ={}, overrides=overrides)
    out = io.StringIO()
    stages = build_stages(cfg, log=EventLog(fmt="json", stream=out))
    assert stages.streams is not None and stages.simulator is not None, stages.availability
    eng = Engine(cfg, stages, log=EventLog(fmt="json", stream=out), db=db)
    eng.start()
    yield eng
    eng.stop(timeout=10)


def _snapshots(ds: DataService) -> int:
    return ds._q("SELECT COUNT(*) AS n FROM price_snapshots", ())[0]["n"]


def test_streamed_ticker_and_account_events_reach_the_database_between_rest_cycles(engine, db):
    ds = DataService(db)
    sim = engine.stages.simulator
    wait_for(lambda: engine.status.stream == "live", what="the stream to go live")
    first = wait_for(lambda: _snapshots(ds), what="a first price snapshot")
    # The ingest loop sleeps for an hour: new snapshots come from the ticker stream.
    wait_for(lambda: _snapshots(ds) >= first + 3, what="streamed price snapshots")
    latest = ds.latest_price_snapshot(SYM)
    assert latest["last_price"] > 0 and latest["mark_price"] > 0

    # An account event (a fill made outside the engine): the fast loop runs now, not 30 s from now.
    from cockpit.market.exchange import make_exchange

    x = make_exchange(engine.cfg, rest_url=sim.url, credentials=sim.credentials, for_tests=True)
    before = engine.status.cycles
    x.create_order(SYM, "market", "buy", 1.0)
    pos = wait_for(
        lambda: (p := ds.latest_position_snapshot(SYM)) and p["side"] == "long" and p,
        what="the position recorded by the woken fast loop",
    )
    assert float(pos["size"]) == pytest.approx(0.01)  # 1 contract = 0.01 BTC
    wait_for(lambda: engine.status.cycles > before, what="the woken fast cycle to finish")


@pytest.mark.parametrize("kind", ["drop", "stall"])
def test_a_broken_stream_is_recorded_reconnected_and_back_filled(engine, db, kind):
    ds = DataService(db)
    sim = engine.stages.simulator
    wait_for(lambda: engine.status.stream == "live", what="the stream to go live")
    sim.faults.add(kind, path="ws/v5/public/tickers", delay_s=30.0)

    def events(level):
        return [e for e in ds.risk_events(limit=50) if e["rule"] == "engine.stream" and e["level"] == level]

    wait_for(lambda: events("WARN"), what="a WARN risk event for the stream")
    sim.faults.clear()
    wait_for(lambda: events("INFO"), what="the stream live again")
    info = events("INFO")[0]
    assert "back-filled from REST" in str(info["details"])
    runs = [r for r in ds.ingestion_runs(limit=50) if r["data_type"] == "stream"]
    assert {r["status"] for r in runs} == {"failed", "success"}
    assert engine.status.stream == "live"
    n = _snapshots(ds)
    wait_for(lambda: _snapshots(ds) > n, what="streamed prices again after the reconnect")


def test_a_fill_made_while_every_stream_is_down_is_back_filled_from_rest(engine, db):
    """Every push drops its connection (public and private alike) while a fill happens: nothing arrives
    over the streams, yet once they are live again the engine's REST back-fill records the position."""
    ds = DataService(db)
    sim = engine.stages.simulator
    wait_for(lambda: engine.status.stream == "live", what="the stream to go live")
    sim.faults.add("drop", count=-1, path="ws/")
    wait_for(lambda: engine.status.stream in ("stale", "reconnecting"), what="the streams to go down")
    from cockpit.market.exchange import make_exchange

    x = make_exchange(engine.cfg, rest_url=sim.url, credentials=sim.credentials, for_tests=True)
    x.create_order(SYM, "market", "sell", 2.0)
    time.sleep(0.5)  # (the fast loop's own period is 30 s: only the reconnect's back-fill is sooner)
    sim.faults.clear()
    pos = wait_for(
        lambda: (p := ds.latest_position_snapshot(SYM)) and p["side"] == "short" and p,
        what="the position back-filled after the reconnect",
    )
    assert float(pos["size"]) == pytest.approx(0.02)


def test_an_engine_order_filled_by_the_market_reaches_the_orders_table_from_the_stream(db_url, db):
    """The engine's own resting limit order fills as the market moves: the order stream wakes the fast
    loop and its REST sync stores the fill (the Orders pane reads that table) long before its 30 s period."""
    from cockpit.domain.orders import OrderIntent

    overrides = {
        "database.url": db_url,
        "sim.history_days": 3,
        "sim.speed": 0.0,
        "exchange.backfill_days": 2,
        "engine.fast_loop_s": 30.0,
        "engine.ingest_interval_s": 3600.0,
        "risk.max_snapshot_age_s": 100.0,
        "execution.approval": "auto",
        "timeframes": ["1h"],
        "decision_timeframe": "1h",
    }
    cfg = load_config(None, environ={}, overrides=overrides)
    stages = build_stages(cfg, log=EventLog(fmt="json", stream=io.StringIO()))
    eng = Engine(cfg, stages, log=EventLog(fmt="json", stream=io.StringIO()), db=db)
    eng.start()
    try:
        ds = DataService(db)
        sim = stages.simulator
        wait_for(lambda: eng.status.stream == "live" and eng.status.cycles >= 1, what="the engine and its streams")
        now = sim.clock.now_ms()
        px = round(min(sim.market.price_at(now + k * 60_000) for k in range(1, 240)) + 5.0, 1)
        with eng._om_lock:
            oid = stages.orders.submit_intent(
                OrderIntent(
                    symbol=SYM,
                    side="buy",
                    amount=0.01,
                    type="limit",
                    price=px,
                    stop_loss=round(px * 0.95, 1),
                    reason="stream test",
                )
            )
        row = next(o for o in ds.orders(limit=10) if o["id"] == oid)
        assert row["status"] == "submitted", row
        sim.clock.advance(240 * 60_000)  # the market comes down to the order: a maker fill
        wait_for(
            lambda: next(o for o in ds.orders(limit=10) if o["id"] == oid)["status"] == "filled",
            what="the fill in the orders table",
        )
        assert [t for t in ds._q("SELECT * FROM trades WHERE order_id=?", (oid,))]
    finally:
        eng.stop(timeout=10)
