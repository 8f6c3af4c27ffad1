"""The strategy weights pane's order and the decision's reasoning under an order."""

from __future__ import annotations

from cockpit.ui import render


def test_weights_rank_by_weight_then_score_and_switched_off_strategies_come_last():
    # top-1 at full weight: one strategy holds the capital and every other final weight is 0
    weights = {
        "breakout": {"signal": "long", "score": -0.05, "final": 0.0},
        "bollinger_range": {"signal": "short", "score": 0.07, "final": 0.0},
        "grid": {"signal": None, "score": None, "final": 0.0, "disabled": "disabled in config"},
        "trend_core": {"signal": "long", "score": 0.11, "final": 0.6},
        "ema_trend": {"signal": "long", "score": 0.04, "final": 0.0},
        "funding_rate": {"signal": "flat", "score": None, "final": 0.0},
    }
    assert [r["strategy"] for r in render.weight_rows(weights)] == [
        "trend_core",
        "bollinger_range",
        "ema_trend",
        "breakout",
        "funding_rate",
        "grid",
    ]
    pane = render.weights_text({"id": 1, "action": "buy", "weights": weights}).plain.splitlines()
    assert pane[1].startswith("trend_core") and pane[-1].startswith("grid")


def test_a_long_reasoning_under_an_order_is_cut_with_an_ellipsis():
    words = "model says: “" + "trend intact, " * 40 + "”"
    tail = " | LLM weights trend_core 0.60; net target exposure +0.24"
    order = {"id": 2, "status": "pending_approval"}
    text = render.timeline_text(order, [], [], {"id": 7, "reasoning": words + tail}).plain
    why = text.split("why (decision #7): ", 1)[1]
    # Cut at most WHY_MAX characters in, between words (never inside a word or a number).
    assert why.endswith("…") and len(why) <= render.WHY_MAX
    assert words.startswith(why[:-1].rstrip(" ,")) and words[len(why[:-1].rstrip(" ,"))] in " ,"
    short = render.timeline_text(order, [], [], {"id": 7, "reasoning": "trend intact" + tail}).plain
    assert short.endswith("trend intact" + tail)
