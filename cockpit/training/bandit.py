"""RLOptimizer: a contextual bandit over strategies with the market regime as the context.

Method: **Thompson sampling with a Normal-Gamma posterior per (regime, strategy)** on the reward
of the next ``horizon`` bars. Why this and not LinUCB:

* the context is one categorical value (five regimes); LinUCB over a one-hot regime vector is
  exactly independent per-regime arms, so a linear model buys nothing here;
* the posterior gives the score table's ``uncertainty`` directly (the standard deviation of the
  posterior mean) and its ``samples``, which the live scorer uses to shrink thin evidence;
* sampling (not an optimism bonus with a tuned alpha) needs no exploration constant and copes
  with feedback arriving in batches, as it does in offline walk-forward training.

Updates: backtest samples observed every strategy's outcome (each sleeve was simulated), so every
arm is updated (full information); live samples update only the strategies the engine gave
weight (bandit feedback). The prior is centred on 0 with the pooled variance of all rewards
(empirical Bayes), ``prior_strength`` pseudo-observations strong.

Walk-forward: the training samples are cut into ``folds`` consecutive windows; before each window
is learned, the current posterior *selects* (one Thompson draw per decision, top-N) and that
choice is scored on the window it has not yet seen. Those out-of-sample per-fold figures are kept
with the candidate, beside the final table learned from all windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cockpit.training.experience import ExperienceBuffer, Sample


@dataclass
class Arm:
    kappa: float
    mu: float
    alpha: float
    beta: float
    n: int = 0

    def update(self, x: float) -> None:
        k1 = self.kappa + 1.0
        self.beta += self.kappa * (x - self.mu) ** 2 / (2.0 * k1)
        self.mu = (self.kappa * self.mu + x) / k1
        self.kappa = k1
        self.alpha += 0.5
        self.n += 1

    @property
    def std(self) -> float:
        """Standard deviation of the posterior mean (Student-t marginal; scale form while alpha <= 1)."""
        a = self.alpha - 1.0 if self.alpha > 1.0 else self.alpha
        return math.sqrt(self.beta / (self.kappa * a))

    def draw(self, rng: np.random.Generator) -> float:
        tau = rng.gamma(self.alpha, 1.0 / self.beta)
        return float(rng.normal(self.mu, 1.0 / math.sqrt(self.kappa * tau)))


@dataclass
class RLOptimizer:
    strategies: tuple[str, ...]
    prior_strength: float = 1.0
    folds: int = 4
    top_n: int = 3
    seed: int = 0
    arms: dict[tuple[str, str], Arm] = field(default_factory=dict)
    walk_forward: list[dict[str, Any]] = field(default_factory=list)
    _prior_var: float = 1e-4

    def _arm(self, regime: str, name: str) -> Arm:
        a = self.arms.get((regime, name))
        if a is None:
            a = self.arms[(regime, name)] = Arm(self.prior_strength, 0.0, 1.0, max(self._prior_var, 1e-12))
        return a

    def update(self, s: Sample) -> None:
        for name, x in s.outcomes.items():
            if name in self.strategies and math.isfinite(x) and (s.full_information or name in s.selected):
                self._arm(s.regime, name).update(float(x))

    def select(self, regime: str, rng: np.random.Generator) -> list[str]:
        draws = {n: self._arm(regime, n).draw(rng) for n in self.strategies}
        return sorted(draws, key=lambda n: (-draws[n], n))[: self.top_n]

    def fit(self, buf: ExperienceBuffer) -> "RLOptimizer":
        """Walk forward through ``buf``: evaluate out of sample, then learn, window by window."""
        xs = [v for s in buf for v in s.outcomes.values() if math.isfinite(v)]
        self._prior_var = float(np.var(xs)) if len(xs) > 1 else 1e-4
        self.arms.clear()
        self.walk_forward = []
        rng = np.random.default_rng(self.seed)
        for i, fold in enumerate(buf.folds(self.folds)):
            if i > 0:  # the first window has nothing learned to evaluate
                self.walk_forward.append(self._evaluate(fold, rng, i))
            for s in fold:
                self.update(s)
        return self

    def _evaluate(self, fold: ExperienceBuffer, rng: np.random.Generator, i: int) -> dict[str, Any]:
        chosen, equal, n = 0.0, 0.0, 0
        for s in fold:
            if not s.full_information or not s.outcomes:
                continue
            pick = [p for p in self.select(s.regime, rng) if p in s.outcomes]
            if not pick:
                continue
            chosen += float(np.mean([s.outcomes[p] for p in pick]))
            equal += float(np.mean(list(s.outcomes.values())))
            n += 1
        return {
            "fold": i,
            "start": fold.samples[0].time,
            "end": fold.samples[-1].time,
            "samples": n,
            "thompson_mean_reward": chosen / n if n else None,
            "equal_mean_reward": equal / n if n else None,
        }

    def table(self) -> list[dict[str, Any]]:
        """Score table rows: strategy x regime with expected reward, uncertainty and sample count."""
        rows = []
        for (regime, name), a in sorted(self.arms.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if a.n == 0:
                continue
            rows.append(
                {
                    "strategy": name,
                    "regime": regime,
                    "expected_reward": float(a.mu),
                    "uncertainty": float(a.std),
                    "samples": int(a.n),
                }
            )
        return rows

    def ranking(self, regime: str) -> list[str]:
        """Strategies by expected reward in ``regime``, best first (learned arms only)."""
        rows = [(a.mu, n) for (r, n), a in self.arms.items() if r == regime and a.n > 0]
        return [n for _, n in sorted(rows, key=lambda t: (-t[0], t[1]))]
