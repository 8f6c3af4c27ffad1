"""Per-bar signal arrays as the engine consumes them, and a small reference strategy.

A strategy's vectorised ``generate(arrays)`` returns, for every bar i, what it wants *after bar i
closes* using data up to bar i only (no look-ahead): ``direction`` (+1 long, -1 short, 0 flat),
``strength`` (0..1, scales the position), and absolute ``stop_loss`` / ``take_profit`` prices
(NaN: none). ``as_signals`` accepts any object or mapping with those names, so the strategy
library's SignalFrame plugs in without the engine importing it.

By default the engine is *edge-triggered*: it acts when ``direction`` changes from the previous bar (a
stop-out keeps the account flat until the direction changes again). With a rebalance band
(``EngineSettings.rebalance_band``; portfolio runs) it also follows direction x strength between
changes (engine.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd


@dataclass(slots=True)
class Signals:
    direction: np.ndarray  # int8: +1 / 0 / -1
    strength: np.ndarray  # float64 0..1
    stop_loss: np.ndarray  # float64, NaN = none
    take_profit: np.ndarray  # float64, NaN = none

    def __len__(self) -> int:
        return len(self.direction)


_DIR_WORDS = {"long": 1, "buy": 1, "short": -1, "sell": -1, "flat": 0, "hold": 0, "none": 0, "": 0}


def _get(frame: Any, name: str) -> Any:
    if isinstance(frame, Mapping):
        return frame.get(name)
    if isinstance(frame, pd.DataFrame):
        return frame[name].to_numpy() if name in frame.columns else None
    return getattr(frame, name, None)


def _direction(raw: Any) -> np.ndarray:
    arr = np.asarray(raw)
    if arr.dtype.kind in "iuf":
        return np.nan_to_num(np.sign(arr.astype(np.float64)), nan=0.0).astype(np.int8)
    if arr.dtype.kind == "b":
        return arr.astype(np.int8)
    out = np.empty(len(arr), dtype=np.int8)
    for i, v in enumerate(arr):  # enum or string directions (slow path, rarely used)
        v = getattr(v, "value", v)
        out[i] = _DIR_WORDS[str(v).lower()] if not isinstance(v, (int, float, np.number)) else int(np.sign(v))
    return out


def as_signals(frame: Any, n: int) -> Signals:
    """Coerce a strategy's SignalFrame (object, mapping or DataFrame) to engine arrays of length ``n``."""
    if isinstance(frame, Signals):
        sig = frame
    else:
        raw = _get(frame, "direction")
        if raw is None:
            raise ValueError("signal frame has no 'direction' array")
        d = _direction(raw)
        s = _get(frame, "strength")
        s = np.ones(len(d)) if s is None else np.clip(np.nan_to_num(np.asarray(s, dtype=np.float64), nan=0.0), 0, 1)
        sl = _get(frame, "stop_loss")
        tp = _get(frame, "take_profit")
        sl = np.full(len(d), np.nan) if sl is None else np.asarray(sl, dtype=np.float64)
        tp = np.full(len(d), np.nan) if tp is None else np.asarray(tp, dtype=np.float64)
        sig = Signals(d, s, sl, tp)
    for name in ("direction", "strength", "stop_loss", "take_profit"):
        if len(getattr(sig, name)) != n:
            raise ValueError(f"signal array {name!r} has {len(getattr(sig, name))} values for {n} bars")
    return sig


def ema(values: np.ndarray, span: int) -> np.ndarray:
    """Exponential moving average, alpha = 2/(span+1), seeded with the first value (pandas adjust=False), bit for
    bit as pandas computes it (compiled when numba is there): cockpit.indicators' EMA in its pandas-exact form."""
    from cockpit.indicators.core import ema as ind_ema  # numba loads on first use, as before

    return ind_ema(values, span, min_periods=1, pandas_exact=True)


class EmaCross:
    """Reference EMA(fast)/EMA(slow) always-in-market crossover, with optional percentage stop/target.

    Used by the parity tests and the benchmark (it is deliberately tiny and fixed). Direction is
    flat until ``slow`` bars have passed (warm-up), then the sign of EMA(fast) - EMA(slow). ``strength`` and
    absent stop/take-profit columns are read-only constant views.
    """

    name = "ema_cross"

    def __init__(
        self, fast: int = 12, slow: int = 26, stop_pct: float | None = None, take_pct: float | None = None
    ) -> None:
        if not 1 <= fast < slow:
            raise ValueError(f"need 1 <= fast < slow, got fast={fast} slow={slow}")
        self.fast, self.slow, self.stop_pct, self.take_pct = int(fast), int(slow), stop_pct, take_pct

    def generate(self, arrays: Mapping[str, np.ndarray]) -> Signals:
        from cockpit.backtest.kernels import cross_direction

        close = np.asarray(arrays["close"], dtype=np.float64)
        d = cross_direction(close, self.fast, self.slow, self.slow)  # one compiled pass, same values
        if d is None:
            diff = ema(close, self.fast) - ema(close, self.slow)
            d = np.sign(diff).astype(np.int8)
            d[: self.slow] = 0
        n = len(close)
        # Constant columns are read-only zero-stride views (no memory per bar; at 1M bars three 8 MB
        # arrays were a third of the fast path's time).
        sl = tp = np.broadcast_to(np.nan, n)
        if self.stop_pct:
            sl = np.where(d > 0, close * (1 - self.stop_pct), np.where(d < 0, close * (1 + self.stop_pct), np.nan))
        if self.take_pct:
            tp = np.where(d > 0, close * (1 + self.take_pct), np.where(d < 0, close * (1 - self.take_pct), np.nan))
        return Signals(d, np.broadcast_to(1.0, n), sl, tp)
