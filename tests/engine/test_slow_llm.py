"""A slow LLM never delays order monitoring: while the decision worker waits on the selector (the real
openai client against a loopback OpenAI-compatible server that holds its answer), the fast loop keeps
cycling and writing heartbeats."""

from __future__ import annotations

import io
import time

import pytest

from cockpit.config import load_config
from cockpit.data import DataService
from cockpit.engine.eventlog import EventLog
from cockpit.engine.handle import EngineHandle
from support.fake_openai import Reply, fake_openai  # noqa: F401 (fixture)

for mod in ("cockpit.sim.server", "cockpit.market.ingest", "cockpit.execution.manager", "cockpit.decision.engine"):
    pytest.importorskip(mod)


def wait_for(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_fast_loop_keeps_cycling_while_the_llm_hangs(tmp_path, fake_openai, monkeypatch):
    monkeypatch.setenv("COCKPIT_TEST_LLM_KEY", "sk-test-not-a-real-key")
    fake_openai.script(Reply.slow(5.0, content="{}"))
    cfg = load_config(
        None,
        environ={},
        overrides={
            "database.url": f"sqlite:///{tmp_path / 'c.db'}",
            "sim.speed": 3600,
            "exchange.backfill_days": 5,
            "engine.fast_loop_s": 0.1,
            "engine.ingest_interval_s": 0.3,
            "llm.provider": "openai-compatible",
            "llm.base_url": fake_openai.base_url + "/v1",
            "llm.model": "fake",
            "llm.api_key_env": "COCKPIT_TEST_LLM_KEY",
            "llm.timeout_s": 30,
            "llm.max_retries": 0,
        },
    )
    out = io.StringIO()
    handle = EngineHandle(cfg, log=EventLog(fmt="json", stream=out))
    handle.start()
    try:
        assert wait_for(lambda: fake_openai.chat_requests, 40), out.getvalue()[-2000:]
        asked = time.monotonic()
        c0 = handle.status.cycles
        assert wait_for(lambda: handle.status.cycles >= c0 + 5, 4.0), "fast loop stalled behind the LLM"
        # ... and all of that happened while the selector was still waiting for its answer.
        assert time.monotonic() - asked < 5.0
        assert DataService().decisions(limit=5) == []
        beat = DataService().engine_state_row("heartbeat")
        assert beat is not None
    finally:
        handle.stop()
    assert "sk-test-not-a-real-key" not in out.getvalue()
