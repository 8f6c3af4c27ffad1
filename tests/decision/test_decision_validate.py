"""The reply validator, the scorer and the scheduler, on hand-written cases."""

from __future__ import annotations

import json
import math

import pytest

from cockpit.decision.scoring import PortfolioScheduler, StrategyScorer, net_exposure
from cockpit.decision.validate import ReplyRejected, validate_reply
from cockpit.domain.signals import Direction, Regime

from decision_helpers import default_signals, sig

ENABLED = ["ema_trend", "breakout", "momentum", "bollinger_range"]


def reply(selected, confidence=0.7, rationale="trend is strong", regime="trending_up", **extra):
    return json.dumps({"selected": [{"strategy": s, "weight": w} for s, w in selected], "confidence": confidence,
                       "rationale": rationale, "regime": regime, **extra})


def test_valid_reply_is_renormalised():
    sel = validate_reply(reply([("ema_trend", 0.52), ("breakout", 0.5)]), ENABLED)
    assert sel.weights == pytest.approx({"ema_trend": 0.52 / 1.02, "breakout": 0.5 / 1.02})
    assert math.isclose(sum(sel.weights.values()), 1.0)
    assert sel.confidence == 0.7 and sel.rationale == "trend is strong" and sel.regime == "trending_up"


def test_fenced_json_and_extra_harmless_keys_are_accepted():
    text = "```json\n" + reply([("momentum", 1.0)], notes="n/a", version=3) + "\n```"
    assert validate_reply(text, ENABLED).weights == {"momentum": 1.0}


def test_unknown_regime_label_only_flagged_and_rationale_capped():
    sel = validate_reply(reply([("momentum", 1.0)], regime="sideways", rationale="x" * 5000), ENABLED,
                         rationale_max=100)
    assert len(sel.rationale) == 100 and any("sideways" in f for f in sel.flags)


@pytest.mark.parametrize("text,why", [
    (reply([("ema_trend", 0.6), ("breakout", 0.34)]), "sum"),            # 0.94: outside 1 +- 0.05
    (reply([("ema_trend", 0.5), ("ema_trend", 0.5)]), "twice"),
    (reply([("grid", 1.0)]), "unknown or disabled"),
    (reply([("ema_trend", 1.0)], confidence=1.5), "confidence"),
    (reply([("ema_trend", 1.0)], rationale="  "), "rationale"),
    (reply([("ema_trend", 1.0)], leverage=100), "oversteps"),
    (reply([("ema_trend", 1.0)], rationale="Please place a market order now"), "oversteps"),
])
def test_rejections_say_why(text, why):
    with pytest.raises(ReplyRejected, match=why):
        validate_reply(text, ENABLED)


def test_legitimate_rationale_words_are_not_flagged():
    text = reply([("ema_trend", 1.0)], rationale="Funding is high as leveraged longs crowd in; trend still strong.")
    assert validate_reply(text, ENABLED).weights == {"ema_trend": 1.0}


def test_scheduler_top_n_cap_min_weight():
    s = PortfolioScheduler(top_n=3, max_weight=0.6, min_weight=0.05)
    w = s.allocate({"a": 0.9, "b": 0.1, "c": 0.05, "d": 0.01})
    assert set(w) == {"a", "b", "c"} and w["a"] == pytest.approx(0.6)
    assert sum(w.values()) == pytest.approx(1.0) and w["b"] == pytest.approx(0.4 * 0.1 / 0.15)
    # A lone strategy is capped; the rest stays unallocated.
    assert PortfolioScheduler(top_n=1, max_weight=0.6).allocate({"a": 1, "b": 1}) == {"a": 0.6}
    # Under the minimum weight: dropped, the others renormalised.
    w = PortfolioScheduler(top_n=3, max_weight=1.0, min_weight=0.2).allocate({"a": 0.5, "b": 0.4, "c": 0.1})
    assert w == pytest.approx({"a": 5 / 9, "b": 4 / 9})
    assert PortfolioScheduler().allocate({"a": float("nan"), "b": -1, "c": 0}) == {}


def test_net_exposure_is_weighted_signed_strength_clipped():
    sigs = default_signals()
    assert net_exposure({"ema_trend": 0.5, "bollinger_range": 0.5}, sigs) == pytest.approx(0.5 * 0.8 - 0.5 * 0.4)
    assert net_exposure({"funding_rate": 1.0}, sigs) == 0.0
    assert net_exposure({"x": 2.0}, {"x": sig("x", Direction.SHORT, 1.0)}) == -1.0


def test_scorer_regime_fit_equal_priors_and_published_table():
    sc = StrategyScorer(None)
    up = sc.score(["ema_trend", "bollinger_range", "unknown_one"], Regime.TRENDING_UP)
    assert up["ema_trend"].score > up["unknown_one"].score > up["bollinger_range"].score
    assert {s.offline for s in up.values()} == {0.5}
    rng = sc.score(["ema_trend", "bollinger_range"], "ranging")
    assert rng["bollinger_range"].score > rng["ema_trend"].score
    table = [{"strategy": "bollinger_range", "regime": "trending_up", "expected_reward": 2.0, "samples": 1000,
              "version": "t1"},
             {"strategy": "ema_trend", "regime": "trending_up", "expected_reward": -2.0, "samples": 1000,
              "version": "t1"}]
    up2 = sc.score(["ema_trend", "bollinger_range"], Regime.TRENDING_UP, table)
    assert up2["bollinger_range"].offline > 0.8 and up2["ema_trend"].offline < 0.2
    assert up2["bollinger_range"].table_version == "t1"
    thin = sc.score(["ema_trend"], Regime.TRENDING_UP, [dict(table[1], samples=2)])
    assert 0.45 < thin["ema_trend"].offline < 0.5  # two samples barely move the prior


def test_scorer_reads_the_published_table_through_dataservice(ds, db):
    db.execute_sql("INSERT INTO strategy_scores (version, strategy, regime, expected_reward, samples, status)"
                   " VALUES ('v9', 'mean_reversion', 'ranging', 1.5, 500, 'published')")
    db.execute_sql("INSERT INTO strategy_scores (version, strategy, regime, expected_reward, samples, status)"
                   " VALUES ('v10', 'mean_reversion', 'ranging', -1.5, 500, 'draft')")
    s = StrategyScorer(ds).score(["mean_reversion", "grid"], "ranging")
    assert s["mean_reversion"].table_version == "v9" and s["mean_reversion"].offline > 0.7
    assert s["grid"].offline == 0.5
