"""cockpit.indicators: vectorised and incremental indicators, patterns, regime, technical report."""

from cockpit.indicators.analysis import TechnicalAnalysis
from cockpit.indicators.core import adx, atr, bollinger, donchian, ema, macd, obv, realized_vol, rsi, sma, vwap, zscore
from cockpit.indicators.patterns import PatternRecognizer
from cockpit.indicators.regime import REGIME_CODES, RegimeClassifier

__all__ = [
    "REGIME_CODES",
    "PatternRecognizer",
    "RegimeClassifier",
    "TechnicalAnalysis",
    "adx",
    "atr",
    "bollinger",
    "donchian",
    "ema",
    "macd",
    "obv",
    "realized_vol",
    "rsi",
    "sma",
    "vwap",
    "zscore",
]
