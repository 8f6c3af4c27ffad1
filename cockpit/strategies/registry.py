"""Build the strategy set from config: ``build_strategies(cfg)`` (enabled ones) and ``all_strategies(cfg)``.

Parameters are validated against each strategy's declared ranges; a bad value raises ConfigError with
the path ``strategies.<name>.params.<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from cockpit.domain.errors import ConfigError
from cockpit.domain.settings import Config, StrategyConfig
from cockpit.domain.signals import STRATEGY_NAMES
from cockpit.strategies.base import Strategy
from cockpit.strategies.library import STRATEGY_CLASSES, Onchain, load_onchain_csv


@dataclass
class StrategyEntry:
    name: str
    enabled: bool
    strategy: Strategy | None  # None when it cannot be built (e.g. on-chain without input)
    disabled_reason: str | None
    params: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "params": self.params,
            "required_timeframes": list(self.strategy.required_timeframes) if self.strategy else [],
            "disabled_reason": self.disabled_reason,
        }


def _resolve(path: str, cfg: Config) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute():
        src = cfg.get("_source")
        if src and Path(src).is_file():
            cand = Path(src).resolve().parent / p
            if cand.exists():
                return cand
    return p


def all_strategies(cfg: Config) -> list[StrategyEntry]:
    """Every known strategy, in STRATEGY_NAMES order, with its enabled flag and, if off, why."""
    timeframe = cfg.get("decision_timeframe", "1h")
    section = cfg.get("strategies", {})
    out: list[StrategyEntry] = []
    for name in STRATEGY_NAMES:
        cls = STRATEGY_CLASSES[name]
        sc: StrategyConfig | dict[str, Any] = section.get(name) or {}
        params = cls.validate_params(sc.get("params", {}) or {})
        enabled = bool(sc.get("enabled", False))
        reason = None if enabled else "off in config (strategies.%s.enabled: false)" % name
        strat: Strategy | None
        if cls is Onchain:
            strat, why = _build_onchain(sc, params, timeframe, cfg)
            if why and enabled:
                enabled, reason = False, why
            elif why and not enabled:
                reason = f"{reason}; {why}"
        else:
            strat = cls(params, timeframe=timeframe)
        out.append(StrategyEntry(name, enabled, strat, reason, params))
    return out


def _build_onchain(
    sc: StrategyConfig | Mapping[str, Any], params: dict[str, Any], timeframe: str, cfg: Config
) -> tuple[Strategy | None, str | None]:
    path = sc.get("input_csv")
    if not path:
        return Onchain(params, timeframe=timeframe), "off: no input configured (strategies.onchain.input_csv)"
    p = _resolve(str(path), cfg)
    if not p.is_file():
        return Onchain(params, timeframe=timeframe), f"off: input file not found: {p}"
    try:
        series = load_onchain_csv(p)
    except (OSError, ValueError) as e:
        return Onchain(params, timeframe=timeframe), f"off: input unreadable: {e}"
    return Onchain(params, timeframe=timeframe, series=series), None


def build_strategies(cfg: Config) -> list[Strategy]:
    """The enabled strategies, ready to run."""
    return [e.strategy for e in all_strategies(cfg) if e.enabled and e.strategy is not None]


def get_strategy(name: str, params: Mapping[str, Any] | None = None, *, timeframe: str = "1h") -> Strategy:
    """One strategy by name with validated params (for backtests and sweeps)."""
    if name not in STRATEGY_CLASSES:
        raise ConfigError("strategy", f"expected one of {', '.join(STRATEGY_NAMES)}, got {name!r}")
    return STRATEGY_CLASSES[name](params or {}, timeframe=timeframe)


def validate_strategy_params(cfg: Config) -> None:
    """Check every strategy's params against its declared ranges (called by load_config)."""
    for name in STRATEGY_NAMES:
        sc: StrategyConfig | dict[str, Any] = cfg.get("strategies", {}).get(name) or {}
        STRATEGY_CLASSES[name].validate_params(sc.get("params", {}) or {})
