"""The strategy interface: one rule set, two forms that must agree.

* ``generate(arrays, funding=None, extra=None) -> SignalFrame``: vectorised over a whole history
  (the backtest engine's fast path). The value at bar ``t`` uses only bars ``<= t`` (and funding
  settled no later than bar ``t``'s close time); the tests check this with hypothesis.
* ``on_bar(ctx) -> StrategySignal``: live, per bar, from a :class:`StrategyContext` built from
  DataService arrays up to "now". It evaluates the same rules on the context's history and returns
  the newest bar, so both forms agree at every bar when given the same history (tested). Indicators
  with an infinite memory (EMA, Wilder smoothing) depend slightly on where the history starts: in
  live use the context holds ``engine.history_bars`` bars, enough for them to converge.

Every non-flat signal carries a stop-loss on the correct side of the entry (below for a long,
above for a short); a take-profit, when given, is on the other side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np

from cockpit.domain.errors import ConfigError
from cockpit.domain.market import timeframe_ms
from cockpit.domain.signals import Direction, StrategySignal

Arrays = Mapping[str, np.ndarray]


# ---------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Param:
    """A declared strategy parameter: default, allowed range (inclusive) and kind."""

    default: Any
    lo: float | None = None
    hi: float | None = None
    kind: str = "float"  # float | int | bool | choice
    options: tuple[Any, ...] = ()
    doc: str = ""

    def describe(self) -> str:
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(map(str, self.options))
        kind = "a whole number" if self.kind == "int" else "a number"
        return f"{kind} from {self.lo:g} to {self.hi:g}"

    def check(self, path: str, v: Any) -> Any:
        if self.kind == "bool":
            if not isinstance(v, bool):
                raise ConfigError(path, f"expected {self.describe()}, got {v!r}")
            return v
        if self.kind == "choice":
            if v not in self.options:
                raise ConfigError(path, f"expected {self.describe()}, got {v!r}")
            return v
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(float(v))
        if ok and self.kind == "int" and isinstance(v, float):
            ok = float(v).is_integer()
        if not ok or (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
            raise ConfigError(path, f"expected {self.describe()}, got {v!r}")
        return int(v) if self.kind == "int" else float(v)


# ---------------------------------------------------------------- signals over a history


@dataclass
class SignalFrame:
    """Per-bar signals over a whole history (all arrays have the length of the candles).

    ``direction`` int8 in {-1, 0, 1}; ``strength`` 0..1 (0 when flat); ``stop_loss`` and
    ``take_profit`` prices (NaN when flat / no target); ``reason`` an index into ``reasons``.
    """

    direction: np.ndarray
    strength: np.ndarray
    stop_loss: np.ndarray
    take_profit: np.ndarray
    reason: np.ndarray
    reasons: tuple[str, ...]
    entry: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.direction)

    def signal_at(self, i: int, strategy: str, timestamp: int = 0) -> StrategySignal:
        d = int(self.direction[i])
        direction = Direction.LONG if d > 0 else Direction.SHORT if d < 0 else Direction.FLAT

        def num(a: np.ndarray | None) -> float | None:
            if a is None or d == 0:
                return None
            v = float(a[i])
            return v if np.isfinite(v) else None

        return StrategySignal(
            strategy=strategy,
            direction=direction,
            strength=float(min(1.0, max(0.0, self.strength[i]))) if d else 0.0,
            entry=num(self.entry),
            stop_loss=num(self.stop_loss),
            take_profit=num(self.take_profit),
            reason=self.reasons[int(self.reason[i])],
            timestamp=int(timestamp),
        )


def flat_frame(n: int, reasons: tuple[str, ...] = ("warming up",)) -> SignalFrame:
    nan = np.full(n, np.nan)
    return SignalFrame(
        np.zeros(n, np.int8), np.zeros(n), nan.copy(), nan.copy(), np.zeros(n, np.int16), reasons, nan.copy()
    )


def finish_frame(
    direction: np.ndarray,
    strength: np.ndarray,
    entry: np.ndarray,
    stop_dist: np.ndarray,
    take_long: np.ndarray | None,
    take_short: np.ndarray | None,
    reason: np.ndarray,
    reasons: tuple[str, ...],
) -> SignalFrame:
    """Assemble a frame: stop = entry -/+ stop_dist; drop signals whose stop or entry is not usable.

    ``take_long``/``take_short`` are absolute take-profit prices for each side (NaN: none); a target on
    the wrong side of the entry is dropped (NaN), a missing stop makes the bar flat.
    """
    n = len(entry)
    d = np.asarray(direction, dtype=np.int8).copy()
    ok = np.isfinite(entry) & np.isfinite(stop_dist) & (stop_dist > 0)
    reason = np.asarray(reason, dtype=np.int16).copy()
    reason[(d != 0) & ~ok] = 0
    d[~ok] = 0
    stop = np.where(d > 0, entry - stop_dist, np.where(d < 0, entry + stop_dist, np.nan))
    tl = np.full(n, np.nan) if take_long is None else take_long
    ts = np.full(n, np.nan) if take_short is None else take_short
    with np.errstate(invalid="ignore"):
        take = np.where(
            d > 0, np.where(tl > entry, tl, np.nan), np.where(d < 0, np.where(ts < entry, ts, np.nan), np.nan)
        )
        s = np.where(d != 0, np.clip(np.nan_to_num(strength, nan=0.0), 0.0, 1.0), 0.0)
    return SignalFrame(d, s, stop, take, reason, reasons, np.where(d != 0, entry, np.nan))


# ---------------------------------------------------------------- context


@dataclass
class StrategyContext:
    """What a strategy sees at one bar: closed candles and funding up to ``now_ms``, nothing later."""

    symbol: str
    now_ms: int
    candles_by_tf: dict[str, dict[str, np.ndarray]]
    funding: dict[str, np.ndarray] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def candles(self, timeframe: str) -> dict[str, np.ndarray]:
        try:
            return self.candles_by_tf[timeframe]
        except KeyError:
            raise KeyError(
                f"timeframe {timeframe!r} not in this context (have: {', '.join(self.candles_by_tf) or 'none'})"
            ) from None


def build_context(
    ds: Any,
    symbol: str,
    timeframes: list[str] | tuple[str, ...],
    now_ms: int,
    bars: int,
    *,
    funding_limit: int = 500,
    extra: dict[str, Any] | None = None,
) -> StrategyContext:
    """Read the context through DataService only: per timeframe the newest ``bars`` candles that have
    closed by ``now_ms`` (open time + timeframe <= now), and the funding settled by ``now_ms``."""
    by_tf: dict[str, dict[str, np.ndarray]] = {}
    for tf in timeframes:
        by_tf[tf] = ds.candle_arrays(symbol, tf, limit=bars, end=int(now_ms) - timeframe_ms(tf))
    return StrategyContext(
        symbol=symbol,
        now_ms=int(now_ms),
        candles_by_tf=by_tf,
        funding=_funding(ds, symbol, now_ms, funding_limit),
        extra=dict(extra or {}),
    )


def _funding(ds: Any, symbol: str, now_ms: int, limit: int) -> dict[str, np.ndarray]:
    fr = ds.funding_rates(symbol, end=int(now_ms), limit=limit)
    return {
        "timestamp": fr["timestamp"].to_numpy(dtype=np.int64),
        "funding_rate": fr["funding_rate"].to_numpy(dtype=np.float64),
    }


class ContextCache:
    """``build_context`` for the live loop, reading only what is new.

    Per (symbol, timeframe, bars) it keeps the candle arrays of the previous decision and the database's
    fingerprint of them (row count and column sums over their time range). On the next decision it asks
    for that fingerprint again: when the stored range still holds exactly those rows it reads only the
    candles newer than the last one held and slides the window; when anything differs (a candle rewritten
    or back-filled, a gap filled, the clock earlier than the last candle held, a window not yet full) it
    reads the timeframe in full, as ``build_context`` does. Either way the result equals
    ``build_context``'s for the same database; callers get copies, so nothing they do reaches the cache.
    """

    def __init__(self) -> None:
        self._held: dict[tuple[str, str, int], tuple[dict[str, np.ndarray], tuple]] = {}
        self.full_reads = 0  # timeframes read in full (the first read, or after a difference)
        self.incremental_reads = 0

    def build(
        self,
        ds: Any,
        symbol: str,
        timeframes: list[str] | tuple[str, ...],
        now_ms: int,
        bars: int,
        *,
        funding_limit: int = 500,
        extra: dict[str, Any] | None = None,
    ) -> StrategyContext:
        by_tf = {tf: self.candles(ds, symbol, tf, int(now_ms) - timeframe_ms(tf), int(bars)) for tf in timeframes}
        return StrategyContext(
            symbol=symbol,
            now_ms=int(now_ms),
            candles_by_tf=by_tf,
            funding=_funding(ds, symbol, now_ms, funding_limit),
            extra=dict(extra or {}),
        )

    def candles(self, ds: Any, symbol: str, tf: str, end: int, bars: int) -> dict[str, np.ndarray]:
        """The newest ``bars`` candles of ``tf`` with open time <= ``end`` (``ds.candle_arrays``'s result)."""
        key = (symbol, tf, bars)
        held = self._held.pop(key, None)  # dropped while updating: an exception leaves no half-made cache
        with ds.consistent_reads():  # the fingerprints and the rows from one state of the database
            arrays, fp = None, None
            if held is not None:
                a, fp_held = held
                ts = a["timestamp"]
                if (
                    len(ts) == bars
                    and end >= int(ts[-1])
                    and ds.candle_fingerprint(symbol, tf, int(ts[0]), int(ts[-1])) == fp_held
                ):
                    new = ds.candle_arrays(symbol, tf, start=int(ts[-1]) + 1, end=end, limit=bars)
                    if len(new["timestamp"]):
                        arrays = {k: np.concatenate([a[k], new[k]])[-bars:] for k in a}
                    else:
                        arrays, fp = a, fp_held
                    self.incremental_reads += 1
            if arrays is None:
                arrays = ds.candle_arrays(symbol, tf, limit=bars, end=end)
                self.full_reads += 1
            ts = arrays["timestamp"]
            if len(ts) and fp is None:
                fp = ds.candle_fingerprint(symbol, tf, int(ts[0]), int(ts[-1]))
        if len(ts) and fp is not None:  # fp is set whenever there are rows (just above)
            self._held[key] = (arrays, fp)
        return {k: v.copy() for k, v in arrays.items()}


# ---------------------------------------------------------------- the base class


class Strategy:
    """Base class. Subclasses set ``name``, ``PARAMS`` and implement ``_generate``."""

    name: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, Param]] = {}
    uses_funding: ClassVar[bool] = False

    def __init__(self, params: Mapping[str, Any] | None = None, *, timeframe: str = "1h") -> None:
        self.params = self.validate_params(params or {})
        timeframe_ms(timeframe)
        self.timeframe = timeframe

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {k: p.default for k, p in cls.PARAMS.items()}

    @classmethod
    def validate_params(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        base = f"strategies.{cls.name}.params"
        out = cls.default_params()
        for k, v in params.items():
            if k not in cls.PARAMS:
                raise ConfigError(f"{base}.{k}", f"unknown parameter; allowed: {', '.join(cls.PARAMS)}")
            out[k] = cls.PARAMS[k].check(f"{base}.{k}", v)
        cls._cross_check(out, base)
        return out

    @classmethod
    def _cross_check(cls, p: dict[str, Any], base: str) -> None:
        """Relations between parameters (override)."""

    @property
    def required_timeframes(self) -> tuple[str, ...]:
        return (self.timeframe,)

    @property
    def warmup_bars(self) -> int:
        """Bars of history needed before the first non-flat signal is possible (an estimate for callers)."""
        ints = [
            int(v)
            for k, v in self.params.items()
            if isinstance(v, int) and not isinstance(v, bool) and ("period" in k or k in ("fast", "slow", "lookback"))
        ]
        return 3 * max(ints or [20]) + 2

    # -- the two forms
    def generate(
        self, arrays: Arrays, funding: Arrays | None = None, extra: Mapping[str, Any] | None = None
    ) -> SignalFrame:
        n = len(arrays["close"])
        if n == 0:
            return flat_frame(0)
        a = {k: np.asarray(v, dtype=np.int64 if k == "timestamp" else np.float64) for k, v in arrays.items()}
        return self._generate(a, funding, dict(extra or {}))

    def _generate(self, a: dict[str, np.ndarray], funding: Arrays | None, extra: dict[str, Any]) -> SignalFrame:
        raise NotImplementedError

    def on_bar(self, ctx: StrategyContext) -> StrategySignal:
        arrays = ctx.candles(self.timeframe)
        n = len(arrays["close"])
        if n == 0:
            return StrategySignal(self.name, Direction.FLAT, 0.0, None, None, None, "no candles", ctx.now_ms)
        frame = self.generate(arrays, ctx.funding, ctx.extra)
        return frame.signal_at(n - 1, self.name, int(arrays["timestamp"][-1]))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": dict(self.params),
            "required_timeframes": list(self.required_timeframes),
            "rules": (type(self).__doc__ or "").strip(),
        }
