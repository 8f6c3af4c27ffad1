"""Live-trading confirmation and the EngineHandle's plain status."""

from __future__ import annotations

import argparse
import io

from cockpit.config import load_config
from cockpit.engine.eventlog import EventLog
from cockpit.commands.run import confirm_live, live_phrase
from cockpit.engine.handle import EngineHandle


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def live_cfg():
    return load_config(None, environ={"COCKPIT__EXCHANGE__MODE": "okx-live"})


def test_live_needs_flag_tty_and_exact_phrase():
    cfg = live_cfg()
    no_flag = argparse.Namespace(live=False)
    flag = argparse.Namespace(live=True)
    assert "--live" in confirm_live(cfg, no_flag, stdin=TTY(live_phrase(cfg) + "\n"), stderr=io.StringIO())
    assert "TTY" in confirm_live(cfg, flag, stdin=io.StringIO(live_phrase(cfg) + "\n"), stderr=io.StringIO())
    assert "did not match" in confirm_live(cfg, flag, stdin=TTY("yes\n"), stderr=io.StringIO())
    prompt = io.StringIO()
    assert confirm_live(cfg, flag, stdin=TTY("TRADE LIVE BTC/USDT:USDT\n"), stderr=prompt) is None
    assert "REAL MONEY" in prompt.getvalue() and "TRADE LIVE BTC/USDT:USDT" in prompt.getvalue()


def test_sim_needs_no_confirmation():
    cfg = load_config(None, environ={})
    assert confirm_live(cfg, argparse.Namespace(live=False), stdin=io.StringIO(), stderr=io.StringIO()) is None


def test_handle_status_before_start_is_plain(cfg):
    h = EngineHandle(cfg, log=EventLog(stream=io.StringIO()))
    assert h.status.state == "stopped" and h.clock is None
    assert h.status.approval == "manual" and h.status.mode == "sim"


def test_log_redacts_secrets():
    out = io.StringIO()
    log = EventLog(fmt="json", stream=out, secrets=["sk-verysecret"])
    log.info("x", error="auth failed for key sk-verysecret", nested={"k": ["sk-verysecret"]})
    assert "sk-verysecret" not in out.getvalue() and "***" in out.getvalue()
