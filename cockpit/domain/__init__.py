"""Pure domain types: dataclasses and enums, stdlib only, no I/O."""

from cockpit.domain.clock import Clock, ManualClock
from cockpit.domain.market import Candle, TIMEFRAME_MS, timeframe_ms
from cockpit.domain.orders import (
    IllegalTransition,
    Order,
    OrderIntent,
    OrderStatus,
    Fill,
    Position,
    can_transition,
)
from cockpit.domain.signals import Direction, Regime, StrategySignal, Decision, RiskEvent, RiskLevel

__all__ = [
    "Clock",
    "ManualClock",
    "Candle",
    "TIMEFRAME_MS",
    "timeframe_ms",
    "IllegalTransition",
    "Order",
    "OrderIntent",
    "OrderStatus",
    "Fill",
    "Position",
    "can_transition",
    "Direction",
    "Regime",
    "StrategySignal",
    "Decision",
    "RiskEvent",
    "RiskLevel",
]
