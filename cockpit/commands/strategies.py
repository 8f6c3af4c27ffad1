"""``cockpit strategies [--json]``: every strategy with its enabled flag, parameters, timeframes and,
when off, the reason."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "strategies",
        help="list the strategy library (enabled, parameters, disabled reason)",
        description="List every strategy of the library with its enabled flag, parameters (validated "
        "against their declared ranges), required timeframes and, for a disabled one, why.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--rules", action="store_true", help="also print each strategy's rules")
    p.add_argument(
        "--signals",
        action="store_true",
        help="also evaluate every enabled strategy on the newest closed bar in the database",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="print the technical-analysis report (indicators, patterns, levels, regime) of the database's "
        "newest candles as a table (JSON with --json)",
    )
    p.add_argument("--symbol", help="symbol for --signals/--report (default: config symbol)")
    p.set_defaults(func=run_strategies)


def run_strategies(args: argparse.Namespace, ctx) -> int:
    from cockpit.strategies.registry import all_strategies

    entries = all_strategies(ctx.config)
    if args.signals or args.report:
        return _evaluate(args, ctx, entries)
    if args.json:
        rows = []
        for e in entries:
            d = e.as_dict()
            if args.rules and e.strategy is not None:
                d["rules"] = e.strategy.describe()["rules"]
            rows.append(d)
        print(json.dumps(rows, indent=2))
        return 0
    w = max(len(e.name) for e in entries)
    print(f"{'strategy'.ljust(w)}  on   timeframes  params / reason")
    for e in entries:
        tfs = ",".join(e.strategy.required_timeframes) if e.strategy else "-"
        params = " ".join(f"{k}={v}" for k, v in e.params.items())
        print(f"{e.name.ljust(w)}  {'yes' if e.enabled else 'no '}  {tfs.ljust(10)}  {params}")
        if e.disabled_reason:
            print(f"{''.ljust(w)}                   {e.disabled_reason}")
        if args.rules and e.strategy is not None:
            for line in e.strategy.describe()["rules"].splitlines():
                print(f"{''.ljust(w)}                   | {line.strip()}")
    return 0


def _evaluate(args: argparse.Namespace, ctx, entries) -> int:
    """Signals and/or the technical report on the newest closed bar stored in the database."""
    import sys

    from cockpit.data import DataService
    from cockpit.domain.market import timeframe_ms
    from cockpit.indicators.analysis import TechnicalAnalysis
    from cockpit.strategies.base import build_context

    cfg = ctx.config
    symbol = args.symbol or cfg["symbol"]
    tf = cfg["decision_timeframe"]
    ds = DataService(ctx.database())
    last = ds.latest_candle_time(symbol, tf)
    if last is None:
        print(
            f"cockpit strategies: no {symbol} {tf} candles in the database (run `cockpit ingest` first)",
            file=sys.stderr,
        )
        return 1
    now = int(last) + timeframe_ms(tf)  # the newest bar has closed
    bars = int(cfg["engine"]["history_bars"])
    sctx = build_context(ds, symbol, cfg["timeframes"], now, bars)
    out: dict = {"symbol": symbol, "timeframe": tf, "bar_open_ms": int(last)}
    if args.signals:
        sigs = []
        for e in entries:
            if not e.enabled or e.strategy is None:
                sigs.append({"name": e.name, "enabled": False, "disabled_reason": e.disabled_reason})
                continue
            s = e.strategy.on_bar(sctx)
            sigs.append(
                {
                    "name": e.name,
                    "enabled": True,
                    "direction": s.direction.value,
                    "strength": round(s.strength, 4),
                    "entry": s.entry,
                    "stop_loss": s.stop_loss,
                    "take_profit": s.take_profit,
                    "reason": s.reason,
                }
            )
        out["signals"] = sigs
    if args.report:
        out["technical_analysis"] = TechnicalAnalysis(cfg["regime"]).report(sctx.candles_by_tf, primary=tf)
    if args.json:
        import json

        print(json.dumps(out, indent=2))
        return 0
    from cockpit.domain.humanize import utc

    print(f"{symbol} {tf}, bar opened at {utc(last)}")
    if args.report:
        from cockpit.strategies.report_text import report_table

        print(report_table(out["technical_analysis"]))
    w = max(len(e.name) for e in entries)
    for s in out.get("signals", []):
        if not s["enabled"]:
            print(f"{s['name'].ljust(w)}  off    {s['disabled_reason']}")
            continue

        def f(v):
            return "-" if v is None else f"{v:.2f}"

        print(
            f"{s['name'].ljust(w)}  {s['direction']:<5}  strength {s['strength']:.2f}  entry {f(s['entry'])}  "
            f"stop {f(s['stop_loss'])}  take {f(s['take_profit'])}  {s['reason']}"
        )
    return 0
