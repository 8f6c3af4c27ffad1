"""Parameter ranges observed to work — suggestions only.

For each strategy of the library, ``trials`` parameter sets are drawn around its configured values
(numbers scaled by 0.6..1.4, kept inside the declared ranges; the configured set is trial 0) and
run on the training period like the strategies themselves. Per regime, the trials are ranked by
mean reward; the suggestion is the range each numeric parameter spans in the best third, with that
third's mean reward beside the configured set's. Nothing is applied: parameters change only when a
person edits ``strategies.<name>.params`` in config.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cockpit.config import ConfigError
from cockpit.domain.settings import Config
from cockpit.training.experience import ExperienceBuffer
from cockpit.training.returns import strategy_returns
from cockpit.training.reward import RewardCalculator


def draw_params(strat: Any, n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    specs = getattr(type(strat), "PARAMS", {}) or {}
    base = dict(getattr(strat, "params", {}) or {})
    out = [base]
    tries = 0
    while len(out) < n and tries < n * 10:
        tries += 1
        p = dict(base)
        for k, spec in specs.items():
            if spec.kind in ("int", "float") and isinstance(base.get(k), (int, float)) and base[k]:
                v = base[k] * rng.uniform(0.6, 1.4)
                lo = spec.lo if spec.lo is not None else -np.inf
                hi = spec.hi if spec.hi is not None else np.inf
                v = float(np.clip(v, lo, hi))
                p[k] = int(round(v)) if spec.kind == "int" else round(v, 6)
        try:
            p = type(strat).validate_params(p)
        except ConfigError:
            continue
        if p not in out:
            out.append(p)
    return out


def suggest(
    cfg: Config,
    ds: Any,
    strategies: list[Any],
    reward: RewardCalculator,
    *,
    start_ms: int | None,
    end_ms: int | None,
    horizon: int,
    step: int,
    trials: int,
    seed: int = 0,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for strat in strategies:
        if not getattr(type(strat), "PARAMS", None) or trials < 2:
            continue
        sets = draw_params(strat, trials, rng)
        if len(sets) < 2:
            continue
        objs = [
            type(strat)(p, timeframe=strat.timeframe) if hasattr(strat, "timeframe") else type(strat)(p) for p in sets
        ]
        sr = strategy_returns(cfg, ds, start_ms=start_ms, end_ms=end_ms, strategies=objs)
        sr.names = tuple(f"trial{i}" for i in range(len(objs)))
        buf = ExperienceBuffer.from_strategy_returns(
            sr, reward, horizon=horizon, step=step, start_ms=start_ms, end_ms=end_ms
        )
        per: dict[str, Any] = {}
        for regime, d in sorted(buf.mean_reward().items()):
            ranked = sorted(range(len(sets)), key=lambda i: -d[f"trial{i}"][0])
            top = ranked[: max(1, len(ranked) // 3)]
            ranges = {}
            for k, v in sets[0].items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    vals = [sets[i][k] for i in top]
                    ranges[k] = [min(vals), max(vals)]
            per[regime] = {
                "ranges": ranges,
                "top_mean_reward": float(np.mean([d[f"trial{i}"][0] for i in top])),
                "configured_mean_reward": float(d["trial0"][0]),
                "samples": int(d["trial0"][1]),
                "best_params": sets[ranked[0]],
            }
        out[strat.name] = {
            "trials": len(sets),
            "configured": sets[0],
            "by_regime": per,
            "note": (
                "suggestion only, observed in-sample on the training period; check it with "
                f"`cockpit sweep --walk-forward` and edit strategies.{strat.name}.params in "
                "config to change"
            ),
        }
    return out
