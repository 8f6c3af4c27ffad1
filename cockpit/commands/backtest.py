"""``cockpit backtest`` and ``cockpit sweep``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone


def _param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    from cockpit.backtest.sweep import parse_scalar

    k, v = text.split("=", 1)
    return k.strip(), parse_scalar(v.strip())


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--strategy",
        default="ema_trend",
        help="strategy name from the library (ema_trend, ...) or ema_cross (the engine's reference crossover)",
    )
    p.add_argument("--timeframe", default="1h", help="bar timeframe (default 1h)")
    p.add_argument("--from", dest="start", metavar="DATE", help="first day YYYY-MM-DD (UTC)")
    p.add_argument("--to", dest="end", metavar="DATE", help="last day YYYY-MM-DD (UTC, inclusive)")
    p.add_argument(
        "--param",
        action="append",
        type=_param,
        default=[],
        metavar="NAME=VALUE",
        help="strategy parameter (repeatable), e.g. --param fast=12 --param slow=26",
    )
    p.add_argument("--capital", type=float, help="starting capital in USDT (default backtest.capital)")
    p.add_argument("--fee", type=float, help="taker fee per side, e.g. 0.0005 (default backtest.taker_fee)")
    p.add_argument("--slippage-bps", type=float, help="market-fill slippage in bps (default backtest.slippage_bps)")
    p.add_argument("--leverage", type=float, help="leverage, isolated margin (default backtest.leverage)")
    p.add_argument("--csv", metavar="FILE", help="read candles from this CSV instead of the database")
    p.add_argument("--json", action="store_true", help="print JSON instead of the text report")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backtest",
        help="backtest a strategy on stored candles",
        description="Event-driven backtest through the simulated executor: market orders at the next "
        "bar's open plus slippage, taker fees, funding every 8h, isolated margin and liquidation, "
        "SL/TP inside bars decided by 15m bars when stored. Saved in backtest_* tables.",
    )
    _common(p)
    p.add_argument(
        "--funding",
        choices=("auto", "table", "constant", "off"),
        help="funding source (default backtest.funding_source)",
    )
    p.add_argument("--intrabar", choices=("auto", "conservative"), help="SL/TP order inside a bar")
    p.add_argument(
        "--engine",
        choices=("event", "fast"),
        default="event",
        help="event-driven engine (default) or the compiled fast path (same results)",
    )
    p.add_argument(
        "--portfolio",
        action="store_true",
        help="run all enabled strategies combined by the scorer and scheduler (offline selector; "
        "no LLM calls) instead of --strategy",
    )
    p.add_argument(
        "--replay-decisions",
        action="store_true",
        help="with --portfolio: replay the target exposures recorded in the decisions table",
    )
    p.add_argument(
        "--rebalance-band",
        metavar="FRACTION|off",
        help="resize toward the target when it moves by this fraction of the full-strength position "
        "(default: portfolio.rebalance_band with --portfolio, off for a single strategy)",
    )
    p.add_argument("--no-save", action="store_true", help="do not write the run to the database")
    p.set_defaults(func=run_backtest_cli)

    s = sub.add_parser(
        "sweep",
        help="parameter grid and walk-forward on the fast path",
        description="Evaluate a parameter grid (fast path, local process pool) ranked by a metric; "
        "--walk-forward K adds anchored walk-forward: optimise in-sample, report out-of-sample.",
    )
    _common(s)
    s.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,...", help="grid axis (repeatable)")
    s.add_argument("--metric", default="sharpe", help="ranking metric (sharpe, sortino, calmar, total_return, ...)")
    s.add_argument("--walk-forward", type=int, default=0, metavar="K", help="anchored walk-forward folds")
    s.add_argument("--workers", type=int, help="process-pool size (default backtest.workers; 1 = no pool)")
    s.add_argument("--dask", metavar="tcp://HOST:PORT", help="run on this dask.distributed scheduler instead")
    s.add_argument("--top", type=int, default=10, help="rows shown (default 10)")
    s.add_argument("--no-save", action="store_true", help="do not write the results to the database")
    s.set_defaults(func=run_sweep_cli)


def _fmt_date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def run_backtest_cli(args: argparse.Namespace, ctx) -> int:
    from cockpit.backtest.api import BacktestRequest, NoCandlesError, run_backtest
    from cockpit.backtest.report import render_report
    from cockpit.config import ConfigError
    from cockpit.data import DataService
    from cockpit.market.csv_import import CsvImportError

    cfg = ctx.config
    db = None if (args.csv and args.no_save) else ctx.database()
    ds = DataService(db) if db is not None else None
    req = BacktestRequest(
        strategy=args.strategy,
        timeframe=args.timeframe,
        start=args.start,
        end=args.end,
        params=dict(args.param),
        capital=args.capital,
        fee=args.fee,
        slippage_bps=args.slippage_bps,
        leverage=args.leverage,
        funding_source=args.funding,
        intrabar=args.intrabar,
        csv=args.csv,
        engine=args.engine,
        portfolio=args.portfolio or args.replay_decisions,
        replay_decisions=args.replay_decisions,
        rebalance_band=args.rebalance_band,
    )
    try:
        rep = run_backtest(cfg, ds, req, store=None if args.no_save else db)
    except NoCandlesError as e:
        print(f"cockpit backtest: {e}", file=sys.stderr)
        return 1
    except (CsvImportError, ConfigError, ValueError) as e:
        print(f"cockpit backtest: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rep.to_json(), default=str))
    else:
        sys.stdout.write(render_report(rep.to_json(), rep.equity))
    return 0


def run_sweep_cli(args: argparse.Namespace, ctx) -> int:
    from cockpit.backtest.api import NoCandlesError
    from cockpit.backtest.sweep import SweepRequest, parse_grid, run_sweep
    from cockpit.config import ConfigError
    from cockpit.data import DataService
    from cockpit.market.csv_import import CsvImportError

    cfg = ctx.config
    try:
        grid = parse_grid(args.grid)
    except ValueError as e:
        print(f"cockpit sweep: {e}", file=sys.stderr)
        return 2
    db = None if (args.csv and args.no_save) else ctx.database()
    ds = DataService(db) if db is not None else None
    req = SweepRequest(
        strategy=args.strategy,
        timeframe=args.timeframe,
        grid=grid,
        start=args.start,
        end=args.end,
        params=dict(args.param),
        metric=args.metric,
        walk_forward=args.walk_forward,
        workers=args.workers,
        csv=args.csv,
        capital=args.capital,
        fee=args.fee,
        slippage_bps=args.slippage_bps,
        leverage=args.leverage,
        save=not args.no_save,
        dask=args.dask,
    )
    try:
        out = run_sweep(cfg, ds, req, store=db if not args.no_save else None)
    except NoCandlesError as e:
        print(f"cockpit sweep: {e}", file=sys.stderr)
        return 1
    except (CsvImportError, ConfigError, ValueError) as e:
        print(f"cockpit sweep: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, default=str))
        return 0
    m = out["metric"]
    print(
        f"Sweep {out['strategy']} {out['timeframe']} {_fmt_date(out['start'])} -> {_fmt_date(out['end'])}: "
        f"{out['points']} points, {out['bars']} bars, {out['workers']} workers ({out['executor']}), {out['elapsed_s']:.1f}s; "
        f"ranked by {m}; funding: {out['funding_source']}"
    )
    print(f"  {'#':>3}  {'params':<32} {m:>10} {'return':>9} {'maxDD':>8} {'trades':>7}")
    for i, r in enumerate(out["ranked"][: args.top], 1):
        mm = r["metrics"]
        ptxt = " ".join(f"{k}={v}" for k, v in r["params"].items())
        v = mm.get(m)
        print(
            f"  {i:>3}  {ptxt:<32} {('n/a' if v is None else f'{v:.3f}'):>10} {mm['total_return'] * 100:>8.2f}% "
            f"{mm['max_drawdown'] * 100:>7.2f}% {mm['trades']:>7}"
        )
    for err in out["errors"]:
        print(f"  skipped {err['params']}: {err['error']}")
    if out["walk_forward"]:
        print(f"\n  Walk-forward ({len(out['walk_forward'])} folds, anchored): best in-sample -> out-of-sample")
        for w in out["walk_forward"]:
            ptxt = " ".join(f"{k}={v}" for k, v in w["params"].items())
            ism, oos = w["in_sample"], w["out_of_sample"]
            iv, ov = ism.get(m), oos.get(m)
            print(
                f"  fold {w['fold']}: {ptxt:<24} IS {m} {('n/a' if iv is None else f'{iv:.3f}'):>7}  "
                f"OOS {_fmt_date(w['oos_start'])}..{_fmt_date(w['oos_end'])} {m} "
                f"{('n/a' if ov is None else f'{ov:.3f}'):>7} return {oos['total_return'] * 100:+.2f}%"
            )
        print(f"  out-of-sample compounded return: {out['walk_forward_oos_return'] * 100:+.2f}%")
    if out["result_ids"]:
        print(f"\n  saved as backtest results {out['result_ids'][0]}..{out['result_ids'][-1]}")
    return 0
