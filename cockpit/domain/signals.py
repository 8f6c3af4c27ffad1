"""Strategy signals, decisions, regimes and risk events."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# The strategy library's names, in display order (cockpit.strategies.library implements each; config.yaml
# has a section per name).
STRATEGY_NAMES = (
    "ema_trend",
    "bollinger_range",
    "funding_rate",
    "breakout",
    "grid",
    "momentum",
    "mean_reversion",
    "volatility",
    "time_cycle",
    "onchain",
    "trend_core",
)


# Every rule cockpit.risk.manager checks, in the order it checks them (each names its outcome in
# risk_assessment and its risk events); the config's risk.disabled_rules may switch off all but the
# safety floor: the kill switch, unconfirmed positions, stale data, exchange precision and reduce-only.
RISK_RULES = (
    "kill_switch",
    "position_unconfirmed",
    "stale_data",
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
    "reduce_only",
)
ALWAYS_ON_RISK_RULES = ("kill_switch", "position_unconfirmed", "stale_data", "precision", "reduce_only")
SWITCHABLE_RISK_RULES = tuple(r for r in RISK_RULES if r not in ALWAYS_ON_RISK_RULES)


class Direction(str, Enum):
    LONG = "long"
    SHORT = "short"
    FLAT = "flat"

    @property
    def sign(self) -> int:
        return {"long": 1, "short": -1, "flat": 0}[self.value]


class Regime(str, Enum):
    TRENDING_UP = "trending_up"
    TRENDING_DOWN = "trending_down"
    RANGING = "ranging"
    HIGH_VOLATILITY = "high_volatility"
    UNKNOWN = "unknown"


class RiskLevel(str, Enum):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True, slots=True)
class StrategySignal:
    """The seed's StrategySignal: what one strategy proposes at one bar."""

    strategy: str
    direction: Direction
    strength: float  # 0..1
    entry: float | None
    stop_loss: float | None
    take_profit: float | None
    reason: str
    timestamp: int = 0

    def __post_init__(self) -> None:
        if not (0.0 <= self.strength <= 1.0):
            raise ValueError(f"strength must be in [0, 1], got {self.strength}")


@dataclass(slots=True)
class Decision:
    """A decision of the decision layer, before and after risk."""

    symbol: str
    timeframe: str
    timestamp: int
    action: str  # buy / sell / hold
    confidence: float | None
    reasoning: str
    target_exposure: float = 0.0  # signed fraction of max position, -1..1
    weights: dict[str, float] = field(default_factory=dict)
    technical_analysis: dict[str, Any] = field(default_factory=dict)
    risk_assessment: dict[str, Any] = field(default_factory=dict)
    regime: str = Regime.UNKNOWN.value
    selector: str = "offline"  # offline | llm | fallback
    fallback_reason: str | None = None
    llm_response: str | None = None
    llm_run_id: int | None = None
    prompt_version_id: int | None = None
    model_version_id: int | None = None
    id: int | None = None  # the decisions row id, once written


@dataclass(frozen=True, slots=True)
class RiskEvent:
    symbol: str
    timestamp: int
    level: RiskLevel
    rule: str
    details: str
