"""One scenario through every store, read back through DataService: run on SQLite and on PostgreSQL,
the answers must be the same (server-side created_at aside)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SYMBOL = "BTC/USDT:USDT"
T0 = 1_700_000_000_000
H = 3_600_000


def candles(n: int = 300, gap_at: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    ts = T0 + H * np.arange(n + 1, dtype=np.int64)
    ts = np.delete(ts, gap_at)  # one missing bar
    close = 35_000 + np.cumsum(rng.normal(0, 50, len(ts)))
    return pd.DataFrame(
        {
            "timestamp": ts,
            "open": close + 0.1,
            "high": close + 25.5,
            "low": close - 25.25,
            "close": close,
            "volume": rng.uniform(0.001, 99.0, len(ts)),
        }
    )


def write(db) -> dict[str, Any]:
    """Write through the stores (what the engine, the ingestor, training and the operator do)."""
    from cockpit.data import engine_store
    from cockpit.data.backtest_store import save_backtest
    from cockpit.data.decision_store import DecisionStore
    from cockpit.data.operator import finish_command, submit_command
    from cockpit.data.order_store import OrderStore
    from cockpit.data.risk_store import RiskStore
    from cockpit.data.training_store import TrainingStore
    from cockpit.db.models import FundingRate
    from cockpit.db.portable import insert_many_ignore
    from cockpit.domain.orders import Fill, Order, OrderStatus, Position
    from cockpit.market.csv_import import insert_candles

    out: dict[str, Any] = {}
    df = candles()
    with db.atomic():
        out["inserted"] = insert_candles(db, SYMBOL, "1h", df)
    with db.atomic():
        out["inserted_again"] = insert_candles(db, SYMBOL, "1h", df)
    funding = [(SYMBOL, T0 + 8 * H * i, 0.0001 * (i % 3 - 1), T0 + 8 * H * (i + 1)) for i in range(20)]
    with db.atomic():
        out["funding"] = insert_many_ignore(
            db,
            FundingRate,
            (FundingRate.symbol, FundingRate.timestamp, FundingRate.funding_rate, FundingRate.next_funding_time),
            funding + funding[:5],
        )

    ds = DecisionStore(db)
    out["pv"] = [ds.ensure_prompt_version("decide", "v1", "text 100% sure?") for _ in range(2)]
    out["mv"] = ds.ensure_model_version("deepseek", "deepseek-chat@t=0.2", {"t": 0.2})
    out["run"] = ds.insert_llm_run(
        timestamp=T0,
        prompt_version_id=out["pv"][0],
        model_version_id=out["mv"],
        model="deepseek-chat",
        request={"q": 1},
        response="{}",
        status="ok",
        latency_ms=12,
        prompt_tokens=100,
        completion_tokens=20,
    )
    ds.update_llm_run_status(out["run"], "rejected", "bad json")
    out["risk"] = ds.insert_risk_event(symbol=SYMBOL, timestamp=T0, level="WARN", rule="llm_output", details="x")

    store = OrderStore(db)
    out["ns_len"] = len(store.client_id_namespace(now_ms=T0))
    order = Order(
        symbol=SYMBOL,
        side="buy",
        type="limit",
        amount=0.013,
        price=35_000.5,
        stop_loss=34_000.0,
        take_profit=37_000.25,
        leverage=3.0,
        client_order_id="cpabc-1",
    )
    oid, created = store.create(
        order, now_ms=T0, status=OrderStatus.PENDING_APPROVAL, expires_at=T0 + 60_000, risk_assessment={"ok": True}
    )
    out["again"] = store.create(order, now_ms=T0)
    store.transition(oid, OrderStatus.APPROVED, now_ms=T0 + 1, message="approved by test", decided_by="op")
    store.transition(oid, OrderStatus.SUBMITTED, now_ms=T0 + 2, exchange_order_id="X1")
    fill = Fill(
        order_client_id="cpabc-1",
        side="buy",
        price=35_000.5,
        amount=0.013,
        fee=0.182,
        fee_currency="USDT",
        timestamp=T0 + 3,
        trade_id="t-1",
    )
    out["fills"] = [store.record_fill(oid, SYMBOL, fill), store.record_fill(oid, SYMBOL, fill)]
    out["totals"] = store.fill_totals(oid)
    store.transition(oid, OrderStatus.FILLED, now_ms=T0 + 4, filled=0.013, average_price=35_000.5, fee=0.182)
    pos = Position(
        symbol=SYMBOL, side="long", size=0.013, entry_price=35_000.5, leverage=3.0, margin=151.67, mark_price=35_010.0
    )
    store.record_position(pos, now_ms=T0 + 5)
    store.record_position(pos, now_ms=T0 + 5)  # same snapshot again: replaced, not duplicated
    store.record_balance("USDT", 10_000.0, 9_848.33, 151.67, now_ms=T0 + 5)
    store.record_balance("USDT", 10_001.0, 9_849.33, 151.67, now_ms=T0 + 5)

    engine_store.set_state("heartbeat", {"n": 1}, now_ms=T0, db=db)
    engine_store.set_state("heartbeat", {"n": 2}, now_ms=T0 + 1, db=db)
    out["ev"] = engine_store.record_risk_event(
        SYMBOL, now_ms=T0, level="ERROR", rule="exchange", details={"e": 1}, db=db
    )
    out["ing"] = engine_store.record_ingestion_run(
        source="sim",
        symbol=SYMBOL,
        data_type="ohlcv",
        started_at=T0,
        ended_at=T0 + 9,
        status="success",
        rows_inserted=3,
        db=db,
    )
    rs = RiskStore(db)
    rs.set_kill_switch(True, now_ms=T0, by="test", reason="why")
    out["peak"] = [rs.peak_equity(100.0, now_ms=T0), rs.peak_equity(90.0, now_ms=T0 + 1)]

    cmd = submit_command("approve", now_ms=T0, order_id=oid, payload={"why": "ok"}, operator="tester", db=db)
    finish_command(cmd, now_ms=T0 + 1, ok=True, result="done", db=db)
    out["cmd2"] = submit_command("kill", now_ms=T0 + 2, operator="tester", db=db)

    ts = TrainingStore(db)
    out["mid"] = ts.save_candidate(
        "t1",
        {"k": 1},
        [
            {"strategy": "trend", "regime": "bull", "expected_reward": 0.5, "uncertainty": 0.1, "samples": 9},
            {"strategy": "meanrev", "regime": "range", "expected_reward": -0.25, "samples": 3},
        ],
        ("decide", "t1-prompt", "draft text"),
    )
    ts.publish("t1", {"k": 2}, ("decide", "t1-prompt"))
    out["bt"] = save_backtest(
        db,
        config={
            "name": "bt",
            "symbol": SYMBOL,
            "timeframe": "1h",
            "start_time": T0,
            "end_time": T0 + 100 * H,
            "initial_capital": 10_000.0,
            "commission_rate": 0.0005,
            "strategy": "trend",
            "strategy_params": {"a": 1},
        },
        metrics={"total_return": 0.1, "trades": 2, "final_equity": 11_000.0},
        equity_curve=[[T0, 10_000.0]],
        trade_log=[],
        decisions=[],
        orders=[{"timestamp": T0, "side": "buy", "price": 1.5, "amount": 2.0, "fee": 0.1}],
        positions=[],
    )
    return out


def _strip(v: Any) -> Any:
    if isinstance(v, list):
        return [_strip(x) for x in v]
    if isinstance(v, dict):
        return {k: _strip(x) for k, x in v.items() if k != "created_at"}
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, pd.DataFrame):
        return v.to_dict("list")
    return v


def read(db) -> dict[str, Any]:
    """Everything the UI and the engine read, through DataService."""
    from cockpit.data import DataService

    ds = DataService(db)
    out = {
        "arrays": ds.candle_arrays(SYMBOL, "1h", limit=50),
        "candles": ds.candles(SYMBOL, "1h", start=T0 + 90 * H, end=T0 + 110 * H),
        "arrays_range": ds.candle_arrays(SYMBOL, "1h", start=T0 + 20 * H, end=T0 + 60 * H, limit=7),
        # sums of floats: each database adds in its own order, so to 6 significant digits
        "fingerprint": [
            float(f"{float(x):.6g}") for x in ds.candle_fingerprint(SYMBOL, "1h", T0 + 20 * H, T0 + 60 * H)
        ],
        "funding_range": ds.funding_rates(SYMBOL, start=T0, end=T0 + 48 * H),
        "latest": ds.latest_candle_time(SYMBOL, "1h"),
        "coverage": ds.coverage(),
        "gaps": ds.gaps(SYMBOL, "1h"),
        "funding": ds.funding_rates(SYMBOL, limit=5),
        "llm_runs": ds.llm_runs(),
        "tokens": ds.llm_tokens_since(0),
        "prompts": ds.prompt_versions(),
        "models": ds.model_versions(),
        "scores": ds.strategy_scores(),
        "orders": ds.orders(),
        "order": ds.order_by_client_id("cpabc-1"),
        "events": ds.order_events(1),
        "trades": ds.trades(),
        "positions": ds.positions(),
        "snapshots": ds.position_snapshots(SYMBOL),
        "balances": ds.balances(),
        "risk": ds.risk_events(),
        "ingestion": ds.ingestion_runs(),
        "state": ds.engine_state("heartbeat"),
        "kill": ds.engine_state_row("kill_switch"),
        "commands": ds.operator_commands(status=None),
        "pending": ds.operator_commands(),
        "backtests": ds.backtest_results(),
        "backtest_orders": ds.backtest_orders(1),
        "follow": ds.rows_since("order_lifecycle_events", 1),
        "max_id": ds.max_id("orders"),
        "counts": ds.table_counts(),
    }
    return _strip(out)
