"""`cockpit position close|stop|tp` and `cockpit orders cancel-all` from another process, executed by a
running engine (an OrderManager loop holding the engine lock) on the built-in simulator."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading

from cockpit.cli import main
from cockpit.data import DataService
from cockpit.domain.orders import OrderIntent

SYM = "BTC/USDT:USDT"


@contextlib.contextmanager
def engine(om, db_url):
    from cockpit.engine.lock import EngineLock

    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            om.process_commands()
            stop.wait(0.05)

    with EngineLock(db_url):
        t = threading.Thread(target=loop, daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            t.join(5)


def cli(db_url, *argv):
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "--db", db_url, *argv, "--wait", "20"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COCKPIT_OPERATOR": "desk-2"},
    )


def long_position(make_manager, decision_id, okx):
    om = make_manager("auto")
    m = okx.mark_price(SYM)
    oid = om.submit_intent(
        OrderIntent(
            SYM,
            "buy",
            0.02,
            stop_loss=round(m * 0.98, 1),
            take_profit=round(m * 1.04, 1),
            leverage=2.0,
            decision_id=decision_id(),
        )
    )
    return om, oid, m


def test_stop_and_tp_from_the_cli_move_the_levels_and_a_wrong_side_stop_is_refused(
    make_manager, decision_id, okx, db_url
):
    om, oid, m = long_position(make_manager, decision_id, okx)
    sl, tp, wrong = round(m * 0.99, 1), round(m * 1.06, 1), round(m * 1.02, 1)
    with engine(om, db_url):
        r = cli(db_url, "position", "stop", str(sl))
        assert r.returncode == 0, r.stderr
        assert "set_stop_loss: done (by " in r.stdout and "desk-2" in r.stdout and f"stop-loss {sl:,.1f}" in r.stdout
        r = cli(db_url, "position", "tp", str(tp), "--side", "short")
        assert r.returncode == 1 and "the position is now long, not short" in r.stderr
        r = cli(db_url, "position", "tp", str(tp), "--side", "long")
        assert r.returncode == 0, r.stderr
        r = cli(db_url, "position", "stop", str(wrong))
        assert r.returncode == 1
        assert "refused by the engine" in r.stderr and "a long's stop-loss goes below the price" in r.stderr
    assert [(p.stop_loss, p.take_profit) for p in okx.protective_orders(SYM)] == [(sl, tp)]
    cmds = DataService().operator_commands(status=None)
    assert [c["status"] for c in cmds] == ["done", "failed", "done", "failed"]
    assert all("desk-2" in c["operator"] for c in cmds)


def test_close_and_cancel_all_from_the_cli(make_manager, decision_id, okx, db_url):
    om, oid, m = long_position(make_manager, decision_id, okx)
    resting = om.submit_intent(
        OrderIntent(
            SYM,
            "buy",
            0.005,
            "limit",
            price=round(m * 0.99, 1),
            stop_loss=round(m * 0.97, 1),
            leverage=2.0,
            decision_id=decision_id(),
        )
    )
    with engine(om, db_url):
        r = cli(db_url, "orders", "cancel-all")
        assert r.returncode == 0, r.stderr
        assert "canceled 1 open order(s)" in r.stdout
        r = cli(db_url, "position", "close")  # no terminal to confirm on: refused, nothing sent
        assert r.returncode == 1 and "--yes" in r.stderr
        r = cli(db_url, "position", "close", "--yes")
        assert r.returncode == 0, r.stderr
        assert "closing the long 0.02 BTC" in r.stdout
    ds = DataService()
    assert ds.order(resting)["status"] == "canceled"
    assert okx.position(SYM).size == 0
    close = [o for o in ds.orders() if o["reduce_only"]]
    assert len(close) == 1 and "desk-2" in close[0]["decided_by"] and close[0]["status"] == "filled"
    r = subprocess.run(
        [sys.executable, "-m", "cockpit", "--db", db_url, "position", "show"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "position: flat" in r.stdout and "realised since start, after fees: -" in r.stdout
    (line,) = [x for x in r.stdout.splitlines() if " long " in x]
    assert " manual " in line and f"{close[0]['average_price']:,.1f}" in line


def test_close_or_stop_is_never_queued_without_a_running_engine(db, db_url, capsys):
    assert main(["--db", db_url, "position", "close", "--yes"]) == 1
    assert "no engine is running" in capsys.readouterr().err
    assert main(["--db", db_url, "position", "stop", "60000"]) == 1
    assert DataService().operator_commands(status=None) == []
    # Cancelling is harmless later: queued.
    assert main(["--db", db_url, "orders", "cancel-all", "--wait", "0"]) == 0
    assert [c["command"] for c in DataService().operator_commands(status=None)] == ["cancel_all"]


def test_a_viewer_may_not_manage_the_position(db, db_url, capsys, monkeypatch):
    monkeypatch.setenv("COCKPIT_ROLE", "viewer")
    assert main(["--db", db_url, "position", "stop", "60000"]) == 1
    assert "may not set stop loss" in capsys.readouterr().err
    assert main(["--db", db_url, "orders", "cancel-all"]) == 1
    assert DataService().operator_commands(status=None) == []
