"""``cockpit position close|stop PRICE|tp PRICE`` and ``cockpit orders cancel-all``: trade management from
any shell against the database of a running engine (``cockpit.execution.trade_actions`` executes them).

Like ``cockpit orders approve`` they write an operator_commands row (with who) and wait for the engine's
outcome. Closing or moving a level is never queued for an engine that is not running: it would run later,
at a price nobody saw. ``position close`` asks to confirm on a terminal (``--yes`` for scripts).
Exit codes: 0 done, 1 refused (by the engine, the risk rules or the role), 2 config error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "position", help="close the position or move its stop-loss / take-profit (executed by the running engine)"
    )
    psub = p.add_subparsers(dest="position_command", metavar="ACTION", required=True)
    sh = psub.add_parser("show", help="the position, realised P&L and the closed trades with their exit reasons")
    sh.add_argument("--trades", type=int, default=20, metavar="N", help="closed trades to list (default 20)")
    sh.add_argument("--json", action="store_true", help="print JSON")
    sh.set_defaults(func=run_show)
    c = psub.add_parser("close", help="close the whole position with a reduce-only market order (no kill switch)")
    c.add_argument("--yes", action="store_true", help="do not ask to confirm")
    c.add_argument("--reason", default="", help="optional note")
    _side_arg(c)
    _wait_arg(c)
    c.set_defaults(func=run_close)
    for name, kind, what in (("stop", "set_stop_loss", "stop-loss"), ("tp", "set_take_profit", "take-profit")):
        a = psub.add_parser(name, help=f"move the open position's {what} to PRICE (risk-checked against the mark)")
        a.add_argument("price", type=float, metavar="PRICE")
        _side_arg(a)
        _wait_arg(a)
        a.set_defaults(func=run_level, command=kind, what=what)

    orders = sub.choices.get("orders")
    osub = next((a for a in (orders._actions if orders else []) if isinstance(a, argparse._SubParsersAction)), None)
    if osub is not None:
        ca = osub.add_parser(
            "cancel-all",
            help="cancel every open order (pending approval, approved or working); "
            "the position and its stop-loss/take-profit stay",
        )
        ca.add_argument("--reason", default="", help="optional note")
        _wait_arg(ca)
        ca.set_defaults(func=run_cancel_all)


def _side_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--side",
        choices=("long", "short"),
        help="only if the position is still this side (the engine does nothing otherwise)",
    )


def _wait_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for the running engine to execute it (default 10)",
    )


def _position_line(ds: Any, symbol: str) -> str:
    pos = ds.latest_position_snapshot(symbol)
    if not pos or pos.get("side") not in ("long", "short") or not float(pos.get("size") or 0):
        return "no open position in the last snapshot"
    entry = pos.get("entry_price")
    return f"{pos['side'].upper()} {float(pos['size']):g} BTC" + (f" @ {float(entry):,.1f}" if entry else "")


def _submit(ctx, command: str, payload: dict[str, Any] | None, wait_s: float, *, must_run_now: bool) -> int:
    from cockpit.data.operator import check_allowed
    from cockpit.commands.orders import _engine_running, _submit_and_wait

    try:
        check_allowed(command)
    except PermissionError as e:  # OperatorNotAllowed: this session's role may only watch
        print(f"cockpit: {e}", file=sys.stderr)
        return 1
    if must_run_now and not _engine_running(ctx):
        print(
            f"cockpit: no engine is running on this database: {command.replace('_', ' ')} not queued "
            "(it would run later, at a price nobody saw); start the engine first",
            file=sys.stderr,
        )
        return 1
    return _submit_and_wait(ctx, command, order_id=None, payload=payload, wait_s=max(wait_s, 0.1))


def run_show(args: argparse.Namespace, ctx) -> int:
    import json
    from datetime import datetime, timezone

    from cockpit.data import DataService
    from cockpit.data.account import AccountReads, closed_trades, realised

    ctx.database()
    sym = ctx.config["symbol"]
    ds, reads = DataService(), AccountReads()
    pos = ds.latest_position_snapshot(sym)
    trades, open_trade = closed_trades(reads, sym, limit=max(1, args.trades))
    fills = reads.fills_with_orders(sym)
    out = {"position": pos, "realised_after_fees": realised(fills), "open_trade": open_trade, "closed_trades": trades}
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0

    def when(ms: Any) -> str:
        return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M") if ms else "-"

    def money(v: Any) -> str:
        return "-" if v is None else f"{float(v):+,.2f}"

    if pos is None:
        print("position: not read yet (no snapshot in this database)")
    elif pos.get("side") not in ("long", "short") or not float(pos.get("size") or 0):
        print(f"position: flat (as of {when(pos['timestamp'])} UTC)")
    else:
        print(
            f"position: {pos['side'].upper()} {float(pos['size']):g} BTC @ {float(pos['entry_price'] or 0):,.1f}  "
            f"mark {float(pos['mark_price'] or 0):,.1f}  uPnL {money(pos.get('unrealized_pnl'))}  "
            f"liq {'-' if pos.get('liquidation_price') is None else format(float(pos['liquidation_price']), ',.1f')}  "
            f"funding {money(pos.get('funding_fee'))}  (as of {when(pos['timestamp'])} UTC)"
        )
    print(f"realised since start, after fees: {money(out['realised_after_fees'])} USDT")
    if not trades:
        print("no closed trades")
        return 0
    print(
        f"{'closed (UTC)':<16}  {'side':<5} {'size':>8} {'entry':>10} {'exit':>10}  {'exit reason':<16} "
        f"{'P&L':>9} {'fees':>7} {'funding':>8} {'net':>9}"
    )
    for t in trades:
        print(
            f"{when(t['closed_at']):<16}  {t['side']:<5} {t['size']:>8g} {t['entry_price']:>10,.1f} "
            f"{t['exit_price']:>10,.1f}  {t['exit_reason']:<16} {money(t['pnl']):>9} {t['fees']:>7.2f} "
            f"{money(t['funding']):>8} {money(t['net']):>9}"
        )
    return 0


def run_close(args: argparse.Namespace, ctx) -> int:
    from cockpit.data import DataService

    ctx.database()
    line = _position_line(DataService(), ctx.config["symbol"])
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                f"cockpit position close: {line}; add --yes to close it without a terminal to confirm on",
                file=sys.stderr,
            )
            return 1
        answer = input(f"Close the position ({line}) with a reduce-only market order? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("not closed")
            return 1
    payload = {k: v for k, v in (("reason", args.reason), ("side", args.side)) if v} or None
    return _submit(ctx, "close_position", payload, args.wait, must_run_now=True)


def run_level(args: argparse.Namespace, ctx) -> int:
    ctx.database()
    if not args.price > 0:
        print(f"cockpit position: {args.what} must be a positive price, got {args.price:g}", file=sys.stderr)
        return 1
    payload: dict[str, Any] = {"price": args.price}
    if args.side:
        payload["side"] = args.side
    return _submit(ctx, args.command, payload, args.wait, must_run_now=True)


def run_cancel_all(args: argparse.Namespace, ctx) -> int:
    ctx.database()
    payload = {"reason": args.reason} if args.reason else None
    return _submit(ctx, "cancel_all", payload, args.wait, must_run_now=False)
