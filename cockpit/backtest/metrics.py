"""Performance metrics from an equity curve and a trade list.

Conventions: returns are per bar (simple), annualised with the number of bars in 365 days of the
run's timeframe; Sharpe and Sortino use a zero risk-free rate; Sortino's downside deviation is the
root mean square of the negative per-bar returns over all bars; Calmar = CAGR / |max drawdown|;
max drawdown is the deepest fall from a running peak of the equity curve (a negative fraction);
profit factor = gross profits / gross losses of closed trades (after fees and funding);
exposure = share of bars with an open position after the bar.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from cockpit.backtest.kernels import equity_stats

YEAR_MS = 365 * 86_400_000


def _f(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def drawdown(equity: np.ndarray) -> np.ndarray:
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, equity / peak - 1.0, 0.0)
    return dd


def compute_metrics(
    equity: np.ndarray,
    trade_pnls: Sequence[float] | np.ndarray,
    *,
    capital: float,
    tf_ms: int,
    start_ms: int,
    end_ms: int,
    fees: float = 0.0,
    funding: float = 0.0,
    liquidations: int = 0,
    exposure: float | None = None,
) -> dict[str, Any]:
    eq = np.asarray(equity, dtype=np.float64)
    pnl = np.asarray(trade_pnls, dtype=np.float64)
    n = len(eq)
    final = float(eq[-1]) if n else float(capital)
    total_return = final / capital - 1.0
    years = max((end_ms - start_ms + tf_ms) / YEAR_MS, 1e-9)
    cagr = (final / capital) ** (1.0 / years) - 1.0 if final > 0 else -1.0
    bars_per_year = YEAR_MS / tf_ms
    sharpe = sortino = None
    # One compiled pass over the curve (a sweep computes this per grid point: the numpy form below was half
    # of a point's time); the numpy form for NaN/inf values, short curves or without numba.
    stats = equity_stats(eq, capital)
    if stats is not None:
        max_dd, mean, sd, down = stats
    else:
        dd = drawdown(eq) if n else np.zeros(1)
        max_dd = float(dd.min()) if len(dd) else 0.0
        mean = sd = down = 0.0
        if n > 1:
            prev = np.concatenate(([capital], eq[:-1]))
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(prev > 0, eq / prev - 1.0, 0.0)
            mean, sd = float(r.mean()), float(r.std(ddof=1))
            down = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
    if n > 1:
        if sd > 0:
            sharpe = mean / sd * math.sqrt(bars_per_year)
        if down > 0:
            sortino = mean / down * math.sqrt(bars_per_year)
    wins = pnl[pnl > 0]
    losses = pnl[pnl < 0]
    gross_win = float(wins.sum())
    gross_loss = float(-losses.sum())
    return {
        "initial_capital": float(capital),
        "final_equity": final,
        "total_return": total_return,
        "cagr": _f(cagr),
        "max_drawdown": max_dd,
        "sharpe": _f(sharpe) if sharpe is not None else None,
        "sortino": _f(sortino) if sortino is not None else None,
        "calmar": _f(cagr / abs(max_dd)) if max_dd < 0 else None,
        "profit_factor": _f(gross_win / gross_loss) if gross_loss > 0 else None,  # None: no losing trade
        "win_rate": float(len(wins) / len(pnl)) if len(pnl) else None,
        "avg_win": float(wins.mean()) if len(wins) else None,
        "avg_loss": float(losses.mean()) if len(losses) else None,
        "trades": int(len(pnl)),
        "winning_trades": int(len(wins)),
        "exposure": exposure,
        "fees": float(fees),
        "funding": float(funding),
        "liquidations": int(liquidations),
        "bars": int(n),
        "years": years,
    }
