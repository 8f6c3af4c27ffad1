"""cockpit.strategies: the Strategy interface, the ten-strategy library and the config registry."""

from cockpit.strategies.base import (
    Param,
    SignalFrame,
    Strategy,
    StrategyContext,
    build_context,
    finish_frame,
    flat_frame,
)
from cockpit.strategies.library import STRATEGY_CLASSES
from cockpit.strategies.registry import StrategyEntry, all_strategies, build_strategies, get_strategy

__all__ = [
    "STRATEGY_CLASSES",
    "Param",
    "SignalFrame",
    "Strategy",
    "StrategyContext",
    "StrategyEntry",
    "all_strategies",
    "build_context",
    "build_strategies",
    "finish_frame",
    "flat_frame",
    "get_strategy",
]
