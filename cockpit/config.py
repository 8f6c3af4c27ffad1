"""Load and validate ``config.yaml``.

Every setting is declared once in ``SCHEMA`` below with its type, allowed values and default.
The file is validated up front: an unknown key, a wrong type or a value out of range raises
``ConfigError`` naming the key path, the bad value and what is allowed, e.g.
``risk.max_leverage: expected a number from 1 to 125, got 'abc'``.

Environment overrides: ``COCKPIT__SECTION__KEY=value`` (value parsed as YAML), e.g.
``COCKPIT__EXCHANGE__MODE=okx-demo`` or ``COCKPIT__RISK__MAX_LEVERAGE=3``.
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, cast

import yaml

from cockpit.domain.errors import ConfigError
from cockpit.domain.market import TIMEFRAME_MS
from cockpit.domain.settings import (  # noqa: F401 - the typed shape of a config, public here too
    APIConfig,
    BacktestConfig,
    Config,
    DatabaseConfig,
    EngineConfig,
    ExchangeConfig,
    ExecutionConfig,
    LLMConfig,
    LogConfig,
    NotifyConfig,
    PortfolioConfig,
    RegimeConfig,
    RemoteConfig,
    RiskConfig,
    SimConfig,
    StrategyConfig,
    TrainingConfig,
    UIConfig,
)
from cockpit.domain.signals import STRATEGY_NAMES  # noqa: F401 - config's public name too
from cockpit.domain.signals import SWITCHABLE_RISK_RULES as RISK_RULES  # what risk.disabled_rules may switch off
from cockpit.domain.text import Redactor

ENV_PREFIX = "COCKPIT__"
SYMBOL = "BTC/USDT:USDT"


# ---------------------------------------------------------------- schema DSL


@dataclass(frozen=True)
class Spec:
    default: Any
    check: Callable[[str, Any], Any]
    doc: str = ""


def _fmt(v: Any) -> str:
    return (
        repr(v)
        if isinstance(v, str)
        else yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()
    )


def number(
    default: float | None,
    lo: float | None = None,
    hi: float | None = None,
    *,
    integer: bool = False,
    nullable: bool = False,
    doc: str = "",
) -> Spec:
    kind = "a whole number" if integer else "a number"
    if lo is not None and hi is not None:
        want = f"{kind} from {lo:g} to {hi:g}"
    elif lo is not None:
        want = f"{kind} >= {lo:g}"
    elif hi is not None:
        want = f"{kind} <= {hi:g}"
    else:
        want = kind
    if nullable:
        want += " or null"

    def check(path: str, v: Any) -> Any:
        if v is None and nullable:
            return None
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if ok and integer and isinstance(v, float):
            ok = v.is_integer()
        if not ok or not math.isfinite(float(v)) or (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ConfigError(path, f"expected {want}, got {_fmt(v)}")
        return int(v) if integer else float(v)

    return Spec(default, check, doc)


def boolean(default: bool, doc: str = "") -> Spec:
    def check(path: str, v: Any) -> Any:
        if not isinstance(v, bool):
            raise ConfigError(path, f"expected true or false, got {_fmt(v)}")
        return v

    return Spec(default, check, doc)


def choice(default: Any, options: Iterable[Any], doc: str = "") -> Spec:
    opts = tuple(options)

    def check(path: str, v: Any) -> Any:
        if v not in opts:
            raise ConfigError(path, f"expected one of {', '.join(map(str, opts))}, got {_fmt(v)}")
        return v

    return Spec(default, check, doc)


def text(
    default: str | None,
    *,
    nullable: bool = False,
    pattern: str | None = None,
    doc: str = "",
    describe: str = "a string",
) -> Spec:
    def check(path: str, v: Any) -> Any:
        if v is None and nullable:
            return None
        if not isinstance(v, str) or (pattern and not re.fullmatch(pattern, v)):
            raise ConfigError(path, f"expected {describe}{' or null' if nullable else ''}, got {_fmt(v)}")
        return v

    return Spec(default, check, doc)


def date_text(default: str, doc: str = "") -> Spec:
    """A date YYYY-MM-DD; YAML (the file or a COCKPIT__ variable) reads an unquoted date as a date object."""

    def check(path: str, v: Any) -> Any:
        if isinstance(v, _dt.date) and not isinstance(v, _dt.datetime):
            v = v.isoformat()
        if not isinstance(v, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            raise ConfigError(path, f"expected a date YYYY-MM-DD, got {_fmt(v)}")
        try:
            _dt.date.fromisoformat(v)
        except ValueError:
            raise ConfigError(path, f"expected a real date YYYY-MM-DD, got {_fmt(v)}") from None
        return v

    return Spec(default, check, doc)


def timeframe_list(default: list[str], doc: str = "") -> Spec:
    def check(path: str, v: Any) -> Any:
        if isinstance(v, str):
            v = [p.strip() for p in v.split(",") if p.strip()]
        if not isinstance(v, list) or not v:
            raise ConfigError(
                path, f"expected a non-empty list of timeframes ({', '.join(TIMEFRAME_MS)}), got {_fmt(v)}"
            )
        for i, tf in enumerate(v):
            if tf not in TIMEFRAME_MS:
                raise ConfigError(f"{path}[{i}]", f"expected one of {', '.join(TIMEFRAME_MS)}, got {_fmt(tf)}")
        if len(set(v)) != len(v):
            raise ConfigError(path, f"timeframes must be unique, got {_fmt(v)}")
        return sorted(v, key=TIMEFRAME_MS.__getitem__)

    return Spec(default, check, doc)


def params_map(default: dict[str, Any], doc: str = "") -> Spec:
    """Strategy parameters: names to scalars. Their ranges are checked by the strategy registry."""

    def check(path: str, v: Any) -> Any:
        if not isinstance(v, dict):
            raise ConfigError(path, f"expected a mapping of parameter names to values, got {_fmt(v)}")
        for k, x in v.items():
            if not isinstance(k, str) or not (isinstance(x, (int, float, str, bool)) or x is None):
                raise ConfigError(f"{path}.{k}", f"expected a number, string or boolean, got {_fmt(x)}")
        return dict(v)

    return Spec(default, check, doc)


def choice_list(default: list[str], options: Iterable[str], doc: str = "") -> Spec:
    """A list of distinct names, each one of ``options`` (order kept)."""
    opts = tuple(options)

    def check(path: str, v: Any) -> Any:
        if not isinstance(v, list):
            raise ConfigError(path, f"expected a list of names from {', '.join(opts)}, got {_fmt(v)}")
        for i, x in enumerate(v):
            if x not in opts:
                raise ConfigError(f"{path}[{i}]", f"expected one of {', '.join(opts)}, got {_fmt(x)}")
        if len(set(v)) != len(v):
            raise ConfigError(path, f"names must be unique, got {_fmt(v)}")
        return list(v)

    return Spec(default, check, doc)


ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def url_list(default: list[str], doc: str = "") -> Spec:
    """Notification URLs: strings with ``scheme://``; secrets only as ``${VAR}`` references."""

    def check(path: str, v: Any) -> Any:
        if not isinstance(v, list):
            raise ConfigError(path, f"expected a list of Apprise URLs (scheme://...), got {_fmt(v)}")
        for i, x in enumerate(v):
            if not isinstance(x, str) or not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://\S", x):
                raise ConfigError(
                    f"{path}[{i}]",
                    f"expected an Apprise URL such as 'tgram://${{TG_TOKEN}}/${{TG_CHAT}}', got {_fmt(x)}",
                )
            if "${" in ENV_REF.sub("", x):
                raise ConfigError(f"{path}[{i}]", f"malformed ${{VAR}} reference in {_fmt(x)}")
        return list(v)

    return Spec(default, check, doc)


def _unsupported_symbol(path: str, v: Any) -> Any:
    raise ConfigError(
        path, f"only {SYMBOL} is supported (sizing, the simulator and the cost model assume it), got {_fmt(v)}"
    )


NOTIFY_EVENTS = (
    "pending_approval",
    "fill",
    "order_rejected",
    "order_expired",
    "risk",
    "halt",
    "engine",
    "daily_summary",
)


def strategy(enabled: bool, params: dict[str, Any], **extra: Spec) -> dict[str, Any]:
    return {
        "enabled": boolean(enabled, "run this strategy"),
        "params": params_map(params, "strategy parameters"),
        **extra,
    }


# ---------------------------------------------------------------- the schema

SCHEMA: dict[str, Any] = {
    "symbol": Spec(SYMBOL, lambda path, v: v if v == SYMBOL else _unsupported_symbol(path, v)),
    "timeframes": timeframe_list(["15m", "1h", "4h", "1d"]),
    "decision_timeframe": choice("1d", TIMEFRAME_MS),
    "exchange": {
        "mode": choice("sim", ("sim", "okx-demo", "okx-live")),
        "rest_url": text(None, nullable=True, pattern=r"https?://\S+", describe="an http(s) URL"),
        "api_key_env": text("OKX_API_KEY", pattern=r"[A-Za-z_][A-Za-z0-9_]*", describe="an environment variable name"),
        "secret_env": text(
            "OKX_API_SECRET", pattern=r"[A-Za-z_][A-Za-z0-9_]*", describe="an environment variable name"
        ),
        "passphrase_env": text(
            "OKX_API_PASSPHRASE", pattern=r"[A-Za-z_][A-Za-z0-9_]*", describe="an environment variable name"
        ),
        "timeout_ms": number(10000, 100, 120000, integer=True),
        "max_retries": number(4, 0, 20, integer=True),
        "backfill_days": number(30, 1, 3650, integer=True),
        "streams": boolean(True, "follow ticker, candles, orders and positions over the WebSocket streams"),
        "stream_stale_s": number(10.0, 1, 600),
        "stream_snapshot_s": number(1.0, 0.05, 60),
    },
    "sim": {
        "seed": number(42, 0, None, integer=True),
        "speed": number(1440.0, 0.0, 1e6),
        "history_days": number(400, 1, 3650, integer=True),
        "start": date_text("2026-01-01"),
        "start_price": number(65000.0, 1, None),
        "replay_csv": text(None, nullable=True, describe="a path to a candle CSV"),
        "funding_csv": text(None, nullable=True, describe="a path to a funding CSV"),
        "port": number(0, 0, 65535, integer=True),
        "initial_balance": number(10000.0, 0, None),
    },
    "llm": {
        "provider": choice("none", ("none", "deepseek", "qwen", "openai-compatible", "local")),
        "base_url": text(None, nullable=True, pattern=r"https?://\S+", describe="an http(s) URL"),
        "model": text(None, nullable=True),
        "api_key_env": text(
            None, nullable=True, pattern=r"[A-Za-z_][A-Za-z0-9_]*", describe="an environment variable name"
        ),
        "timeout_s": number(30.0, 1, 600),
        "max_retries": number(2, 0, 10, integer=True),
        "temperature": number(0.2, 0, 2),
        "prompt_version": text("v1"),
        "max_tokens_per_call": number(2000, 100, 200000, integer=True),
        "max_tokens_per_day": number(500000, 0, None, integer=True),
        "json_schema_mode": boolean(False),
    },
    "strategies": {
        "ema_trend": strategy(True, {"fast": 12, "slow": 26, "atr_period": 14, "stop_atr": 2.0, "take_atr": 0.0}),
        "bollinger_range": strategy(
            True, {"period": 20, "std": 2.0, "adx_max": 25.0, "adx_period": 14, "atr_period": 14, "stop_atr": 1.5}
        ),
        "funding_rate": strategy(
            True, {"threshold": 0.0005, "lookback": 3, "atr_period": 14, "stop_atr": 2.0, "take_atr": 3.0}
        ),
        "breakout": strategy(True, {"period": 20, "atr_period": 14, "stop_atr": 2.0, "take_atr": 0.0}),
        "grid": strategy(False, {"levels": 10, "range_pct": 0.05, "stop_pct": 0.03, "period": 48}),
        "momentum": strategy(
            True,
            {
                "rsi_period": 14,
                "roc_period": 10,
                "rsi_long": 55.0,
                "rsi_short": 45.0,
                "atr_period": 14,
                "stop_atr": 2.0,
                "take_atr": 0.0,
            },
        ),
        "mean_reversion": strategy(True, {"period": 20, "z_entry": 2.0, "atr_period": 14, "stop_atr": 1.5}),
        "volatility": strategy(
            True,
            {
                "period": 20,
                "std": 2.0,
                "lookback": 120,
                "squeeze_pct": 0.2,
                "atr_period": 14,
                "stop_atr": 2.0,
                "take_atr": 0.0,
            },
        ),
        "time_cycle": strategy(
            False,
            {
                "session_start_hour": 13,
                "session_end_hour": 21,
                "trade_weekends": False,
                "min_move_atr": 0.5,
                "atr_period": 14,
                "stop_atr": 1.5,
                "take_atr": 3.0,
            },
        ),
        "onchain": strategy(
            False,
            {
                "threshold": 1.0,
                "lookback": 30,
                "bullish_when": "low",
                "atr_period": 14,
                "stop_atr": 2.0,
                "take_atr": 0.0,
            },
            input_csv=text(None, nullable=True, describe="a path to an on-chain metrics CSV"),
        ),
        "trend_core": strategy(
            True,
            {
                "lookback_1": 20,
                "lookback_2": 60,
                "lookback_3": 120,
                "lookback_4": 250,
                "vol_days": 30,
                "target_vol": 0.3,
                "allow_short": False,
                "atr_period": 14,
                "stop_atr": 2.5,
            },
        ),
    },
    "regime": {
        "adx_period": number(14, 2, 200, integer=True),
        "adx_trend": number(25.0, 0, 100),
        "vol_window": number(24, 2, 1000, integer=True),
        "vol_lookback": number(500, 10, 100000, integer=True),
        "vol_high_pct": number(0.9, 0, 1),
        "slope_window": number(20, 2, 1000, integer=True),
    },
    "portfolio": {
        "top_n": number(1, 1, 10, integer=True),
        "max_weight": number(1.0, 0.05, 1),
        "min_weight": number(0.05, 0, 1),
        "rebalance_band": number(0.1, 0, 1),
        "regime_shrink": number(None, 0, 1e9, nullable=True),
    },
    "risk": {
        "max_leverage": number(3.0, 1, 125),
        "max_position_notional": number(50000.0, 0, None),
        "max_position_pct_equity": number(1.0, 0, 100),
        "require_stop_loss": boolean(True),
        "min_stop_distance_pct": number(0.002, 0, 1),
        "max_stop_distance_pct": number(0.1, 0, 1),
        "max_risk_per_trade_pct": number(0.05, 0, 1),
        "max_total_risk_pct": number(0.05, 0, 1),
        "daily_loss_limit_pct": number(0.03, 0, 1),
        "max_drawdown_pct": number(0.15, 0, 1),
        "max_orders_per_hour": number(12, 1, 10000, integer=True),
        "price_sanity_pct": number(0.02, 0, 1),
        "max_snapshot_age_s": number(15.0, 0.1, 3600),
        "disabled_rules": choice_list([], RISK_RULES),
    },
    "execution": {
        "approval": choice("manual", ("manual", "auto_within_limits", "auto")),
        "approval_ttl_s": number(900, 1, 86400, integer=True),
        "leverage": number(2.0, 1, 125),
        "order_type": choice("market", ("market", "limit")),
        "reconcile_interval_s": number(30, 1, 3600, integer=True),
        "margin_mode": choice("isolated", ("isolated", "cross")),
    },
    "engine": {
        "fast_loop_s": number(2.0, 0.05, 60),
        "ingest_interval_s": number(5.0, 0.1, 3600),
        "history_bars": number(1000, 50, 100000, integer=True),
        "db_write_failure_exit_s": number(60.0, 1, 3600),
    },
    "backtest": {
        "capital": number(10000.0, 1, None),
        "taker_fee": number(0.0005, 0, 0.1),
        "maker_fee": number(0.0002, -0.01, 0.1),
        "slippage_bps": number(2.0, 0, 1000),
        "funding_rate": number(0.0001, -0.01, 0.01),
        "maintenance_margin": number(0.004, 0, 0.5),
        "leverage": number(1.0, 1, 125),
        "slippage_range": number(0.0, 0, 1),
        "lot_size": number(0.0001, 0, 1),
        "position_fraction": number(1.0, 0.001, 1),
        "size_by_strength": boolean(True),
        "funding_source": choice("auto", ("auto", "table", "constant", "off")),
        "intrabar": choice("auto", ("auto", "conservative")),
        "workers": number(0, 0, 256, integer=True),
    },
    "training": {
        "horizon_bars": number(30, 1, 10000, integer=True),
        "step_bars": number(5, 1, 10000, integer=True),
        "reward": choice("sharpe", ("log_return", "return_dd_penalty", "return_over_drawdown", "sharpe")),
        "dd_penalty": number(0.5, 0, 100),
        "folds": number(4, 1, 100, integer=True),
        "prior_strength": number(1.0, 0.001, 10000),
        "param_trials": number(6, 0, 200, integer=True),
        "engine": choice("fast", ("fast", "event")),
        "use_live": boolean(True),
        "mistakes": number(3, 0, 20, integer=True),
        "seed": number(0, 0, None, integer=True),
        "report_max_drawdown": number(0.25, 0.01, 1.0),
    },
    "database": {
        # null: one SQLite file per venue, data/cockpit-<exchange.mode>.db (see default_database_url)
        "url": text(
            None,
            nullable=True,
            pattern=r"(sqlite:///.+|sqlite:///:memory:|postgres(ql)?://\S+)",
            describe="a database URL such as 'sqlite:///data/cockpit-sim.db'",
        ),
        "password_env": text(
            "COCKPIT_DB_PASSWORD", pattern=r"[A-Za-z_][A-Za-z0-9_]*", describe="an environment variable name"
        ),
    },
    "ui": {
        "refresh_ms": number(500, 50, 60000, integer=True),
        "chart_bars": number(120, 20, 2000, integer=True),
        "bell_on_pending": boolean(True),
    },
    "notify": {
        "urls": url_list([]),
        "events": choice_list(list(NOTIFY_EVENTS), NOTIFY_EVENTS),
        "min_risk_level": choice("ERROR", ("INFO", "WARN", "ERROR", "CRITICAL")),
        "risk_repeat_s": number(600, 0, 86400, integer=True),
        "rate_per_minute": number(20, 1, 600, integer=True),
        "burst": number(5, 1, 100, integer=True),
        "retries": number(3, 0, 10, integer=True),
        "backoff_s": number(2.0, 0, 300),
        "timeout_s": number(10.0, 1, 120),
        "queue_size": number(200, 10, 100000, integer=True),
        "poll_s": number(2.0, 0.05, 60),
        "daily_summary_utc": text(
            "00:00", nullable=True, pattern=r"([01]\d|2[0-3]):[0-5]\d", describe="a UTC time HH:MM"
        ),
    },
    "api": {
        "keys_env": text(
            "COCKPIT_API_KEYS", pattern=r"[A-Za-z_][A-Za-z0-9_]*", describe="an environment variable name"
        ),
        "read_keys_env": text(
            "COCKPIT_API_READ_KEYS", pattern=r"[A-Za-z_][A-Za-z0-9_]*", describe="an environment variable name"
        ),
        "rate_limit_per_minute": number(120, 1, 100000, integer=True),
    },
    "remote": {
        "ssh_host": text("127.0.0.1", pattern=r"\S+", describe="a host name or IP address"),
        "ssh_port": number(2222, 0, 65535, integer=True),
        "authorized_keys": text(None, nullable=True, describe="a path to an authorized_keys file"),
        "host_key": text("data/ssh_host_ed25519_key", describe="a path to the SSH host key file"),
        "max_sessions": number(8, 1, 1000, integer=True),
        "web_host": text("127.0.0.1", pattern=r"\S+", describe="a host name or IP address"),
        "web_port": number(8080, 0, 65535, integer=True),
    },
    "log": {
        "format": choice("text", ("text", "json")),
        "level": choice("INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
    },
}


def defaults(schema: Mapping[str, Any] = SCHEMA) -> Config:
    """The built-in defaults (of SCHEMA, or of a section of it when ``schema`` is one)."""
    return cast(Config, _defaults(schema))


def _defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in schema.items():
        out[k] = _defaults(v) if isinstance(v, dict) else copy.deepcopy(v.default)
    return out


def _validate(schema: Mapping[str, Any], data: Any, path: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(path or "(top level)", f"expected a mapping, got {_fmt(data)}")
    unknown = [k for k in data if k not in schema]
    if unknown:
        k = unknown[0]
        where = f"{path}.{k}" if path else str(k)
        raise ConfigError(where, f"unknown key; allowed keys here: {', '.join(schema)}")
    out: dict[str, Any] = {}
    for k, spec in schema.items():
        p = f"{path}.{k}" if path else k
        if isinstance(spec, dict):
            out[k] = _validate(spec, data.get(k, {}) if data.get(k) is not None else {}, p)
        else:
            out[k] = spec.check(p, data[k]) if k in data else copy.deepcopy(spec.default)
    return out


def _cross_checks(cfg: Config) -> None:
    if cfg["decision_timeframe"] not in cfg["timeframes"]:
        raise ConfigError(
            "decision_timeframe",
            f"expected one of the configured timeframes "
            f"({', '.join(cfg['timeframes'])}), got {cfg['decision_timeframe']!r}",
        )
    need = cfg["regime"]["vol_lookback"] + cfg["regime"]["vol_window"]
    if cfg["engine"]["history_bars"] < need:
        raise ConfigError(
            "engine.history_bars",
            f"expected at least regime.vol_lookback + regime.vol_window "
            f"({need}) so the regime can be classified, got {cfg['engine']['history_bars']}",
        )
    if cfg["portfolio"]["min_weight"] > cfg["portfolio"]["max_weight"]:
        raise ConfigError("portfolio.min_weight", "must not exceed portfolio.max_weight")
    r = cfg["risk"]
    if r["min_stop_distance_pct"] >= r["max_stop_distance_pct"]:
        raise ConfigError("risk.min_stop_distance_pct", "must be below risk.max_stop_distance_pct")
    if r["max_snapshot_age_s"] <= 2 * cfg["engine"]["fast_loop_s"]:
        raise ConfigError(
            "risk.max_snapshot_age_s",
            f"expected more than twice engine.fast_loop_s "
            f"({2 * cfg['engine']['fast_loop_s']:g} s): the position is read once per fast loop, "
            f"got {r['max_snapshot_age_s']:g}",
        )
    if cfg["execution"]["leverage"] > r["max_leverage"]:
        raise ConfigError(
            "execution.leverage",
            f"expected at most risk.max_leverage ({r['max_leverage']:g}), got {cfg['execution']['leverage']:g}",
        )
    # strategy parameters against each strategy's declared ranges (lazy: the strategy library imports pandas)
    from cockpit.strategies.registry import validate_strategy_params

    validate_strategy_params(cfg)
    llm = cfg["llm"]
    if llm["provider"] in ("openai-compatible", "local") and not llm["base_url"]:
        raise ConfigError("llm.base_url", f"required when llm.provider is {llm['provider']!r}")


def _set_path(data: dict[str, Any], keys: list[str], value: Any) -> None:
    cur = data
    for k in keys[:-1]:
        nxt = cur.get(k)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[k] = nxt
        cur = nxt
    cur[keys[-1]] = value


def env_overrides(environ: Mapping[str, str]) -> list[tuple[list[str], Any]]:
    out = []
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not keys:
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except (yaml.YAMLError, ValueError):  # e.g. 2026-13-04: YAML's date constructor raises ValueError
            value = raw
        out.append((keys, value))
    return out


LLM_PRESETS: dict[str, dict[str, str]] = {
    "deepseek": {"base_url": "https://api.deepseek.com", "model": "deepseek-chat", "api_key_env": "DEEPSEEK_API_KEY"},
    "qwen": {
        "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1",
        "model": "qwen-plus",
        "api_key_env": "DASHSCOPE_API_KEY",
    },
    "local": {"model": "local", "api_key_env": ""},
}


def _apply_presets(cfg: Config) -> None:
    llm = cast(dict[str, Any], cfg["llm"])  # keys from LLM_PRESETS, all LLMConfig's
    preset = LLM_PRESETS.get(llm["provider"], {})
    for k, v in preset.items():
        if llm.get(k) in (None, ""):
            llm[k] = v or None


def default_database_url(mode: str) -> str:
    """The database of a venue when ``database.url`` is not set: a database belongs to one venue
    (sim, okx-demo, okx-live), so switching ``exchange.mode`` never mixes their data."""
    return f"sqlite:///data/cockpit-{mode}.db"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated in one mapping (plain YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: let SafeLoader report it
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} at line {line} (first at line {first}); "
                    "each key may appear once in a mapping",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def default_config_path() -> Path | None:
    """The config file used when neither --config nor COCKPIT_CONFIG names one."""
    candidates = [
        Path.cwd() / "config.yaml",
        Path(__file__).resolve().parent.parent / "config.yaml",
        Path(sys.prefix) / "share" / "cockpit" / "config.yaml",
    ]
    for c in candidates:
        if c.is_file():
            return c
    return None


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load, override and validate a configuration; raise ConfigError on any problem.

    Order of precedence: built-in defaults < the YAML file < COCKPIT__ environment < ``overrides``
    (dotted paths, e.g. ``{"database.url": "sqlite:///x.db"}``, used by command-line flags).
    """
    environ = os.environ if environ is None else environ
    if path is None:
        path = environ.get("COCKPIT_CONFIG") or default_config_path()
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError("--config", f"file not found: {p}")
        try:
            loaded = yaml.load(p.read_text(encoding="utf-8-sig"), Loader=_UniqueKeyLoader)  # noqa: S506 - safe
        except yaml.YAMLError as e:
            if str(getattr(e, "problem", "") or "").startswith("duplicate key"):
                raise ConfigError(str(p), str(e.problem)) from None
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(str(p), f"not valid YAML{where}: {getattr(e, 'problem', e)}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(str(p), "expected a mapping of sections at the top level")
        data = loaded
    for keys, value in env_overrides(environ):
        _set_path(data, keys, value)
    for dotted, value in (overrides or {}).items():
        _set_path(data, dotted.split("."), value)
    cfg = cast(Config, _validate(SCHEMA, data, ""))
    if cfg["database"]["url"] is None:
        cfg["database"]["url"] = default_database_url(cfg["exchange"]["mode"])
    _apply_presets(cfg)
    _cross_checks(cfg)
    cfg["_source"] = str(path) if path is not None else "(built-in defaults)"
    return cfg


def mode_label(cfg: Config) -> str:
    return {"sim": "SIM", "okx-demo": "OKX DEMO", "okx-live": "OKX LIVE"}[cfg["exchange"]["mode"]]


def secret_values(cfg: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """The secret values currently in the environment, for redaction in logs and the database."""
    environ = os.environ if environ is None else environ
    names = [cfg["exchange"]["api_key_env"], cfg["exchange"]["secret_env"], cfg["exchange"]["passphrase_env"]]
    llm_key_env = cfg["llm"].get("api_key_env")
    if llm_key_env:
        names.append(llm_key_env)
    if cfg.get("database", {}).get("password_env"):
        names.append(cfg["database"]["password_env"])
    for url in cfg.get("notify", {}).get("urls", []):  # tokens inside notification URLs
        names += ENV_REF.findall(url)
    values = [environ[n] for n in names if n and environ.get(n)]
    keys_env = cfg.get("api", {}).get("keys_env")
    if keys_env and environ.get(keys_env):  # the REST API's keys, comma-separated
        values += [k.strip() for k in environ[keys_env].split(",") if k.strip()]
    return values


def redactor(cfg: Config, environ: Mapping[str, str] | None = None, *, token: str = "[redacted]") -> Redactor:
    """The Redactor of a run: blanks every configured secret (secret_values) in text before it is stored
    or logged."""
    return Redactor(secret_values(cfg, environ), token=token)
