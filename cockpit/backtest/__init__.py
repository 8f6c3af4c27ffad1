"""cockpit.backtest"""
