"""An "active trader" profile for the tests about the engine's order flow (orders, approvals, fills,
crashes, kill switch), not about the default policy.

The defaults decide once a day with a slow long/flat trend core (lookbacks of 20 to 250 days), which
on the simulator's generated market is mostly flat: the engine places few or no orders, on purpose.
The order-flow tests need orders to appear every few wall seconds, so they decide hourly (at 3600x,
about one decision per wall second) with a fast trend core that trades both sides: three lookbacks
(1, 2 and 4 days) always vote one way or the other, so the engine is never flat for long and resizes
as the vote and the volatility move.

Defined once, here: ``ACTIVE_TRADER`` holds the configuration keys (dotted paths, as
``load_config(overrides=...)`` takes them), ``ACTIVE_TRADER_ENV`` the same keys as ``COCKPIT__``
environment overrides for a subprocess, and ``active_trader(cfg)`` sets them on a loaded
configuration (the ``cfg`` fixture of the in-process tests).
"""

from __future__ import annotations

import json
from typing import Any, MutableMapping

ACTIVE_TRADER: dict[str, Any] = {
    "decision_timeframe": "1h",
    "strategies.trend_core.params.lookback_1": 1,
    "strategies.trend_core.params.lookback_2": 2,
    "strategies.trend_core.params.lookback_3": 4,
    "strategies.trend_core.params.lookback_4": 0,
    "strategies.trend_core.params.vol_days": 2,
    "strategies.trend_core.params.allow_short": True,
}

ACTIVE_TRADER_ENV: dict[str, str] = {
    "COCKPIT__" + key.upper().replace(".", "__"): json.dumps(value) if not isinstance(value, str) else value
    for key, value in ACTIVE_TRADER.items()
}


def active_trader(cfg: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Set the active-trader keys on a loaded configuration in place; return it."""
    for key, value in ACTIVE_TRADER.items():
        *parents, leaf = key.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        assert leaf in node, f"{key}: not a configuration key"
        node[leaf] = value
    return cfg
