"""Peewee models, one per table of migrations/ (tests check that they agree column by column).

The schema itself is owned by the SQL migrations; these models never create tables.
"""

from __future__ import annotations

import peewee as pw

from cockpit.db.connection import database_proxy

NOW = pw.SQL("DEFAULT (strftime('%s', 'now'))")


class NumericField(pw.FloatField):
    """NUMERIC column read back as float (money and sizes are floats in the engine)."""

    field_type = "NUMERIC"


class BaseModel(pw.Model):
    # Peewee adds an auto-increment ``id`` primary key to every model that declares none (all but EngineState);
    # declared here for the type checker only (an annotation, not a field: Peewee ignores annotations).
    id: pw.AutoField[int]

    class Meta:
        database = database_proxy
        legacy_table_names = False


def created_at() -> pw.IntegerField:
    return pw.IntegerField(null=True, constraints=[NOW])


# ---- 5.2.1 / 5.2.2 market data


class MarketData(BaseModel):
    symbol = pw.TextField()
    timeframe = pw.TextField()
    timestamp = pw.IntegerField()
    open = NumericField()
    high = NumericField()
    low = NumericField()
    close = NumericField()
    volume = NumericField()
    created_at = created_at()

    class Meta:
        table_name = "market_data"


class FundingRate(BaseModel):
    symbol = pw.TextField()
    timestamp = pw.IntegerField()
    funding_rate = NumericField()
    next_funding_time = pw.IntegerField(null=True)
    created_at = created_at()

    class Meta:
        table_name = "funding_rates"


class PriceSnapshot(BaseModel):
    symbol = pw.TextField()
    timestamp = pw.IntegerField()
    last_price = NumericField(null=True)
    mark_price = NumericField(null=True)
    index_price = NumericField(null=True)
    created_at = created_at()

    class Meta:
        table_name = "price_snapshots"


class OpenInterest(BaseModel):
    symbol = pw.TextField()
    timestamp = pw.IntegerField()
    open_interest = NumericField()
    open_interest_value = NumericField(null=True)
    created_at = created_at()

    class Meta:
        table_name = "open_interest"


class LongShortRatio(BaseModel):
    symbol = pw.TextField()
    timestamp = pw.IntegerField()
    ratio = NumericField()
    created_at = created_at()

    class Meta:
        table_name = "long_short_ratio"


# ---- 5.2.3 LLM


class PromptVersion(BaseModel):
    name = pw.TextField()
    version = pw.TextField()
    content = pw.TextField()
    created_at = created_at()
    status = pw.TextField(default="published")

    class Meta:
        table_name = "prompt_versions"


class ModelVersion(BaseModel):
    name = pw.TextField()
    version = pw.TextField()
    metadata = pw.TextField(null=True)
    created_at = created_at()

    class Meta:
        table_name = "model_versions"


class LLMRun(BaseModel):
    prompt_version = pw.ForeignKeyField(PromptVersion, null=True, column_name="prompt_version_id")
    model_version = pw.ForeignKeyField(ModelVersion, null=True, column_name="model_version_id")
    timestamp = pw.IntegerField()
    request = pw.TextField(null=True)
    response = pw.TextField(null=True)
    status = pw.TextField(null=True)
    latency_ms = pw.IntegerField(null=True)
    created_at = created_at()
    model = pw.TextField(null=True)
    prompt_tokens = pw.IntegerField(null=True)
    completion_tokens = pw.IntegerField(null=True)
    error = pw.TextField(null=True)

    class Meta:
        table_name = "llm_runs"


# ---- 5.2.4 decisions


class DecisionRow(BaseModel):
    symbol = pw.TextField()
    timeframe = pw.TextField()
    timestamp = pw.IntegerField()
    action = pw.TextField()
    confidence = pw.FloatField(null=True)
    reasoning = pw.TextField(null=True)
    technical_analysis = pw.TextField(null=True)
    risk_assessment = pw.TextField(null=True)
    llm_response = pw.TextField(null=True)
    llm_run = pw.ForeignKeyField(LLMRun, null=True, column_name="llm_run_id")
    prompt_version = pw.ForeignKeyField(PromptVersion, null=True, column_name="prompt_version_id")
    model_version = pw.ForeignKeyField(ModelVersion, null=True, column_name="model_version_id")
    created_at = created_at()
    regime = pw.TextField(null=True)
    selector = pw.TextField(null=True)
    fallback_reason = pw.TextField(null=True)
    weights = pw.TextField(null=True)
    target_exposure = pw.FloatField(null=True)

    class Meta:
        table_name = "decisions"


# ---- 5.2.5 - 5.2.11 trading


class OrderRow(BaseModel):
    symbol = pw.TextField()
    side = pw.TextField()
    type = pw.TextField()
    price = NumericField(null=True)
    amount = NumericField()
    leverage = NumericField(null=True)
    status = pw.TextField()
    client_order_id = pw.TextField(null=True)
    exchange_order_id = pw.TextField(null=True)
    time_in_force = pw.TextField(null=True)
    created_at = created_at()
    updated_at = pw.IntegerField(null=True)
    decision = pw.ForeignKeyField(DecisionRow, null=True, column_name="decision_id")
    decision_id: int | None  # Peewee's accessor of the foreign key's value (declared for the type checker only)
    leg = pw.IntegerField(default=0)
    reduce_only = pw.IntegerField(default=0)
    stop_loss = NumericField(null=True)
    take_profit = NumericField(null=True)
    filled = NumericField(default=0)
    average_price = NumericField(null=True)
    fee = NumericField(default=0)
    mode = pw.TextField(null=True)
    expires_at = pw.IntegerField(null=True)
    decided_by = pw.TextField(null=True)
    decided_at = pw.IntegerField(null=True)
    reason = pw.TextField(null=True)
    risk_assessment = pw.TextField(null=True)

    class Meta:
        table_name = "orders"


class OrderLifecycleEvent(BaseModel):
    order = pw.ForeignKeyField(OrderRow, column_name="order_id", backref="events")
    status = pw.TextField()
    message = pw.TextField(null=True)
    timestamp = pw.IntegerField()
    created_at = created_at()

    class Meta:
        table_name = "order_lifecycle_events"


class TradeRow(BaseModel):
    order = pw.ForeignKeyField(OrderRow, column_name="order_id", backref="trades")
    symbol = pw.TextField()
    side = pw.TextField()
    price = NumericField()
    amount = NumericField()
    fee = NumericField(null=True)
    fee_currency = pw.TextField(null=True)
    realized_pnl = NumericField(null=True)
    timestamp = pw.IntegerField()
    created_at = created_at()
    exchange_trade_id = pw.TextField(null=True)

    class Meta:
        table_name = "trades"


class PositionRow(BaseModel):
    symbol = pw.TextField()
    side = pw.TextField()
    size = NumericField()
    entry_price = NumericField()
    leverage = NumericField(null=True)
    unrealized_pnl = NumericField(null=True)
    margin = NumericField(null=True)
    liquidation_price = NumericField(null=True)
    updated_at = pw.IntegerField(null=True, constraints=[NOW])

    class Meta:
        table_name = "positions"


class PositionSnapshot(BaseModel):
    symbol = pw.TextField()
    timestamp = pw.IntegerField()
    side = pw.TextField()
    size = NumericField()
    entry_price = NumericField(null=True)
    mark_price = NumericField(null=True)
    unrealized_pnl = NumericField(null=True)
    leverage = NumericField(null=True)
    margin = NumericField(null=True)
    liquidation_price = NumericField(null=True)
    created_at = created_at()
    funding_fee = NumericField(null=True)  # 003: funding settled since the position opened (negative = paid)
    margin_ratio = NumericField(null=True)  # 003: maintenance margin / collateral

    class Meta:
        table_name = "position_snapshots"


class Balance(BaseModel):
    currency = pw.TextField()
    timestamp = pw.IntegerField()
    total = NumericField()
    free = NumericField(null=True)
    used = NumericField(null=True)
    created_at = created_at()

    class Meta:
        table_name = "balances"


class RiskEventRow(BaseModel):
    symbol = pw.TextField()
    timestamp = pw.IntegerField()
    level = pw.TextField()
    rule = pw.TextField()
    details = pw.TextField(null=True)
    created_at = created_at()

    class Meta:
        table_name = "risk_events"


class IngestionRun(BaseModel):
    source = pw.TextField()
    symbol = pw.TextField()
    timeframe = pw.TextField(null=True)
    data_type = pw.TextField()
    started_at = pw.IntegerField()
    ended_at = pw.IntegerField(null=True)
    rows_inserted = pw.IntegerField(null=True)
    status = pw.TextField()
    error = pw.TextField(null=True)

    class Meta:
        table_name = "ingestion_runs"


# ---- 5.2.13 - 5.2.17 backtests


class BacktestConfig(BaseModel):
    name = pw.TextField()
    symbol = pw.TextField()
    timeframe = pw.TextField()
    start_time = pw.IntegerField()
    end_time = pw.IntegerField()
    initial_capital = NumericField()
    commission_rate = NumericField()
    strategy_params = pw.TextField(null=True)
    created_at = created_at()
    strategy = pw.TextField(null=True)
    slippage_bps = NumericField(null=True)
    leverage = NumericField(null=True)

    class Meta:
        table_name = "backtest_configs"


class BacktestResult(BaseModel):
    config = pw.ForeignKeyField(BacktestConfig, column_name="config_id", backref="results")
    total_return = NumericField(null=True)
    max_drawdown = NumericField(null=True)
    sharpe_ratio = NumericField(null=True)
    profit_factor = NumericField(null=True)
    total_trades = pw.IntegerField(null=True)
    profitable_trades = pw.IntegerField(null=True)
    win_rate = NumericField(null=True)
    final_equity = NumericField(null=True)
    equity_curve = pw.TextField(null=True)
    trade_log = pw.TextField(null=True)
    created_at = created_at()
    status = pw.TextField(null=True)
    metrics = pw.TextField(null=True)

    class Meta:
        table_name = "backtest_results"


class BacktestOrder(BaseModel):
    backtest = pw.ForeignKeyField(BacktestResult, column_name="backtest_id")
    timestamp = pw.IntegerField()
    side = pw.TextField()
    price = NumericField()
    amount = NumericField()
    fee = NumericField()
    pnl = NumericField(null=True)
    created_at = created_at()
    reason = pw.TextField(null=True)
    funding = NumericField(null=True)

    class Meta:
        table_name = "backtest_orders"


class BacktestPosition(BaseModel):
    backtest = pw.ForeignKeyField(BacktestResult, column_name="backtest_id")
    timestamp = pw.IntegerField()
    side = pw.TextField()
    amount = NumericField()
    entry_price = NumericField()
    current_price = NumericField(null=True)
    unrealized_pnl = NumericField(null=True)
    stop_loss = NumericField(null=True)
    take_profit = NumericField(null=True)
    created_at = created_at()

    class Meta:
        table_name = "backtest_positions"


class BacktestDecision(BaseModel):
    backtest = pw.ForeignKeyField(BacktestResult, column_name="backtest_id")
    timestamp = pw.IntegerField()
    action = pw.TextField()
    confidence = pw.FloatField(null=True)
    reasoning = pw.TextField(null=True)
    created_at = created_at()

    class Meta:
        table_name = "backtest_decisions"


# ---- 002 additions


class OperatorCommand(BaseModel):
    timestamp = pw.IntegerField()
    command = pw.TextField()
    order = pw.ForeignKeyField(OrderRow, null=True, column_name="order_id")
    payload = pw.TextField(null=True)
    operator = pw.TextField(null=True)
    status = pw.TextField(default="pending")
    processed_at = pw.IntegerField(null=True)
    result = pw.TextField(null=True)

    class Meta:
        table_name = "operator_commands"


class EngineState(BaseModel):
    key = pw.TextField(primary_key=True)
    value = pw.TextField(null=True)
    updated_at = pw.IntegerField()

    class Meta:
        table_name = "engine_state"


class StrategyScore(BaseModel):
    version = pw.TextField()
    strategy = pw.TextField()
    regime = pw.TextField()
    expected_reward = NumericField()
    uncertainty = NumericField(null=True)
    samples = pw.IntegerField(default=0)
    status = pw.TextField(default="draft")
    created_at = created_at()

    class Meta:
        table_name = "strategy_scores"


ALL_MODELS: list[type[BaseModel]] = [
    MarketData,
    FundingRate,
    PriceSnapshot,
    OpenInterest,
    LongShortRatio,
    PromptVersion,
    ModelVersion,
    LLMRun,
    DecisionRow,
    OrderRow,
    OrderLifecycleEvent,
    TradeRow,
    PositionRow,
    PositionSnapshot,
    Balance,
    RiskEventRow,
    IngestionRun,
    BacktestConfig,
    BacktestResult,
    BacktestOrder,
    BacktestPosition,
    BacktestDecision,
    OperatorCommand,
    EngineState,
    StrategyScore,
]

SEED_TABLES = [
    "market_data",
    "funding_rates",
    "price_snapshots",
    "open_interest",
    "long_short_ratio",
    "prompt_versions",
    "model_versions",
    "llm_runs",
    "decisions",
    "orders",
    "order_lifecycle_events",
    "trades",
    "positions",
    "position_snapshots",
    "balances",
    "risk_events",
    "ingestion_runs",
    "backtest_configs",
    "backtest_results",
    "backtest_orders",
    "backtest_positions",
    "backtest_decisions",
]
