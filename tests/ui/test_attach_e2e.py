"""End to end in attach mode: a real headless engine (subprocess, built-in simulator at 3600x, real
ccxt over loopback) and the TUI attached to its database. An order appears pending, `a` approves it
and the database shows it submitted then filled; `K` + confirm engages the kill switch, the engine
flattens, and the header shows HALTED. Waits poll the database with deadlines; nothing is timed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.attach import fast_engine_env, until
from support.sqlite import query
from conftest import settle

for _mod in (
    "cockpit.sim.server",
    "cockpit.market.ingest",
    "cockpit.execution.manager",
    "cockpit.decision.engine",
    "cockpit.strategies.registry",
    "cockpit.engine.handle",
):
    pytest.importorskip(_mod)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


async def test_attach_approve_fill_then_kill_switch(tmp_path):
    from cockpit.config import load_config
    from cockpit.db import close_database, open_database
    from cockpit.ui.app import create_app

    db_path = tmp_path / "c.db"
    env = fast_engine_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cockpit", "--config", str(REPO / "config.yaml"), "--db", str(db_path), "--headless"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not query(db_path, "SELECT 1 FROM engine_state WHERE key = 'heartbeat'", missing_ok=True):
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "engine wrote no heartbeat"
            time.sleep(0.2)
        url = f"sqlite:///{db_path}"
        cfg = load_config(REPO / "config.yaml", environ={}, overrides={"database.url": url, "ui.refresh_ms": 100})
        database = open_database(url)
        app = create_app(cfg, db=database, attach=True, operator="ui-test")
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.snapshot is not None and app.snapshot.pending, 60, "a pending order")
            order = app.approval_target()
            assert order is not None and order["status"] == "pending_approval"
            assert app.query_one("#approval-banner").has_class("-shown")
            await pilot.press("a")
            await settle(app, pilot)

            def status() -> str | None:
                o = next((o for o in (app.snapshot.orders if app.snapshot else []) if o["id"] == order["id"]), None)
                return o["status"] if o else None

            await until(pilot, lambda: status() in ("filled", "failed", "rejected", "expired"), 40, "the fill")
            assert status() == "filled"
            steps = [e["status"] for e in app.ds.order_events(order["id"])]
            assert steps.index("approved") < steps.index("submitted") < steps.index("filled"), steps
            (cmd,) = [c for c in app.ds.operator_commands(status=None) if c["command"] == "approve"]
            assert cmd["operator"] == "ui-test" and cmd["status"] == "done"

            await pilot.press("K")
            await pilot.pause()
            await pilot.press("y")
            await until(pilot, lambda: app.snapshot.halted, 30, "HALTED")
            badge = app.query_one("#mode-badge")
            assert badge.has_class("-halted") and "HALTED" in str(badge.render())
            await until(pilot, lambda: not (app.snapshot.position or {}).get("size"), 30, "a flat position")
            assert not app.snapshot.pending  # the kill switch cancelled what was waiting
        close_database()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0
