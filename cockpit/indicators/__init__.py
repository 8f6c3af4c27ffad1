"""cockpit.indicators: vectorised and incremental indicators, patterns, regime, technical report."""

from cockpit.indicators.analysis import TechnicalAnalysis  # noqa: F401
from cockpit.indicators.core import (adx, atr, bollinger, donchian, ema, macd, obv, realized_vol, rsi,  # noqa: F401
                                     sma, vwap, zscore)
from cockpit.indicators.patterns import PatternRecognizer  # noqa: F401
from cockpit.indicators.regime import REGIME_CODES, RegimeClassifier  # noqa: F401
