"""Trade management by the operator: close the position, move its stop-loss / take-profit, cancel all
open orders. Each is an operator command (``cockpit.data.operator``) the engine's OrderManager executes
in order with approvals and the kill switch; who sent it is on the command row, on the orders it makes
and in the risk event it writes.

* ``close_position``: one reduce-only market order for the whole position (the larger of the exchange's
  and the ledger's, as the kill switch does), through the risk check; no kill switch, no halt. The
  operator's confirmation is the approval (decided_by = the operator).
* ``set_stop_loss`` / ``set_take_profit``: checked by ``cockpit.risk.protection`` against the mark price
  now; the live protective (algo) orders on the exchange are amended, or one closing the whole position
  is placed when there is none. The newest entry order's level is updated, so the chart, open risk and
  the exit reason of a later stop-out follow the level in force.
* ``cancel_all``: every order waiting for approval, approved or working on the exchange. The protective
  stop-loss / take-profit of the position stay (they are the position's, not orders to cancel).

Failures are reported as (False, why); nothing is guessed: an unreadable position or a missing mark price
refuses the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cockpit.domain.orders import OrderIntent, OrderStatus
from cockpit.domain.signals import RiskLevel
from cockpit.execution.ids import system_client_id
from cockpit.risk.manager import round_to_step
from cockpit.risk.protection import KINDS, check_protection

if TYPE_CHECKING:
    from cockpit.execution.manager import OrderManager

S = OrderStatus
COMMANDS = ("close_position", "set_stop_loss", "set_take_profit", "cancel_all")
OPEN = (S.PENDING_APPROVAL, S.APPROVED, S.SUBMITTED, S.PARTIALLY_FILLED)
_EPS = 1e-9


def run(
    om: "OrderManager", command: str, who: str, payload: dict[str, Any], *, command_id: int | None = None
) -> tuple[bool, str]:
    """Execute one trade-management command; (ok, result text for the operator_commands row). ``command_id``
    (the operator_commands row) names the closing order, so one command makes at most one order."""
    try:
        expect = payload.get("side")  # the position the operator saw when deciding (the TUI sends it)
        if expect is not None and expect not in ("long", "short"):
            return False, f"side must be long or short, got {expect!r}"
        if command == "close_position":
            return close_position(
                om, by=who, reason=str(payload.get("reason") or ""), expect=expect, command_id=command_id
            )
        if command == "cancel_all":
            return cancel_all(om, by=who, reason=str(payload.get("reason") or ""))
        if command in ("set_stop_loss", "set_take_profit"):
            price = payload.get("price")
            if not isinstance(price, (int, float)) or isinstance(price, bool):
                return False, f"{command.replace('_', ' ')}: price missing or not a number ({price!r})"
            return set_protection(om, command[4:], float(price), by=who, expect=expect)
        return False, f"unknown trade command {command!r}"
    except Exception as e:  # noqa: BLE001 - the exchange's refusal (ccxt errors too) is the command's result
        return False, f"{type(e).__name__}: {e}"[:500]


def _position(om: "OrderManager") -> tuple[str, float, Any]:
    check = om.check_position()
    worst = check.worst_signed()
    side = "long" if worst > _EPS else "short" if worst < -_EPS else "flat"
    return side, abs(worst), check


def _changed(side: str, expect: str | None, what: str) -> str | None:
    """Why nothing is done when the position is no longer the one the operator decided on."""
    if expect is not None and side != expect:
        return f"the position is now {side}, not {expect} as when the command was sent: {what}"
    return None


def close_position(
    om: "OrderManager", *, by: str, reason: str = "", expect: str | None = None, command_id: int | None = None
) -> tuple[bool, str]:
    side, size, check = _position(om)
    if side == "flat":
        if not check.confirmed:
            return False, f"position unknown ({check.note}): nothing closed"
        return False, "no open position to close"
    changed = _changed(side, expect, "nothing closed")
    if changed:
        return False, changed
    now = om.clock.now_ms()
    why = "manual close by " + by + (f": {reason}" if reason else "")
    intent = OrderIntent(
        om.symbol, "sell" if side == "long" else "buy", size, "market", reduce_only=True, reason="manual close"
    )
    result = om.risk.check(intent, om.account_state(), om.market_state())
    if result.rejected:
        return False, "close refused by the risk check: " + "; ".join(result.reasons)
    from cockpit.execution.manager import _order_from

    # One order per command (a second close in the same millisecond is a second order, a retried command is not).
    cid = system_client_id(om.namespace, "c", command_id if command_id is not None else now)
    oid, created = om.store.create(
        _order_from(result, cid),
        now_ms=now,
        mode=om.mode,
        status=S.APPROVED,
        message=why,
        reason="manual close",
        risk_assessment=result.assessment,
    )
    if created:
        om.store.update(oid, now_ms=now, decided_by=by, decided_at=now)
        om._submit(oid)
    o = om.store.get(oid)
    om.risk.record(
        om.symbol,
        RiskLevel.INFO,
        "manual_close",
        {"action": f"closed the {side} position with order {oid}", "by": by, "size": size, "status": o.status.value},
    )
    ok = o.status not in (S.REJECTED, S.FAILED, S.CANCELED, S.EXPIRED)
    note = "" if check.confirmed else f" (position unconfirmed: {check.note})"
    return ok, f"closing the {side} {size:g} BTC with order {oid} ({o.status.value}){note}"


def cancel_all(om: "OrderManager", *, by: str, reason: str = "") -> tuple[bool, str]:
    n, errors = 0, []
    for o in om.store.with_status(OPEN, symbol=om.symbol):
        try:
            after = om.cancel(o.row_id, by=by, reason=reason or "cancel all")
            n += after.status == S.CANCELED
        except Exception as e:  # noqa: BLE001 - keep going; report each failure
            errors.append(f"order {o.id}: {e}")
    if n or errors:
        om.risk.record(
            om.symbol,
            RiskLevel.INFO,
            "cancel_all",
            {"action": f"canceled {n} open order(s)", "by": by, **({"errors": errors} if errors else {})},
        )
    if errors:
        return False, f"canceled {n} order(s); failed: {'; '.join(errors)}"
    return True, f"canceled {n} open order(s)" if n else "no open orders to cancel"


def set_protection(
    om: "OrderManager", kind: str, price: float, *, by: str, expect: str | None = None
) -> tuple[bool, str]:
    """Move the position's ``kind`` ('stop_loss' or 'take_profit') to ``price``."""
    name = KINDS[kind]
    check = om.check_position()
    pos = check.position
    if not check.confirmed or pos is None:
        return False, f"position unconfirmed ({check.note}): the {name} was not moved"
    changed = _changed(pos.side, expect, f"the {name} was not moved") if pos.side in ("long", "short") else None
    if changed:
        return False, changed
    market = om.market_state()
    price = round_to_step(price, market.price_step) if market.price_step else price
    close_side = "sell" if pos.side == "long" else "buy"
    entry = _latest_entry(om, "buy" if pos.side == "long" else "sell")
    live = [p for p in om.executor.protective_orders(om.symbol) if p.side == close_side]
    current = next((getattr(p, kind) for p in live if getattr(p, kind)), None)
    if current is None and entry is not None:
        current = getattr(entry, kind)
    try:
        equity = om.executor.account().equity
    except Exception:  # noqa: BLE001 - the per-trade rule then refuses a widening stop
        equity = None
    reasons = check_protection(
        om.risk.limits,
        kind=kind,
        price=price,
        side=pos.side,
        size=pos.size,
        mark=market.mark_price,
        equity=equity,
        current=current,
    )
    if reasons:
        om.risk.record(
            om.symbol,
            RiskLevel.WARN,
            kind,
            {"action": f"refused to move the {name}", "by": by, "price": price, "reasons": reasons},
        )
        return False, f"{name} not moved: " + "; ".join(reasons)
    levels = {kind: price}
    if live:
        for p in live:
            om.executor.amend_protection(om.symbol, p.algo_id, **levels)
        how = f"amended {len(live)} protective order(s) on the exchange"
    else:
        aid = om.executor.place_protection(
            om.symbol, close_side, stop_loss=levels.get("stop_loss"), take_profit=levels.get("take_profit")
        )
        how = f"placed protective order {aid} on the exchange (closes the whole position)"
    now = om.clock.now_ms()
    if entry is not None:
        om.store.update(entry.id, now_ms=now, **levels)
    was = f"{current:,.1f}" if current else "none"
    om.risk.record(
        om.symbol,
        RiskLevel.INFO,
        kind,
        {
            "action": f"{name} moved {was} -> {price:,.1f}",
            "by": by,
            "mark": market.mark_price,
            "position": pos.signed_size,
            "note": how,
        },
    )
    return True, f"{name} {price:,.1f} (was {was}) on the {pos.side} {pos.size:g} BTC; {how}"


def _latest_entry(om: "OrderManager", side: str):
    for o in reversed(om.store.with_status((S.FILLED, S.PARTIALLY_FILLED), symbol=om.symbol)):
        if o.side == side and not o.reduce_only:
            return o
    return None
