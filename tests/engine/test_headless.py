"""`cockpit --headless` in a subprocess: no Textual import, JSON log lines with heartbeats, --for ends
the run by itself, SIGTERM and SIGINT stop cleanly with exit 0, a second engine on the same database
exits 1 with the lock message, okx-live without --live is refused."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from helpers import engine_env, read_until, spawn


def _lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def test_headless_for_duration_no_textual(tmp_path):
    proc = spawn(tmp_path / "c.db", "--headless", "--for", "2s", "--log-format", "json")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    recs = _lines(out)
    assert recs[-1] == {"textual_modules": []}
    events = [r.get("event") for r in recs]
    assert events[0] == "engine_start"
    assert "heartbeat" in events and "run_for_elapsed" in events and events[-2] == "engine_stop"
    beat = next(r for r in recs if r.get("event") == "heartbeat")
    for key in ("equity", "position", "last_decision", "pending_approvals", "lag_ms"):
        assert key in beat


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_exit_0(tmp_path, sig):
    proc = spawn(tmp_path / "c.db", "--headless", "--log-format", "json")
    try:
        read_until(proc, "heartbeat")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    events = [r.get("event") for r in _lines(out)]
    assert "engine_stop" in events and "signal" in events


def test_second_engine_on_same_database_exits_with_lock_message(tmp_path):
    db = tmp_path / "c.db"
    first = spawn(db, "--headless", "--log-format", "json")
    try:
        read_until(first, "heartbeat")
        second = spawn(db, "--headless", "--for", "5s", "--log-format", "json")
        out, err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert "another engine is already running" in err and "--attach" in err
        assert "engine_start" not in out
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
        assert first.returncode == 0
    finally:
        if first.poll() is None:
            first.kill()


def test_okx_live_without_live_flag_is_refused(tmp_path):
    env = engine_env(COCKPIT__EXCHANGE__MODE="okx-live")
    proc = spawn(tmp_path / "c.db", "--headless", "--for", "1s", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "--live" in err


def test_okx_live_needs_a_terminal_for_confirmation(tmp_path):
    env = engine_env(COCKPIT__EXCHANGE__MODE="okx-live")
    proc = spawn(tmp_path / "c.db", "--headless", "--live", "--for", "1s", env=env)
    out, err = proc.communicate(input=None, timeout=60)
    assert proc.returncode == 1
    assert "TTY" in err


def test_engine_status_command_reads_the_heartbeat(tmp_path):
    proc = spawn(tmp_path / "c.db", "--headless", "--for", "1s", "--log-format", "json")
    proc.communicate(timeout=60)
    r = subprocess.run(
        [sys.executable, "-m", "cockpit", "--db", str(tmp_path / "c.db"), "engine", "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    beat = json.loads(r.stdout)
    assert beat["state"] == "stopped" and beat["running"] is False
