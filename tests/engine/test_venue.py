"""A database belongs to one venue (issue 19 item 13): imported candles and the simulator's market
never mix, another venue's engine is refused with what to do, and a restarted embedded simulator
carries on after the data it made (its clock and account), not behind it."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from support.sqlite import query as q

from cockpit.data.venue import VenueMismatch, claim_venue, database_venues
from cockpit.domain.market import timeframe_ms
from helpers import REPO, engine_env, spawn

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
H = 3_600_000


def _csv(tmp_path: Path, n: int = 30) -> Path:
    p = tmp_path / "real_1h.csv"
    p.write_text(
        "timestamp,open,high,low,close,volume\n"
        + "".join(f"{T0 + i * H},{60000 + i},{60010 + i},{59990 + i},{60005 + i},1\n" for i in range(n)),
        encoding="utf-8",
    )
    return p


def _cockpit(db: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "--config", str(REPO / "config.yaml"), "--db", str(db), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env or engine_env(),
        timeout=120,
    )


def test_simulator_on_imported_candles_is_refused_with_what_to_do(tmp_path):
    db = tmp_path / "c.db"
    assert _cockpit(db, "ingest", "--csv", str(_csv(tmp_path)), "--timeframe", "1h").returncode == 0
    r = _cockpit(db, "--headless", "--for", "3s")
    assert r.returncode == 1
    assert f"the database sqlite:///{db} belongs to venue 'import' (candles imported from CSV files)" in r.stderr
    assert "refusing to start the sim engine on it" in r.stderr
    assert "COCKPIT__SIM__REPLAY_CSV=FILE cockpit --db data/cockpit-replay.db" in r.stderr
    # nothing of the simulator's market was written next to the real candles
    assert q(db, "SELECT COUNT(*) AS n, MIN(timestamp) AS a, MAX(timestamp) AS b FROM market_data")[0] == {
        "n": 30,
        "a": T0,
        "b": T0 + 29 * H,
    }
    assert q(db, "SELECT COUNT(*) AS n FROM decisions")[0]["n"] == 0


def test_importing_into_a_simulator_database_is_refused(db, tmp_path):
    claim_venue(db, "sim", now_ms=T0)
    r = _cockpit(Path(db.database), "ingest", "--csv", str(_csv(tmp_path)), "--timeframe", "1h")
    assert r.returncode == 1
    assert "belongs to venue 'sim' (the built-in simulator's market); refusing to import CSV data into it" in r.stderr
    assert "cockpit --db data/cockpit-import.db ingest --csv FILE" in r.stderr
    assert q(Path(db.database), "SELECT COUNT(*) AS n FROM market_data")[0]["n"] == 0


def test_another_venues_engine_is_refused_before_anything_starts(db, cfg):
    from cockpit.engine.eventlog import EventLog
    from cockpit.engine.handle import EngineHandle

    claim_venue(db, "sim", now_ms=T0)

    def must_not_build(*_a, **_k):
        raise AssertionError("stages built on another venue's database")

    demo = {**cfg, "exchange": {**cfg["exchange"], "mode": "okx-demo"}}
    handle = EngineHandle(demo, log=EventLog(stream=open("/dev/null", "w")), db=db, stages_factory=must_not_build)
    with pytest.raises(
        VenueMismatch,
        match=r"belongs to venue 'sim' .* refusing to start the okx-demo engine on it.*"
        r"--db data/cockpit-okx-demo.db",
    ):
        handle.start()
    handle.stop()  # the lock was released: stop is harmless
    assert database_venues(db) == {"sim"}


def test_a_database_written_before_the_record_is_judged_by_its_ingestion_runs(db):
    from cockpit.market.csv_import import record_run

    record_run(
        db,
        source="csv:x.csv",
        symbol="BTC/USDT:USDT",
        timeframe="1h",
        data_type="candles",
        started_at=T0,
        ended_at=T0,
        rows=10,
        status="success",
        error=None,
    )
    with pytest.raises(VenueMismatch, match="belongs to venue 'import'"):
        claim_venue(db, "sim", now_ms=T0)
    record_run(
        db,
        source="sim",
        symbol="BTC/USDT:USDT",
        timeframe="1h",
        data_type="candles",
        started_at=T0,
        ended_at=T0,
        rows=10,
        status="success",
        error=None,
    )
    with pytest.raises(VenueMismatch, match="already mixes data of several venues"):
        claim_venue(db, "import", now_ms=T0)


def _run_until(db: Path, env: dict[str, str], done, timeout: float = 60) -> list[dict]:
    proc = spawn(db, "--headless", "--for", f"{int(timeout)}s", "--log-format", "json", env=env)
    try:
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline and not done():
            time.sleep(0.3)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _count(db: Path, sql: str) -> int:
    try:
        return q(db, sql)[0]["n"]
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def test_fast_demo_twice_in_one_folder_carries_on(tmp_path):
    """README's fast demo run twice on one database: the second run's simulator resumes after the
    candles the first stored (it used to restart behind them and decide nothing), with its account."""
    db = tmp_path / "c.db"
    env = engine_env(
        COCKPIT__SIM__SPEED="3600", COCKPIT__DECISION_TIMEFRAME="1h", COCKPIT__EXECUTION__APPROVAL="auto_within_limits"
    )
    _run_until(db, env, lambda: _count(db, "SELECT COUNT(*) AS n FROM decisions") >= 2)
    assert (tmp_path / "c.db.sim-state").is_file()
    newest_close = max(
        r["ts"] + timeframe_ms(r["timeframe"])
        for r in q(db, "SELECT timeframe, MAX(timestamp) AS ts FROM market_data GROUP BY timeframe")
    )
    last_bar = q(db, "SELECT MAX(timestamp) AS t FROM decisions")[0]["t"]
    last_snap = q(db, "SELECT id, side, size FROM position_snapshots ORDER BY id DESC LIMIT 1")[0]

    recs = _run_until(
        db, env, lambda: _count(db, f"SELECT COUNT(*) AS n FROM decisions WHERE timestamp > {last_bar}") >= 1
    )
    beats = [r for r in recs if r.get("event") == "heartbeat"]
    clock = [int(datetime.fromisoformat(b["ts"].replace("Z", "+00:00")).timestamp() * 1000) for b in beats]
    assert clock and min(clock) >= newest_close, (newest_close, [b["ts"] for b in beats[:3]])
    assert _count(db, f"SELECT COUNT(*) AS n FROM decisions WHERE timestamp > {last_bar}") >= 1
    first_snap = q(db, "SELECT side, size FROM position_snapshots WHERE id > ? ORDER BY id LIMIT 1", last_snap["id"])[0]
    assert (first_snap["side"], first_snap["size"]) == (last_snap["side"], last_snap["size"])
    # candles of each timeframe stay one continuous series (no second market behind the first)
    for tf in ("1h",):
        ts = [
            r["timestamp"]
            for r in q(db, "SELECT timestamp FROM market_data WHERE timeframe = ? ORDER BY timestamp", tf)
        ]
        assert ts == sorted(set(ts))


def test_exchange_ingest_into_an_import_database_is_refused(tmp_path):
    db = tmp_path / "c.db"
    assert _cockpit(db, "ingest", "--csv", str(_csv(tmp_path)), "--timeframe", "1h").returncode == 0
    r = _cockpit(db, "ingest", "--exchange", "okx-demo", "--timeframes", "1h")
    assert r.returncode == 1
    assert "belongs to venue 'import'" in r.stderr and "refusing to ingest okx-demo market data into it" in r.stderr
    assert q(db, "SELECT COUNT(*) AS n FROM market_data")[0]["n"] == 30
