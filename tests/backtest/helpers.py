"""Tiny builders for tabular backtest scenarios."""

from __future__ import annotations

import numpy as np

from cockpit.backtest.signals import Signals

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC, a funding settlement time
H = 3_600_000
NAN = float("nan")


def bars(rows: list[tuple[float, float, float, float]], *, start: int = T0, step: int = H) -> dict[str, np.ndarray]:
    a = np.array(rows, dtype=np.float64)
    n = len(rows)
    return {
        "timestamp": start + step * np.arange(n, dtype=np.int64),
        "open": a[:, 0],
        "high": a[:, 1],
        "low": a[:, 2],
        "close": a[:, 3],
        "volume": np.ones(n),
    }


def signals(
    direction: list[int],
    stop: list[float] | None = None,
    take: list[float] | None = None,
    strength: list[float] | None = None,
) -> Signals:
    n = len(direction)
    return Signals(
        np.array(direction, dtype=np.int8),
        np.ones(n) if strength is None else np.array(strength, float),
        np.full(n, np.nan) if stop is None else np.array(stop, float),
        np.full(n, np.nan) if take is None else np.array(take, float),
    )


def random_walk(n: int, seed: int = 7, start: float = 30_000.0, vol: float = 0.006) -> dict[str, np.ndarray]:
    """Generated 1h bars: log-normal closes, opens at the previous close plus a small gap, wicks."""
    rng = np.random.default_rng(seed)
    r = rng.standard_t(4, n) * vol
    close = start * np.exp(np.cumsum(r))
    open_ = np.concatenate(([start], close[:-1])) * (1 + rng.normal(0, vol / 10, n))
    hi = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, vol / 2, n)))
    lo = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, vol / 2, n)))
    ts = T0 + H * np.arange(n, dtype=np.int64)
    return {"timestamp": ts, "open": open_, "high": hi, "low": lo, "close": close, "volume": np.ones(n)}
