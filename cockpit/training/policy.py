"""Selection policies and their evaluation on a period (the held-out report).

A policy maps the regime at a bar's close to weights over the strategies. The candidate's policy
and the active one are exactly what the live engine does without an LLM: ``StrategyScorer``
(the score table's expected reward relative to cash) then ``PortfolioScheduler`` (top-N, caps, minimum weight). The
baselines are equal weights and the best single strategy of the training period.

Evaluation allocates capital among strategy *sleeves* (each strategy's own backtest, net of its
fees and funding, see ``returns.py``): the portfolio's return at bar t+1 is the weights decided at
bar t's close times the sleeves' returns at t+1. Moving weight off a sleeve that holds a position
costs a taker fee on that share of the position. Opposite positions of two sleeves are not netted
(live trading would net them and save fees), so costs here are, if anything, overstated.
Turnover is the sum of |weight changes| per year.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from cockpit.backtest.metrics import compute_metrics
from cockpit.decision.scoring import PortfolioScheduler, StrategyScorer
from cockpit.indicators.regime import REGIME_CODES
from cockpit.training.returns import StrategyReturns

YEAR_MS = 365 * 86_400_000


def table_policy(rows: list[dict[str, Any]] | None, names: Iterable[str], scheduler: PortfolioScheduler) -> np.ndarray:
    """Weights per regime code (len(REGIME_CODES) x strategies) from a score table (None: the shipped table)."""
    names = list(names)
    scorer = StrategyScorer(None)
    out = np.zeros((len(REGIME_CODES), len(names)))
    for code, regime in enumerate(REGIME_CODES):
        scores = scorer.score(names, regime, table=list(rows) if rows else None)
        w = scheduler.allocate({n: s.score for n, s in scores.items()})
        out[code] = [w.get(n, 0.0) for n in names]
    return out


def greedy_policy(rows: list[dict[str, Any]], names: Iterable[str]) -> np.ndarray:
    """All weight on the strategy with the highest expected reward in each regime (equal weights where
    the table has no row for a regime): what the bandit alone would pick, without the live scorer's
    regime-fit blend and top-N spread."""
    names = list(names)
    out = np.tile(np.full(len(names), 1.0 / len(names)), (len(REGIME_CODES), 1))
    for code, regime in enumerate(REGIME_CODES):
        here = [r for r in rows if r["regime"] == regime.value and r["strategy"] in names]
        if here:
            best = max(here, key=lambda r: (float(r["expected_reward"]), r["strategy"]))["strategy"]
            out[code] = [1.0 if n == best else 0.0 for n in names]
    return out


def fixed_policy(weights: Mapping[str, float], names: Iterable[str]) -> np.ndarray:
    row = [float(weights.get(n, 0.0)) for n in names]
    return np.tile(np.array(row), (len(REGIME_CODES), 1))


def equal_policy(names: Iterable[str]) -> np.ndarray:
    names = list(names)
    return fixed_policy({n: 1.0 / len(names) for n in names}, names)


def evaluate(
    sr: StrategyReturns,
    policy: np.ndarray,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    capital: float = 10_000.0,
) -> dict[str, Any]:
    """Return, max drawdown, Sharpe and turnover of ``policy`` (regime code x strategy weights) on a period."""
    i0, i1 = sr.index_range(start_ms, end_ms)
    if i1 - i0 < 2:
        raise ValueError("the evaluation period has fewer than 2 bars")
    w = policy[sr.regime[i0:i1]]  # decided at each bar's close
    r = sr.returns[i0:i1]
    x = sr.exposure[i0:i1]
    port = np.zeros(i1 - i0)
    dw_total = 0.0
    # Bar 0 of the period starts from the policy's first weights (no prior allocation to pay for).
    port[1:] = (w[:-1] * r[1:]).sum(axis=1)
    dw = np.abs(np.diff(w, axis=0))  # change decided at bar t's close, traded at t+1's open
    if len(dw):
        port[2:] -= sr.taker_fee * (dw[:-1] * np.abs(x[1:-1])).sum(axis=1)
        dw_total = float(dw[:-1].sum())
    equity = capital * np.cumprod(1.0 + port)
    ts = sr.timestamps[i0:i1]
    m = compute_metrics(equity, [], capital=capital, tf_ms=sr.tf_ms, start_ms=int(ts[0]), end_ms=int(ts[-1]))
    years = max((int(ts[-1]) - int(ts[0]) + sr.tf_ms) / YEAR_MS, 1e-9)
    mean_w = w.mean(axis=0)
    return {
        "total_return": m["total_return"],
        "max_drawdown": m["max_drawdown"],
        "sharpe": m["sharpe"],
        "cagr": m["cagr"],
        "turnover_per_year": dw_total / years,
        "final_equity": m["final_equity"],
        "bars": int(i1 - i0),
        "mean_weights": {n: round(float(v), 4) for n, v in zip(sr.names, mean_w)},
    }
