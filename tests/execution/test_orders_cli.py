"""`cockpit orders ...` and `cockpit kill` against the database of a running engine."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from cockpit.cli import main
from cockpit.data import DataService
from cockpit.data.order_store import OrderStore
from cockpit.domain.orders import Order, OrderStatus

S = OrderStatus
SYM = "BTC/USDT:USDT"


def _order(status: S, cid: str) -> int:
    oid, _ = OrderStore().create(
        Order(SYM, "buy", "market", 0.01, stop_loss=60_000.0, client_order_id=cid),
        now_ms=1,
        status=status,
        expires_at=10**13,
    )
    return oid


def test_list_and_show(db, db_url, capsys):
    a = _order(S.PENDING_APPROVAL, "ckcli001d1l0")
    _order(S.REJECTED, "ckcli001d2l0")
    assert main(["--db", db_url, "orders", "list", "--status", "pending"]) == 0
    out = capsys.readouterr().out
    assert f"{a:>5}  pending_approval" in out and "rejected" not in out
    assert main(["--db", db_url, "orders", "list", "--json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert {r["status"] for r in rows} == {"pending_approval", "rejected"}
    assert main(["--db", db_url, "orders", "show", str(a)]) == 0
    assert "pending_approval" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["orders", "approve", "999"], "no order with id 999"),
        (["orders", "reject", "999", "--reason", "x"], "no order with id 999"),
        (["orders", "cancel", "999"], "no order with id 999"),
        (["orders", "show", "999"], "no order with id 999"),
    ],
)
def test_unknown_id_is_a_clear_error(db, db_url, capsys, argv, msg):
    assert main(["--db", db_url, *argv]) == 1
    assert msg in capsys.readouterr().err


def test_non_pending_order_is_a_clear_error(db, db_url, capsys):
    done = _order(S.REJECTED, "ckcli002d1l0")
    assert main(["--db", db_url, "orders", "approve", str(done)]) == 1
    assert "is rejected, not pending approval" in capsys.readouterr().err
    assert main(["--db", db_url, "orders", "cancel", str(done)]) == 1
    assert "nothing to cancel" in capsys.readouterr().err
    assert DataService().operator_commands(status=None) == []


def test_commands_are_queued_with_who_when_no_engine_runs(db, db_url, capsys, monkeypatch):
    monkeypatch.setenv("SSH_CONNECTION", "10.1.2.3 50000 10.0.0.1 22")
    a = _order(S.PENDING_APPROVAL, "ckcli003d1l0")
    assert main(["--db", db_url, "orders", "reject", str(a), "--reason", "too big"]) == 0
    assert "no engine is running" in capsys.readouterr().out
    cmd = DataService().operator_commands()[0]
    assert cmd["command"] == "reject" and cmd["order_id"] == a and cmd["payload"] == {"reason": "too big"}
    assert "ssh 10.1.2.3 50000" in cmd["operator"]


def test_kill_persists_immediately_and_clear_is_queued(db, db_url, capsys):
    assert main(["--db", db_url, "kill", "--reason", "drill", "--wait", "0"]) == 0
    assert "ENGAGED" in capsys.readouterr().out
    assert DataService().engine_state("kill_switch") is not None
    assert main(["--db", db_url, "kill", "--clear", "--wait", "0"]) == 0
    assert [c["command"] for c in DataService().operator_commands()] == ["kill", "clear_kill"]


def test_approve_from_another_process_is_executed_by_the_running_engine(make_manager, decision_id, okx, db_url, sim):
    """An 'engine' (manager loop holding the engine lock) runs here; `cockpit orders approve` runs in a
    separate process against the same database file and reports the engine's outcome."""
    from cockpit.domain.orders import OrderIntent
    from cockpit.engine.lock import EngineLock

    om = make_manager("manual")
    m = okx.mark_price(SYM)
    oid = om.submit_intent(
        OrderIntent(SYM, "buy", 0.01, stop_loss=round(m * 0.98, 1), leverage=2.0, decision_id=decision_id())
    )
    assert DataService().order(oid)["status"] == "pending_approval"
    stop = threading.Event()

    def engine() -> None:
        while not stop.is_set():
            om.process_commands()
            stop.wait(0.05)

    with EngineLock(db_url):
        t = threading.Thread(target=engine, daemon=True)
        t.start()
        try:
            r = subprocess.run(
                [sys.executable, "-m", "cockpit", "--db", db_url, "orders", "approve", str(oid), "--wait", "20"],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "COCKPIT_OPERATOR": "desk-1"},
            )
        finally:
            stop.set()
            t.join(5)
    assert r.returncode == 0, r.stderr
    assert f"approve of order {oid}: done" in r.stdout and "filled" in r.stdout
    row = DataService().order(oid)
    assert row["status"] == "filled" and "desk-1" in row["decided_by"]


def test_a_viewer_may_not_approve_or_kill(db, db_url, capsys, monkeypatch):
    monkeypatch.setenv("COCKPIT_ROLE", "viewer")
    a = _order(S.PENDING_APPROVAL, "ckcli004d1l0")
    assert main(["--db", db_url, "orders", "approve", str(a)]) == 1
    assert "may not approve" in capsys.readouterr().err
    assert main(["--db", db_url, "kill"]) == 1
    assert DataService().engine_state("kill_switch") is None
    assert DataService().operator_commands(status=None) == []
