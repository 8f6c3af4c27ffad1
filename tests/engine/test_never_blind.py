"""Never blind (issue 19, items 10-12): the engine says when its market data is not current and makes
no new entries on it; a candle dated beyond the exchange clock neither stalls ingest nor goes unnoticed;
a database that refuses writes halts entries and ends a headless run with a non-zero exit; the kill
switch closes the position while a monitoring call hangs on the exchange.

The built-in simulator on loopback through real ccxt, real SQLite files, a real subprocess."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from cockpit.config import load_config
from cockpit.data import DataService
from cockpit.domain.clock import ManualClock
from cockpit.domain.market import timeframe_ms
from cockpit.engine.engine import Engine
from cockpit.engine.eventlog import EventLog
from cockpit.engine.handle import EngineHandle
from helpers import engine_env, spawn

for mod in (
    "cockpit.sim.server",
    "cockpit.market.ingest",
    "cockpit.execution.manager",
    "cockpit.decision.engine",
    "cockpit.strategies.registry",
):
    pytest.importorskip(mod)

SYM = "BTC/USDT:USDT"
H = 3_600_000
FUTURE_1H = 1_830_297_600_000  # 2028-01-01, the row of the report


def wait_for(cond, timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(every)
    return False


def fast_cfg(tmp_path: Path, **over):
    return load_config(
        None,
        environ={},
        overrides={
            "database.url": f"sqlite:///{tmp_path / 'c.db'}",
            "decision_timeframe": "1h",
            "sim.speed": 3600,
            "exchange.backfill_days": 3,
            "engine.fast_loop_s": 0.1,
            "engine.ingest_interval_s": 0.3,
            **over,
        },
    )


def risk_events(rule: str) -> list[dict]:
    return DataService().risk_events(rule=rule, limit=50)


def log_records(out: io.StringIO) -> list[dict]:
    recs = []
    for line in out.getvalue().splitlines():
        try:
            recs.append(json.loads(line))
        except ValueError:
            pass
    return recs


def test_a_future_dated_candle_is_flagged_and_does_not_stall_decisions(tmp_path):
    """The report: `1830297600000,100,101,99,100,1` in the 1h candles stopped 1h ingestion and every
    decision after it saw no new price. Now the row raises an ERROR risk event and is never taken for the
    newest bar: ingest and decisions go on with real prices."""
    from cockpit.market.csv_import import INSERT_CANDLES

    cfg = fast_cfg(tmp_path)
    out = io.StringIO()
    handle = EngineHandle(cfg, log=EventLog(fmt="json", stream=out))
    handle.start()
    try:
        assert wait_for(lambda: DataService().decisions(limit=1), 40), out.getvalue()[-3000:]
        DataService()._db.execute_sql(INSERT_CANDLES, (SYM, "1h", FUTURE_1H, 100.0, 101.0, 99.0, 100.0, 1.0))
        inserted_at = handle.clock.now_ms()
        last_id = DataService().decisions(limit=1)[0]["id"]
        assert wait_for(lambda: risk_events("engine.future_candle"), 30), out.getvalue()[-3000:]
        # Decisions go on, on 1h candles that keep arriving after the bad row.
        assert wait_for(lambda: DataService().decisions(limit=1)[0]["id"] >= last_id + 2, 30), out.getvalue()[-3000:]
        newest = DataService().latest_candle_time(SYM, "1h", end=handle.clock.now_ms())
    finally:
        handle.stop()
    ev = risk_events("engine.future_candle")[0]
    assert ev["level"] == "ERROR" and "2028-01-01" in json.dumps(ev["details"])
    assert newest is not None and newest > inserted_at - H
    analyses = [r for r in log_records(out) if r.get("event") == "analysis"]
    assert analyses and all(r["price"] is not None for r in analyses), analyses[:3]
    assert not [r for r in log_records(out) if r.get("event") == "stale_data"]


def test_stale_market_data_raises_an_error_shows_in_the_header_and_stops_decisions(tmp_path):
    """The exchange stops answering candle requests: once the newest closed 1h bar is more than two bars
    old the engine records an ERROR risk event, its heartbeat (what the header reads, attached or not) says
    stale data, and the header shows it."""
    from cockpit.ui import render
    from cockpit.ui.state import Poller

    cfg = fast_cfg(tmp_path, **{"exchange.max_retries": 0})
    out = io.StringIO()
    handle = EngineHandle(cfg, log=EventLog(fmt="json", stream=out))
    handle.start()
    try:
        assert wait_for(lambda: DataService().decisions(limit=1), 40), out.getvalue()[-3000:]
        assert not risk_events("engine.stale_data")
        sim = handle.engine.stages.simulator
        sim.faults.add("server_error", count=-1, path="candles")

        def stale_beat():
            beat = DataService().engine_state_row("heartbeat")
            return beat and json.loads(beat["value"]).get("stale_data")

        assert wait_for(stale_beat, 30), out.getvalue()[-3000:]
        snap = Poller(DataService(), SYM).poll("1h", None)
        header = render.header_text(snap, SYM, int(time.time() * 1000), compact=False, initial_equity=None).plain
        compact = render.header_text(snap, SYM, int(time.time() * 1000), compact=True, initial_equity=None).plain
        assert handle.status.stale_data and handle.engine.entries_blocked()
        sim.faults.clear()
    finally:
        handle.stop()
    ev = [e for e in risk_events("engine.stale_data") if e["level"] == "ERROR"]
    assert ev and "1h" in json.dumps(ev[0]["details"])
    assert "STALE DATA" in header and "STALE" in compact


def test_stale_data_means_no_decision_until_current_again(db, db_url):
    """Deterministic: candles stored up to five hours ago -> stale (ERROR risk event), a decision bar is
    skipped with its reason; the missing candles arrive -> current again, and the next bar is decided."""
    from cockpit.engine.stages import build_stages
    from cockpit.market.csv_import import insert_candles
    from test_pipeline import synthetic

    cfg = load_config(None, environ={}, overrides={"database.url": db_url, "decision_timeframe": "1h"})
    tf_ms = timeframe_ms(cfg["decision_timeframe"])
    end = 1_767_225_600_000 + 600 * tf_ms
    full = {tf: synthetic(tf, 400, end, seed=i) for i, tf in enumerate(cfg["timeframes"])}
    with db.atomic():
        for tf, df in full.items():
            insert_candles(db, SYM, tf, df[df["timestamp"] < end - 5 * H])
    clock = ManualClock(end + 1000)
    out = io.StringIO()
    log = EventLog(fmt="json", stream=out, clock=clock.now_ms)
    stages = build_stages(cfg, log=log, clock=clock, with_exchange=False)
    engine = Engine(cfg, stages, log=log, db=db)
    ds = DataService(db)

    engine._check_data(ds)
    assert engine.status.stale_data and "bars old" in engine.status.stale_data
    assert [e["level"] for e in ds.risk_events(rule="engine.stale_data")] == ["ERROR"]
    engine._decide(end - tf_ms, time.monotonic())
    assert ds.decisions(limit=5) == []
    skipped = [r for r in log_records(out) if r.get("event") == "decision_skipped"]
    assert skipped and "stale market data" in skipped[0]["reason"]

    with db.atomic():
        for tf, df in full.items():
            insert_candles(db, SYM, tf, df)
    engine._check_data(ds)
    assert engine.status.stale_data is None and engine.entries_blocked() is None
    assert [e["level"] for e in ds.risk_events(rule="engine.stale_data")] == ["INFO", "ERROR"]
    engine._decide(end - tf_ms, time.monotonic())
    assert len(ds.decisions(limit=5)) == 1


def test_a_write_lock_halts_entries_until_writes_work_again_then_says_so(db, cfg, db_url):
    """Another connection holds the write lock past the busy timeout: the heartbeat cannot be written, new
    entries stop (a decision bar is skipped, saying why). When the lock goes, the next heartbeat clears it
    and an ERROR risk event records the outage (the notifier sends it), since nothing could be stored while
    it lasted."""
    import sqlite3

    from cockpit.engine.stages import Stages

    db.execute_sql("PRAGMA busy_timeout = 100")  # this connection's wait for the lock: keeps the test short
    out = io.StringIO()
    clock = ManualClock(1_767_225_600_000)
    engine = Engine(cfg, Stages(clock=clock, availability={}), log=EventLog(fmt="json", stream=out), db=db)
    holder = sqlite3.connect(db_url[len("sqlite:///") :], timeout=1)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert engine._guard("heartbeat", engine._heartbeat, retries=0) is None
        failures = engine.status.db_write_failures  # the heartbeat, and the risk event saying so
        assert failures >= 1 and engine.entries_blocked()
        engine._decide(1_767_222_000_000, time.monotonic())
    finally:
        holder.rollback()
        holder.close()
    recs = log_records(out)
    assert [r["event"] for r in recs if r.get("level") == "CRITICAL"] == ["database_write_failed"]
    skipped = [r for r in recs if r.get("event") == "decision_skipped"]
    assert skipped and "database refuses writes" in skipped[0]["reason"]
    assert engine.status.fatal is None  # one failure is not the end (engine.db_write_failure_exit_s)

    assert engine._guard("heartbeat", engine._heartbeat, retries=0) is True
    engine._db_write_ok()
    assert engine.status.db_write_failures == 0 and engine.entries_blocked() is None
    ev = DataService(db).risk_events(rule="engine.database")
    assert ev and ev[0]["level"] == "ERROR" and f"refused {failures} write(s)" in json.dumps(ev[0]["details"])


def _immutable(paths: list[Path], on: bool) -> bool:
    """chattr +i / -i: refused even to root and to files already open (chmod binds neither)."""
    if not shutil.which("chattr"):
        return False
    return all(
        subprocess.run(["chattr", "+i" if on else "-i", str(p)], capture_output=True).returncode == 0 for p in paths
    )


def _migrated(path: Path) -> None:
    from cockpit.db import close_database, migrate, open_database

    db = open_database(f"sqlite:///{path}")
    migrate(db)
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    close_database()


def _env(**over: str) -> dict[str, str]:
    return engine_env(
        COCKPIT__SIM__SPEED="3600",
        COCKPIT__DECISION_TIMEFRAME="1h",
        COCKPIT__ENGINE__DB_WRITE_FAILURE_EXIT_S="1",
        COCKPIT__ENGINE__FAST_LOOP_S="0.1",
        **over,
    )


def test_a_database_that_refuses_writes_at_start_up_is_a_clear_refusal(tmp_path):
    path = tmp_path / "c.db"
    _migrated(path)
    if os.geteuid() != 0:
        path.chmod(0o444)
    elif not _immutable([path], True):
        pytest.skip("running as root without chattr +i: cannot make the database read-only")
    try:
        proc = spawn(path, "--headless", "--for", "30s", "--log-format", "json", env=_env())
        out, err = proc.communicate(timeout=60)
    finally:
        _immutable([path], False)
        path.chmod(0o644)
    assert proc.returncode == 3, (proc.returncode, err[-2000:])
    assert "refuses writes" in err and "Traceback" not in err


def test_a_database_that_stops_taking_writes_halts_entries_and_the_headless_engine_exits_non_zero(tmp_path):
    """The report: on a read-only database the engine ran with 22 write errors and exited 0. Here the
    database stops taking writes while the engine trades: the first refused write is a CRITICAL line and
    halts new entries; after engine.db_write_failure_exit_s of refused writes the engine stops itself and
    `cockpit --headless` exits 3, saying why."""
    from support.sqlite import query

    path = tmp_path / "c.db"
    _migrated(path)
    files = [path, path.with_name(path.name + "-wal")]
    if not _immutable(files[:1], False):
        pytest.skip("needs chattr +i (ext4 and CAP_LINUX_IMMUTABLE) to take writes away from an open database")
    proc = spawn(path, "--headless", "--for", "60s", "--log-format", "json", env=_env())
    try:
        assert wait_for(
            lambda: (
                query(path, "SELECT COUNT(*) AS n FROM decisions", missing_ok=True)
                and query(path, "SELECT COUNT(*) AS n FROM decisions")[0]["n"] >= 2
            ),
            45,
            every=0.2,
        )
        assert _immutable(files, True)
        out, err = proc.communicate(timeout=60)
    finally:
        _immutable(files, False)
        if proc.poll() is None:
            proc.kill()
    recs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    events = [r.get("event") for r in recs]
    assert proc.returncode == 3, (proc.returncode, err[-2000:], events[-20:])
    assert "refused every write" in err and "Traceback" not in err
    assert "run_for_elapsed" not in events  # it stopped by itself, long before --for
    first = next(i for i, r in enumerate(recs) if r.get("level") == "CRITICAL")
    assert recs[first]["event"] == "database_write_failed" and "database_unwritable" in events[first:]
    # From the first refused write on, no order is made (an intent planned a moment before cannot be stored).
    made = [r for r in recs[first + 1 :] if r.get("event") == "order_intent" and r.get("result") is not None]
    assert not made, made


def test_kill_switch_closes_the_position_while_a_monitoring_call_hangs(tmp_path):
    """The report: a slow exchange held the fast loop for up to 31 s and the kill switch's close with it.
    One endpoint the monitoring loop calls (closed orders) hangs; the operator's kill command still cancels
    and closes at once, on the kill worker's own exchange connection, while the fast loop is still stuck."""
    from cockpit.data.operator import submit_command
    from cockpit.market.exchange import make_exchange

    cfg = fast_cfg(tmp_path, **{"sim.speed": 60, "exchange.backfill_days": 1, "exchange.timeout_ms": 20000})
    out = io.StringIO()
    handle = EngineHandle(cfg, log=EventLog(fmt="json", stream=out))
    handle.start()
    sim = handle.engine.stages.simulator
    try:
        x = make_exchange(cfg, mode="sim", rest_url=sim.url, credentials=sim.credentials, for_tests=True)
        x.create_order(SYM, "market", "buy", 5, None, {"tdMode": "isolated"})

        def contracts() -> float:
            return sum(float(p.get("contracts") or 0) for p in x.fetch_positions([SYM]))

        assert contracts() == 5
        assert wait_for(lambda: handle.status.cycles >= 3, 30), out.getvalue()[-3000:]
        stall = sim.faults.add("stall", count=-1, path="orders-history", delay_s=60)
        assert wait_for(lambda: stall.hits >= 1, 30), "the fast loop never asked for closed orders"
        stuck_at = handle.status.cycles
        submit_command("kill", now_ms=handle.clock.now_ms(), operator="test", payload={"reason": "test"})
        closed = wait_for(lambda: contracts() == 0, 10, every=0.1)
        cycles_meanwhile = handle.status.cycles - stuck_at
        assert closed, out.getvalue()[-3000:]
        assert cycles_meanwhile == 0  # the close did not wait for the hung monitoring call
        cmd = DataService().operator_commands(status=None)[0]
        assert wait_for(lambda: DataService().operator_commands(status="done"), 5), cmd
        assert "closed by order" in DataService().operator_commands(status="done")[0]["result"]
        sim.faults.clear()
    finally:
        sim.faults.clear()
        handle.stop()
    assert handle.status.kill_switch is True


def test_a_timed_out_call_is_not_retried_by_the_loop(db, cfg):
    """A request that timed out already waited exchange.timeout_ms: the loop does not wait that long again
    (other transient errors are still retried)."""
    import ccxt

    from cockpit.engine.stages import Stages

    engine = Engine(
        cfg,
        Stages(clock=ManualClock(1_767_225_600_000), availability={}),
        log=EventLog(fmt="json", stream=io.StringIO()),
        db=db,
    )
    calls = []

    def hung():
        calls.append("timeout")
        raise ccxt.RequestTimeout("okx GET /api/v5/trade/orders-history timed out after 10000 ms")

    def dropped():
        calls.append("drop")
        raise ccxt.NetworkError("connection reset")

    assert engine._guard("sync", hung, retries=2) is None
    assert engine._guard("sync", dropped, retries=2) is None
    assert calls == ["timeout", "drop", "drop", "drop"]


def test_the_simulator_resumes_after_the_stored_series_not_after_a_stray_future_row(db, cfg):
    """The embedded simulator resumes its clock after the newest stored candle: a row dated two years
    ahead, apart from the series, must not carry the clock there (it is logged, and the engine flags it)."""
    from cockpit.engine.stages import _series_end
    from cockpit.market.csv_import import INSERT_CANDLES

    start = 1_767_225_600_000
    for i in range(5):
        db.execute_sql(INSERT_CANDLES, (SYM, "1h", start + i * H, 100.0, 101.0, 99.0, 100.0, 1.0))
    out = io.StringIO()
    log = EventLog(fmt="json", stream=out)
    assert _series_end(DataService(db), SYM, "1h", log) == start + 4 * H
    assert out.getvalue() == ""
    db.execute_sql(INSERT_CANDLES, (SYM, "1h", FUTURE_1H, 100.0, 101.0, 99.0, 100.0, 1.0))
    assert _series_end(DataService(db), SYM, "1h", log) == start + 4 * H
    assert [r["event"] for r in log_records(out)] == ["stray_candle"]
