"""The TUI in attach mode over PostgreSQL: a headless engine (subprocess, simulator at 3600x) and the
cockpit attached to the same PostgreSQL database; `a` approves the pending order and it fills, `K`
engages the kill switch and the header shows HALTED. Waits poll with deadlines; nothing is timed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.attach import fast_engine_env, until

for _mod in ("cockpit.sim.server", "cockpit.engine.handle", "cockpit.ui.app"):
    pytest.importorskip(_mod)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def _settle(app, pilot) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def test_attach_over_postgres_approve_fill_then_kill_switch(pg_db, pg_url):
    from cockpit.config import load_config
    from cockpit.data import DataService
    from cockpit.ui.app import create_app

    env = fast_engine_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cockpit", "--config", str(REPO / "config.yaml"), "--db", pg_url, "--headless"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ds = DataService(pg_db)
        deadline = time.monotonic() + 60
        while not ds.engine_state("heartbeat"):
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "engine wrote no heartbeat"
            time.sleep(0.2)
        cfg = load_config(REPO / "config.yaml", environ={}, overrides={"database.url": pg_url, "ui.refresh_ms": 100})
        app = create_app(cfg, db=pg_db, attach=True, operator="ui-pg")
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.snapshot is not None and app.snapshot.pending, 60, "a pending order")
            order = app.approval_target()
            assert order is not None and order["status"] == "pending_approval"
            await pilot.press("a")
            await _settle(app, pilot)

            def status() -> str | None:
                o = next((o for o in (app.snapshot.orders if app.snapshot else []) if o["id"] == order["id"]), None)
                return o["status"] if o else None

            await until(pilot, lambda: status() in ("filled", "failed", "rejected", "expired"), 40, "the fill")
            assert status() == "filled", app.ds.order(order["id"])
            (cmd,) = [c for c in app.ds.operator_commands(status=None) if c["command"] == "approve"]
            assert cmd["operator"] == "ui-pg" and cmd["status"] == "done"

            await pilot.press("K")
            await pilot.pause()
            await pilot.press("y")
            await until(pilot, lambda: app.snapshot.halted, 30, "HALTED")
            assert "HALTED" in str(app.query_one("#mode-badge").render())
            await until(pilot, lambda: not (app.snapshot.position or {}).get("size"), 30, "a flat position")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            err = ""
    assert proc.returncode == 0, err[-2000:]
