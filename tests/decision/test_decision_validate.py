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
    return json.dumps(
        {
            "selected": [{"strategy": s, "weight": w} for s, w in selected],
            "confidence": confidence,
            "rationale": rationale,
            "regime": regime,
            **extra,
        }
    )


def test_valid_reply_is_renormalised():
    sel = validate_reply(reply([("ema_trend", 0.52), ("breakout", 0.5)]), ENABLED)
    assert sel.weights == pytest.approx({"ema_trend": 0.52 / 1.02, "breakout": 0.5 / 1.02})
    assert math.isclose(sum(sel.weights.values()), 1.0)
    assert sel.confidence == 0.7 and sel.rationale == "trend is strong" and sel.regime == "trending_up"


def test_fenced_json_and_extra_harmless_keys_are_accepted():
    text = "```json\n" + reply([("momentum", 1.0)], notes="n/a", version=3) + "\n```"
    assert validate_reply(text, ENABLED).weights == {"momentum": 1.0}


def test_unknown_regime_label_only_flagged_and_rationale_capped():
    sel = validate_reply(
        reply([("momentum", 1.0)], regime="sideways", rationale="x" * 5000), ENABLED, rationale_max=100
    )
    assert len(sel.rationale) == 100 and any("sideways" in f for f in sel.flags)


@pytest.mark.parametrize(
    "text,why",
    [
        (reply([("ema_trend", 0.6), ("breakout", 0.34)]), "sum"),  # 0.94: outside 1 +- 0.05
        (reply([("ema_trend", 0.5), ("ema_trend", 0.5)]), "twice"),
        (reply([("grid", 1.0)]), "unknown or disabled"),
        (reply([("ema_trend", 1.0)], confidence=1.5), "confidence"),
        (reply([("ema_trend", 1.0)], rationale="  "), "rationale"),
        (reply([("ema_trend", 1.0)], leverage=100), "oversteps"),
        (reply([("ema_trend", 1.0)], rationale="Please place a market order now"), "oversteps"),
    ],
)
def test_rejections_say_why(text, why):
    with pytest.raises(ReplyRejected, match=why):
        validate_reply(text, ENABLED)


@pytest.mark.parametrize(
    "obj,reason",
    [
        ({"confidence": 0.5}, "'selected' must be a non-empty list"),
        ({"selected": []}, "'selected' must be a non-empty list"),
        ({"selected": [{"strategy": "ema_trend", "weight": 1.0}, "momentum"]}, "selected[1] is not an object"),
        ({"selected": [{"weight": 1.0}]}, "selected[0]: unknown or disabled strategy null"),
        (
            {"selected": [{"strategy": "ema_trend", "weight": "0.5"}], "confidence": 2},
            'selected[0].weight is not a number: "0.5"',
        ),
        (
            {"selected": [{"strategy": "ema_trend", "weight": 0.5}, {"strategy": "ema_trend", "weight": 2}]},
            "selected[1]: strategy 'ema_trend' listed twice",
        ),
        ({"selected": [{"strategy": "ema_trend", "weight": 1.5}]}, "selected[0].weight 1.5 is outside [0, 1]"),
        (
            {"selected": [{"strategy": "ema_trend", "weight": 0.5}], "confidence": None},
            "weights sum to 0.5, not within 1 +- 0.05",
        ),
        ({"selected": [{"strategy": "ema_trend", "weight": 1}], "rationale": 3}, "confidence is not a number: null"),
        (
            {"selected": [{"strategy": "ema_trend", "weight": 1}], "confidence": True},
            "confidence is not a number: true",
        ),
        (
            {"selected": [{"strategy": "ema_trend", "weight": 1}], "confidence": 1},
            "'rationale' must be a non-empty string",
        ),
        ({"selected": [{"strategy": "{x}", "weight": 1}]}, "selected[0]: unknown or disabled strategy '{x}'"),
    ],
)
def test_the_first_failed_check_is_the_reason(obj, reason):
    with pytest.raises(ReplyRejected) as e:
        validate_reply(json.dumps(obj), ENABLED)
    assert e.value.reason == reason


def test_an_integer_beyond_float_is_refused_not_raised():
    with pytest.raises(ReplyRejected, match=r"selected\[0\]\.weight is not finite"):
        validate_reply(reply([("ema_trend", 10**400)]), ENABLED)


def test_schema_mode_sends_the_schema_of_the_validating_model():
    from cockpit.decision.llm import SELECTION_SCHEMA
    from cockpit.decision.validate import SelectionReply

    item = {
        "type": "object",
        "properties": {"strategy": {"type": "string"}, "weight": {"type": "number"}},
        "required": ["strategy", "weight"],
        "additionalProperties": False,
    }
    assert SELECTION_SCHEMA == {
        "type": "object",
        "properties": {
            "selected": {"type": "array", "items": item},
            "confidence": {"type": "number"},
            "rationale": {"type": "string"},
            "regime": {"type": "string"},
        },
        "required": ["selected", "confidence", "rationale", "regime"],
        "additionalProperties": False,
    }
    assert set(SelectionReply.model_json_schema()["properties"]) == set(SELECTION_SCHEMA["properties"])


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


def test_scorer_keeps_the_sign_learns_fits_and_shrinks_thin_regimes():
    sc = StrategyScorer(None, shipped=False)
    # No evidence at all: every strategy scores as cash (0) and the scheduler allocates nothing.
    none = sc.score(["ema_trend", "bollinger_range"], Regime.TRENDING_UP, [])
    assert {s.score for s in none.values()} == {0.0}
    assert PortfolioScheduler().allocate({n: s.score for n, s in none.items()}) == {}
    table = [
        {
            "strategy": "bollinger_range",
            "regime": "trending_up",
            "expected_reward": 0.02,
            "samples": 1000,
            "version": "t1",
        },
        {"strategy": "ema_trend", "regime": "trending_up", "expected_reward": -0.02, "samples": 1000, "version": "t1"},
    ]
    up = sc.score(["ema_trend", "bollinger_range"], Regime.TRENDING_UP, table)
    # The sign is kept: a strategy expected to lose scores below cash and gets no weight.
    assert up["bollinger_range"].score > 0 > up["ema_trend"].score
    assert up["bollinger_range"].table_version == "t1"
    assert PortfolioScheduler().allocate({n: s.score for n, s in up.items()}) == {"bollinger_range": 0.6}
    # A thin regime row is pulled towards the strategy's mean over all regimes (k = 20 pseudo-samples).
    thin = [
        {"strategy": "ema_trend", "regime": "ranging", "expected_reward": 0.05, "samples": 2, "version": "t"},
        {"strategy": "ema_trend", "regime": "trending_up", "expected_reward": -0.01, "samples": 998, "version": "t"},
    ]
    r = sc.score(["ema_trend"], "ranging", thin)["ema_trend"]
    pooled = (0.05 * 2 - 0.01 * 998) / 1000
    assert r.pooled == pytest.approx(pooled) and r.score == pytest.approx((2 * 0.05 + 20 * pooled) / 22) and r.score < 0
    # A regime with no row at all takes the pooled mean; regime-free scoring (k = inf) ignores regimes.
    assert sc.score(["ema_trend"], "high_volatility", thin)["ema_trend"].score == pytest.approx(pooled)
    flat = StrategyScorer(None, shipped=False, shrink=float("inf"))
    assert flat.score(["ema_trend"], "ranging", thin)["ema_trend"].score == pytest.approx(pooled)


def test_scheduler_leaves_the_cash_share_unallocated():
    s = PortfolioScheduler(top_n=3, max_weight=1.0, min_weight=0.05)
    assert s.allocate({"a": 0.6, "b": 0.2, "cash": 0.2}) == pytest.approx({"a": 0.6, "b": 0.2})
    assert s.allocate({"cash": 1.0}) == {}
    assert s.allocate({"a": 0.03, "cash": -1}) == {"a": 1.0}
    capped = PortfolioScheduler(top_n=3, max_weight=0.6, min_weight=0.05)
    assert capped.allocate({"a": 0.5, "cash": 0.5}) == pytest.approx({"a": 0.5})  # the cash share is not scaled
    assert capped.allocate({"a": 0.9, "cash": 0.1}) == pytest.approx({"a": 0.6})  # the cap still holds


def test_shipped_table_is_used_until_one_is_published(ds, db):
    from cockpit.decision.scoring import shipped_table

    db.execute_sql("DELETE FROM strategy_scores")  # no published table (the fixture planted one)
    shipped = shipped_table()
    assert shipped, "cockpit/decision/default_scores.json is packaged"
    assert StrategyScorer(ds).table()[0]["version"] == shipped[0]["version"]
    db.execute_sql(
        "INSERT INTO strategy_scores (version, strategy, regime, expected_reward, samples, status)"
        " VALUES ('v9', 'mean_reversion', 'ranging', 0.015, 500, 'published')"
    )
    assert {r["version"] for r in StrategyScorer(ds).table()} == {"v9"}


def test_scorer_reads_the_published_table_through_dataservice(ds, db):
    db.execute_sql(
        "INSERT INTO strategy_scores (version, strategy, regime, expected_reward, samples, status)"
        " VALUES ('v9', 'mean_reversion', 'ranging', 1.5, 500, 'published')"
    )
    db.execute_sql(
        "INSERT INTO strategy_scores (version, strategy, regime, expected_reward, samples, status)"
        " VALUES ('v10', 'mean_reversion', 'ranging', -1.5, 500, 'draft')"
    )
    s = StrategyScorer(ds).score(["mean_reversion", "grid"], "ranging")
    assert s["mean_reversion"].table_version == "v9" and s["mean_reversion"].score == pytest.approx(1.5)
    assert s["grid"].score == 0.0 and s["grid"].expected is None  # no row: no evidence, as good as cash
