"""Order execution: one OrderExecutor interface for backtest, paper and live trading."""
