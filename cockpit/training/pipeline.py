"""Train a candidate, report it on a held-out period, publish it after review.

``train_candidate`` -> a candidate version: the score table (draft ``strategy_scores`` rows), a
draft prompt, and a ``model_versions`` row with everything behind them. ``report_candidate``
compares, on a period after the training ended, the candidate's selection policy against equal
weights, the best single strategy of training and the active (published) table; the figures are
stored with the candidate. ``publish_candidate`` makes it the active table and publishes its prompt,
recording who did it; it refuses a candidate without a report. Nothing here places an order or
edits config.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from cockpit.backtest.api import parse_date
from cockpit.data.training_store import MODEL_NAME, TrainingStore
from cockpit.domain.settings import Config
from cockpit.training.bandit import RLOptimizer
from cockpit.training.evaluation import run_policies, verdict
from cockpit.training.experience import ExperienceBuffer
from cockpit.training.params import suggest
from cockpit.training.prompt_update import PromptUpdater, recorded_mistakes
from cockpit.training.returns import StrategyReturns, strategy_returns
from cockpit.training.reward import RewardCalculator


class TrainingError(ValueError):
    """A candidate cannot be trained, reported or published (the message says why and what to do)."""


def _day(ms: int) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _version(ds: Any, now_ms: int) -> str:
    base = "t" + datetime.fromtimestamp(int(now_ms) / 1000, tz=timezone.utc).strftime("%Y%m%dT%H%M%S")
    v, i = base, 1
    while ds.model_version(MODEL_NAME, v) is not None:
        i += 1
        v = f"{base}-{i}"
    return v


def _strategies(cfg: Config, names: list[str] | None, given: list[Any] | None) -> list[Any]:
    if given is not None:
        strats = list(given)
    else:
        from cockpit.strategies.registry import build_strategies

        strats = build_strategies(cfg)
    if names is not None:
        have = {s.name: s for s in strats}
        missing = [n for n in names if n not in have]
        if missing:
            raise TrainingError(
                f"the candidate was trained with {', '.join(missing)}, which is not enabled now "
                f"(strategies.<name>.enabled in config)"
            )
        strats = [have[n] for n in names]
    return strats


def train_candidate(
    cfg: Config,
    ds: Any,
    store: TrainingStore,
    *,
    now_ms: int,
    start: str | int | None = None,
    end: str | int | None = None,
    strategies: list[Any] | None = None,
) -> dict[str, Any]:
    t = cfg["training"]
    start_ms, end_ms = parse_date(start), parse_date(end, end=True)
    if start_ms is not None and end_ms is not None and end_ms < start_ms:
        raise TrainingError(f"--to ({end}) is before --from ({start})")
    strats = _strategies(cfg, None, strategies)
    sr = strategy_returns(cfg, ds, start_ms=start_ms, end_ms=end_ms, strategies=strats, engine=t["engine"])
    reward = RewardCalculator.from_config(cfg)
    horizon, step = int(t["horizon_bars"]), int(t["step_bars"])
    buf = ExperienceBuffer.from_strategy_returns(
        sr, reward, horizon=horizon, step=step, start_ms=start_ms, end_ms=end_ms
    )
    sources = {"backtest": len(buf)}
    if t["use_live"]:
        live = ExperienceBuffer.from_decisions(
            ds,
            reward,
            symbol=cfg["symbol"],
            timeframe=cfg["decision_timeframe"],
            tf_ms=sr.tf_ms,
            horizon=horizon,
            start_ms=start_ms,
            end_ms=end_ms,
            taker_fee=sr.taker_fee,
        )
        stored = ExperienceBuffer.from_backtest_results(
            ds,
            reward,
            _regime_lookup(sr),
            names=sr.names,
            horizon_ms=horizon * sr.tf_ms,
            start_ms=start_ms,
            end_ms=end_ms,
        )
        sources.update(live=len(live), backtest_results=len(stored))
        buf.add(live.samples).add(stored.samples)
    if len(buf) == 0:
        raise TrainingError(
            f"no training samples: the period has {len(sr)} bars, fewer than the warm-up plus "
            f"one outcome window of {horizon} bars"
        )
    opt = RLOptimizer(
        sr.names, prior_strength=float(t["prior_strength"]), folds=int(t["folds"]), top_n=1, seed=int(t["seed"])
    ).fit(buf)
    table = opt.table()
    means = {
        n: float(np.mean([s.outcomes[n] for s in buf if s.full_information and n in s.outcomes] or [-np.inf]))
        for n in sr.names
    }
    traded = [n for i, n in enumerate(sr.names) if np.any(sr.exposure[:, i] != 0)]
    best_single = max(traded, key=lambda n: (means[n], n)) if traded else None
    version = _version(ds, now_ms)
    train = {
        "from": _day(sr.timestamps[0]),
        "to": _day(sr.timestamps[-1]),
        "from_ms": int(sr.timestamps[0]),
        "to_ms": int(sr.timestamps[-1]),
        "bars": len(sr),
        "samples": len(buf),
        "sources": sources,
    }
    # The candidate on its own training period, through the engine (in-sample: for sanity, not a forecast).
    ins = run_policies(
        cfg,
        ds,
        start_ms=int(sr.timestamps[0]),
        end_ms=int(sr.timestamps[-1]),
        strategies=strats,
        candidate_rows=table,
        active_rows=None,
        active_label="",
        best_single=None,
        include=("candidate", "buy_and_hold", "cash"),
    )
    training_figures = {k: v for k, v in ins["policies"].items()}
    suggestions = {}
    if int(t["param_trials"]) >= 2:
        suggestions = suggest(
            cfg,
            ds,
            strats,
            reward,
            start_ms=start_ms,
            end_ms=end_ms,
            horizon=horizon,
            step=step,
            trials=int(t["param_trials"]),
            seed=int(t["seed"]),
        )
    mistakes = recorded_mistakes(buf, limit=int(t["mistakes"]))
    prompt = PromptUpdater(ds).build(
        active_version=cfg["llm"]["prompt_version"],
        new_version=version,
        train=train,
        table=table,
        mistakes=mistakes,
        reward=reward.describe(),
    )
    meta = {
        "status": "candidate",
        "created_at": int(now_ms),
        "symbol": cfg["symbol"],
        "timeframe": cfg["decision_timeframe"],
        "train": train,
        "strategies": list(sr.names),
        "strategy_params": sr.params,
        "funding_source": sr.funding_source,
        "reward": {
            "kind": reward.kind,
            "dd_penalty": reward.dd_penalty,
            "describe": reward.describe(),
            "horizon_bars": horizon,
            "step_bars": step,
        },
        "bandit": {
            "method": "Thompson sampling, Normal-Gamma posterior per (regime, strategy)",
            "prior_strength": opt.prior_strength,
            "folds": opt.folds,
            "seed": opt.seed,
        },
        "walk_forward": opt.walk_forward,
        "best_single": best_single,
        "training_figures": training_figures,
        "training_mean_reward": {n: (None if not np.isfinite(v) else v) for n, v in means.items()},
        "param_suggestions": suggestions,
        "mistakes": mistakes,
        "prompt": {
            "name": prompt["name"],
            "version": prompt["version"],
            "base_version": prompt["base_version"],
            "diff": prompt["diff"],
        },
    }
    store.save_candidate(version, meta, table, (prompt["name"], prompt["version"], prompt["content"]))
    return {"version": version, "table": table, **meta}


def _regime_lookup(sr: StrategyReturns):
    def at(ms: int) -> str:
        i = int(np.searchsorted(sr.timestamps, ms, "right")) - 1
        return sr.regime_name(i) if 0 <= i < len(sr) else "unknown"

    return at


def candidate(ds: Any, version: str) -> dict[str, Any]:
    row = ds.model_version(MODEL_NAME, version)
    if row is None:
        known = [r["version"] for r in ds.model_versions(MODEL_NAME)[:5]]
        raise TrainingError(
            f"no training candidate {version!r}; newest: {', '.join(known) or 'none (run cockpit train run)'}"
        )
    meta = row.get("metadata")
    return meta if isinstance(meta, dict) else {}


def report_candidate(
    cfg: Config,
    ds: Any,
    store: TrainingStore,
    version: str,
    *,
    now_ms: int,
    start: str | int | None = None,
    end: str | int | None = None,
    strategies: list[Any] | None = None,
) -> dict[str, Any]:
    """The candidate against the active policy, buy-and-hold (with funding), a vol-targeted buy-and-hold,
    cash, equal weights and the best single strategy of training, on a period after training ended,
    each run through the event engine (see ``cockpit.training.evaluation``)."""
    meta = candidate(ds, version)
    train = meta["train"]
    from cockpit.domain.market import timeframe_ms

    tf = meta.get("timeframe", cfg["decision_timeframe"])
    if tf != cfg["decision_timeframe"]:
        raise TrainingError(
            f"candidate {version} was trained at {tf} but decision_timeframe is "
            f"{cfg['decision_timeframe']}; set it back or train a new candidate"
        )
    tf_ms = timeframe_ms(tf)
    given = parse_date(start) if start is not None else None  # "" is not given too (it raised TypeError below)
    start_ms = given if given is not None else int(train["to_ms"]) + tf_ms
    end_ms = parse_date(end, end=True)
    if start_ms <= int(train["to_ms"]):
        raise TrainingError(
            f"the held-out period must start after the training ended ({train['to']} UTC); got --from {start}"
        )
    if end_ms is None:
        newest = ds.latest_candle_time(cfg["symbol"], tf)
        if newest is None:
            raise TrainingError(f"no {tf} candles stored")
        end_ms = int(newest)
    strats = _strategies(cfg, meta["strategies"], strategies)
    changed = [
        s.name
        for s in strats
        if dict(getattr(s, "params", {}) or {}) != (meta.get("strategy_params") or {}).get(s.name, {})
    ]
    cand_rows = ds.strategy_scores(version=version)
    active_rows = ds.strategy_scores()
    from cockpit.decision.scoring import shipped_table

    if active_rows:
        active_label = f"published table {active_rows[0]['version']} through the offline selector"
    else:
        shipped = shipped_table()
        active_label = (
            f"shipped table {shipped[0]['version']} through the offline selector"
            if shipped
            else "no table: every strategy scores as cash"
        )
    best = meta.get("best_single")
    try:
        run = run_policies(
            cfg,
            ds,
            start_ms=start_ms,
            end_ms=end_ms,
            strategies=strats,
            candidate_rows=cand_rows,
            active_rows=active_rows or None,
            active_label=active_label,
            best_single=best if best in {s.name for s in strats} else None,
        )
    except (ValueError, LookupError) as e:
        raise TrainingError(f"held-out period: {e}") from None
    limit = float(cfg["training"]["report_max_drawdown"])
    per = run["period"]
    report = {
        "created_at": int(now_ms),
        "period": {
            "from": _day(per["from_ms"]),
            "to": _day(per["to_ms"]),
            "from_ms": per["from_ms"],
            "to_ms": per["to_ms"],
            "bars": per["bars"],
            "timeframe": per["timeframe"],
        },
        "train_period": {"from": train["from"], "to": train["to"]},
        "policies": run["policies"],
        "verdict": verdict(run["policies"], run["daily"], run["boot"], max_drawdown=limit),
        "params_changed_since_training": changed,
        "costs": {
            "taker_fee": float(cfg["backtest"]["taker_fee"]),
            "slippage_bps": float(cfg["backtest"]["slippage_bps"]),
            "funding": "funding_rates table, else backtest.funding_rate per 8h",
            "leverage": float(cfg["backtest"]["leverage"]),
        },
        "method": "each policy is a signal frame run through the event backtest engine (SimulatedExecutor: next-open "
        "fills, slippage, taker fee, funding, stops, resizing inside portfolio.rebalance_band); Sharpe "
        "from daily returns x sqrt(365); 90% intervals from a stationary block bootstrap (10-day blocks)",
    }
    meta["report"] = report
    store.update_metadata(version, meta)
    return report


def publish_candidate(
    cfg: Config, ds: Any, store: TrainingStore, version: str, *, operator: str, now_ms: int, force: bool = False
) -> dict[str, Any]:
    meta = candidate(ds, version)
    if meta.get("status") == "published":
        raise TrainingError(f"candidate {version} is already published")
    if not meta.get("report") and not force:
        raise TrainingError(
            f"candidate {version} has no held-out report; run `cockpit train report {version}` "
            "first and review it (or pass --force)"
        )
    for row in ds.model_versions(MODEL_NAME):
        m = row.get("metadata")
        if isinstance(m, dict) and m.get("status") == "published" and row["version"] != version:
            m.update(status="retired", retired_at=int(now_ms), retired_by=operator)
            store.update_metadata(row["version"], m)
    meta.update(status="published", published_by=operator, published_at=int(now_ms))
    p = meta.get("prompt") or {}
    store.publish(version, meta, (p["name"], p["version"]) if p.get("version") else None)
    return meta
