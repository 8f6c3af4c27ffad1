"""A deterministic cockpit database for the UI tests, snapshots, screenshots and the latency bench.

Written with the Peewee models (tests may write rows directly; the app itself only reads through
DataService). Fixed seed, fixed timestamps: NOW is 2026-01-15 14:00:00.400 UTC.
"""

from __future__ import annotations

import json

import numpy as np

from cockpit.db import models as m
from cockpit.domain.market import timeframe_ms

NOW = 1_768_485_600_400  # 2026-01-15 14:00:00.400 UTC
HOUR = 3_600_000
SYMBOL = "BTC/USDT:USDT"

# The latest decision as the engine records it under the defaults (top-1 at full weight, scores = the
# shipped table's expected reward relative to cash): the LLM put 0.60 on trend_core and kept 0.40 in cash.
WEIGHTS = {
    "trend_core": {"signal": "long", "strength": 0.4, "score": 0.11, "llm": 0.60, "final": 0.60},
    "bollinger_range": {"signal": "short", "strength": 0.3, "score": 0.07, "llm": 0.0, "final": 0.0},
    "funding_rate": {"signal": "flat", "strength": 0.0, "score": 0.06, "llm": 0.0, "final": 0.0},
    "mean_reversion": {"signal": "flat", "strength": 0.0, "score": 0.04, "llm": 0.0, "final": 0.0},
    "ema_trend": {"signal": "long", "strength": 0.8, "score": 0.04, "llm": 0.0, "final": 0.0},
    "breakout": {"signal": "long", "strength": 0.6, "score": -0.05, "llm": 0.0, "final": 0.0},
    "volatility": {"signal": "flat", "strength": 0.0, "score": -0.09, "llm": 0.0, "final": 0.0},
    "momentum": {"signal": "long", "strength": 0.5, "score": -0.15, "llm": 0.0, "final": 0.0},
    "grid": {"signal": None, "score": None, "llm": None, "final": 0.0, "disabled": "disabled in config"},
    "time_cycle": {"signal": None, "score": None, "llm": None, "final": 0.0, "disabled": "disabled in config"},
    "onchain": {"signal": None, "score": None, "llm": None, "final": 0.0, "disabled": "disabled in config"},
}


def candles(timeframe: str, n: int, *, seed: int = 7, end_ms: int = NOW) -> list[dict]:
    step = timeframe_ms(timeframe)
    last_open = (end_ms // step) * step
    rng = np.random.default_rng(seed + step % 997)
    vol = 0.004 * np.sqrt(step / HOUR)
    rets = rng.normal(0.0004 * np.sqrt(step / HOUR), vol, n)
    close = 67_412.5 / np.exp(np.cumsum(rets[::-1]))[::-1] * np.exp(rets[-1])
    close[-1] = 67_412.5
    opens = np.concatenate([[close[0] * (1 - rets[0])], close[:-1]])
    wick = np.abs(rng.normal(0, vol / 2, (2, n))) * close
    high = np.maximum(opens, close) + wick[0]
    low = np.minimum(opens, close) - wick[1]
    return [
        dict(
            symbol=SYMBOL,
            timeframe=timeframe,
            timestamp=int(last_open - (n - 1 - i) * step),
            open=round(float(opens[i]), 1),
            high=round(float(high[i]), 1),
            low=round(float(low[i]), 1),
            close=round(float(close[i]), 1),
            volume=round(float(abs(rng.normal(500, 120))), 3),
        )
        for i in range(n)
    ]


# The shape cockpit.risk.manager writes (RiskManager.check's assessment), for the pending order.
_RULES = (
    "kill_switch",
    "max_drawdown",
    "daily_loss",
    "order_rate",
    "max_leverage",
    "price_sanity",
    "stop_loss",
    "take_profit",
    "max_position",
    "effective_leverage",
    "per_trade_risk",
    "total_risk",
    "precision",
)
_PENDING_ASSESSMENT = {
    "status": "reduced",
    "checked_at": NOW - 400,
    "requested_amount": 0.2,
    "approved_amount": 0.12,
    "notional": 0.12 * 67412.5,
    "risk_amount": (67412.5 - 65900.0) * 0.12,
    "risk_pct_equity": (67412.5 - 65900.0) * 0.12 / 10412.3,
    "reasons": [],
    "inputs": {"equity": 10412.3, "mark_price": 67409.8, "entry_price": 67412.5, "position": 0.0, "open_risk": 0.0},
    "rules": {
        r: (
            {
                "status": "reduced",
                "detail": "amount capped at 0.12 BTC (max_position_btc)",
                "amount_before": 0.2,
                "amount_after": 0.12,
            }
            if r == "max_position"
            else {"status": "pass", "detail": ""}
        )
        for r in _RULES
    },
}


def fill_demo(*, bars: int = 120, pending: bool = True, halted: bool = False) -> dict[str, int]:
    """Fill the bound database; returns the ids the tests refer to."""
    for tf in ("15m", "1h", "4h", "1d"):
        m.MarketData.insert_many(candles(tf, bars)).execute()
    m.PriceSnapshot.create(
        symbol=SYMBOL, timestamp=NOW - 400, last_price=67412.5, mark_price=67409.8, index_price=67401.2
    )
    m.FundingRate.create(
        symbol=SYMBOL,
        timestamp=NOW - 6 * HOUR,
        funding_rate=0.0001,
        next_funding_time=NOW - 400 + 3 * HOUR + 12 * 60_000 + 44_000,
    )
    m.OpenInterest.create(symbol=SYMBOL, timestamp=NOW - 400, open_interest=35_750.0, open_interest_value=2.41e9)
    m.LongShortRatio.create(symbol=SYMBOL, timestamp=NOW - 400, ratio=1.08)
    m.Balance.create(currency="USDT", timestamp=NOW - 400, total=10412.3, free=8800.0, used=1612.3)
    m.PositionSnapshot.create(
        symbol=SYMBOL,
        timestamp=NOW - 400,
        side="long",
        size=0.12,
        entry_price=66980.0,
        mark_price=67409.8,
        unrealized_pnl=51.9,
        leverage=2,
        margin=4018.8,
        liquidation_price=34100.0,
        funding_fee=-1.24,
        margin_ratio=0.031,
    )
    m.EngineState.create(
        key="heartbeat",
        value=json.dumps({"ts": NOW - 400, "wall_ms": NOW - 400, "state": "running", "speed": 1, "cycles": 812}),
        updated_at=NOW - 400,
    )
    if halted:
        m.EngineState.create(
            key="kill_switch",
            value=json.dumps({"since": NOW - 1000, "by": "demo", "reason": "operator kill switch"}),
            updated_at=NOW - 1000,
        )

    pv = m.PromptVersion.create(
        name="selector", version="v7", content="You choose among strategies ...", status="published"
    )
    m.PromptVersion.create(
        name="selector", version="v8", content="You choose among strategies, briefly ...", status="draft"
    )
    run = m.LLMRun.create(
        prompt_version=pv,
        timestamp=NOW - 5000,
        request="{}",
        response="{}",
        status="ok",
        latency_ms=1800,
        model="deepseek-chat",
        prompt_tokens=900,
        completion_tokens=210,
    )
    m.DecisionRow.create(
        symbol=SYMBOL,
        timeframe="1h",
        timestamp=NOW - HOUR,
        action="hold",
        confidence=0.4,
        reasoning="Offline scores: no clear edge.",
        selector="fallback",
        fallback_reason="reply was not JSON",
        regime="ranging",
        weights=json.dumps({}),
    )
    dec = m.DecisionRow.create(
        symbol=SYMBOL,
        timeframe="1h",
        timestamp=NOW - 400,
        action="buy",
        confidence=0.68,
        reasoning="model says: \u201cDaily trend intact and trend_core is the only strategy expected to beat cash by "
        "a margin; 0.60 on it, 0.40 in cash while funding stays positive.\u201d | LLM weights trend_core "
        "0.60; net target exposure +0.24",
        llm_run=run,
        prompt_version=pv,
        selector="llm",
        regime="trending_up",
        weights=json.dumps(WEIGHTS),
        target_exposure=0.24,
    )

    filled = m.OrderRow.create(
        symbol=SYMBOL,
        side="buy",
        type="market",
        amount=0.10,
        status="filled",
        client_order_id="ck-40",
        exchange_order_id="ex-40",
        created_at=(NOW - 3 * HOUR) // 1000,
        updated_at=NOW - 3 * HOUR + 2000,
        decision=dec,
        stop_loss=65900.0,
        take_profit=69800.0,
        filled=0.10,
        average_price=66980.0,
        fee=3.35,
        mode="sim",
        decided_by="tester",
        decided_at=NOW - 3 * HOUR + 1000,
    )
    for i, st in enumerate(("new", "pending_approval", "approved", "submitted", "filled")):
        m.OrderLifecycleEvent.create(order=filled, status=st, timestamp=NOW - 3 * HOUR + i * 500)
    m.TradeRow.create(
        order=filled,
        symbol=SYMBOL,
        side="buy",
        price=66980.0,
        amount=0.10,
        fee=3.35,
        fee_currency="USDT",
        timestamp=NOW - 3 * HOUR + 2000,
        exchange_trade_id="t-1",
    )
    ids = {"filled": filled.id, "decision": dec.id}
    if pending:
        po = m.OrderRow.create(
            symbol=SYMBOL,
            side="buy",
            type="market",
            amount=0.12,
            status="pending_approval",
            client_order_id="ck-41",
            created_at=(NOW - 400) // 1000,
            updated_at=NOW - 400,
            decision=dec,
            stop_loss=65900.0,
            take_profit=69800.0,
            mode="sim",
            expires_at=NOW - 400 + 15 * 60_000,
            risk_assessment=json.dumps(_PENDING_ASSESSMENT),
        )
        m.OrderLifecycleEvent.create(order=po, status="new", timestamp=NOW - 400)
        m.OrderLifecycleEvent.create(
            order=po, status="pending_approval", timestamp=NOW - 400, message="policy manual, ttl 15m"
        )
        ids["pending"] = po.id
    for ts, lvl, rule, details in (
        (NOW - 5 * HOUR, "CRITICAL", "drawdown", "drawdown 14.8% near the 15% halt"),
        (NOW - 3 * HOUR, "ERROR", "exchange", "429 rate limit, retried 2x"),
        (NOW - HOUR, "INFO", "daily_loss", "-0.4% of -3.0% limit"),
        (NOW - 400, "WARN", "per_trade_risk", "reduced 0.20→0.12 BTC"),
    ):
        m.RiskEventRow.create(symbol=SYMBOL, timestamp=ts, level=lvl, rule=rule, details=details)
    m.IngestionRun.create(
        source="sim",
        symbol=SYMBOL,
        timeframe="1h",
        data_type="candles",
        started_at=NOW - 60_000,
        ended_at=NOW - 59_000,
        rows_inserted=1,
        status="success",
    )
    m.IngestionRun.create(
        source="sim",
        symbol=SYMBOL,
        timeframe="15m",
        data_type="candles",
        started_at=NOW - 30_000,
        ended_at=NOW - 29_000,
        rows_inserted=0,
        status="failed",
        error="timeout after 10s",
    )
    for strat, regime, er in (
        ("ema_trend", "trending_up", 0.71),
        ("breakout", "trending_up", 0.64),
        ("bollinger_range", "ranging", 0.58),
        ("momentum", "trending_up", 0.52),
    ):
        m.StrategyScore.create(
            version="s3",
            strategy=strat,
            regime=regime,
            expected_reward=er,
            uncertainty=0.1,
            samples=120,
            status="published",
        )
    return ids


def fill_backtest_result(*, name: str = "ema_trend 1h", total_return: float = 0.124, seed: int = 3) -> int:
    """One stored backtest result with an equity curve and trades (as the backtest engine stores them)."""
    rng = np.random.default_rng(seed)
    cfg = m.BacktestConfig.create(
        name=name,
        symbol=SYMBOL,
        timeframe="1h",
        start_time=NOW - 90 * 24 * HOUR,
        end_time=NOW,
        initial_capital=10000.0,
        commission_rate=0.0005,
        strategy_params=json.dumps({"fast": 12, "slow": 26}),
        strategy="ema_trend",
        slippage_bps=2.0,
        leverage=1.0,
    )
    eq = 10000 * np.exp(np.cumsum(rng.normal(total_return / 200, 0.004, 200)))
    curve = [[int(NOW - (200 - i) * 12 * HOUR), round(float(v), 2)] for i, v in enumerate(eq)]
    res = m.BacktestResult.create(
        config=cfg,
        total_return=total_return,
        max_drawdown=-0.061,
        sharpe_ratio=1.42,
        profit_factor=1.61,
        total_trades=14,
        profitable_trades=8,
        win_rate=8 / 14,
        final_equity=float(eq[-1]),
        equity_curve=json.dumps(curve),
        status="done",
        metrics=json.dumps({"cagr": 0.58, "sortino": 2.1, "exposure": 0.43}),
    )
    for i in range(6):
        ts = NOW - (80 - i * 12) * 24 * HOUR
        m.BacktestOrder.create(
            backtest=res,
            timestamp=ts,
            side="buy" if i % 2 == 0 else "sell",
            price=60000 + 500 * i,
            amount=0.1,
            fee=3.0,
            pnl=None if i % 2 == 0 else 50.0 * i,
            reason=("signal", "take_profit", "signal", "stop_loss", "signal", "signal")[i],
            funding=-0.4,
        )
    return res.id


def fill_training_candidate(version: str = "2026-01-15.1", *, report: bool = True, beats: bool = True) -> None:
    """A training candidate (draft score table and prompt) as `cockpit train run` stores it."""
    from cockpit.data.training_store import TrainingStore

    meta: dict = {
        "status": "candidate",
        "train": {"from": "2025-01-01", "to": "2025-12-31"},
        "prompt": {"name": "selector", "version": f"v9-{version}"},
    }
    if report:
        meta["report"] = {"candidate_beats_equal": beats}
    TrainingStore().save_candidate(
        version,
        meta,
        [
            {"strategy": s, "regime": r, "expected_reward": er, "uncertainty": 0.05, "samples": 300}
            for s, r, er in (
                ("ema_trend", "trending_up", 0.74),
                ("breakout", "trending_up", 0.61),
                ("bollinger_range", "ranging", 0.66),
                ("momentum", "trending_up", 0.49),
            )
        ],
        ("selector", f"v9-{version}", "You choose among strategies, briefly; trained scores below ..."),
    )
