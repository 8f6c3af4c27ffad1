"""End to end: `cockpit --headless` in a subprocess on the built-in simulator at 3600x (one simulated
hour per second), real ccxt over loopback, a temp SQLite file. Skipped only while a part of the
pipeline is not in this build (the engine then logs the stage as unavailable)."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import pytest
from support.sqlite import query as q
from support.trading import ACTIVE_TRADER_ENV

from cockpit.domain.market import timeframe_ms
from helpers import engine_env, read_until, spawn

for mod in (
    "cockpit.sim.server",
    "cockpit.market.ingest",
    "cockpit.execution.manager",
    "cockpit.execution.okx",
    "cockpit.decision.engine",
    "cockpit.strategies.registry",
):
    pytest.importorskip(mod)

# The active trader decides hourly (one decision per wall second at 3600x) and trades often.
FAST = {
    "COCKPIT__SIM__SPEED": "3600",
    "COCKPIT__EXCHANGE__BACKFILL_DAYS": "12",
    "COCKPIT__ENGINE__FAST_LOOP_S": "0.25",
    "COCKPIT__ENGINE__INGEST_INTERVAL_S": "0.5",
    **ACTIVE_TRADER_ENV,
}


def _count(db, sql) -> int:
    try:
        return q(db, sql)[0]["n"]
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def _flat(db) -> bool:
    rows = q(db, "SELECT side, size FROM position_snapshots ORDER BY id DESC LIMIT 1")
    return bool(rows) and (rows[0]["side"] == "flat" or float(rows[0]["size"] or 0) == 0)


def test_headless_run_fills_the_database(tmp_path):
    from cockpit.data.operator import submit_command
    from cockpit.db import close_database, open_database

    db = tmp_path / "c.db"
    # --for bounds the run; on a loaded machine it may need longer, so stop early (SIGTERM) once the
    # database holds what we check, which also exercises the clean shutdown. Midway the operator hits
    # the kill switch through the database (as `cockpit --attach` would): a risk event, and the engine
    # closes the position with a reduce-only order.
    proc = spawn(
        db,
        "--headless",
        "--for",
        "50s",
        "--log-format",
        "json",
        env=engine_env(**FAST, COCKPIT__EXECUTION__APPROVAL="auto_within_limits"),
    )
    killed = False
    try:
        deadline = time.monotonic() + 50
        while proc.poll() is None and time.monotonic() < deadline:
            if (
                not killed
                and _count(db, "SELECT COUNT(*) AS n FROM decisions") >= 3
                and _count(db, "SELECT COUNT(*) AS n FROM orders WHERE status = 'filled' AND decision_id IS NOT NULL")
            ):
                database = open_database(f"sqlite:///{db}")
                try:
                    submit_command("kill", now_ms=0, operator="e2e test", payload={"reason": "test"}, db=database)
                finally:
                    close_database()
                killed = True
            if killed and _count(db, "SELECT COUNT(*) AS n FROM risk_events WHERE rule = 'kill_switch'") and _flat(db):
                break
            time.sleep(0.3)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    recs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    assert recs[-1] == {"textual_modules": []}
    start = next(r for r in recs if r.get("event") == "engine_start")
    assert all(v == "ok" for v in start["stages"].values()), start["stages"]
    assert not [r for r in recs if r.get("event") == "worker_crashed"]
    end_ms = max(
        int(r["ts"])
        for r in q(db, "SELECT json_extract(value, '$.ts') AS ts FROM engine_state WHERE key = 'heartbeat'")
    )

    # Closed candles for every timeframe: each bar ended before the engine's last clock reading.
    for tf in ("15m", "1h", "4h", "1d"):
        rows = q(db, "SELECT COUNT(*) AS n, MAX(timestamp) AS last FROM market_data WHERE timeframe = ?", tf)[0]
        assert rows["n"] > 0, tf
        assert rows["last"] + timeframe_ms(tf) <= end_ms, tf

    decisions = q(db, "SELECT * FROM decisions ORDER BY id")
    assert len(decisions) >= 3
    assert all(d["reasoning"] and d["selector"] for d in decisions)

    # Orders with full lifecycles: created -> approved -> submitted -> filled, each step recorded.
    filled = q(db, "SELECT * FROM orders WHERE status = 'filled'")
    assert filled, q(db, "SELECT id, status, reason FROM orders")
    for o in filled:
        if o["decision_id"] is None:
            continue  # a stop-loss / take-profit the exchange executed, adopted as filled by the order manager
        steps = [
            e["status"]
            for e in q(db, "SELECT status FROM order_lifecycle_events WHERE order_id = ? ORDER BY id", o["id"])
        ]
        assert "approved" in steps and "submitted" in steps and steps[-1] == "filled", steps
        assert o["client_order_id"]
        fills = q(db, "SELECT SUM(amount) AS a, COUNT(*) AS n FROM trades WHERE order_id = ?", o["id"])[0]
        assert fills["n"] >= 1 and abs(fills["a"] - float(o["filled"])) < 1e-9
    # Entries and rebalances come from decisions (stop-loss / take-profit executions do not).
    assert [o for o in filled if o["decision_id"] is not None], [(o["id"], o["reason"]) for o in filled]
    assert q(db, "SELECT COUNT(*) AS n FROM position_snapshots")[0]["n"] > 0
    assert q(db, "SELECT COUNT(*) AS n FROM balances")[0]["n"] > 0
    assert q(db, "SELECT COUNT(*) AS n FROM risk_events")[0]["n"] >= 1
    assert killed and q(db, "SELECT COUNT(*) AS n FROM risk_events WHERE rule = 'kill_switch'")[0]["n"] >= 1
    assert _flat(db), q(db, "SELECT * FROM position_snapshots ORDER BY id DESC LIMIT 1")
    beat = json.loads(q(db, "SELECT value FROM engine_state WHERE key = 'heartbeat'")[0]["value"])
    assert beat["state"] == "stopped" and beat["last_decision_id"] == decisions[-1]["id"]
    assert beat["kill_switch"] is True


def test_manual_approval_through_the_database(tmp_path):
    """Default approval (manual): orders wait; an approval written to operator_commands (what the TUI
    in attach mode and `cockpit orders approve` do) is executed by the running engine."""
    from cockpit.data.operator import submit_command
    from cockpit.db import close_database, open_database

    db = tmp_path / "c.db"
    # The TTL is simulated time: a day is 24 s of wall time at 3600x, long enough to approve.
    proc = spawn(
        db, "--headless", "--log-format", "json", env=engine_env(**FAST, COCKPIT__EXECUTION__APPROVAL_TTL_S="86400")
    )
    try:
        read_until(proc, "heartbeat", timeout=60)
        deadline = time.monotonic() + 45
        pending = []
        while time.monotonic() < deadline and not pending:
            pending = q(db, "SELECT * FROM orders WHERE status = 'pending_approval' ORDER BY id")
            time.sleep(0.2)
        assert pending, "no order waited for approval"
        order = pending[0]
        assert order["expires_at"] and order["reduce_only"] == 0 and order["stop_loss"]
        database = open_database(f"sqlite:///{db}")
        try:
            submit_command(
                "approve", now_ms=int(order["created_at"] or 0), order_id=order["id"], operator="test", db=database
            )
        finally:
            close_database()
        status = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and status not in ("filled", "failed", "rejected", "expired"):
            status = q(db, "SELECT status FROM orders WHERE id = ?", order["id"])[0]["status"]
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    cmd = q(db, "SELECT * FROM operator_commands")[0]
    assert cmd["status"] == "done", cmd
    assert status == "filled", status
    steps = [
        e["status"]
        for e in q(db, "SELECT status FROM order_lifecycle_events WHERE order_id = ? ORDER BY id", order["id"])
    ]
    assert "pending_approval" in steps and "approved" in steps and steps[-1] == "filled", steps
    assert q(db, "SELECT decided_by FROM orders WHERE id = ?", order["id"])[0]["decided_by"] == "test"


def test_pending_approvals_do_not_stack_across_decisions(tmp_path):
    """Manual approval, a decision every simulated hour: orders still waiting for approval count
    toward the position a new decision plans from, so approving everything that is pending never
    goes past the position limits (before, each decision added another full-size order)."""
    db = tmp_path / "c.db"
    proc = spawn(
        db,
        "--headless",
        "--for",
        "10s",
        "--log-format",
        "json",
        env=engine_env(**FAST, COCKPIT__EXECUTION__APPROVAL_TTL_S="86400"),
    )
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    decisions = q(db, "SELECT COUNT(*) AS n FROM decisions")[0]["n"]
    assert decisions >= 4, decisions
    pending = q(db, "SELECT side, amount FROM orders WHERE status = 'pending_approval'")
    assert q(db, "SELECT COUNT(*) AS n FROM orders")[0]["n"] >= 1, "manual approval: orders were created to wait"
    signed = sum(o["amount"] if o["side"] == "buy" else -o["amount"] for o in pending)
    mark = q(db, "SELECT close FROM market_data WHERE timeframe = '1h' ORDER BY timestamp DESC LIMIT 1")[0]["close"]
    equity = q(db, "SELECT total FROM balances ORDER BY id DESC LIMIT 1")[0]["total"]
    cap = equity * 1.0 / mark * 1.05  # risk.max_position_pct_equity (1.0) of equity, 5% price slack
    assert abs(signed) <= cap, (signed, cap, len(pending), decisions)
    # A plan that wants less than a pending order would give withdraws that order ("superseded")
    # instead of placing an opposite order to offset it (which the risk rules then rejected: a
    # "reduce" of a position that only existed on paper, or a short entry).
    rejected = q(db, "SELECT id, side, reason FROM orders WHERE status = 'rejected'")
    assert rejected == [], rejected
