"""The shape of a validated configuration, for the type checker.

``cockpit.config`` validates ``config.yaml`` against its ``SCHEMA`` and returns a plain dict; these
TypedDicts say which keys that dict has and what type each value has after validation (an integer setting
is an ``int``, a number a ``float``, a nullable one ``... | None``), so mypy rejects a mistyped key such as
``cfg["risk"]["max_levrage"]``. They are checked against ``SCHEMA`` key by key (tests/test_config_types.py),
so the two cannot drift. At run time a Config is an ordinary dict: nothing here validates anything.

``strategies`` is a mapping from strategy name to its section: code looks strategies up by a name held in a
variable and builds configs with a subset of them, which a TypedDict keyed by literal names would refuse.
Strategy ``params`` are free-form (names to scalars, checked against each strategy's declared ranges by
``cockpit.strategies.registry``), hence ``dict[str, Any]``.

Choices (``exchange.mode``, ``execution.approval``, ...) are typed ``str``: the allowed values are the
schema's, checked at load time.
"""

# No ``from __future__ import annotations`` here: TypedDict reads NotRequired[...] from evaluated annotations
# (tests/test_config_types.py compares __required_keys__ with SCHEMA).
from typing import Any, NotRequired, TypedDict


class ExchangeConfig(TypedDict):
    mode: str
    rest_url: str | None
    api_key_env: str
    secret_env: str
    passphrase_env: str
    timeout_ms: int
    max_retries: int
    backfill_days: int
    streams: bool
    stream_stale_s: float
    stream_snapshot_s: float


class SimConfig(TypedDict):
    seed: int
    speed: float
    history_days: int
    start: str
    start_price: float
    replay_csv: str | None
    funding_csv: str | None
    port: int
    initial_balance: float


class LLMConfig(TypedDict):
    provider: str
    base_url: str | None
    model: str | None
    api_key_env: str | None
    timeout_s: float
    max_retries: int
    temperature: float
    prompt_version: str
    max_tokens_per_call: int
    max_tokens_per_day: int
    json_schema_mode: bool


class StrategyConfig(TypedDict):
    enabled: bool
    params: dict[str, Any]
    input_csv: NotRequired[str | None]  # onchain only: a path to an on-chain metrics CSV


class RegimeConfig(TypedDict):
    adx_period: int
    adx_trend: float
    vol_window: int
    vol_lookback: int
    vol_high_pct: float
    slope_window: int


class PortfolioConfig(TypedDict):
    top_n: int
    max_weight: float
    min_weight: float
    rebalance_band: float
    regime_shrink: float | None


class RiskConfig(TypedDict):
    max_leverage: float
    max_position_notional: float
    max_position_pct_equity: float
    require_stop_loss: bool
    min_stop_distance_pct: float
    max_stop_distance_pct: float
    max_risk_per_trade_pct: float
    max_total_risk_pct: float
    daily_loss_limit_pct: float
    max_drawdown_pct: float
    max_orders_per_hour: int
    price_sanity_pct: float
    max_snapshot_age_s: float
    disabled_rules: list[str]


class ExecutionConfig(TypedDict):
    approval: str
    approval_ttl_s: int
    leverage: float
    order_type: str
    reconcile_interval_s: int
    margin_mode: str


class EngineConfig(TypedDict):
    fast_loop_s: float
    ingest_interval_s: float
    history_bars: int
    db_write_failure_exit_s: float


class BacktestConfig(TypedDict):
    capital: float
    taker_fee: float
    maker_fee: float
    slippage_bps: float
    funding_rate: float
    maintenance_margin: float
    leverage: float
    slippage_range: float
    lot_size: float
    position_fraction: float
    size_by_strength: bool
    funding_source: str
    intrabar: str
    workers: int


class TrainingConfig(TypedDict):
    horizon_bars: int
    step_bars: int
    reward: str
    dd_penalty: float
    folds: int
    prior_strength: float
    param_trials: int
    engine: str
    use_live: bool
    mistakes: int
    seed: int
    report_max_drawdown: float


class DatabaseConfig(TypedDict):
    url: str  # load_config fills in the venue's default file when the YAML leaves it null (defaults() keeps None)
    password_env: str


class UIConfig(TypedDict):
    refresh_ms: int
    chart_bars: int
    bell_on_pending: bool


class NotifyConfig(TypedDict):
    urls: list[str]
    events: list[str]
    min_risk_level: str
    risk_repeat_s: int
    rate_per_minute: int
    burst: int
    retries: int
    backoff_s: float
    timeout_s: float
    queue_size: int
    poll_s: float
    daily_summary_utc: str | None


class APIConfig(TypedDict):
    keys_env: str
    read_keys_env: str
    rate_limit_per_minute: int


class RemoteConfig(TypedDict):
    ssh_host: str
    ssh_port: int
    authorized_keys: str | None
    host_key: str
    max_sessions: int
    web_host: str
    web_port: int


class LogConfig(TypedDict):
    format: str
    level: str


class Config(TypedDict):
    symbol: str
    timeframes: list[str]
    decision_timeframe: str
    exchange: ExchangeConfig
    sim: SimConfig
    llm: LLMConfig
    strategies: dict[str, StrategyConfig]
    regime: RegimeConfig
    portfolio: PortfolioConfig
    risk: RiskConfig
    execution: ExecutionConfig
    engine: EngineConfig
    backtest: BacktestConfig
    training: TrainingConfig
    database: DatabaseConfig
    ui: UIConfig
    notify: NotifyConfig
    api: APIConfig
    remote: RemoteConfig
    log: LogConfig
    _source: NotRequired[str]  # set by load_config: the file read, or "(built-in defaults)"
