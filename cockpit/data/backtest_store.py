"""Write one backtest run: backtest_configs, backtest_results (metrics, equity curve, trade log as
JSON), backtest_orders (every fill with its reason and funding), backtest_positions and
backtest_decisions — in one transaction, bulk inserts in batches. Reads go through DataService. Models are bound through the DatabaseProxy (``open_database``).
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping

import peewee

from cockpit.db.connection import database_proxy
from cockpit.db.models import BacktestConfig, BacktestDecision, BacktestOrder, BacktestPosition, BacktestResult

BATCH = 500


def _json(v: Any) -> str:
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(y) for k, y in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(y) for y in x]
        if hasattr(x, "item"):  # numpy scalar
            return clean(x.item())
        return x

    return json.dumps(clean(v), separators=(",", ":"), allow_nan=False)


def _num(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _bulk(model, rows: Iterable[dict[str, Any]]) -> None:
    rows = list(rows)
    for i in range(0, len(rows), BATCH):
        model.insert_many(rows[i : i + BATCH]).execute()


def _create_config(config: Mapping[str, Any]) -> BacktestConfig:
    return BacktestConfig.create(
        name=config["name"],
        symbol=config["symbol"],
        timeframe=config["timeframe"],
        start_time=int(config["start_time"]),
        end_time=int(config["end_time"]),
        initial_capital=float(config["initial_capital"]),
        commission_rate=float(config["commission_rate"]),
        strategy_params=_json(config.get("strategy_params") or {}),
        strategy=config.get("strategy"),
        slippage_bps=_num(config.get("slippage_bps")),
        leverage=_num(config.get("leverage")),
    )


def create_config(
    db: peewee.Database | None,
    *,
    name: str,
    symbol: str,
    timeframe: str,
    start_time: int,
    end_time: int,
    initial_capital: float,
    commission_rate: float,
    strategy: str,
    strategy_params: Mapping[str, Any] | None = None,
    slippage_bps: float | None = None,
    leverage: float | None = None,
) -> int:
    """Store a backtest configuration to run later; return its id."""
    with (db or database_proxy).atomic():
        return int(
            _create_config(
                {
                    "name": name,
                    "symbol": symbol,
                    "timeframe": timeframe,
                    "start_time": start_time,
                    "end_time": end_time,
                    "initial_capital": initial_capital,
                    "commission_rate": commission_rate,
                    "strategy": strategy,
                    "strategy_params": dict(strategy_params or {}),
                    "slippage_bps": slippage_bps,
                    "leverage": leverage,
                }
            ).id
        )


def save_backtest(
    db: peewee.Database | None,
    *,
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    equity_curve: list,
    trade_log: list,
    orders: list[Mapping[str, Any]],
    positions: list[Mapping[str, Any]],
    decisions: list[Mapping[str, Any]],
    status: str = "completed",
    config_id: int | None = None,
) -> int:
    """Persist a run; return the backtest_results id (what backtest_orders etc. reference).

    With ``config_id`` the result belongs to that existing configuration (created beforehand with
    ``create_config``, as the API's create-then-run flow does); otherwise one is created."""
    with (db or database_proxy).atomic():
        if config_id is not None:
            cfg = BacktestConfig.get_by_id(config_id)
        else:
            cfg = _create_config(config)
        res = BacktestResult.create(
            config=cfg.id,
            total_return=_num(metrics.get("total_return")),
            max_drawdown=_num(metrics.get("max_drawdown")),
            sharpe_ratio=_num(metrics.get("sharpe")),
            profit_factor=_num(metrics.get("profit_factor")),
            total_trades=int(metrics.get("trades") or 0),
            profitable_trades=int(metrics.get("winning_trades") or 0),
            win_rate=_num(metrics.get("win_rate")),
            final_equity=_num(metrics.get("final_equity")),
            equity_curve=_json(equity_curve),
            trade_log=_json(trade_log),
            status=status,
            metrics=_json(dict(metrics)),
        )
        rid = res.id
        _bulk(
            BacktestOrder,
            (
                {
                    "backtest": rid,
                    "timestamp": int(o["timestamp"]),
                    "side": o["side"],
                    "price": float(o["price"]),
                    "amount": float(o["amount"]),
                    "fee": float(o["fee"] or 0.0),
                    "pnl": _num(o.get("pnl")),
                    "reason": o.get("reason"),
                    "funding": _num(o.get("funding")),
                }
                for o in orders
            ),
        )
        _bulk(
            BacktestPosition,
            (
                {
                    "backtest": rid,
                    "timestamp": int(p["timestamp"]),
                    "side": p["side"],
                    "amount": float(p["amount"]),
                    "entry_price": float(p["entry_price"]),
                    "current_price": _num(p.get("current_price")),
                    "unrealized_pnl": _num(p.get("unrealized_pnl")),
                    "stop_loss": _num(p.get("stop_loss")),
                    "take_profit": _num(p.get("take_profit")),
                }
                for p in positions
            ),
        )
        _bulk(
            BacktestDecision,
            (
                {
                    "backtest": rid,
                    "timestamp": int(d["timestamp"]),
                    "action": d["action"],
                    "confidence": _num(d.get("confidence")),
                    "reasoning": d.get("reasoning"),
                }
                for d in decisions
            ),
        )
    return int(rid)
