"""PortfolioDecisionEngine end to end: offline, LLM over loopback, fallback, spending guard, records."""

from __future__ import annotations

import json

import pytest

from support.fake_openai import Reply

from cockpit.decision import DecisionEngine, PortfolioDecisionEngine
from cockpit.decision.engine import BUDGET_RULE, DAY_MS
from cockpit.domain.signals import Direction, Regime

from decision_helpers import SECRET, T0, sig

GOOD = json.dumps(
    {
        "selected": [{"strategy": "ema_trend", "weight": 0.7}, {"strategy": "bollinger_range", "weight": 0.3}],
        "confidence": 0.66,
        "rationale": "Trend is intact; a little mean reversion hedges it.",
        "regime": "trending_up",
        "note": "extra keys are ignored",
    }
)


def test_offline_selector_says_so_plainly(cfg, ds, store, clock, signals):
    assert cfg["llm"]["provider"] == "none"
    eng = PortfolioDecisionEngine(cfg, ds, store, clock)
    d = eng.decide(signals, {"rsi": 60}, Regime.TRENDING_UP, {"equity": 10_000}, None)
    assert d.selector == "offline" and d.fallback_reason is None and d.llm_run_id is None
    assert d.reasoning.startswith("offline selector (no LLM configured)")
    assert d.confidence == pytest.approx(abs(d.target_exposure))
    # Trending up: trend followers lead; weights normalised and capped.
    assert list(d.weights)[0] == "ema_trend" and sum(d.weights.values()) == pytest.approx(1.0)
    assert max(d.weights.values()) <= cfg["portfolio"]["max_weight"] + 1e-9 and len(d.weights) <= 3
    assert d.action == "buy" and 0 < d.target_exposure <= 1
    row = ds.decision(d.id)
    assert row["selector"] == "offline" and row["technical_analysis"] == {"rsi": 60}
    w = row["weights"]
    assert w["ema_trend"]["signal"] == "long" and w["ema_trend"]["final"] > 0 and w["ema_trend"]["llm"] is None
    assert w["grid"]["disabled"] == "disabled in config" and w["mean_reversion"]["final"] == 0.0
    assert ds.table_counts()["llm_runs"] == 0


def test_llm_selection_is_used_recorded_and_linked(cfg, ds, store, clock, signals, fake_openai, client_for):
    fake_openai.script(Reply(content=GOOD, prompt_tokens=900, completion_tokens=70))
    eng = PortfolioDecisionEngine(cfg, ds, store, clock, llm=client_for())
    d = eng.decide(signals, {"rsi": 60}, "trending_up", {"equity": 10_000}, {"exposure": 0.0})
    assert d.selector == "llm" and d.confidence == 0.66 and d.fallback_reason is None
    # LLM weights through the scheduler: 0.7 capped at 0.6, the excess to the other.
    assert d.weights == pytest.approx({"ema_trend": 0.6, "bollinger_range": 0.4})
    assert d.target_exposure == pytest.approx(0.6 * 0.8 - 0.4 * 0.4)
    assert d.reasoning.startswith("model says: “Trend is intact; a little mean reversion hedges it.” | LLM weights")
    row, run = ds.decision(d.id), ds.llm_run(d.llm_run_id)
    assert run["status"] == "ok" and run["response"] == GOOD and run["model"] == "fake-model"
    assert (run["prompt_tokens"], run["completion_tokens"]) == (900, 70) and run["latency_ms"] >= 0
    req = json.loads(run["request"])
    assert req["response_format"] == {"type": "json_object"} and req["messages"][1]["content"].startswith("Decision")
    assert row["weights"]["ema_trend"]["llm"] == pytest.approx(0.7)
    mv = ds._q("SELECT * FROM model_versions")
    assert [(m["name"], m["version"]) for m in mv] == [("openai-compatible", "fake-model@t=0.2")]
    assert json.loads(mv[0]["metadata"])["temperature"] == 0.2
    assert row["prompt_version_id"] == run["prompt_version_id"] == ds.prompt_version("selector", "v1")["id"]
    # The prompt shown to the LLM carries every candidate's signal and the scorer's table.
    user = fake_openai.chat_requests[0].body["messages"][1]["content"]
    for name in signals:
        assert f"- {name}: " in user


def test_keys_never_reach_the_database(cfg, ds, db, store, clock, signals, fake_openai, client_for):
    fake_openai.script(Reply.status(401, retry_after_ms=None, message=f"bad key {SECRET}"), Reply(content=GOOD))
    eng = PortfolioDecisionEngine(cfg, ds, store, clock, llm=client_for(max_retries=0))
    d1 = eng.decide(signals, {}, "trending_up")
    d2 = eng.decide(signals, {}, "trending_up")
    assert d1.selector == "fallback" and "401" in d1.fallback_reason and d2.selector == "llm"
    assert fake_openai.chat_requests[0].headers["authorization"] == f"Bearer {SECRET}"
    dump = []
    for table in ("llm_runs", "decisions", "model_versions", "prompt_versions", "risk_events"):
        dump += [json.dumps(r, default=str) for r in ds._q(f"SELECT * FROM {table}")]
    text = "\n".join(dump)
    assert SECRET not in text and "Bearer" not in text and "authorization" not in text.lower()
    assert "[redacted]" in text  # the key echoed in the 401 message was blanked
    assert SECRET not in d1.fallback_reason and SECRET not in d1.reasoning  # redacted by the client already


def test_failed_call_falls_back_with_reason(cfg, ds, store, clock, signals, fake_openai, client_for):
    fake_openai.script(Reply.status(500))
    eng = PortfolioDecisionEngine(cfg, ds, store, clock, llm=client_for(max_retries=0))
    d = eng.decide(signals, {}, "ranging")
    offline = PortfolioDecisionEngine(cfg, ds, store, clock).decide(signals, {}, "ranging")
    assert d.selector == "fallback" and d.fallback_reason.startswith("LLM call failed: HTTP 500")
    assert d.weights == offline.weights and d.target_exposure == offline.target_exposure
    assert ds.llm_run(d.llm_run_id)["status"] == "error"


def test_spending_guard_switches_to_offline_until_the_next_utc_day(
    cfg, ds, store, clock, signals, fake_openai, client_for
):
    cfg["llm"]["max_tokens_per_day"] = 2800
    cfg["llm"]["max_tokens_per_call"] = 500
    fake_openai.default = Reply(content=GOOD, prompt_tokens=1000, completion_tokens=200)
    eng = PortfolioDecisionEngine(cfg, ds, store, clock, llm=client_for(max_tokens=500))
    used = [eng.decide(signals, {}, "trending_up").selector for _ in range(3)]
    # 1200 + 1200 = 2400 used; 2400 + 500 (the per-call cap) > 2800 -> the third is offline.
    assert used == ["llm", "llm", "fallback"]
    d = eng.decide(signals, {}, "trending_up")
    assert d.selector == "fallback" and "budget" in d.fallback_reason and d.llm_run_id is None
    assert len(fake_openai.chat_requests) == 2
    events = ds.risk_events(rule=BUDGET_RULE)
    assert len(events) == 1 and events[0]["level"] == "WARN" and "00:00 UTC" in events[0]["details"]
    # A fresh engine (restart) does not repeat the event the same day.
    PortfolioDecisionEngine(cfg, ds, store, clock, llm=client_for()).decide(signals, {}, "trending_up")
    assert len(ds.risk_events(rule=BUDGET_RULE)) == 1
    clock.set(T0 - T0 % DAY_MS + DAY_MS)  # next UTC day
    assert eng.decide(signals, {}, "trending_up").selector == "llm"
    assert fake_openai.chat_requests[-1].body["max_tokens"] == 500


def test_configured_provider_without_key_falls_back_every_time(cfg, ds, store, clock, signals, monkeypatch):
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    cfg["llm"].update(
        provider="deepseek", base_url="https://api.deepseek.com", model="deepseek-chat", api_key_env="DEEPSEEK_API_KEY"
    )
    d = PortfolioDecisionEngine(cfg, ds, store, clock).decide(signals, {}, "trending_up")
    assert d.selector == "fallback" and "DEEPSEEK_API_KEY" in d.fallback_reason and d.weights


def test_action_follows_the_change_against_the_position(cfg, ds, store, clock, signals):
    eng = PortfolioDecisionEngine(cfg, ds, store, clock)
    target = eng.decide(signals, {}, "trending_up").target_exposure
    assert eng.decide(signals, {}, "trending_up", {}, {"exposure": target}).action == "hold"
    assert eng.decide(signals, {}, "trending_up", {}, {"exposure": 1.0}).action == "sell"
    # A signed size valued at the price: 0.5 BTC x 100k over min(50k notional, 1 x 10k equity) = capped 1.0.
    assert (
        eng.decide(list(signals.values()), {}, "trending_up", {"equity": 10_000}, 0.5, price=100_000).action == "sell"
    )


def test_position_as_a_signed_size_reaches_the_llm_prompt(cfg, ds, store, clock, signals, fake_openai, client_for):
    """decide() takes the position as a signed size too; with an LLM selector the prompt shows it as a position
    (it used to reach the snapshot as a bare float, and dict(0.5) raised TypeError)."""
    fake_openai.default = Reply(content=GOOD)
    eng = PortfolioDecisionEngine(cfg, ds, store, clock, llm=client_for())
    d = eng.decide(signals, {}, "trending_up", {"equity": 10_000}, -0.5, price=100_000)
    assert d.selector == "llm"
    prompt = "\n".join(m["content"] for m in fake_openai.chat_requests[-1].body["messages"])
    assert '"side": "short"' in prompt and '"size": 0.5' in prompt, prompt


def test_single_strategy_engine(cfg, ds, store, clock):
    eng = DecisionEngine(cfg, ds, store, clock, "mean_reversion")
    d = eng.decide_one(sig("mean_reversion", Direction.SHORT, 0.7), {}, "ranging")
    assert d.selector == "offline" and d.weights == {"mean_reversion": 1.0}
    assert d.target_exposure == pytest.approx(-0.7) and d.action == "sell" and d.id


def test_signals_as_a_list_with_gaps(cfg, ds, store, clock, signals):
    eng = PortfolioDecisionEngine(cfg, ds, store, clock)
    as_list = eng.decide(list(signals.values()) + [None], {}, "trending_up")
    as_dict = eng.decide(signals, {}, "trending_up")
    assert as_list.weights == as_dict.weights and as_list.id != as_dict.id


def test_the_llm_may_keep_a_cash_share(cfg, ds, store, clock, signals, fake_openai, client_for):
    reply = json.dumps(
        {
            "selected": [{"strategy": "ema_trend", "weight": 0.5}, {"strategy": "cash", "weight": 0.5}],
            "confidence": 0.4,
            "rationale": "Trend is weak after costs; half stays in cash.",
            "regime": "trending_up",
        }
    )
    fake_openai.script(Reply(content=reply, prompt_tokens=900, completion_tokens=60))
    eng = PortfolioDecisionEngine(cfg, ds, store, clock, llm=client_for())
    d = eng.decide(signals, {"rsi": 60}, "trending_up", {"equity": 10_000}, {"exposure": 0.0})
    assert d.selector == "llm"
    # The cash share is not given to anyone: half the book stays unallocated.
    assert d.weights == pytest.approx({"ema_trend": 0.5})
    assert d.target_exposure == pytest.approx(0.5 * 0.8)
    row = ds.decision(d.id)
    assert "cash" not in row["weights"] and row["weights"]["ema_trend"]["final"] == pytest.approx(0.5)


def test_offline_selector_stays_in_cash_when_nothing_beats_it(cfg, ds, store, clock, signals, db):
    db.execute_sql(
        "INSERT INTO strategy_scores (version, strategy, regime, expected_reward, samples, status) "
        "SELECT 'losers', strategy, regime, -ABS(expected_reward) - 0.01, samples, 'published' "
        "FROM strategy_scores WHERE version = 'planted'"
    )
    eng = PortfolioDecisionEngine(cfg, ds, store, clock)
    d = eng.decide(signals, {"rsi": 60}, Regime.TRENDING_UP, {"equity": 10_000}, None)
    assert d.weights == {} and d.target_exposure == 0 and d.action == "hold"


def test_offline_reasoning_says_why_each_selected_strategy_points_where_it_does(cfg, ds, store, clock, signals):
    eng = PortfolioDecisionEngine(cfg, ds, store, clock)
    d = eng.decide(signals, {"rsi": 60}, Regime.TRENDING_UP, {"equity": 10_000}, None)
    assert d.weights and "| " in d.reasoning
    for name in d.weights:
        assert f"{name} {signals[name].direction.value}: {signals[name].reason}" in d.reasoning
