"""``cockpit db migrate | stats | repair | copy``."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from datetime import datetime, timezone


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="database: migrate, stats, repair, copy")
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
    c = dsub.add_parser(
        "copy", help="copy a whole database (SQLite <-> PostgreSQL), verified by row counts and checksums"
    )
    c.add_argument("--from", dest="src", help="source database URL (default: database.url)")
    c.add_argument("--to", dest="dst", required=True, help="target URL, e.g. postgresql://cockpit@db.internal/cockpit")
    c.add_argument("--batch", type=int, default=5000, help="rows per read/insert batch (default 5000)")
    c.set_defaults(func=run_copy)


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
        print(
            f"{r['symbol']:<16} {r['timeframe']:<4} {r['rows']:>9}  {_iso(r['first']):<16}  {_iso(r['last']):<16}  "
            f"{r['gaps'] if r['gaps'] is not None else '?':>6}"
        )
    return 0


def run_repair(args: argparse.Namespace, ctx) -> int:
    if importlib.util.find_spec("cockpit.market.ingest") is None:
        print("cockpit db repair: exchange ingest is not available in this build", file=sys.stderr)
        return 1
    from cockpit.commands.ingest import print_steps
    from cockpit.data.data_service import DataService
    from cockpit.engine.exchange import open_exchange
    from cockpit.market.ingest import MarketIngestor

    cfg = ctx.config
    mode = args.exchange or cfg["exchange"]["mode"]
    tfs = [t.strip() for t in (args.timeframes or ",".join(cfg["timeframes"])).split(",") if t.strip()]
    db = ctx.database()

    ds = DataService(db)
    gaps = {tf: ds.gaps(cfg["symbol"], tf) for tf in tfs}
    for tf, g in gaps.items():
        print(f"{tf}: {len(g)} gap(s)" + "".join(f"\n  {a} .. {b}" for a, b in g[:20]))
    if args.dry_run or not any(gaps.values()):
        return 0
    from cockpit.data.venue import venue_refusal

    refusal = venue_refusal(db, cfg, mode, action=f"repair its gaps with {mode} market data")
    if refusal:
        print(f"cockpit db repair: {refusal}", file=sys.stderr)
        return 1
    x, clock, close = open_exchange(cfg, mode)
    try:
        steps = MarketIngestor(x, cfg, clock, db=db, timeframes=tfs, source=mode).repair(tfs)
    finally:
        close()
    print_steps(steps)
    left = {tf: ds.gaps(cfg["symbol"], tf) for tf in tfs}
    for tf, g in left.items():
        if g:
            print(f"{tf}: {len(g)} gap(s) remain (the exchange has no data there)")
    return 0 if all(s.status == "success" for s in steps) else 1


def run_copy(args: argparse.Namespace, ctx) -> int:
    from pathlib import Path

    from cockpit.db.connection import open_database, redact_url, sqlite_path
    from cockpit.db.copy import CopyError, copy_database

    src_url = args.src or ctx.config["database"]["url"]
    if src_url == args.dst:
        print("cockpit db copy: --from and --to are the same database", file=sys.stderr)
        return 2
    path = sqlite_path(src_url)
    if path is not None and path != ":memory:" and not Path(path).expanduser().is_file():
        print(f"cockpit db copy: source {path} does not exist", file=sys.stderr)
        return 2
    penv = ctx.config["database"]["password_env"]
    src = open_database(src_url, password_env=penv, bind=False)
    dst = open_database(args.dst, password_env=penv, bind=False)
    try:
        report = copy_database(src, dst, batch=max(1, args.batch), progress=lambda m: print(m, file=sys.stderr))
    except CopyError as e:
        print(f"cockpit db copy: {e}", file=sys.stderr)
        return 1
    finally:
        src.close()
        dst.close()
    print(f"{redact_url(src_url)} -> {redact_url(args.dst)}")
    print(f"{'table':<24} {'rows':>10} {'target rows':>11}  {'checksum (source)':<32}  {'checksum (target)':<32}  ok")
    for r in report:
        print(
            f"{r.table:<24} {r.source_rows:>10} {r.target_rows:>11}  {r.source_checksum}  {r.target_checksum}  "
            f"{'yes' if r.ok else 'NO'}"
        )
    bad = [r.table for r in report if not r.ok]
    total = sum(r.target_rows for r in report)
    if bad:
        print(f"verification FAILED for {', '.join(bad)}", file=sys.stderr)
        return 1
    print(f"copied {len(report)} tables, {total} rows; every row count and checksum matches")
    return 0
