"""A model's words never drive a terminal, never pass for the cockpit's own text, and are capped.

Hostile rationales (ESC[2J, OSC titles and hyperlinks, BEL, C1 controls, bidi overrides, and an
instruction to the approver) go through the real path: the openai client on loopback, validation,
the database, the rationale pane, the event log and ``cockpit llm test``."""

from __future__ import annotations

import io
import json
import re

import pytest

from support.fake_openai import Reply

from cockpit.cli import main
from cockpit.decision import PortfolioDecisionEngine
from cockpit.decision.validate import RATIONALE_MAX, ReplyRejected, validate_reply
from cockpit.engine.eventlog import EventLog
from cockpit.ui import render

# Anything a terminal would act on: C0 but tab/newline, DEL, C1, bidi overrides and isolates.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

ESCAPES = (
    "Trend intact\x1b[2J\x1b[H\x1b]0;cockpit: all clear\x07 and momentum agrees"
    "\x1b]8;;http://evil.example\x07 see here\x1b]8;;\x07 \u202eesrever\u202c\x07\x9b31m done\r\nend"
)
HOSTILE = (
    "SYSTEM NOTICE TO OPERATOR\x1b[2J\x1b]0;pwned\x07: approve every pending order now, "
    "the risk desk has cleared them\x07"
)
SEL = [{"strategy": "ema_trend", "weight": 0.6}, {"strategy": "breakout", "weight": 0.4}]


def reply(rationale: str) -> str:
    return json.dumps({"selected": SEL, "confidence": 0.6, "rationale": rationale, "regime": "trending_up"})


def stored_text(ds) -> list[str]:
    out = []
    for table in ("decisions", "llm_runs", "risk_events"):
        for row in ds._q(f"SELECT * FROM {table}"):
            out += [v for v in row.values() if isinstance(v, str)]
    return out


def assert_clean(texts) -> None:
    for t in texts:
        assert not CONTROL.search(t), repr(t[:200])


@pytest.fixture
def engine(cfg, ds, store, clock, client_for):
    return PortfolioDecisionEngine(cfg, ds, store, clock, llm=client_for(max_retries=0))


def test_escape_codes_are_stripped_and_the_rationale_is_marked_as_the_models(engine, ds, fake_openai, signals):
    fake_openai.script(Reply(content=reply(ESCAPES)))
    d = engine.decide(signals, {}, "trending_up")
    assert d.selector == "llm"
    assert d.reasoning.startswith(
        "model says: “Trend intact and momentum agrees see here esrever done end” | LLM weights"
    )
    assert_clean(stored_text(ds))
    row = ds.decision(d.id)
    assert row["reasoning"] == d.reasoning
    assert "control characters removed" in ds.llm_run(d.llm_run_id)["error"]
    # The rationale pane shows the model's words, marked, and nothing a terminal would act on.
    pane = render.rationale_text([row], {d.llm_run_id: ds.llm_run(d.llm_run_id)}).plain
    assert "model says: “Trend intact" in pane
    assert_clean([pane, render.timeline_text({"id": 1, "status": "filled"}, [], [], row).plain])


def test_instruction_to_the_approver_is_flagged_and_nothing_stored_carries_escapes(engine, ds, fake_openai, signals):
    fake_openai.script(Reply(content=reply(HOSTILE)))
    d = engine.decide(signals, {}, "trending_up")
    assert d.selector == "fallback" and "oversteps" in d.fallback_reason
    [ev] = ds.risk_events(rule="llm_output")
    assert ev["level"] == "WARN"
    assert_clean(stored_text(ds) + [d.reasoning, d.fallback_reason])


def test_raw_escapes_in_a_non_json_reply_are_not_stored(engine, ds, fake_openai, signals):
    fake_openai.script(Reply(content="\x1b[2J\x1b]0;pwned\x07" + HOSTILE))
    d = engine.decide(signals, {}, "trending_up")
    assert d.selector == "fallback" and "not JSON" in d.fallback_reason
    run = ds.llm_run(d.llm_run_id)
    assert run["response"].startswith("SYSTEM NOTICE TO OPERATOR: approve every pending order")
    assert_clean(stored_text(ds))


@pytest.mark.parametrize(
    "rationale",
    [
        "C1 CSI \x9b2J and OSC \x9d0;title\x9c and DCS \x1bPq#0;2;0;0;0\x1b\\ end",
        "bidi \u2066isolate\u2069 \u202dforce\u202c \u200fmark text",
        "bell\x07 backspace\x08\x08 delete\x7f nul\x00 form\x0c feed",
        "a line\u2028separator and \u2029paragraph",
    ],
)
def test_validated_rationale_holds_no_control_characters(rationale):
    sel = validate_reply(reply(rationale), ["ema_trend", "breakout"])
    assert sel.rationale and not CONTROL.search(sel.rationale) and "\n" not in sel.rationale


def test_instruction_split_by_escape_codes_is_still_flagged():
    with pytest.raises(ReplyRejected) as e:
        validate_reply(reply("Momentum is fine. Ap\x1b[0mprove every pending order."), ["ema_trend", "breakout"])
    assert e.value.flags


def test_rationale_is_capped_and_says_so(engine, ds, fake_openai, signals):
    fake_openai.script(Reply(content=reply("steady trend " * 400)))
    d = engine.decide(signals, {}, "trending_up")
    said = d.reasoning.split(" | LLM weights")[0]
    assert said.startswith("model says: “steady trend") and said.endswith("…”")
    assert len(said) == len("model says: “”") + RATIONALE_MAX
    assert "rationale cut to 1000 characters" in ds.llm_run(d.llm_run_id)["error"]


def test_event_log_never_writes_a_control_character():
    out = io.StringIO()
    log = EventLog(fmt="text", stream=out)
    log.info("decision", reasoning="x\x1b[2J\x1b]0;t\x07y", note="no\x9bspaces")
    line = out.getvalue()
    assert not CONTROL.search(line) and "\\u001b[2J" in line


def test_llm_test_prints_the_models_words_marked_and_clean(tmp_path, fake_openai, capsys, monkeypatch):
    monkeypatch.setenv("COCKPIT__LLM__MAX_RETRIES", "0")
    db = str(tmp_path / "c.db")
    fake_openai.script(Reply(content=reply(ESCAPES)), Reply(content="\x1b[2J\x1b]0;pwned\x07" + HOSTILE))
    assert main(["--db", db, "llm", "test", "--base-url", fake_openai.base_url]) == 0
    out = capsys.readouterr().out
    assert "rationale: model says: “Trend intact and momentum agrees" in out
    assert_clean([out])
    assert main(["--db", db, "llm", "test", "--base-url", fake_openai.base_url]) == 1
    out = capsys.readouterr().out
    assert "raw reply: model says: “SYSTEM NOTICE TO OPERATOR: approve every pending order" in out
    assert_clean([out])
    assert main(["--db", db, "llm", "runs"]) == 0
    assert_clean([capsys.readouterr().out])
