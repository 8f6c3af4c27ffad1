"""Alpha Arena Cockpit: a terminal cockpit for LLM-assisted BTC/USDT:USDT perpetual-swap trading."""

__version__ = "0.1.0"
