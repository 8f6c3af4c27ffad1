"""Regenerate the cockpit's SVG screenshots from the real app over databases written by real runs.

    python screenshots/make_screenshots.py [--out screenshots] [--only STEM]

Nothing here is staged: each database is written by the real engine (in process, headless, through
``EngineHandle`` as the engine tests do) trading the embedded simulator over loopback with the
simulator's fixed seed (``sim.seed: 42``), into a temp SQLite file, with the offline selector
(``llm.provider: none``). The simulator runs faster than its default (``sim.speed``) so that a bounded
number of decisions takes seconds; the market it generates is the same. Then the real app opens that
database with a ManualClock frozen at the wall time of the engine's last heartbeat (so countdowns are
deterministic)
and the SVGs are exported as before.

Three runs:

* ``default``: the shipped config.yaml (daily decisions, manual approval), a few decisions, then
  ``cockpit train run`` over the candles the engine stored (an unpublished candidate: the live prompt
  and scores stay the shipped ones). The main, 80x24, weights, help, data and prompts shots; the backtest shot is a backtest run from the backtest
  screen's form (Ctrl+R on its default dates), so the form and the result agree.
* ``approval``: the ACTIVE_TRADER profile of tests/support/trading.py (hourly decisions, a fast trend
  core that trades both sides), manual approval. Stopped at the first order waiting for approval (its
  countdown is the operator's wall time, ``execution.approval_ttl_s``); the reject modal shot. The default policy is mostly flat on this market, so it may never ask for an approval.
* ``halted``: ACTIVE_TRADER, ``auto_within_limits`` approval; once a decision's order filled and a
  position is open, the operator's kill command goes to the engine (as ``cockpit kill`` writes it) and
  the engine carries it out: position closed reduce-only, orders cancelled, new entries refused.

Rerunnable (fixed seed; the decisions recorded depend a little on how fast this machine runs the
accelerated simulator) and bounded (about two minutes). Not run by the test suite: the UI tests and
snapshots keep their staged database (tests/ui/demo_data.py).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # this checkout's cockpit and the tests' support

# Engine cadence for the runs (wall seconds), as the engine tests use.
FAST_ENGINE = {"engine.fast_loop_s": 0.25, "engine.ingest_interval_s": 0.5}

RUNS: dict[str, dict[str, Any]] = {
    # A daily decision every ~3 wall seconds; 60 days of back-fill for the chart and the backtest form.
    "default": {"overrides": {"sim.speed": 28800, "exchange.backfill_days": 60, **FAST_ENGINE},
                "active_trader": False},
    "approval": {"overrides": {"sim.speed": 3600, "exchange.backfill_days": 12, "execution.approval": "manual",
                               **FAST_ENGINE},
                 "active_trader": True},
    "halted": {"overrides": {"sim.speed": 3600, "exchange.backfill_days": 12,
                             "execution.approval": "auto_within_limits", **FAST_ENGINE},
               "active_trader": True},
}

SHOTS = [
    # (file stem, terminal size, run, keys pressed after the first poll)
    ("main_160x48", (160, 48), "default", []),
    ("main_80x24", (80, 24), "default", []),
    ("main_80x24_weights", (80, 24), "default", ["w"]),
    ("reject_modal_160x48", (160, 48), "approval", ["r", *"size too big"]),
    ("halted_160x48", (160, 48), "halted", []),
    ("help_160x48", (160, 48), "default", ["question_mark"]),
    ("backtest_160x48", (160, 48), "default", ["b"]),
    ("data_160x48", (160, 48), "default", ["d"]),
    ("prompts_160x48", (160, 48), "default", ["p"]),
]

DEFAULT_DECISIONS = 5
RUN_TIMEOUT_S = 60.0


def _config(url: str, run: str) -> dict[str, Any]:
    from support.trading import active_trader

    from cockpit.config import load_config

    spec = RUNS[run]
    cfg = load_config(REPO / "config.yaml", environ={},
                      overrides={"database.url": url, "llm.provider": "none", **spec["overrides"]})
    return active_trader(cfg) if spec["active_trader"] else cfg


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise SystemExit(f"make_screenshots: gave up waiting for {what} after {timeout:.0f}s")


def _q(db, sql: str, *args) -> list[dict[str, Any]]:
    cur = db.execute_sql(sql, args)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def _flat(db) -> bool:
    rows = _q(db, "SELECT side, size FROM position_snapshots ORDER BY id DESC LIMIT 1")
    return bool(rows) and (rows[0]["side"] == "flat" or float(rows[0]["size"] or 0) == 0)


def run_engine(run: str, path: Path) -> int:
    """Run the real engine into ``path`` as ``run`` says; return the wall time of its last heartbeat (ms):
    the app's clock is the operator's (wall) clock and extrapolates the exchange's from the heartbeat."""
    from cockpit.data.operator import submit_command
    from cockpit.db import close_database, migrate, open_database
    from cockpit.engine.eventlog import EventLog
    from cockpit.engine.handle import EngineHandle

    url = f"sqlite:///{path}"
    cfg = _config(url, run)
    db = open_database(url)
    migrate(db)
    handle = EngineHandle(cfg, log=EventLog(fmt="json", stream=io.StringIO()), db=db)
    handle.start()
    try:
        n = lambda sql: _q(db, sql)[0]["n"]  # noqa: E731
        if run == "default":
            _wait(lambda: n("SELECT COUNT(*) AS n FROM decisions") >= DEFAULT_DECISIONS, RUN_TIMEOUT_S,
                  f"{DEFAULT_DECISIONS} decisions")
        elif run == "approval":
            _wait(lambda: n("SELECT COUNT(*) AS n FROM orders WHERE status = 'pending_approval'"), RUN_TIMEOUT_S,
                  "an order waiting for approval")
        elif run == "halted":
            _wait(lambda: n("SELECT COUNT(*) AS n FROM orders WHERE status = 'filled' AND decision_id IS NOT NULL")
                  and not _flat(db), RUN_TIMEOUT_S, "a filled entry and an open position")
            submit_command("kill", now_ms=handle.clock.now_ms(), operator="screenshots",
                           payload={"reason": "operator kill for the screenshot"}, db=db)
            _wait(lambda: n("SELECT COUNT(*) AS n FROM risk_events WHERE rule = 'kill_switch'") and _flat(db)
                  and not n("SELECT COUNT(*) AS n FROM orders WHERE status IN ('new', 'pending_approval', "
                            "'submitted', 'approved', 'partially_filled')"),
                  RUN_TIMEOUT_S, "the kill: position closed, orders cancelled")
            time.sleep(1.0)  # a heartbeat and a position snapshot after the kill
    finally:
        handle.request_stop()
        handle.stop()
    beat = json.loads(_q(db, "SELECT value FROM engine_state WHERE key = 'heartbeat'")[0]["value"])
    close_database()
    if run == "default":  # the prompts screen's candidate: the real training command on the stored candles
        subprocess.run([sys.executable, "-m", "cockpit", "--config", str(REPO / "config.yaml"), "--db", str(path),
                        "train", "run"], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                       stdout=subprocess.DEVNULL, check=True, timeout=RUN_TIMEOUT_S * 2)
    return int(beat["wall_ms"])


async def shoot(stem: str, size: tuple[int, int], run: str, keys: list[str], db_path: Path, now_ms: int,
                out: Path) -> Path:
    from cockpit.db import close_database, migrate, open_database
    from cockpit.domain.clock import ManualClock
    from cockpit.ui.app import create_app

    url = f"sqlite:///{db_path}"
    db = open_database(url)
    migrate(db)
    cfg = _config(url, run)
    app = create_app(cfg, db=db, clock=ManualClock(now_ms), poll_enabled=False, operator="screenshots")
    try:
        async with app.run_test(size=size) as pilot:
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
            if keys:
                await pilot.press(*keys)
                for _ in range(3):
                    await app.workers.wait_for_complete()
                    await pilot.pause()
            if stem.startswith("backtest"):
                await run_backtest_from_form(app, pilot)
            path = out / f"{stem}.svg"
            path.write_text(app.export_screenshot(title=f"cockpit {stem}"), encoding="utf-8")
    finally:
        close_database()
    return path


async def run_backtest_from_form(app, pilot) -> None:
    """Ctrl+R on the backtest screen's default form (the engine's runner in a child process); wait for
    the result to open."""
    screen = app.screen
    await pilot.press("ctrl+r")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        await pilot.pause(0.3)
        if not screen.running and screen.current is not None:
            break
    else:
        raise SystemExit("make_screenshots: the backtest did not finish")
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "screenshots")
    ap.add_argument("--only", help="substring of the shots to make")
    ap.add_argument("--keep", type=Path, help="write the runs' databases into this directory and keep them")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    shots = [s for s in SHOTS if not args.only or args.only in s[0]]
    with tempfile.TemporaryDirectory(prefix="cockpit-shots-") as tmp:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            tmp = str(args.keep)
        runs: dict[str, tuple[Path, int]] = {}
        for run in dict.fromkeys(s[2] for s in shots):
            path = Path(tmp) / f"{run}.db"
            for old in (path, *path.parent.glob(f"{run}.db?*")):  # a kept database from an earlier run
                old.unlink(missing_ok=True)
            t0 = time.monotonic()
            runs[run] = (path, run_engine(run, path))
            print(f"run {run}: {time.monotonic() - t0:.0f}s", flush=True)
        for stem, size, run, keys in shots:
            path, now_ms = runs[run]
            print(asyncio.run(shoot(stem, size, run, keys, path, now_ms, args.out)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
