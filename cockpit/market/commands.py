"""``cockpit ingest``: candles from a CSV file, or from an exchange through ccxt."""

from __future__ import annotations

import argparse
import importlib.util
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="import candles from a CSV file or an exchange",
                       description="Import candles idempotently. --csv FILE imports one file in one transaction "
                       "(a malformed row aborts it, naming the line); --exchange backfills/updates through ccxt.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", metavar="FILE", help="CSV with header timestamp,open,high,low,close,volume (epoch ms)")
    src.add_argument("--exchange", choices=("sim", "okx-demo", "okx-live"), help="ingest through ccxt from this exchange")
    p.add_argument("--timeframe", help="timeframe of the CSV rows (15m, 1h, 4h, 1d)")
    p.add_argument("--timeframes", help="comma-separated timeframes for --exchange (default: config timeframes)")
    p.add_argument("--since", help="backfill start date YYYY-MM-DD for --exchange")
    p.add_argument("--symbol", help="symbol (default: config symbol)")
    p.set_defaults(func=run_ingest)


def run_ingest(args: argparse.Namespace, ctx) -> int:
    cfg = ctx.config
    symbol = args.symbol or cfg["symbol"]
    if args.exchange:
        if importlib.util.find_spec("cockpit.market.ingest") is None:
            print("cockpit ingest: exchange ingest is not available in this build", file=sys.stderr)
            return 1
        from cockpit.market.ingest import run_exchange_ingest_cli

        return run_exchange_ingest_cli(args, ctx)
    from cockpit.domain.market import TIMEFRAME_MS
    from cockpit.engine.clock import WallClock
    from cockpit.market.csv_import import CsvImportError, import_csv, record_run

    if not args.timeframe:
        print("cockpit ingest: --timeframe is required with --csv", file=sys.stderr)
        return 2
    if args.timeframe not in TIMEFRAME_MS:
        print(f"cockpit ingest: --timeframe: expected one of {', '.join(TIMEFRAME_MS)}, got {args.timeframe!r}",
              file=sys.stderr)
        return 2
    db = ctx.database()
    clock = WallClock()  # a CSV import has no exchange clock: the run is stamped with wall time
    started = clock.now_ms()
    try:
        res = import_csv(db, args.csv, symbol=symbol, timeframe=args.timeframe)
    except CsvImportError as e:
        record_run(db, source=f"csv:{args.csv}", symbol=symbol, timeframe=args.timeframe, data_type="candles",
                   started_at=started, ended_at=clock.now_ms(), rows=0, status="failed", error=str(e))
        print(f"cockpit ingest: {e}; nothing was imported", file=sys.stderr)
        return 1
    record_run(db, source=f"csv:{args.csv}", symbol=symbol, timeframe=args.timeframe, data_type="candles",
               started_at=started, ended_at=clock.now_ms(), rows=res.rows_inserted, status="success", error=None)
    print(f"imported {res.rows_inserted} new of {res.rows_read} rows ({symbol} {args.timeframe}) from {args.csv}")
    return 0
