"""``cockpit engine status``: the heartbeat of the engine running on this database (any process)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("engine", help="the trading engine: status of the one running on this database")
    esub = p.add_subparsers(dest="engine_command", metavar="ACTION", required=True)
    s = esub.add_parser("status", help="last heartbeat: time, equity, position, last decision, pending approvals")
    s.add_argument("--json", action="store_true", help="print the heartbeat JSON")
    s.set_defaults(func=run_status)


def run_status(args: argparse.Namespace, ctx) -> int:
    from cockpit.data import DataService
    from cockpit.domain.clock import WallClock
    from cockpit.domain.humanize import money
    from cockpit.engine.lock import EngineLock, EngineLocked

    ctx.database()
    row = DataService().engine_state_row("heartbeat")
    running = False
    probe = EngineLock(ctx.config["database"]["url"])
    try:
        probe.acquire()
    except EngineLocked:
        running = True
    else:
        probe.release()
    if row is None:
        print("no engine has run on this database" + (" (but one holds the lock)" if running else ""))
        return 0 if running else 1
    beat = json.loads(row["value"] or "{}")
    beat["running"] = running
    if args.json:
        print(json.dumps(beat, indent=2))
        return 0
    age = (WallClock().now_ms() - (beat.get("wall_ms") or 0)) / 1000  # the heartbeat's wall_ms is wall time
    pos = beat.get("position") or {}
    print(
        f"engine     {'running' if running else 'not running'} (state {beat.get('state')}, "
        f"last heartbeat {age:.0f}s ago)"
    )
    print(f"clock      {beat.get('ts_utc')}  mode {beat.get('mode')}  speed {beat.get('speed')}")
    print(f"equity     {money(beat.get('equity'))}")
    print(f"position   {pos.get('side', 'flat')} {pos.get('size', 0)}")
    print(f"decision   last id {beat.get('last_decision_id')}  lag {beat.get('lag_ms')} ms")
    print(
        f"approvals  {beat.get('pending_approvals')} pending   kill switch {'ON' if beat.get('kill_switch') else 'off'}"
    )
    return 0 if running else 3
