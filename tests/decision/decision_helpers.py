"""Constants and builders shared by the decision tests (imported by name: tests/decision is on sys.path)."""

from __future__ import annotations

from cockpit.domain.signals import Direction, StrategySignal

T0 = 1_767_268_800_000  # 2026-01-01 12:00 UTC
SECRET = "sk-test-THIS-KEY-MUST-NEVER-BE-STORED-0123456789"


def sig(name: str, direction: Direction, strength: float, reason: str = "") -> StrategySignal:
    return StrategySignal(name, direction, strength, None, None, None, reason or f"{name} says {direction.value}", T0)


def default_signals() -> dict[str, StrategySignal]:
    return {
        "ema_trend": sig("ema_trend", Direction.LONG, 0.8, "fast EMA above slow"),
        "bollinger_range": sig("bollinger_range", Direction.SHORT, 0.4, "close at upper band"),
        "funding_rate": sig("funding_rate", Direction.FLAT, 0.0, "funding neutral"),
        "breakout": sig("breakout", Direction.LONG, 0.6, "20-bar high broken"),
        "momentum": sig("momentum", Direction.LONG, 0.5, "RSI 61"),
        "mean_reversion": sig("mean_reversion", Direction.SHORT, 0.3, "z-score 1.4"),
        "volatility": sig("volatility", Direction.FLAT, 0.0, "no squeeze"),
    }
