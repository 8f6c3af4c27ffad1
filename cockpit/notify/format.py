"""Message texts: what the trader reads on a phone. Pure functions over database rows (dicts).

Amounts and prices are formatted for reading (thousands separators, trimmed decimals, the
currency named); times are UTC. Nothing here reads a clock or the database.

Text that came from outside (a model's rationale, an exchange's error) is sent without escape
sequences or control characters: ``first_line`` cleans what it picks, and ``Message.redacted`` (applied
to every message before it is queued) cleans the whole title and body as well.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from cockpit.domain.text import clean_text

# Apprise notify types: info | success | warning | failure
INFO, SUCCESS, WARNING, FAILURE = "info", "success", "warning", "failure"


@dataclass(frozen=True)
class Message:
    kind: str  # one of cockpit.config.NOTIFY_EVENTS, or "test"
    title: str
    body: str
    level: str = INFO

    def redacted(self, secrets: Iterable[str]) -> "Message":
        """Secrets blanked, control characters and escape sequences removed (the body keeps its lines)."""
        return Message(
            self.kind,
            redact(clean_text(self.title), secrets),
            redact(clean_text(self.body, one_line=False), secrets),
            self.level,
        )


def redact(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        if s and s in text:
            text = text.replace(s, "***")
    return text


# ---------------------------------------------------------------- numbers and times


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v == v else None  # NaN -> None


def price(x: Any, quote: str = "USDT") -> str:
    v = _f(x)
    if v is None:
        return "n/a"
    decimals = 2 if abs(v) >= 1 else 6
    return f"{v:,.{decimals}f} {quote}".strip()


def money(x: Any, ccy: str = "USDT", *, signed: bool = False) -> str:
    v = _f(x)
    if v is None:
        return "n/a"
    return f"{v:+,.2f} {ccy}" if signed else f"{v:,.2f} {ccy}"


def amount(x: Any, base: str = "BTC") -> str:
    v = _f(x)
    if v is None:
        return "n/a"
    s = f"{v:,.6f}".rstrip("0").rstrip(".")
    return f"{s} {base}"


def pct(x: Any, *, signed: bool = False) -> str:
    v = _f(x)
    if v is None:
        return "n/a"
    return f"{v * 100:+.2f}%" if signed else f"{v * 100:.2f}%"


def utc(ms: Any) -> str:
    v = _f(ms)
    if v is None:
        return "n/a"
    return _dt.datetime.fromtimestamp(v / 1000.0, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def duration(ms: Any) -> str:
    v = _f(ms)
    if v is None:
        return "n/a"
    s = max(0, int(round(v / 1000.0)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h {m}m" if m else f"{h}h"
    if m:
        return f"{m}m {sec}s" if sec else f"{m}m"
    return f"{sec}s"


def split_symbol(symbol: str) -> tuple[str, str]:
    """'BTC/USDT:USDT' -> ('BTC', 'USDT')."""
    base, _, rest = (symbol or "").partition("/")
    quote = rest.split(":")[0] if rest else "USDT"
    return base or "BTC", quote or "USDT"


def first_line(text: Any, limit: int = 200) -> str:
    for line in clean_text(text, one_line=False).splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


# ---------------------------------------------------------------- messages


def _order_head(order: Mapping[str, Any]) -> str:
    base, quote = split_symbol(order.get("symbol", ""))
    side = str(order.get("side", "")).upper()
    where = f"@ {price(order['price'], quote)}" if order.get("price") else "at market"
    return f"{side} {amount(order.get('amount'), base)} {where}"


def risk_summary(order: Mapping[str, Any]) -> list[str]:
    """What the risk check said, and the loss if the stop is hit."""
    ra = order.get("risk_assessment")
    lines: list[str] = []
    base, quote = split_symbol(order.get("symbol", ""))
    if isinstance(ra, Mapping):
        status = ra.get("status", "?")
        head = f"Risk check: {status}"
        req, ok = _f(ra.get("requested_amount")), _f(ra.get("approved_amount"))
        if status == "reduced" and req is not None and ok is not None:
            rules = [
                k for k, v in (ra.get("rules") or {}).items() if isinstance(v, Mapping) and v.get("status") == "reduced"
            ]
            head += f" from {amount(req, base)} to {amount(ok, base)}" + (f" by {', '.join(rules)}" if rules else "")
        lines.append(head)
        for reason in (ra.get("reasons") or [])[:3]:
            lines.append(f"  - {first_line(reason, 160)}")
        warns = [
            f"{k}: {v.get('detail')}"
            for k, v in (ra.get("rules") or {}).items()
            if isinstance(v, Mapping) and v.get("status") == "warn" and v.get("detail")
        ]
        for w in warns[:2]:
            lines.append(f"  ! {first_line(w, 160)}")
    inputs = ra.get("inputs", {}) if isinstance(ra, Mapping) else {}
    entry = _f(order.get("price")) or _f(inputs.get("mark_price") if isinstance(inputs, Mapping) else None)
    stop, amt = _f(order.get("stop_loss")), _f(order.get("amount"))
    equity = _f(inputs.get("equity")) if isinstance(inputs, Mapping) else None
    if entry and stop and amt:
        loss = abs(entry - stop) * amt
        line = f"Loss if stopped: {money(loss, quote)}"
        if equity:
            line += f" ({pct(loss / equity)} of equity {money(equity, quote)})"
        lines.append(line)
    return lines


def pending_approval(
    order: Mapping[str, Any],
    decision: Mapping[str, Any] | None,
    *,
    event_ms: int | None,
    label: str,
    ttl_s: float | None = None,
) -> Message:
    """``ttl_s``: execution.approval_ttl_s, the operator's (wall) time to decide. On an accelerated
    simulator ``expires_at`` is in exchange time and spans proportionally more, so the time left is
    stated from ``ttl_s`` when given."""
    oid = order.get("id")
    base, quote = split_symbol(order.get("symbol", ""))
    lines = [
        f"{_order_head(order)} {order.get('symbol', '')} (order #{oid}, {order.get('type', 'market')}"
        + (f", {float(order['leverage']):g}x" if _f(order.get("leverage")) else "")
        + ")"
    ]
    given = order.get("risk_assessment")
    ra: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    ref = _f(order.get("price")) or _f((ra.get("inputs") or {}).get("mark_price"))
    if ref and _f(order.get("amount")):
        lines.append(f"Notional: ≈ {money(ref * float(order['amount']), quote)} (reference {price(ref, quote)})")
    lines.append(
        f"Stop: {price(order.get('stop_loss'), quote) if order.get('stop_loss') else 'none'}"
        f" · Take profit: {price(order.get('take_profit'), quote) if order.get('take_profit') else 'none'}"
    )
    why = first_line((decision or {}).get("reasoning")) or first_line(order.get("reason"))
    if why:
        lines.append(f"Why: {why}")
    if decision:
        extra = []
        if decision.get("regime"):
            extra.append(f"regime {decision['regime']}")
        if _f(decision.get("confidence")) is not None:
            extra.append(f"confidence {float(decision['confidence']):.2f}")
        if decision.get("selector"):
            extra.append(f"selector {decision['selector']}")
        if extra:
            lines.append(f"Decision #{decision.get('id')}: " + ", ".join(extra))
    lines += risk_summary(order)
    exp = _f(order.get("expires_at"))
    if exp is not None:
        if ttl_s is not None:
            ttl = f"expires in {duration(ttl_s * 1000)} "
        else:
            ttl = f"expires in {duration(exp - event_ms)} " if event_ms is not None else "expires "
        lines.append(f"TTL: {ttl}(at {utc(exp)} exchange time)")
    lines.append(f"Approve: cockpit orders approve {oid}   Reject: cockpit orders reject {oid}")
    return Message(
        "pending_approval", f"{label} Approval needed: {_order_head(order)} (#{oid})", "\n".join(lines), WARNING
    )


def fills(order: Mapping[str, Any] | None, trades: Sequence[Mapping[str, Any]], *, label: str) -> Message:
    t0 = trades[0]
    symbol = t0.get("symbol") or (order or {}).get("symbol", "")
    base, quote = split_symbol(symbol)
    qty = sum(_f(t.get("amount")) or 0.0 for t in trades)
    notional = sum((_f(t.get("amount")) or 0.0) * (_f(t.get("price")) or 0.0) for t in trades)
    avg = notional / qty if qty else None
    fee = sum(_f(t.get("fee")) or 0.0 for t in trades)
    pnl = [_f(t.get("realized_pnl")) for t in trades if _f(t.get("realized_pnl")) is not None]
    oid = t0.get("order_id")
    side = str(t0.get("side", "")).upper()
    state = "Filled"
    if (
        order is not None
        and _f(order.get("amount"))
        and _f(order.get("filled")) is not None
        and float(order["filled"]) + 1e-12 < float(order["amount"])
    ):
        state = "Partially filled"
    lines = [
        f"{side} {amount(qty, base)} {symbol} @ {price(avg, quote)} (order #{oid}, "
        f"{len(trades)} fill{'s' if len(trades) != 1 else ''})",
        f"Notional: {money(notional, quote)} · Fee: {money(fee, quote)}",
    ]
    if pnl:
        lines.append(f"Realized PnL: {money(sum(pnl), quote, signed=True)}")
    if order is not None:
        if order.get("reduce_only"):
            lines.append("Reduce-only (closes or shrinks the position)")
        if _f(order.get("filled")) is not None and _f(order.get("amount")):
            lines.append(f"Order filled so far: {amount(order['filled'], base)} of {amount(order['amount'], base)}")
    return Message(
        "fill", f"{label} {state}: {side} {amount(qty, base)} @ {price(avg, quote)} (#{oid})", "\n".join(lines), SUCCESS
    )


def order_closed(order: Mapping[str, Any], event: Mapping[str, Any], *, label: str) -> Message:
    status = str(event.get("status"))
    oid = order.get("id")
    kind = "order_expired" if status == "expired" else "order_rejected"
    word = {"expired": "Expired", "rejected": "Rejected", "failed": "Failed"}.get(status, status.capitalize())
    lines = [f"{_order_head(order)} {order.get('symbol', '')} (order #{oid})"]
    if status == "expired":
        lines.append("Not approved within its time limit; nothing was sent to the exchange.")
    if order.get("decided_by"):
        lines.append(f"By: {order['decided_by']}")
    msg = first_line(event.get("message")) or first_line(order.get("reason"))
    if msg:
        lines.append(f"Reason: {msg}")
    ra = order.get("risk_assessment")
    if isinstance(ra, Mapping):
        for reason in (ra.get("reasons") or [])[:3]:
            lines.append(f"  - {first_line(reason, 160)}")
    lines.append(f"At: {utc(event.get('timestamp'))}")
    return Message(
        kind,
        f"{label} {word}: {_order_head(order)} (#{oid})",
        "\n".join(lines),
        INFO if status == "expired" else WARNING,
    )


def risk_event(ev: Mapping[str, Any], *, label: str) -> Message:
    details = ev.get("details")
    text = ""
    if isinstance(details, Mapping):
        text = first_line(
            details.get("detail")
            or details.get("error")
            or details.get("reason")
            or details.get("message")
            or ", ".join(f"{k}={v}" for k, v in list(details.items())[:6] if not isinstance(v, (dict, list)))
        )
    elif details:
        text = first_line(details, 300)
    level = str(ev.get("level", "WARN")).upper()
    lines = [f"{level} {ev.get('rule')} on {ev.get('symbol')}"]
    if text:
        lines.append(text)
    lines.append(f"At: {utc(ev.get('timestamp'))}")
    return Message(
        "risk",
        f"{label} Risk {level}: {ev.get('rule')}" + (f" — {first_line(text, 80)}" if text else ""),
        "\n".join(lines),
        FAILURE if level in ("ERROR", "CRITICAL") else WARNING,
    )


def halt(what: str, state: Mapping[str, Any] | None, *, label: str, now_ms: int | None) -> Message:
    """``what`` is 'kill_switch' or 'drawdown_halt'; ``state`` the engine_state value (None = cleared)."""
    name = "Kill switch" if what == "kill_switch" else "Drawdown halt"
    if state is None:
        return Message(
            "halt", f"{label} {name} cleared", f"{name} cleared at {utc(now_ms)}; new entries may trade again.", SUCCESS
        )
    lines = [f"{name} ENGAGED since {utc(state.get('since'))}: no new entries until it is cleared."]
    if state.get("by"):
        lines.append(f"By: {state['by']}")
    if state.get("reason"):
        lines.append(f"Reason: {first_line(state['reason'])}")
    if what == "drawdown_halt":
        if state.get("drawdown") is not None:
            lines.append(
                f"Drawdown: {pct(state.get('drawdown'))} (peak {money(state.get('peak'))}, "
                f"equity {money(state.get('equity'))})"
            )
    lines.append("Clear with: cockpit kill --clear")
    return Message("halt", f"{label} {name} ENGAGED", "\n".join(lines), FAILURE)


def engine(event: str, beat: Mapping[str, Any], *, label: str) -> Message:
    """``event``: started | stopped | restarted (after an unclean stop)."""
    lines = []
    if event == "restarted":
        lines.append("The engine restarted after an unclean stop (the last run never wrote a clean stop).")
    lines.append(f"Mode: {beat.get('mode', '?')} · state {beat.get('state', '?')} · clock {utc(beat.get('ts'))}")
    if beat.get("equity") is not None:
        lines.append(f"Equity: {money(beat.get('equity'))}")
    pos = beat.get("position")
    if isinstance(pos, Mapping) and pos.get("size"):
        lines.append(f"Position: {pos.get('side')} {amount(pos.get('size'))} @ {price(pos.get('entry_price'))}")
    elif "position" in beat:
        lines.append("Position: flat")
    if beat.get("pending_approvals"):
        lines.append(f"Pending approvals: {beat['pending_approvals']}")
    if beat.get("kill_switch"):
        lines.append("Kill switch: ENGAGED")
    if event == "stopped" and beat.get("errors"):
        lines.append(f"Errors during the run: {beat['errors']}")
    title = {
        "started": "Engine started",
        "stopped": "Engine stopped",
        "restarted": "Engine restarted after a crash",
    }.get(event, f"Engine {event}")
    return Message("engine", f"{label} {title}", "\n".join(lines), WARNING if event == "restarted" else INFO)


def daily_summary(s: Mapping[str, Any], *, label: str) -> Message:
    quote = s.get("quote", "USDT")
    lines = [f"{utc(s['start'])} → {utc(s['end'])}"]
    lines.append(
        f"Equity: {money(s.get('equity'), quote)}"
        + (f" (start {money(s.get('equity_start'), quote)})" if s.get("equity_start") is not None else "")
    )
    if s.get("pnl") is not None:
        lines.append(
            f"PnL: {money(s['pnl'], quote, signed=True)}"
            + (f" ({pct(s['pnl_pct'], signed=True)})" if s.get("pnl_pct") is not None else "")
        )
    lines.append(
        f"Realized PnL: {money(s.get('realized_pnl', 0.0), quote, signed=True)} · "
        f"Fees: {money(s.get('fees', 0.0), quote)}"
    )
    if s.get("funding_rate_avg") is not None:
        lines.append(
            f"Funding: {s.get('funding_events', 0)} settlements, average rate {pct(s['funding_rate_avg'])} "
            "(payments are included in equity)"
        )
    else:
        lines.append("Funding: no settlements recorded")
    lines.append(
        f"Decisions: {s.get('decisions', 0)} · Approvals: {s.get('approvals', 0)} · "
        f"Rejected: {s.get('rejected', 0)} · Expired: {s.get('expired', 0)} · Fills: {s.get('fills', 0)}"
    )
    if s.get("position"):
        lines.append(f"Position: {s['position']}")
    return Message(
        "daily_summary",
        f"{label} Daily summary {utc(s['end'])[:10]}: "
        + (f"PnL {money(s['pnl'], quote, signed=True)}" if s.get("pnl") is not None else "no equity data"),
        "\n".join(lines),
        INFO,
    )
