"""Market data types and timeframe arithmetic."""

from __future__ import annotations

from dataclasses import dataclass

TIMEFRAME_MS: dict[str, int] = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}


def timeframe_ms(timeframe: str) -> int:
    try:
        return TIMEFRAME_MS[timeframe]
    except KeyError:
        raise ValueError(f"unknown timeframe {timeframe!r}; allowed: {', '.join(TIMEFRAME_MS)}") from None


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar; ``timestamp`` is the bar's open time in UTC epoch ms."""

    timestamp: int
    open: float
    high: float
    low: float
    close: float
    volume: float
