"""``cockpit orders list|show|approve|reject|cancel|confirm-position`` and ``cockpit kill [--clear]``.

They work from any shell against the database of a running engine: they check the order, write an
operator_commands row (with who: the OS user and the SSH connection when there is one) and, when an
engine holds the database, wait for it to execute the command and print the outcome. The engine is
the only writer of orders, so approvals from the TUI, this CLI and the API are executed in order.
Exit codes: 0 done (or queued with no engine running), 1 unknown order / wrong state / the engine
refused, 2 config error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from typing import Any

from cockpit.domain import approval
from cockpit.domain.orders import OrderStatus

STATUSES = tuple(s.value for s in OrderStatus)
STATUS_ALIASES = {"pending": "pending_approval", "open": None, "partial": "partially_filled", "cancelled": "canceled"}
OPEN = ("new", "pending_approval", "approved", "submitted", "partially_filled")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("orders", help="list orders; approve, reject or cancel one (works against a running engine)")
    osub = p.add_subparsers(dest="orders_command", metavar="ACTION", required=True)

    ls = osub.add_parser("list", help="orders, newest first")
    ls.add_argument("--status", help="only this status: pending, open, " + ", ".join(STATUSES))
    ls.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)

    sh = osub.add_parser("show", help="one order with its lifecycle events, fills and risk assessment")
    sh.add_argument("id", type=int)
    sh.add_argument("--json", action="store_true", help="print JSON")
    sh.set_defaults(func=run_show)

    for name, helptext in (
        ("approve", "approve a pending order (the engine re-checks risk, then sends it)"),
        ("reject", "reject a pending order"),
        ("cancel", "cancel an order that is pending, approved or working on the exchange"),
    ):
        a = osub.add_parser(name, help=helptext)
        a.add_argument("id", type=int, help="order id (see `cockpit orders list`)")
        if name == "reject":
            a.add_argument("--reason", required=True, help="why (stored with the order)")
        else:
            a.add_argument("--reason", default="", help="optional note")
        _wait_arg(a)
        a.set_defaults(func=run_order_command, command=name)

    c = osub.add_parser(
        "confirm-position",
        help="trust the exchange's position when it and the ledger (our "
        "recorded fills) disagree and new entries are held; check the exchange first",
    )
    _wait_arg(c)
    c.set_defaults(func=run_confirm_position)

    k = sub.add_parser(
        "kill",
        help="kill switch: cancel open orders, close the position, halt new entries "
        "(persists until `cockpit kill --clear`)",
    )
    k.add_argument("--clear", action="store_true", help="clear the kill switch (and a drawdown halt)")
    k.add_argument("--reason", default="", help="optional note")
    _wait_arg(k)
    k.set_defaults(func=run_kill)


def _wait_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for a running engine to execute it (default 10; 0 = just queue)",
    )


def _now_ms() -> int:
    # A command-line surface: the operator's wall clock stamps the request (the engine stamps the decision).
    from cockpit.domain.clock import WallClock

    return WallClock().now_ms()


def _iso(ms: Any) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _heartbeat(ds) -> dict[str, Any] | None:
    """The engine's last heartbeat (its clock, the wall time it was written, the simulator's speed)."""
    row = ds.engine_state_row("heartbeat")
    try:
        beat = json.loads(row["value"]) if row and row.get("value") else None
    except ValueError:
        return None
    return beat if isinstance(beat, dict) else None


def _fmt(x: Any, spec: str = "g") -> str:
    return "-" if x is None else format(x, spec)


def _engine_running(ctx) -> bool:
    try:
        from cockpit.engine.lock import EngineLock, EngineLocked
    except ImportError:  # pragma: no cover - engine not in this build
        return False
    probe = EngineLock(ctx.config["database"]["url"])
    try:
        probe.acquire()
    except EngineLocked:
        return True
    except Exception:  # noqa: BLE001 - cannot tell: assume not, and just queue
        return False
    probe.release()
    return False


# ---------------------------------------------------------------------------- list / show


def run_list(args: argparse.Namespace, ctx) -> int:
    from cockpit.data import DataService

    ctx.database()
    status: Any = None
    if args.status:
        s = args.status.strip().lower()
        if s == "open":
            status = list(OPEN)
        else:
            status = STATUS_ALIASES.get(s, s)
            if status not in STATUSES:
                print(
                    f"cockpit orders list: unknown status {args.status!r}; allowed: pending, open, "
                    + ", ".join(STATUSES),
                    file=sys.stderr,
                )
                return 1
    ds = DataService()
    rows = ds.orders(status=status, limit=max(1, args.limit))
    wall_now, beat = _now_ms(), _heartbeat(ds)
    for r in rows:  # the approval window in the operator's clock, as the cockpit shows it (cockpit.domain.approval)
        if r["status"] == "pending_approval" and r.get("expires_at"):
            left = approval.approval_left_ms(r["expires_at"], beat, wall_now)
            if left is not None:  # None: an expiry that is not a number (no window to show)
                r["approval_left_s"] = round(left / 1000, 1)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no orders" + (f" with status {args.status}" if args.status else ""))
        return 0
    print(
        f"{'id':>5}  {'status':<16} {'side':<4} {'type':<6} {'amount':>9} {'filled':>9} {'price':>9} "
        f"{'stop':>9} {'take':>9}  {'updated (UTC)':<19}  note"
    )
    for r in rows:
        note = []
        if r.get("reduce_only"):
            note.append("reduce-only")
        if "approval_left_s" in r:
            note.append(approval.expires_phrase(int(r["approval_left_s"] * 1000), wall_now))
        if r["status"] in ("rejected", "canceled", "expired"):
            events = ds.order_events(r["id"])  # why it left the approval queue (superseded, expired, by whom)
            note.append(approval.left_queue_reason(r, events[-1].get("message") if events else None))
        elif r.get("decided_by"):
            note.append(f"by {r['decided_by']}")
        ra = r.get("risk_assessment")
        if isinstance(ra, dict) and ra.get("status") in ("reduced", "rejected"):
            note.append(f"risk {ra['status']}" + (f": {ra['reasons'][0]}" if ra.get("reasons") else ""))
        price = r.get("average_price") or r.get("price")
        print(
            f"{r['id']:>5}  {r['status']:<16} {r['side']:<4} {r['type']:<6} {_fmt(r['amount']):>9} "
            f"{_fmt(r.get('filled')):>9} {_fmt(price, '.1f'):>9} {_fmt(r.get('stop_loss'), '.1f'):>9} "
            f"{_fmt(r.get('take_profit'), '.1f'):>9}  {_iso(r.get('updated_at')):<19}  {'; '.join(note)}"
        )
    return 0


def run_show(args: argparse.Namespace, ctx) -> int:
    from cockpit.data import DataService

    ctx.database()
    ds = DataService()
    row = ds.order(args.id)
    if row is None:
        print(f"cockpit orders show: no order with id {args.id}", file=sys.stderr)
        return 1
    events = ds.order_events(args.id)
    fills = ds.trades(order_id=args.id)
    if args.json:
        print(json.dumps({"order": row, "events": events, "fills": fills}, indent=2, default=str))
        return 0
    print(
        f"order {row['id']}  {row['status']}  {row['side']} {row['amount']:g} {row['symbol']} {row['type']}"
        f"{' reduce-only' if row.get('reduce_only') else ''}"
    )
    print(
        f"  client id {row['client_order_id']}  exchange id {row.get('exchange_order_id') or '-'}"
        f"  decision {row.get('decision_id') or '-'} leg {row.get('leg')}"
    )
    print(
        f"  stop {_fmt(row.get('stop_loss'))}  take {_fmt(row.get('take_profit'))}  leverage {_fmt(row.get('leverage'))}"
        f"  filled {_fmt(row.get('filled'))} @ {_fmt(row.get('average_price'))}  fee {_fmt(row.get('fee'))}"
    )
    if row.get("decided_by"):
        print(f"  decided by {row['decided_by']} at {_iso(row.get('decided_at'))}")
    ra = row.get("risk_assessment")
    if isinstance(ra, dict):
        print(f"  risk: {ra.get('status')}" + (f" ({'; '.join(ra['reasons'])})" if ra.get("reasons") else ""))
        for rule, res in (ra.get("rules") or {}).items():
            if res.get("status") not in ("pass", "skipped"):
                print(f"    {rule:<18} {res.get('status'):<9} {res.get('detail', '')}")
    print("  events:")
    for e in events:
        print(f"    {_iso(e['timestamp'])}  {e['status']:<16} {e.get('message') or ''}")
    for f in fills:
        print(
            f"  fill {f.get('exchange_trade_id')}: {f['side']} {f['amount']:g} @ {f['price']:g} fee {_fmt(f.get('fee'))}"
        )
    return 0


# ---------------------------------------------------------------------------- commands


def _submit_and_wait(ctx, command: str, *, order_id: int | None, payload: dict[str, Any] | None, wait_s: float) -> int:
    from cockpit.data import DataService
    from cockpit.data.operator import operator_identity, submit_command

    who = operator_identity()
    try:
        cid = submit_command(command, now_ms=_now_ms(), order_id=order_id, payload=payload, operator=who)
    except PermissionError as e:  # OperatorNotAllowed: this session's role may only watch
        print(f"cockpit: {e}", file=sys.stderr)
        return 1
    what = f"{command} of order {order_id}" if order_id is not None else command
    if wait_s <= 0:
        print(f"queued {what} as operator command #{cid} (by {who})")
        return 0
    if not _engine_running(ctx):
        print(
            f"queued {what} as operator command #{cid} (by {who}); no engine is running on this database, "
            "so it runs when the engine starts"
        )
        return 0
    ds = DataService()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        rows = [r for r in ds.operator_commands(status=None, since_id=cid - 1, limit=1) if r["id"] == cid]
        if rows and rows[0]["status"] != "pending":
            r = rows[0]
            if r["status"] == "done":
                print(f"{what}: done (by {who}) - {r.get('result') or 'ok'}")
                return 0
            print(f"{what}: refused by the engine - {r.get('result') or 'failed'}", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print(
        f"queued {what} as operator command #{cid} (by {who}); the engine has not executed it within "
        f"{wait_s:g}s - check `cockpit orders show {order_id}`"
        if order_id is not None
        else f"queued {what} as operator command #{cid} (by {who}); not executed within {wait_s:g}s"
    )
    return 0


def run_order_command(args: argparse.Namespace, ctx) -> int:
    from cockpit.data import DataService

    ctx.database()
    row = DataService().order(args.id)
    cmd = args.command
    if row is None:
        print(f"cockpit orders {cmd}: no order with id {args.id}", file=sys.stderr)
        return 1
    st = row["status"]
    if cmd in ("approve", "reject") and st != "pending_approval":
        print(f"cockpit orders {cmd}: order {args.id} is {st}, not pending approval", file=sys.stderr)
        return 1
    if cmd == "cancel" and st not in OPEN:
        print(f"cockpit orders cancel: order {args.id} is {st}: nothing to cancel", file=sys.stderr)
        return 1
    payload = {"reason": args.reason} if args.reason else None
    return _submit_and_wait(ctx, cmd, order_id=args.id, payload=payload, wait_s=args.wait)


def run_confirm_position(args: argparse.Namespace, ctx) -> int:
    ctx.database()
    return _submit_and_wait(ctx, "confirm_position", order_id=None, payload=None, wait_s=args.wait)


def run_kill(args: argparse.Namespace, ctx) -> int:
    from cockpit.data import DataService

    ctx.database()
    state = DataService().engine_state("kill_switch")
    if args.clear:
        if state is None:
            print("kill switch is not engaged; clearing anyway (also clears a drawdown halt)")
        return _submit_and_wait(ctx, "clear_kill", order_id=None, payload=None, wait_s=args.wait)
    from cockpit.data.operator import check_allowed, operator_identity
    from cockpit.data.risk_store import RiskStore

    try:
        check_allowed("kill")
    except PermissionError as e:
        print(f"cockpit: {e}", file=sys.stderr)
        return 1

    # Persist the switch right away: new entries stop even before (or without) a running engine;
    # the queued command then cancels the open orders and closes the position.
    RiskStore().set_kill_switch(True, now_ms=_now_ms(), by=operator_identity(), reason=args.reason or "cockpit kill")
    print("kill switch ENGAGED: no new entries until `cockpit kill --clear`")
    payload = {"reason": args.reason} if args.reason else None
    return _submit_and_wait(ctx, "kill", order_id=None, payload=payload, wait_s=args.wait)
