"""Backtests: the event-driven engine over bars (fills through SimulatedExecutor), the compiled fast
path with the same semantics, metrics, sweeps and walk-forward. Entry point for callers:
``run_backtest(cfg, ds, BacktestRequest(...), progress=..., cancel=..., store=db)``.

Exports are lazy so that ``cockpit --help`` (which imports ``cockpit.commands.backtest``) stays light.
"""

_EXPORTS = ("BacktestCancelled", "BacktestReport", "BacktestRequest", "NoCandlesError", "run_backtest")
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        from cockpit.backtest import api

        return getattr(api, name)
    raise AttributeError(f"module 'cockpit.backtest' has no attribute {name!r}")
