"""``cockpit db migrate | stats | repair``."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from datetime import datetime, timezone


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="database: migrate, stats, repair")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    m = dsub.add_parser("migrate", help="apply pending migrations (idempotent)")
    m.set_defaults(func=run_migrate)
    s = dsub.add_parser("stats", help="per symbol and timeframe: rows, first, last, gaps")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--symbol", help="only this symbol")
    s.set_defaults(func=run_stats)
    r = dsub.add_parser("repair", help="find candle gaps and refetch exactly those ranges from the exchange")
    r.add_argument("--exchange", choices=("sim", "okx-demo", "okx-live"), help="exchange (default: exchange.mode)")
    r.add_argument("--timeframes", help="comma-separated timeframes (default: config timeframes)")
    r.add_argument("--dry-run", action="store_true", help="only list the gaps")
    r.set_defaults(func=run_repair)


def run_migrate(args: argparse.Namespace, ctx) -> int:
    from cockpit.db.migrate import migrate, changed_migrations

    db = ctx.database(migrate=False)
    applied = migrate(db)
    for m in applied:
        print(f"applied {m.version:03d}_{m.name}")
    if not applied:
        print("database is up to date")
    for m in changed_migrations(db):
        print(f"warning: {m.version:03d}_{m.name}.sql changed after it was applied", file=sys.stderr)
    return 0


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def run_stats(args: argparse.Namespace, ctx) -> int:
    from cockpit.data import DataService

    ctx.database()
    rows = DataService().coverage(args.symbol)
    if args.json:
        print(json.dumps([{**r, "first_utc": _iso(r["first"]), "last_utc": _iso(r["last"])} for r in rows], indent=2))
        return 0
    if not rows:
        print("no candles stored")
        return 0
    print(f"{'symbol':<16} {'tf':<4} {'rows':>9}  {'first (UTC)':<16}  {'last (UTC)':<16}  {'gaps':>6}")
    for r in rows:
        print(f"{r['symbol']:<16} {r['timeframe']:<4} {r['rows']:>9}  {_iso(r['first']):<16}  {_iso(r['last']):<16}  "
              f"{r['gaps'] if r['gaps'] is not None else '?':>6}")
    return 0


def run_repair(args: argparse.Namespace, ctx) -> int:
    if importlib.util.find_spec("cockpit.market.ingest") is None:
        print("cockpit db repair: exchange ingest is not available in this build", file=sys.stderr)
        return 1
    from cockpit.market.ingest import run_repair_cli

    return run_repair_cli(args, ctx)
