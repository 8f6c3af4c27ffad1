"""cockpit.strategies: the Strategy interface, the ten-strategy library and the config registry."""

from cockpit.strategies.base import (Param, SignalFrame, Strategy, StrategyContext, build_context,  # noqa: F401
                                     finish_frame, flat_frame)
from cockpit.strategies.library import STRATEGY_CLASSES  # noqa: F401
from cockpit.strategies.registry import (StrategyEntry, all_strategies, build_strategies,  # noqa: F401
                                         get_strategy)
