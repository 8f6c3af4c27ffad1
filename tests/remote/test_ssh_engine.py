"""serve-ssh in front of a real headless engine (subprocess, built-in simulator at 3600x, ccxt over loopback).

A trader's SSH session approves the first pending order with `a`; the engine executes the command
and the order is filled with `decided_by` naming the key. Then the connection drops without an SSH
goodbye: the session's child goes, the engine keeps running (its heartbeat moves on).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from support.trading import ACTIVE_TRADER_ENV

from remote.support import REPO, make_keys, query, server_env, stop, wait_for_line
from remote.support import PANES, children, open_cockpit, wait_db

pytestmark = pytest.mark.slow
if importlib.util.find_spec("cockpit.engine.handle") is None or importlib.util.find_spec("cockpit.sim.server") is None:
    pytest.skip("the engine or simulator is not in this build", allow_module_level=True)

FAST = {
    "COCKPIT__SIM__SPEED": "3600",
    "COCKPIT__EXCHANGE__BACKFILL_DAYS": "12",
    "COCKPIT__ENGINE__FAST_LOOP_S": "0.25",
    "COCKPIT__ENGINE__INGEST_INTERVAL_S": "0.5",
    "COCKPIT__EXECUTION__APPROVAL_TTL_S": "86400",
    **ACTIVE_TRADER_ENV,
}  # orders every few seconds


def _heartbeat(db_path) -> int:
    try:
        rows = query(db_path, "SELECT value FROM engine_state WHERE key = 'heartbeat'")
    except sqlite3.OperationalError:  # the engine has not migrated the file yet
        return 0
    return int(json.loads(rows[0]["value"]).get("wall_ms") or 0) if rows else 0


def test_ssh_approval_reaches_engine_and_drop_leaves_it_running(tmp_path):
    db_path = tmp_path / "cockpit.db"
    env = server_env() | FAST
    engine = subprocess.Popen(
        [sys.executable, "-m", "cockpit", "--config", str(REPO / "config.yaml"), "--db", str(db_path), "--headless"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    keys = make_keys(tmp_path)
    server = None
    try:
        deadline = time.monotonic() + 90
        while not (db_path.exists() and _heartbeat(db_path)):
            assert engine.poll() is None, engine.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "the engine wrote no heartbeat"
            time.sleep(0.2)
        with open(tmp_path / "server.log", "w") as errf:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cockpit",
                    "--config",
                    str(REPO / "config.yaml"),
                    "--db",
                    str(db_path),
                    "serve-ssh",
                    "--port",
                    "0",
                    "--authorized-keys",
                    str(keys.authorized_keys),
                    "--host-key",
                    str(tmp_path / "host_key"),
                ],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=errf,
                text=True,
            )
        port = int(wait_for_line(server, r"listening on [\d.]+:(\d+)", 60).group(1))
        fingerprint = keys.trader.get_fingerprint("sha256")

        async def run() -> dict:
            term = await open_cockpit(port, keys.trader)
            await term.until(*PANES)
            await term.until("APPROVAL", timeout=120)  # the engine's first order waits for approval
            term.press("a")
            (cmd,) = await wait_db(
                lambda: query(db_path, "SELECT * FROM operator_commands WHERE command = 'approve'"),
                "the approve command",
            )
            order = await wait_db(
                lambda: [
                    o
                    for o in query(db_path, "SELECT * FROM orders WHERE id = ?", cmd["order_id"])
                    if o["status"] in ("filled", "rejected", "failed", "expired")
                ],
                "the order to be executed",
                timeout=60,
            )
            kids = children(server.pid)
            term.conn.abort()  # the connection drops
            await wait_db(lambda: not children(server.pid), "the session's child to go", timeout=30)
            beat = _heartbeat(db_path)
            await wait_db(lambda: _heartbeat(db_path) > beat, "a later engine heartbeat", timeout=30)
            return {"cmd": cmd, "order": order[0], "kids": kids}

        got = asyncio.run(run())
        assert got["order"]["status"] == "filled", got["order"]
        assert f"ssh {fingerprint} alice@desk" in got["order"]["decided_by"]
        assert f"ssh {fingerprint} alice@desk" in got["cmd"]["operator"]
        assert len(got["kids"]) == 1 and engine.pid not in got["kids"]
        assert engine.poll() is None  # the engine never noticed
    finally:
        if server is not None:
            stop(server)
        if engine.poll() is None:
            engine.send_signal(signal.SIGTERM)
        try:
            engine.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            engine.kill()
            engine.wait(5)
    assert engine.returncode == 0
    assert os.path.exists(db_path)
