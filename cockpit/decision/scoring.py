"""StrategyScorer (what each strategy is expected to earn now) and PortfolioScheduler (weights from scores).

The score of a strategy in a regime is its **expected reward relative to cash**, learned offline
(``cockpit train run``) and never hard-coded: the score table's expected reward for (regime,
strategy), shrunk towards the strategy's mean over all regimes by ``portfolio.regime_shrink``
pseudo-samples (``k``)::

    score = (n * reward[regime] + k * reward[all regimes]) / (n + k)

so a regime with few samples says little and the regime labels (which predict little on their own)
move the score only where the evidence is thick; ``regime_shrink: null`` (the default, chosen on the
training period) ignores the labels and scores every strategy by its all-regime mean. The sign is kept: cash scores 0, and a strategy
that is not expected to beat cash (score <= 0) gets no weight. With no row for a strategy at all,
it has no evidence and scores 0 (cash).

The table is the newest published one (``strategy_scores`` rows with status ``published``, read
through ``DataService.strategy_scores``); before anything is published, the table shipped with the
package (``default_scores.json``, trained on 2019-09-10 .. 2023-12-31 only: see README) is used.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping

from cockpit.domain.settings import Config
from cockpit.domain.signals import Regime, StrategySignal

CASH = "cash"
SHRINK_SAMPLES = 20.0
SHIPPED_TABLE = "default_scores.json"


def regime_value(regime: Regime | str | None) -> str:
    if isinstance(regime, Regime):
        return regime.value
    if isinstance(regime, str) and regime in {r.value for r in Regime}:
        return regime
    return Regime.UNKNOWN.value


@lru_cache(maxsize=1)
def shipped_table() -> tuple[dict[str, Any], ...]:
    """The score table shipped with the package (rows like ``strategy_scores``), or () if absent."""
    try:
        raw = resources.files("cockpit.decision").joinpath(SHIPPED_TABLE).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return ()
    doc = json.loads(raw)
    version = str(doc.get("version") or "shipped")
    return tuple({**r, "version": version} for r in doc.get("rows", []))


@dataclass(frozen=True)
class StrategyScore:
    strategy: str
    score: float  # expected reward relative to cash (0 = cash); <= 0 gets no weight
    expected: float | None  # the table's expected reward in this regime (None: no row)
    pooled: float | None  # the strategy's sample-weighted expected reward over all regimes
    samples: int
    table_version: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class StrategyScorer:
    def __init__(self, ds: Any = None, *, shipped: bool = True, shrink: float = SHRINK_SAMPLES) -> None:
        self._ds = ds
        self._shipped = shipped
        self.shrink = float(shrink)

    @classmethod
    def from_config(cls, cfg: Config, ds: Any = None) -> "StrategyScorer":
        k = cfg.get("portfolio", {}).get("regime_shrink", SHRINK_SAMPLES)
        return cls(ds, shrink=float("inf") if k is None else float(k))

    def table(self) -> list[dict[str, Any]]:
        rows = list(self._ds.strategy_scores()) if self._ds is not None else []
        if not rows and self._shipped:
            rows = [dict(r) for r in shipped_table()]
        return rows

    def score(
        self, names: Iterable[str], regime: Regime | str | None, table: list[dict[str, Any]] | None = None
    ) -> dict[str, StrategyScore]:
        reg = regime_value(regime)
        rows = self.table() if table is None else table
        by_name: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            er = r.get("expected_reward")
            if er is not None and math.isfinite(float(er)):
                by_name.setdefault(r["strategy"], []).append(r)
        out: dict[str, StrategyScore] = {}
        for name in names:
            here = by_name.get(name, [])
            if not here:
                out[name] = StrategyScore(name, 0.0, None, None, 0, None)
                continue
            n_all = sum(int(r.get("samples") or 0) for r in here)
            pooled = (
                sum(float(r["expected_reward"]) * int(r.get("samples") or 0) for r in here) / n_all
                if n_all
                else float(sum(float(r["expected_reward"]) for r in here) / len(here))
            )
            row = next((r for r in here if r.get("regime") == reg), None)
            n = int(row.get("samples") or 0) if row else 0
            er = float(row["expected_reward"]) if row else None
            k = self.shrink
            score = ((n * er + k * pooled) / (n + k)) if row and er is not None and math.isfinite(k) else pooled
            out[name] = StrategyScore(name, round(score, 8), er, round(pooled, 8), n, (row or here[0]).get("version"))
        return out


@dataclass(frozen=True)
class PortfolioScheduler:
    """Top-N by weight, normalised, capped per strategy (the excess goes to the others; what no
    one can take stays unallocated, i.e. in cash), strategies under ``min_weight`` dropped and the
    rest renormalised. Only positive scores count: a score <= 0 does not beat cash. A ``cash``
    entry (the LLM may give one) takes its share in the normalisation and is then left out, so the
    weights returned sum to 1 - cash."""

    top_n: int = 3
    max_weight: float = 0.6
    min_weight: float = 0.05

    @classmethod
    def from_config(cls, cfg: Config) -> "PortfolioScheduler":
        p = cfg["portfolio"]
        return cls(int(p["top_n"]), float(p["max_weight"]), float(p["min_weight"]))

    def allocate(self, raw: Mapping[str, float]) -> dict[str, float]:
        items = [(k, float(v)) for k, v in raw.items() if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]
        cash = next((v for k, v in items if k == CASH), 0.0)
        items = [(k, v) for k, v in items if k != CASH]
        items.sort(key=lambda kv: (-kv[1], kv[0]))
        chosen = dict(items[: self.top_n])
        budget = sum(chosen.values()) / (sum(chosen.values()) + cash) if cash > 0 and chosen else 1.0
        return self._allocate(chosen, budget)

    def _allocate(self, chosen: dict[str, float], budget: float = 1.0) -> dict[str, float]:
        """Share ``budget`` (1 - the cash share) among ``chosen`` in proportion, capped, small ones dropped."""
        while chosen:
            w = self._capped(chosen, budget)
            small = [k for k, v in w.items() if v < self.min_weight - 1e-12]
            if not small or len(small) == len(w):
                if small:  # everything is below the minimum: keep only the strongest
                    best = max(w, key=lambda k: (w[k], k))
                    return self._capped({best: chosen[best]}, budget)
                return w
            for k in small:
                del chosen[k]
        return {}

    def _capped(self, raw: Mapping[str, float], total: float = 1.0) -> dict[str, float]:
        cap = self.max_weight
        fixed: dict[str, float] = {}
        free = dict(raw)
        while free:
            budget = total - sum(fixed.values())
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
