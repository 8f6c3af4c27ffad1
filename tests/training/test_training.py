"""Offline training: reward kinds, experience buffer, bandit ranking on a planted edge, held-out
report, prompt draft and diff, publish with who, and the CLI."""

from __future__ import annotations

import json
from string import Template

import numpy as np
import pytest

from cockpit.data.training_store import MODEL_NAME, TrainingStore
from cockpit.decision.prompts import PromptBuilder, PromptError
from cockpit.market.csv_import import insert_candles
from cockpit.training.bandit import RLOptimizer
from cockpit.training.experience import ExperienceBuffer
from cockpit.training.pipeline import TrainingError, publish_candidate, report_candidate, train_candidate
from cockpit.training.prompt_update import BEGIN, with_block
from cockpit.training.returns import strategy_returns
from cockpit.training.reward import RewardCalculator

from .planted import H, START, RangeRevert, TrendFollow, planted_candles

SYM = "BTC/USDT:USDT"
N_SEG, SEG = 60, 400
SPLIT = START + (N_SEG * SEG * 2 // 3) * H  # train before, hold out after


@pytest.fixture
def planted_db(db):
    with db.atomic():
        insert_candles(db, SYM, "1h", planted_candles(N_SEG, SEG))
    return db


@pytest.fixture
def tcfg(cfg):
    """The planted market is hourly and its edge depends on the regime: decide hourly, weigh regimes."""
    cfg["training"].update(param_trials=0, horizon_bars=24, step_bars=6)
    cfg["decision_timeframe"] = "1h"
    cfg["portfolio"].update(regime_shrink=20.0, top_n=3, max_weight=0.6)
    return cfg


def _strats():
    return [TrendFollow(), RangeRevert()]


# ------------------------------------------------------------------ reward


def test_reward_kinds_on_hand_worked_windows():
    up_down = np.array([0.10, -0.10, 0.05])  # growth 1.1, 0.99, 1.0395: MDD = 0.99/1.1 - 1 = -0.1
    total, dd = RewardCalculator.window_stats(up_down)
    assert total == pytest.approx(0.0395)
    assert dd == pytest.approx(-0.1)
    assert RewardCalculator("return_dd_penalty", 0.5).reward(up_down) == pytest.approx(0.0395 - 0.05)
    assert RewardCalculator("return_over_drawdown").reward(up_down) == pytest.approx(0.395)
    r = up_down
    assert RewardCalculator("sharpe").reward(r) == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(3))
    # A smooth gain has no drawdown: the floor keeps the ratio finite.
    assert RewardCalculator("return_over_drawdown", dd_floor=0.01).reward(np.full(4, 0.01)) == pytest.approx(
        (1.01**4 - 1) / 0.01
    )
    block = np.stack([up_down, -up_down])
    assert RewardCalculator().reward(block).shape == (2,)
    with pytest.raises(ValueError, match="reward kind"):
        RewardCalculator("nope")


# ------------------------------------------------------------------ experience and bandit


def test_buffer_slices_by_period_and_regime_and_never_crosses_the_end(planted_db, ds, tcfg):
    sr = strategy_returns(tcfg, ds, start_ms=None, end_ms=None, strategies=_strats())
    buf = ExperienceBuffer.from_strategy_returns(sr, RewardCalculator(), horizon=24, step=6, end_ms=SPLIT)
    assert len(buf) > 1000
    # The last outcome window ends at or before SPLIT: no sample sees the held-out period.
    assert max(s.time for s in buf) + 23 * H <= SPLIT
    ranging = buf.slice(regime="ranging")
    assert len(ranging) and all(s.regime == "ranging" for s in ranging)
    early = buf.slice(end=START + 1000 * H)
    assert len(early) and all(s.time <= START + 1000 * H for s in early)
    # The classifier's warm-up bars are decisions too: learned under "unknown", not dropped.
    assert set(buf.by_regime()) <= {"trending_up", "trending_down", "ranging", "high_volatility", "unknown"}
    assert buf.by_regime().get("unknown") and buf.samples[0].regime == "unknown"
    s = buf.slice(regime="ranging").samples[0]
    assert set(s.outcomes) == {"trend_follow", "range_revert"} and s.full_information
    assert set(s.features) == {"adx", "vol", "vol_pct", "slope"}
    # The reward of a sample is the calculator on the sleeves' next 24 bar returns.
    i = int(np.searchsorted(sr.timestamps, s.time - H))
    assert s.outcomes["trend_follow"] == pytest.approx(RewardCalculator().reward(sr.returns[i + 1 : i + 25, 0]))


def test_bandit_ranks_the_planted_edge_per_regime(planted_db, ds, tcfg):
    sr = strategy_returns(tcfg, ds, start_ms=None, end_ms=SPLIT, strategies=_strats())
    buf = ExperienceBuffer.from_strategy_returns(sr, RewardCalculator(), horizon=24, step=6)
    opt = RLOptimizer(sr.names, folds=4, top_n=1).fit(buf)
    assert opt.ranking("trending_up")[0] == "trend_follow"
    assert opt.ranking("trending_down")[0] == "trend_follow"
    assert opt.ranking("ranging")[0] == "range_revert"
    rows = opt.table()
    assert {r["samples"] for r in rows} and all(r["uncertainty"] > 0 for r in rows)
    # Walk-forward: after the first window, a Thompson pick beats the equal mix out of sample.
    wf = opt.walk_forward
    assert len(wf) == 3
    assert all(f["thompson_mean_reward"] > f["equal_mean_reward"] for f in wf)


def test_bandit_feedback_from_live_samples_updates_only_selected_arms():
    from cockpit.training.experience import Sample

    s = Sample(0, "ranging", {}, {"a": 1.0}, {"a": 0.01, "b": 0.05}, {"a": 0.01, "b": 0.05}, 0.01, 24, "live", False)
    opt = RLOptimizer(("a", "b"))
    opt.update(s)
    assert [r["strategy"] for r in opt.table()] == ["a"]


# ------------------------------------------------------------------ candidate, report, publish


def test_train_report_publish_on_planted_edge(planted_db, ds, tcfg):
    store = TrainingStore(planted_db)
    c = train_candidate(tcfg, ds, store, now_ms=1_700_000_000_000, end=SPLIT - 1, strategies=_strats())
    v = c["version"]
    rows = ds.strategy_scores(version=v)
    assert rows and {r["status"] for r in rows} == {"draft"}
    assert ds.strategy_scores() == []  # nothing published: the live scorer still sees no table
    best = {
        reg: max((r for r in rows if r["regime"] == reg), key=lambda r: r["expected_reward"])["strategy"]
        for reg in ("trending_up", "trending_down", "ranging")
    }
    assert best == {"trending_up": "trend_follow", "trending_down": "trend_follow", "ranging": "range_revert"}
    meta = ds.model_version(MODEL_NAME, v)["metadata"]
    assert meta["status"] == "candidate" and meta["train"]["to_ms"] < SPLIT

    # The prompt draft: active template + the block; a valid template, not loadable while a draft.
    p = ds.prompt_version("selector", v)
    assert p["status"] == "draft" and BEGIN in p["content"] and "range_revert" in p["content"]
    assert meta["prompt"]["diff"].startswith("--- selector@v1") and "+### offline training" in meta["prompt"]["diff"]
    assert "Recorded mistakes" in p["content"] and meta["mistakes"]
    with pytest.raises(PromptError, match="draft"):
        PromptBuilder.load(ds, None, version=v)

    with pytest.raises(TrainingError, match="no held-out report"):
        publish_candidate(tcfg, ds, store, v, operator="alice", now_ms=1)
    with pytest.raises(TrainingError, match="must start after the training"):
        report_candidate(tcfg, ds, store, v, now_ms=2, start=START + 100 * H, strategies=_strats())

    rep = report_candidate(tcfg, ds, store, v, now_ms=2, strategies=_strats())
    assert rep["period"]["from_ms"] > meta["train"]["to_ms"]
    # An empty --from is no --from (parse_date reads "" as not given; it used to end in a TypeError).
    assert report_candidate(tcfg, ds, store, v, now_ms=2, start="", strategies=_strats())["period"] == rep["period"]
    pol = rep["policies"]
    assert set(pol) == {
        "candidate",
        "active",
        "buy_and_hold",
        "buy_and_hold_vol",
        "cash",
        "equal_weights",
        "best_single",
    }
    assert meta["best_single"] in pol["best_single"]["label"] and "shipped table" in pol["active"]["label"]
    cand, eq, cash = pol["candidate"], pol["equal_weights"], pol["cash"]
    assert cand["total_return"] > eq["total_return"] and cand["sharpe"] > eq["sharpe"]
    assert cash["total_return"] == 0 and cash["exposure"] == 0 and cash["trades"] == 0
    assert cand["turnover_per_year"] > 0 and cand["fees"] > 0
    lo, hi = cand["sharpe_ci90"]
    assert lo < cand["sharpe"] < hi
    v_ = rep["verdict"]
    assert v_["beats_cash"] is (cand["total_return"] > 0 and cand["sharpe"] > 0)
    assert v_["beats_buy_and_hold_sharpe"] is (cand["sharpe"] >= pol["buy_and_hold"]["sharpe"])
    assert "candidate: return" in v_["summary"]
    assert ds.model_version(MODEL_NAME, v)["metadata"]["report"]["policies"]["candidate"][
        "total_return"
    ] == pytest.approx(cand["total_return"])

    meta = publish_candidate(tcfg, ds, store, v, operator="alice | ssh 10.0.0.1", now_ms=3)
    assert meta["published_by"] == "alice | ssh 10.0.0.1"
    assert {r["status"] for r in ds.strategy_scores(version=v)} == {"published"}
    assert ds.strategy_scores()[0]["version"] == v  # what StrategyScorer reads now
    assert PromptBuilder.load(ds, None, version=v).version == v
    assert tcfg["llm"]["prompt_version"] == "v1"  # config untouched

    # A second candidate's report compares against the now active table; publishing it retires the first.
    c2 = train_candidate(tcfg, ds, store, now_ms=1_700_000_000_000, end=SPLIT - 1, strategies=_strats())
    assert c2["version"] != v
    rep2 = report_candidate(tcfg, ds, store, c2["version"], now_ms=4, strategies=_strats())
    assert v in rep2["policies"]["active"]["label"]
    publish_candidate(tcfg, ds, store, c2["version"], operator="bob", now_ms=5)
    assert {r["status"] for r in ds.strategy_scores(version=v)} == {"retired"}
    assert ds.strategy_scores()[0]["version"] == c2["version"]
    assert ds.model_version(MODEL_NAME, v)["metadata"]["status"] == "retired"


def test_prompt_block_replaces_an_older_block():
    from cockpit.decision.prompts import DEFAULT_TEMPLATE

    once = with_block(DEFAULT_TEMPLATE, BEGIN + "\nold\n### offline training (end)")
    twice = with_block(once, BEGIN + "\nnew $$5\n### offline training (end)")
    assert "old" not in twice and twice.count(BEGIN) == 1
    PromptBuilder(twice)  # still a usable template
    assert "new $5" in Template(twice).safe_substitute({})


def test_live_decisions_become_bandit_samples(planted_db, ds, tcfg):
    from cockpit.data.decision_store import DecisionStore
    from cockpit.domain.signals import Decision

    store = DecisionStore(planted_db)
    t0 = START + 2000 * H
    for k in range(3):
        d = Decision(
            symbol=SYM,
            timeframe="1h",
            timestamp=t0 + k * 24 * H,
            action="buy",
            confidence=0.5,
            reasoning="r",
            regime="ranging",
            selector="scorer",
            weights={"trend_follow": 1.0},
            target_exposure=0.5,
        )
        store.insert_decision(
            d,
            weights_detail={
                "trend_follow": {"signal": "long", "strength": 0.5, "final": 1.0},
                "range_revert": {"signal": "short", "strength": 1.0, "final": 0.0},
            },
        )
    buf = ExperienceBuffer.from_decisions(
        ds,
        RewardCalculator(),
        symbol=SYM,
        timeframe="1h",
        tf_ms=H,
        horizon=24,
        start_ms=None,
        end_ms=None,
        taker_fee=0.0005,
    )
    assert len(buf) == 3
    s = buf.samples[0]
    assert s.source == "live" and not s.full_information and s.selected == {"trend_follow": 1.0}
    assert set(s.outcomes) == {"trend_follow"}
    close = ds.candle_arrays(SYM, "1h", start=t0, end=t0 + 23 * H)["close"]
    prev = ds.candle_arrays(SYM, "1h", end=t0 - H, limit=1)["close"][0]
    gross = close[-1] / prev - 1.0
    assert s.returns["trend_follow"] == pytest.approx(0.5 * gross - 0.0005, abs=0.002)
    assert s.portfolio_return == pytest.approx(0.5 * gross, abs=0.002)


# ------------------------------------------------------------------ CLI


def test_cli_train_run_report_publish_with_library_strategies(planted_db, db_url, capsys, tmp_path):
    from cockpit.cli import main

    cfgfile = tmp_path / "c.yaml"
    cfgfile.write_text(
        "decision_timeframe: 1h\ntraining:\n  param_trials: 3\nstrategies:\n  ema_trend: {enabled: true}\n"
        "  bollinger_range: {enabled: false}\n  funding_rate: {enabled: false}\n"
        "  breakout: {enabled: false}\n  momentum: {enabled: false}\n"
        "  mean_reversion: {enabled: true}\n  volatility: {enabled: false}\n"
        "  trend_core: {enabled: false}\n"
    )
    base = ["--config", str(cfgfile), "--db", db_url]
    assert main(base + ["train", "run", "--to", "2022-06-30", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    v = out["version"]
    assert out["strategies"] == ["ema_trend", "mean_reversion"]
    sug = out["param_suggestions"]["ema_trend"]
    assert sug["trials"] == 3 and "suggestion only" in sug["note"]
    assert main(base + ["train", "publish", v]) == 2
    assert "no held-out report" in capsys.readouterr().err
    assert main(base + ["train", "report", v]) == 0
    text = capsys.readouterr().out
    assert "equal_weights" in text and "best_single" in text and "turnover/yr" in text
    assert "buy_and_hold" in text and "cash" in text and "verdict:" in text
    assert main(base + ["train", "publish", v]) == 0
    text = capsys.readouterr().out
    assert f"prompt_version: {v}" in text and "not edited automatically" in text
    assert main(base + ["train", "list"]) == 0
    assert "published" in capsys.readouterr().out
    assert main(base + ["train", "report", "nope"]) == 2


def test_stored_backtest_runs_become_samples_of_their_strategy(planted_db, ds, tcfg):
    from cockpit.backtest.api import BacktestRequest, run_backtest

    rep = run_backtest(
        tcfg, ds, BacktestRequest(strategy="ema_trend", end=START + 3000 * H, engine="fast"), store=planted_db
    )
    assert rep.result_id
    buf = ExperienceBuffer.from_backtest_results(
        ds,
        RewardCalculator(),
        lambda ms: "ranging",
        names=["ema_trend", "momentum"],
        horizon_ms=24 * H,
        start_ms=None,
        end_ms=None,
    )
    assert len(buf) > 50
    assert {s.source for s in buf} == {"backtest_result"}
    assert all(set(s.outcomes) == {"ema_trend"} and not s.full_information for s in buf)
    # Not a strategy being trained: ignored.
    assert (
        len(
            ExperienceBuffer.from_backtest_results(
                ds,
                RewardCalculator(),
                lambda ms: "ranging",
                names=["momentum"],
                horizon_ms=24 * H,
                start_ms=None,
                end_ms=None,
            )
        )
        == 0
    )


@pytest.mark.parametrize(
    "key,value,allowed",
    [
        ("reward", "profit", "return_dd_penalty, return_over_drawdown, sharpe"),
        ("horizon_bars", 0, "from 1"),
        ("engine", "gpu", "fast, event"),
    ],
)
def test_training_config_errors_name_the_key(key, value, allowed):
    from cockpit.config import ConfigError, load_config

    with pytest.raises(ConfigError) as e:
        load_config(None, environ={}, overrides={f"training.{key}": value})
    assert f"training.{key}" in str(e.value) and allowed in str(e.value)


@pytest.mark.parametrize("kind", ["sharpe", "log_return"])
def test_reward_keeps_the_sign_of_a_window_and_cash_scores_zero(kind):
    """The default rewards never score a window that made money below cash (0)."""
    rng = np.random.default_rng(3)
    calc = RewardCalculator(kind)
    windows = rng.normal(0.0005, 0.03, size=(2000, 30))  # daily returns of a holder, 30-day windows
    total, _ = RewardCalculator.window_stats(windows)
    rewards = calc.reward(windows)
    assert np.all(rewards[total > 0] > 0)
    if kind == "log_return":
        assert np.all(rewards[total < 0] < 0)
    else:
        # The Sharpe of simple returns follows their arithmetic mean: a losing window whose mean is still
        # positive (volatility drag) scores above cash. Known and accepted for this round (README).
        assert np.all(rewards[windows.mean(axis=1) < 0] < 0)
    assert calc.reward(np.zeros(30)) == 0.0  # cash
    # The old default could call a profitable window worse than cash.
    up_down = np.array([0.10, -0.10, 0.05])
    assert RewardCalculator("return_dd_penalty").reward(up_down) < 0 < calc.reward(up_down)
