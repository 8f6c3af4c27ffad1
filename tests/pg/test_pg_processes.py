"""Several processes on one PostgreSQL database: the headless engine, `cockpit orders approve` from
another process, a second engine refused by the advisory lock, and the lock freed by kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.trading import ACTIVE_TRADER_ENV

REPO = Path(__file__).resolve().parents[2]
FAST = {
    "COCKPIT__SIM__SPEED": "3600",
    "COCKPIT__EXCHANGE__BACKFILL_DAYS": "12",
    "COCKPIT__ENGINE__FAST_LOOP_S": "0.25",
    "COCKPIT__ENGINE__INGEST_INTERVAL_S": "0.5",
    "COCKPIT__EXECUTION__APPROVAL_TTL_S": "86400",
    "PYTHONUNBUFFERED": "1",
    **ACTIVE_TRADER_ENV,
}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCKPIT__")}
    env.update(FAST)
    env.update(extra)
    return env


def cockpit(url: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cockpit", "--config", str(REPO / "config.yaml"), "--db", url, *args],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _wait_for(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_engine_on_postgres_with_approval_from_another_process(pg_db, pg_url):
    pytest.importorskip("cockpit.sim.server")
    from cockpit.data import DataService

    ds = DataService(pg_db)
    engine = cockpit(pg_url, "--headless", "--log-format", "json")
    try:
        pending = _wait_for(lambda: ds.orders(status="pending_approval"), 60, "an order waiting for approval")
        order = pending[0]  # the newest: approved promptly, before the market moves away from it
        assert order["expires_at"] and order["stop_loss"]

        # The approval comes from a third process and is executed by the engine.
        approve = subprocess.run(
            [
                sys.executable,
                "-m",
                "cockpit",
                "--config",
                str(REPO / "config.yaml"),
                "--db",
                pg_url,
                "orders",
                "approve",
                str(order["id"]),
                "--wait",
                "45",
            ],
            cwd=REPO,
            env=_env(COCKPIT_OPERATOR="pg-test"),
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert approve.returncode == 0, (approve.stderr, ds.order(order["id"]))
        assert "done" in approve.stdout, approve.stdout
        final = _wait_for(
            lambda: (
                (ds.order(order["id"]) or {}).get("status") in ("filled", "failed", "rejected")
                and ds.order(order["id"])
            ),
            45,
            "the approved order to finish",
        )

        # A second engine on the same database is refused by the advisory lock.
        second = cockpit(pg_url, "--headless", "--for", "5s")
        out, err = second.communicate(timeout=60)
        assert second.returncode != 0 and "another engine is already running" in (out + err), (out + err)[-1500:]
    finally:
        if engine.poll() is None:
            engine.send_signal(signal.SIGTERM)
        out, err = engine.communicate(timeout=60)
    assert engine.returncode == 0, err[-2000:]
    start = next(json.loads(l) for l in out.splitlines() if '"engine_start"' in l)
    assert all(v == "ok" for v in start["stages"].values()), start["stages"]
    assert final["status"] == "filled", final
    assert "pg-test" in (final["decided_by"] or "")
    (cmd,) = [c for c in ds.operator_commands(status=None) if c["order_id"] == order["id"]]
    assert cmd["status"] == "done" and cmd["command"] == "approve"
    steps = [e["status"] for e in ds.order_events(order["id"])]
    assert steps[0] == "new" and "approved" in steps and steps[-1] == "filled", steps
    assert ds.trades(order_id=order["id"]), "the fill is stored"


HOLDER = """
import sys
from cockpit.engine.lock import EngineLock
lock = EngineLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
sys.stdin.readline()
"""


def test_engine_lock_is_freed_when_the_holder_is_killed(pg_url):
    from cockpit.engine.lock import EngineLock, EngineLocked

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, pg_url], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = EngineLock(pg_url)
        with pytest.raises(EngineLocked) as e:
            lock.acquire()
        assert f"pid={holder.pid}" in str(e.value) and "--attach" in str(e.value)
        assert not lock.held
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)

    def try_lock():
        try:
            lock.acquire()
        except EngineLocked:
            return False
        return True

    _wait_for(try_lock, 30, "the server to drop the killed holder's lock")
    assert lock.held
    lock.release()
    assert not lock.held
    lock.acquire()  # acquirable again after a clean release
    lock.release()


def test_operator_command_submitted_in_one_process_is_read_in_another(pg_db, pg_url):
    from cockpit.data import DataService
    from cockpit.data.order_store import OrderStore
    from cockpit.domain.orders import Order, OrderStatus

    oid, _ = OrderStore(pg_db).create(
        Order(symbol="BTC/USDT:USDT", side="sell", type="market", amount=0.002, client_order_id="cp-2proc"),
        now_ms=1,
        status=OrderStatus.PENDING_APPROVAL,
    )
    code = (
        "import sys; from cockpit.db import open_database; from cockpit.data.operator import submit_command; "
        "db = open_database(sys.argv[1]); print(submit_command('reject', now_ms=5, order_id=int(sys.argv[2]), "
        "payload={'reason': 'too big'}, operator='other-process'))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, pg_url, str(oid)], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    cid = int(r.stdout.strip())
    (cmd,) = DataService(pg_db).operator_commands()
    assert cmd["id"] == cid and cmd["order_id"] == oid and cmd["operator"] == "other-process"
    assert cmd["payload"] == {"reason": "too big"} and cmd["status"] == "pending"
