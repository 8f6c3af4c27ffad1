"""Backtests: the event-driven engine over bars (fills through SimulatedExecutor), the compiled fast
path with the same semantics, metrics, sweeps and walk-forward. Entry point for callers:
``run_backtest(cfg, ds, BacktestRequest(...), progress=..., cancel=..., store=db)``.
"""

from cockpit.backtest.api import (BacktestCancelled, BacktestReport, BacktestRequest, NoCandlesError,  # noqa: F401
                                  run_backtest)
