"""``cockpit strategies [--json]``: every strategy with its enabled flag, parameters, timeframes and,
when off, the reason."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("strategies", help="list the strategy library (enabled, parameters, disabled reason)",
                       description="List every strategy of the library with its enabled flag, parameters (validated "
                       "against their declared ranges), required timeframes and, for a disabled one, why.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--rules", action="store_true", help="also print each strategy's rules")
    p.set_defaults(func=run_strategies)


def run_strategies(args: argparse.Namespace, ctx) -> int:
    from cockpit.strategies.registry import all_strategies

    entries = all_strategies(ctx.config)
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
