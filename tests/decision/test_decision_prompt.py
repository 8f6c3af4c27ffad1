"""Prompt rendering: deterministic for a fixed snapshot (golden file), versions from prompt_versions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cockpit.decision.prompts import (
    DEFAULT_TEMPLATE,
    PromptBuilder,
    PromptError,
    market_snapshot,
    recent_outcomes,
    snapshot,
)

GOLDEN = Path(__file__).parent / "golden" / "selector_v1.txt"
T = 1_767_268_800_000


def fixed_snapshot():
    return snapshot(
        now_ms=T,
        symbol="BTC/USDT:USDT",
        timeframe="1h",
        regime="trending_up",
        market={
            "candles": {
                "15m": {
                    "bars": 24,
                    "last_close": 87123.456789,
                    "change_pct": 0.4567,
                    "high": 87400.0,
                    "low": 86500.5,
                    "last_bar_utc": "2026-01-01 11:45 UTC",
                },
                "1h": {
                    "bars": 24,
                    "last_close": 87123.456789,
                    "change_pct": 2.0 / 3,
                    "high": 88000.0,
                    "low": 85000.0,
                    "last_bar_utc": "2026-01-01 11:00 UTC",
                },
                "4h": None,
            },
            "funding": {"latest": 0.0001, "mean_last_3": 0.00008333333},
            "open_interest": {"latest": 25012.5, "change_pct": -1.25},
            "long_short_ratio": {"latest": 1.37},
        },
        technical_analysis={
            "rsi_14": 61.234567,
            "adx_14": 31.5,
            "atr_14": 412.75,
            "trend": "up",
            "ema": {"fast": 86900.1234567, "slow": 86000.0},
        },
        signals=[
            {"strategy": "ema_trend", "direction": "long", "strength": 0.8, "reason": "fast EMA above slow"},
            {"strategy": "bollinger_range", "direction": "short", "strength": 0.4, "reason": "upper band"},
        ],
        scores=[
            {"strategy": "ema_trend", "score": 0.0183, "expected": 0.021, "pooled": 0.0112, "samples": 62},
            {"strategy": "bollinger_range", "score": -0.004, "expected": None, "pooled": -0.004, "samples": 0},
        ],
        strategies=["ema_trend", "bollinger_range"],
        account={"equity": 10000.0, "free": 9500.0},
        position={"side": "long", "size": 0.01, "entry_price": 86000.0},
        recent=[
            {
                "time_utc": "2026-01-01 11:00 UTC",
                "action": "buy",
                "selector": "llm",
                "target_exposure": 0.42,
                "price_move_since_pct": 0.31,
            }
        ],
        top_n=3,
        rationale_max=1000,
        costs="costs: taker fee 0.050% + slippage 2 bp per side; funding every 8h (longs pay when it is positive)",
    )


def test_rendering_matches_the_golden_file():
    messages = PromptBuilder(DEFAULT_TEMPLATE).render(fixed_snapshot())
    text = "".join(f"===== {m['role']} =====\n{m['content']}\n" for m in messages)
    if os.environ.get("COCKPIT_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8"), "prompt changed: review, then COCKPIT_UPDATE_GOLDEN=1"
    assert PromptBuilder(DEFAULT_TEMPLATE).render(fixed_snapshot()) == messages
    assert "JSON" in messages[0]["content"]  # DeepSeek's JSON mode needs the word in the prompt


def test_sections_come_in_the_documented_order():
    user = PromptBuilder(DEFAULT_TEMPLATE).render(fixed_snapshot())[1]["content"]
    marks = [
        "Regime (classifier)",
        "## 1. Market snapshot",
        "## 2. Technical analysis",
        "## 3. Strategy signals",
        "## 4. Strategy scores",
        "## 5. Account and open position",
        "## 6. Recent decisions",
    ]
    pos = [user.index(m) for m in marks]
    assert pos == sorted(pos)


def test_default_prompt_is_seeded_once_and_versions_are_chosen(ds, store):
    b = PromptBuilder.load(ds, store, "v1")
    assert b.prompt_version_id and ds.prompt_version("selector", "v1")["content"] == DEFAULT_TEMPLATE
    assert PromptBuilder.load(ds, store, "v1").prompt_version_id == b.prompt_version_id
    with pytest.raises(PromptError, match="v2 not found"):
        PromptBuilder.load(ds, store, "v2")
    store.ensure_prompt_version("selector", "v2", DEFAULT_TEMPLATE + "\nBe brief.", status="draft")
    with pytest.raises(PromptError, match="draft"):
        PromptBuilder.load(ds, store, "v2")
    store.ensure_prompt_version("selector", "v3", "[system]\nJSON only. $nonsense\n[user]\n$market")
    with pytest.raises(PromptError, match="placeholder"):
        PromptBuilder.load(ds, store, "v3").render(fixed_snapshot())


def test_market_snapshot_and_outcomes_from_the_database(ds, db, store):
    from cockpit.domain.signals import Decision

    hour = 3_600_000
    start = T - 30 * hour
    rows = [("BTC/USDT:USDT", "1h", start + i * hour, 100 + i, 101 + i, 99 + i, 100.5 + i, 10) for i in range(40)]
    db.execute_sql("BEGIN")
    for r in rows:
        db.execute_sql(
            "INSERT INTO market_data (symbol, timeframe, timestamp, open, high, low, close, volume)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            r,
        )
    db.execute_sql(
        "INSERT INTO funding_rates (symbol, timestamp, funding_rate) VALUES ('BTC/USDT:USDT', ?, 0.0002)", (T - hour,)
    )
    db.execute_sql("COMMIT")
    m = market_snapshot(ds, "BTC/USDT:USDT", ["1h", "4h"], T)
    c = m["candles"]["1h"]
    assert c["bars"] == 24 and c["last_close"] == 100.5 + 30  # nothing after T is seen
    assert m["candles"]["4h"] is None and m["funding"]["latest"] == 0.0002 and m["open_interest"] is None
    store.insert_decision(Decision("BTC/USDT:USDT", "1h", T - 10 * hour, "buy", 0.5, "x", target_exposure=0.3))
    [o] = recent_outcomes(ds, "BTC/USDT:USDT", "1h", T)
    assert o["action"] == "buy" and o["price_move_since_pct"] == pytest.approx((130.5 / 120.5 - 1) * 100)
