"""``cockpit ingest``: candles or funding rates from a CSV file, or market data from an exchange through ccxt.

A database belongs to one venue (``cockpit.data.venue``): CSV imports mark it ``import``, an exchange
ingest marks it with that exchange; importing into another venue's database is refused.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from datetime import datetime, timezone


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest",
        help="import candles or funding from a CSV file, or from an exchange",
        description="Import idempotently. --csv FILE / --funding-csv FILE import one file in one "
        "transaction (a bad row aborts it, naming the line; rows that differ from stored ones abort "
        "it unless --overwrite); --exchange backfills/updates through ccxt.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", metavar="FILE", help="CSV with header timestamp,open,high,low,close,volume (epoch ms)")
    src.add_argument(
        "--funding-csv",
        metavar="FILE",
        help="CSV with header timestamp,funding_rate (epoch ms of each 8h settlement; rate as a fraction)",
    )
    src.add_argument(
        "--exchange", choices=("sim", "okx-demo", "okx-live"), help="ingest through ccxt from this exchange"
    )
    p.add_argument("--timeframe", help="timeframe of the CSV rows (15m, 1h, 4h, 1d)")
    p.add_argument("--timeframes", help="comma-separated timeframes for --exchange (default: config timeframes)")
    p.add_argument("--since", help="backfill start date YYYY-MM-DD for --exchange")
    p.add_argument("--symbol", help="symbol (default: config symbol)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace stored rows that differ from the file's (default: refuse the import and count them)",
    )
    p.set_defaults(func=run_ingest)


def run_ingest(args: argparse.Namespace, ctx) -> int:
    from cockpit.data.venue import venue_refusal

    cfg = ctx.config
    symbol = args.symbol or cfg["symbol"]
    if args.exchange:
        if importlib.util.find_spec("cockpit.market.ingest") is None:
            print("cockpit ingest: exchange ingest is not available in this build", file=sys.stderr)
            return 1
        refusal = venue_refusal(
            ctx.database(), cfg, args.exchange, action=f"ingest {args.exchange} market data into it"
        )
        if refusal:
            print(f"cockpit ingest: {refusal}", file=sys.stderr)
            return 1
        return run_exchange_ingest(args, ctx)
    from cockpit.data.venue import IMPORT
    from cockpit.domain.market import TIMEFRAME_MS
    from cockpit.domain.clock import WallClock
    from cockpit.market.csv_import import CsvImportError, import_csv, import_funding_csv, record_run

    funding = bool(args.funding_csv)
    path = args.funding_csv or args.csv
    if not funding:
        if not args.timeframe:
            print("cockpit ingest: --timeframe is required with --csv", file=sys.stderr)
            return 2
        if args.timeframe not in TIMEFRAME_MS:
            print(
                f"cockpit ingest: --timeframe: expected one of {', '.join(TIMEFRAME_MS)}, got {args.timeframe!r}",
                file=sys.stderr,
            )
            return 2
    db = ctx.database()
    refusal = venue_refusal(db, cfg, IMPORT, record=False, action="import CSV data into it")
    if refusal:
        print(f"cockpit ingest: {refusal}", file=sys.stderr)
        return 1
    clock = WallClock()  # a CSV import has no exchange clock: the run is stamped, and checked, with wall time
    started = clock.now_ms()
    data_type, timeframe = ("funding", None) if funding else ("candles", args.timeframe)
    try:
        if funding:
            res = import_funding_csv(db, path, symbol=symbol, overwrite=args.overwrite, now_ms=started)
        else:
            res = import_csv(
                db, path, symbol=symbol, timeframe=args.timeframe, overwrite=args.overwrite, now_ms=started
            )
    except CsvImportError as e:
        record_run(
            db,
            source=f"csv:{path}",
            symbol=symbol,
            timeframe=timeframe,
            data_type=data_type,
            started_at=started,
            ended_at=clock.now_ms(),
            rows=0,
            status="failed",
            error=str(e),
        )
        print(
            f"cockpit ingest: {e}{'' if 'nothing was imported' in str(e) else '; nothing was imported'}",
            file=sys.stderr,
        )
        return 1
    record_run(
        db,
        source=f"csv:{path}",
        symbol=symbol,
        timeframe=timeframe,
        data_type=data_type,
        started_at=started,
        ended_at=clock.now_ms(),
        rows=res.rows_inserted,
        status="success",
        error=None,
    )
    venue_refusal(db, cfg, IMPORT, action="import CSV data into it")
    what = "funding rates" if funding else args.timeframe
    replaced = f"; replaced {res.rows_replaced} stored rows that differed (--overwrite)" if res.rows_replaced else ""
    print(f"imported {res.rows_inserted} new of {res.rows_read} rows ({symbol} {what}) from {path}{replaced}")
    return 0


def _date_ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp() * 1000)


def print_steps(steps: list) -> None:
    for s in steps:
        what = s.data_type + (f" {s.timeframe}" if s.timeframe else "")
        print(f"  {what:<22} {s.status:<8} {s.rows:>7} new rows" + (f"  ({s.error})" if s.error else ""))


def run_exchange_ingest(args, ctx) -> int:
    from cockpit.domain.market import timeframe_ms
    from cockpit.engine.exchange import open_exchange
    from cockpit.market.ingest import MarketIngestor

    cfg = ctx.config
    mode = args.exchange
    if mode == "okx-live" and not getattr(args, "live", False):
        print("cockpit ingest: note: reading public market data from OKX live (no orders are placed)", file=sys.stderr)
    tfs = [t.strip() for t in (args.timeframes or ",".join(cfg["timeframes"])).split(",") if t.strip()]
    for tf in tfs:
        try:
            timeframe_ms(tf)
        except ValueError as e:
            print(f"cockpit ingest: --timeframes: {e}", file=sys.stderr)
            return 2
    try:
        since = _date_ms(args.since) if args.since else None
    except ValueError:
        print(f"cockpit ingest: --since: expected YYYY-MM-DD, got {args.since!r}", file=sys.stderr)
        return 2
    db = ctx.database()
    x, clock, close = open_exchange(cfg, mode)
    try:
        ing = MarketIngestor(x, cfg, clock, db=db, symbol=args.symbol or cfg["symbol"], timeframes=tfs, source=mode)
        now = ing.exchange_now()
        if since is None:
            since = now - int(cfg["exchange"]["backfill_days"]) * 86_400_000
        steps = [ing.backfill_candles(tf, since, now=now) for tf in tfs]
        steps += [
            ing.ingest_funding(since),
            ing.ingest_snapshot(),
            ing.ingest_open_interest(),
            ing.ingest_long_short(max(since, now - 30 * 86_400_000)),
        ]
    finally:
        close()
    print(f"ingest from {mode} ({ing.symbol}):")
    print_steps(steps)
    return 0 if all(s.status == "success" for s in steps) else 1
