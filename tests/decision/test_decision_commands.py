"""`cockpit llm test | prompts | runs` against the loopback server."""

from __future__ import annotations

import json

from support.fake_openai import Reply

from cockpit.cli import main

GOOD = json.dumps(
    {
        "selected": [{"strategy": "ema_trend", "weight": 0.5}, {"strategy": "momentum", "weight": 0.5}],
        "confidence": 0.4,
        "rationale": "Nothing is moving; spread the weight.",
        "regime": "unknown",
    }
)


def test_llm_test_prompts_and_runs(tmp_path, fake_openai, capsys, monkeypatch):
    monkeypatch.setenv("COCKPIT__LLM__MAX_RETRIES", "0")
    db = str(tmp_path / "c.db")
    fake_openai.script(Reply(content=GOOD), Reply(content="no JSON here"))
    assert main(["--db", db, "llm", "test", "--base-url", fake_openai.base_url, "--model", "m1"]) == 0
    out = capsys.readouterr().out
    assert "reply valid: ema_trend 0.50, momentum 0.50" in out and "Nothing is moving" in out
    assert main(["--db", db, "llm", "test", "--base-url", fake_openai.base_url, "--json"]) == 1
    res = json.loads(capsys.readouterr().out)
    assert res["selector"] == "fallback" and "not JSON" in res["fallback_reason"]
    assert main(["--db", db, "llm", "runs"]) == 0
    out = capsys.readouterr().out
    assert "rejected" in out and " ok " in out
    assert main(["--db", db, "llm", "prompts"]) == 0
    assert "selector   v1         published" in capsys.readouterr().out
    assert main(["--db", db, "llm", "prompts", "--show", "v1"]) == 0
    assert "[system]" in capsys.readouterr().out


def test_llm_test_without_provider_says_offline(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COCKPIT__LLM__PROVIDER", raising=False)
    assert main(["--db", str(tmp_path / "c.db"), "llm", "test"]) == 2
    assert "offline selector" in capsys.readouterr().err
