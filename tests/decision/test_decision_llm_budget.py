"""The token budget does not trust the provider, and a reply is bounded before it is parsed.

Everything goes through the real openai client to the loopback OpenAI-compatible server."""

from __future__ import annotations

import gzip
import json

import pytest

from support.fake_openai import Reply, completion_body

from cockpit.decision import PortfolioDecisionEngine
from cockpit.decision.engine import USAGE_RULE
from cockpit.decision.llm import MAX_REPLY_BYTES, estimate_tokens

GOOD = json.dumps(
    {
        "selected": [{"strategy": "ema_trend", "weight": 0.7}, {"strategy": "breakout", "weight": 0.3}],
        "confidence": 0.6,
        "rationale": "Trend and breakout agree.",
        "regime": "trending_up",
    }
)
MESSAGES = [
    {"role": "system", "content": "You choose strategies. Answer in JSON."},
    {"role": "user", "content": "Decision for BTC/USDT:USDT 1h. " * 40},
]


def sent_chars(request) -> int:
    return sum(len(m["content"]) for m in request.body["messages"])


def no_usage_body(content: str) -> bytes:
    body = completion_body(content, model="fake-model")
    del body["usage"]
    return json.dumps(body).encode()


# ------------------------------------------------------------------ usage


@pytest.mark.parametrize(
    "prompt_tokens, completion_tokens",
    [
        (-1_000_000_000, 20),  # negative (sent as -1000000000)
        (-1e9, -1e9),  # negative and not an integer (sent as -1000000000.0)
        (12.5, 7),  # not an integer
        (10**12, 20),  # absurdly large
        (100, 10**12),
    ],
)
def test_nonsense_usage_counts_the_local_estimate_and_warns(
    prompt_tokens, completion_tokens, cfg, ds, store, clock, signals, fake_openai, client_for
):
    fake_openai.default = Reply(content=GOOD, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    eng = PortfolioDecisionEngine(cfg, ds, store, clock, llm=client_for())
    d = eng.decide(signals, {}, "trending_up")
    assert d.selector == "llm"
    run = ds.llm_run(d.llm_run_id)
    [req] = fake_openai.chat_requests
    est_p, est_c = estimate_tokens(sent_chars(req)), estimate_tokens(len(GOOD))
    assert est_p > 0 and est_c > 0
    # A sane reported value above the estimate is kept; a nonsense one is replaced by the estimate.
    sane_p = isinstance(prompt_tokens, int) and 0 <= prompt_tokens <= 10**6
    sane_c = isinstance(completion_tokens, int) and 0 <= completion_tokens <= 10**6
    assert run["prompt_tokens"] == (max(prompt_tokens, est_p) if sane_p else est_p)
    assert run["completion_tokens"] == (max(completion_tokens, est_c) if sane_c else est_c)
    assert ds.llm_tokens_since(0) == run["prompt_tokens"] + run["completion_tokens"] > 0
    [ev] = ds.risk_events(rule=USAGE_RULE)
    assert ev["level"] == "WARN" and f"llm run {d.llm_run_id}" in ev["details"] and "estimate" in ev["details"]
    eng.decide(signals, {}, "trending_up")  # said once per UTC day, not at every call
    assert len(ds.risk_events(rule=USAGE_RULE)) == 1


def test_negative_usage_cannot_lift_the_daily_budget(cfg, ds, store, clock, signals, fake_openai, client_for):
    cfg["llm"]["max_tokens_per_day"] = 3000
    cfg["llm"]["max_tokens_per_call"] = 500
    fake_openai.default = Reply(content=GOOD, prompt_tokens=-1_000_000_000, completion_tokens=-1_000_000_000)
    eng = PortfolioDecisionEngine(cfg, ds, store, clock, llm=client_for(max_tokens=500))
    selectors = [eng.decide(signals, {}, "trending_up").selector for _ in range(8)]
    calls = len(fake_openai.chat_requests)
    assert selectors[:calls] == ["llm"] * calls and set(selectors[calls:]) == {"fallback"}
    # Every call counted at least what was sent: the budget stopped the calls (the old code let all 8 through).
    per_call = estimate_tokens(sent_chars(fake_openai.chat_requests[0]))
    assert 1 <= calls <= 3000 // per_call < 8
    assert ds.llm_tokens_since(0) >= calls * per_call
    assert ds.risk_events(rule="llm_budget")


def test_missing_usage_counts_the_local_estimate(cfg, ds, store, clock, signals, fake_openai, client_for):
    fake_openai.script(Reply.raw(no_usage_body(GOOD)))
    d = PortfolioDecisionEngine(cfg, ds, store, clock, llm=client_for()).decide(signals, {}, "trending_up")
    assert d.selector == "llm"
    run = ds.llm_run(d.llm_run_id)
    [req] = fake_openai.chat_requests
    assert run["prompt_tokens"] == estimate_tokens(sent_chars(req)) > 0
    assert run["completion_tokens"] == estimate_tokens(len(GOOD)) > 0
    assert ds.risk_events(rule=USAGE_RULE) == []  # no usage is not nonsense: just counted locally


def test_old_negative_rows_do_not_give_budget_back(ds, store):
    store.insert_llm_run(
        timestamp=1,
        prompt_version_id=None,
        model_version_id=None,
        model="m",
        request={},
        response="{}",
        status="ok",
        latency_ms=1,
        prompt_tokens=-(10**9),
        completion_tokens=50,
    )
    store.insert_llm_run(
        timestamp=2,
        prompt_version_id=None,
        model_version_id=None,
        model="m",
        request={},
        response="{}",
        status="ok",
        latency_ms=1,
        prompt_tokens=700,
        completion_tokens=None,
    )
    assert ds.llm_tokens_since(0) == 750


# ------------------------------------------------------------------ reply size


def test_reply_over_the_cap_is_rejected_before_parsing(fake_openai, client_for):
    big = completion_body("x" * (4 * MAX_REPLY_BYTES), model="fake-model")
    fake_openai.script(Reply.raw(json.dumps(big)))
    res = client_for(max_retries=2).complete(MESSAGES)
    assert res.status == "error" and res.content is None
    assert "too large" in res.error and str(MAX_REPLY_BYTES) in res.error
    assert len(fake_openai.chat_requests) == 1  # not retried
    assert fake_openai.chat_requests[0].headers["accept-encoding"] == "identity"


def test_streamed_reply_without_length_is_cut_at_the_cap_unparsed(fake_openai, client_for):
    # Two megabytes with no Content-Length, and broken JSON at the very end: had the body been read and
    # parsed, the error would be the broken JSON; it is the size.
    body = json.dumps(completion_body("y" * 2_000_000, model="fake-model"))[:-2]
    fake_openai.script(Reply.raw(body, no_length=True))
    res = client_for(max_retries=2).complete(MESSAGES)
    assert res.status == "error" and res.content is None
    assert "too large" in res.error and "JSON" not in res.error
    assert len(fake_openai.chat_requests) == 1


def test_compressed_reply_is_refused(fake_openai, client_for):
    packed = gzip.compress(json.dumps(completion_body(GOOD, model="fake-model")).encode())
    fake_openai.script(Reply.raw(packed, headers={"Content-Encoding": "gzip"}))
    res = client_for(max_retries=0).complete(MESSAGES)
    assert res.status == "error" and "compressed reply" in res.error and res.content is None


def test_reply_just_under_the_cap_is_read(fake_openai, client_for):
    body = json.dumps(completion_body(GOOD, model="fake-model"))
    fake_openai.script(Reply.raw(body + " " * (MAX_REPLY_BYTES - len(body))))
    res = client_for().complete(MESSAGES)
    assert res.status == "ok" and res.content == GOOD


def test_oversized_reply_ends_as_a_recorded_fallback(cfg, ds, store, clock, signals, fake_openai, client_for):
    fake_openai.script(
        Reply(
            content=json.dumps(
                {
                    "selected": [{"strategy": "ema_trend", "weight": 1.0}],
                    "confidence": 0.5,
                    "regime": "trending_up",
                    "rationale": "z" * (2 * MAX_REPLY_BYTES),
                }
            )
        )
    )
    d = PortfolioDecisionEngine(cfg, ds, store, clock, llm=client_for()).decide(signals, {}, "trending_up")
    assert d.selector == "fallback" and d.fallback_reason.startswith("LLM call failed: reply too large")
    run = ds.llm_run(d.llm_run_id)
    assert run["status"] == "error" and run["response"] is None and "too large" in run["error"]
    # The provider answered at length: what was sent and what was cut off both count.
    assert run["prompt_tokens"] == estimate_tokens(sent_chars(fake_openai.chat_requests[0]))
    assert run["completion_tokens"] == estimate_tokens(MAX_REPLY_BYTES)
