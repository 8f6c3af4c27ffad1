"""StrategyScorer (how well each strategy suits now) and PortfolioScheduler (weights from scores).

Score of a strategy in a regime, in [0, 1]::

    score = 0.5 * regime_fit + 0.5 * offline

- ``regime_fit`` comes from ``REGIME_FIT`` below: what each strategy family is built for
  (trend followers in trends, range strategies in ranges); 0.5 for anything unlisted.
- ``offline`` comes from the score table that offline training publishes (``strategy_scores``
  rows with status ``published``, newest version, read through ``DataService.strategy_scores``):
  ``0.5 + c * 0.5 * tanh(expected_reward / scale)`` where ``scale`` is the largest
  |expected_reward| in that regime and ``c = samples / (samples + 20)`` shrinks thin evidence
  towards the prior. With no table (or no row for the strategy in this regime) it is the equal
  prior 0.5, so the regime fit alone orders the strategies.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

from cockpit.domain.signals import Regime, StrategySignal

PRIOR = 0.5
SHRINK_SAMPLES = 20.0

_R = Regime
#               trending_up  trending_down  ranging  high_volatility  unknown
_FIT_ROWS: dict[str, tuple[float, float, float, float, float]] = {
    "ema_trend":       (0.9, 0.9, 0.2, 0.5, 0.5),
    "bollinger_range": (0.2, 0.2, 0.9, 0.3, 0.5),
    "funding_rate":    (0.5, 0.5, 0.6, 0.6, 0.5),
    "breakout":        (0.7, 0.7, 0.3, 0.8, 0.5),
    "grid":            (0.1, 0.1, 0.9, 0.2, 0.5),
    "momentum":        (0.8, 0.8, 0.3, 0.6, 0.5),
    "mean_reversion":  (0.2, 0.2, 0.9, 0.4, 0.5),
    "volatility":      (0.5, 0.5, 0.4, 0.9, 0.5),
    "time_cycle":      (0.5, 0.5, 0.5, 0.4, 0.5),
    "onchain":         (0.6, 0.6, 0.5, 0.4, 0.5),
}
_ORDER = (_R.TRENDING_UP, _R.TRENDING_DOWN, _R.RANGING, _R.HIGH_VOLATILITY, _R.UNKNOWN)
REGIME_FIT: dict[str, dict[str, float]] = {
    name: {r.value: v for r, v in zip(_ORDER, row)} for name, row in _FIT_ROWS.items()
}


def regime_value(regime: Regime | str | None) -> str:
    if isinstance(regime, Regime):
        return regime.value
    if isinstance(regime, str) and regime in {r.value for r in Regime}:
        return regime
    return Regime.UNKNOWN.value


@dataclass(frozen=True)
class StrategyScore:
    strategy: str
    score: float
    regime_fit: float
    offline: float
    samples: int
    table_version: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class StrategyScorer:
    def __init__(self, ds: Any = None, *, fit: Mapping[str, Mapping[str, float]] = REGIME_FIT) -> None:
        self._ds = ds
        self._fit = fit

    def table(self) -> list[dict[str, Any]]:
        if self._ds is None:
            return []
        return list(self._ds.strategy_scores())

    def score(self, names: Iterable[str], regime: Regime | str | None,
              table: list[dict[str, Any]] | None = None) -> dict[str, StrategyScore]:
        reg = regime_value(regime)
        rows = self.table() if table is None else table
        here = {r["strategy"]: r for r in rows if r.get("regime") == reg}
        rewards = [abs(float(r["expected_reward"])) for r in here.values()
                   if r.get("expected_reward") is not None and math.isfinite(float(r["expected_reward"]))]
        scale = max(rewards) if rewards and max(rewards) > 0 else 1.0
        out: dict[str, StrategyScore] = {}
        for name in names:
            fit = float(self._fit.get(name, {}).get(reg, PRIOR))
            row = here.get(name)
            offline, samples, version = PRIOR, 0, None
            if row is not None:
                er = float(row["expected_reward"])
                samples = int(row.get("samples") or 0)
                version = row.get("version")
                if math.isfinite(er):
                    c = samples / (samples + SHRINK_SAMPLES)
                    offline = PRIOR + c * 0.5 * math.tanh(er / scale)
            out[name] = StrategyScore(name, round(0.5 * fit + 0.5 * offline, 6), fit, round(offline, 6), samples,
                                      version)
        return out


@dataclass(frozen=True)
class PortfolioScheduler:
    """Top-N by weight, normalised, capped per strategy (the excess goes to the others; what no
    one can take stays unallocated), strategies under ``min_weight`` dropped and the rest
    renormalised."""

    top_n: int = 3
    max_weight: float = 0.6
    min_weight: float = 0.05

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "PortfolioScheduler":
        p = cfg["portfolio"]
        return cls(int(p["top_n"]), float(p["max_weight"]), float(p["min_weight"]))

    def allocate(self, raw: Mapping[str, float]) -> dict[str, float]:
        items = [(k, float(v)) for k, v in raw.items() if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]
        items.sort(key=lambda kv: (-kv[1], kv[0]))
        chosen = dict(items[: self.top_n])
        while chosen:
            w = self._capped(chosen)
            small = [k for k, v in w.items() if v < self.min_weight - 1e-12]
            if not small or len(small) == len(w):
                if small:  # everything is below the minimum: keep only the strongest
                    best = max(w, key=lambda k: (w[k], k))
                    return self._capped({best: chosen[best]})
                return w
            for k in small:
                del chosen[k]
        return {}

    def _capped(self, raw: Mapping[str, float]) -> dict[str, float]:
        cap = self.max_weight
        fixed: dict[str, float] = {}
        free = dict(raw)
        while free:
            budget = 1.0 - sum(fixed.values())
            s = sum(free.values())
            w = {k: budget * v / s for k, v in free.items()}
            over = [k for k, v in w.items() if v > cap + 1e-12]
            if not over:
                fixed.update(w)
                break
            for k in over:
                fixed[k] = cap
                del free[k]
        return {k: round(fixed[k], 10) for k in raw}


def net_exposure(weights: Mapping[str, float], signals: Mapping[str, StrategySignal]) -> float:
    """Signed target exposure in [-1, 1]: sum of weight * direction * strength."""
    total = 0.0
    for name, w in weights.items():
        sig = signals.get(name)
        if sig is not None:
            total += w * sig.direction.sign * float(sig.strength)
    return max(-1.0, min(1.0, round(total, 10)))
