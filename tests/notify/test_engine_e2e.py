"""End to end: `cockpit --headless --for ...` on the built-in simulator (3600x) with notify.urls
pointing at a loopback JSON webhook: one message per pending order, engine start and stop."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.sqlite import query as q
from support.trading import ACTIVE_TRADER_ENV

for mod in (
    "cockpit.sim.server",
    "cockpit.market.ingest",
    "cockpit.execution.manager",
    "cockpit.execution.okx",
    "cockpit.decision.engine",
    "cockpit.strategies.registry",
):
    pytest.importorskip(mod)

REPO = Path(__file__).resolve().parents[2]


def test_headless_engine_sends_one_message_per_pending_order(tmp_path, receiver):
    db = tmp_path / "c.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCKPIT__")}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "HOOK_TOKEN": "e2e-hook-token-91b2",
            "COCKPIT__SIM__SPEED": "3600",
            "COCKPIT__EXCHANGE__BACKFILL_DAYS": "12",
            "COCKPIT__ENGINE__FAST_LOOP_S": "0.25",
            "COCKPIT__ENGINE__INGEST_INTERVAL_S": "0.5",
            "COCKPIT__EXECUTION__APPROVAL": "manual",
            "COCKPIT__NOTIFY__URLS": json.dumps([receiver.url("ok/${HOOK_TOKEN}")]),
            "COCKPIT__NOTIFY__POLL_S": "0.2",
            "COCKPIT__NOTIFY__RATE_PER_MINUTE": "600",
            "COCKPIT__NOTIFY__BURST": "100",
            "COCKPIT__NOTIFY__MIN_RISK_LEVEL": "CRITICAL",
            "COCKPIT__NOTIFY__DAILY_SUMMARY_UTC": "",
            **ACTIVE_TRADER_ENV,  # orders every few seconds, so some wait for approval
        }
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cockpit",
            "--config",
            str(REPO / "config.yaml"),
            "--db",
            str(db),
            "--headless",
            "--for",
            "20s",
            "--log-format",
            "json",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    recs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    start = next(r for r in recs if r.get("event") == "engine_start")
    assert start["stages"].get("notify") == "ok", start["stages"]

    msgs = receiver.messages.get("/ok/e2e-hook-token-91b2", [])
    pending = [
        e["order_id"]
        for e in q(db, "SELECT order_id FROM order_lifecycle_events WHERE status = 'pending_approval' ORDER BY id")
    ]
    assert pending, "the engine produced no order waiting for approval in this run"
    titles = [m["title"] for m in msgs]
    approval = [int(re.search(r"\(#(\d+)\)$", t).group(1)) for t in titles if "Approval needed" in t]
    assert sorted(approval) == sorted(pending), titles  # exactly one message per pending order
    expired = [e["order_id"] for e in q(db, "SELECT order_id FROM order_lifecycle_events WHERE status = 'expired'")]
    assert len([t for t in titles if "] Expired:" in t]) == len(expired)
    assert titles[0] == "[SIM] Engine started" and titles[-1] == "[SIM] Engine stopped", titles

    order = q(db, "SELECT * FROM orders WHERE id = ?", pending[0])[0]
    body = next(m["message"] for m in msgs if m["title"].endswith(f"(#{pending[0]})") and "Approval" in m["title"])
    assert f"cockpit orders approve {pending[0]}" in body and "TTL: expires in 15m" in body
    assert "Why: " in body and "Risk check: " in body
    assert f"{float(order['amount']):,.6f}".rstrip("0").rstrip(".") + " BTC" in body
    text = json.dumps(msgs) + proc.stdout + proc.stderr
    assert "e2e-hook-token-91b2" not in text
