"""Pure formatting: snapshot rows -> Rich Text for the panes. No Textual, no clock reads.

Colours are named ANSI/256-colour styles so the distinctions hold without truecolor
(long green, short red, flat dim; INFO dim, WARN yellow, ERROR red, CRITICAL reverse red).
"""

from __future__ import annotations

import math
import time
from typing import Any

from rich.text import Text

from cockpit.data.account import exit_reason
from cockpit.domain import approval
from cockpit.domain.events import risk_sentence
from cockpit.domain.text import clean_text

LEVEL_STYLE = {
    "INFO": "dim",
    "WARN": "yellow",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold reverse red",
}
STATUS_STYLE = {
    "pending_approval": "bold yellow",
    "approved": "cyan",
    "submitted": "cyan",
    "partially_filled": "cyan",
    "filled": "green",
    "rejected": "red",
    "canceled": "dim",
    "expired": "dim",
    "failed": "bold red",
    "new": "",
}


ORDER_TYPE = {"market": "mkt", "limit": "lmt"}
WHY_MAX = 300  # characters of the decision's reasoning under an order (two lines at 160 columns), cut with …
STATUS_LABEL = {"pending_approval": "PENDING", "partially_filled": "PARTIAL"}


def cut_words(s: str, n: int) -> str:
    """``s`` in at most ``n`` characters, cut at a space (never inside a number or a word) and ending in …"""
    if len(s) <= n:
        return s
    head = s[: n - 1]
    if " " in head and s[n - 1] != " ":
        head = head[: head.rindex(" ")]
    return head.rstrip(" ,;:") + "…"


def side_style(side: str | None) -> str:
    s = (side or "").lower()
    if s in ("long", "buy"):
        return "green"
    if s in ("short", "sell"):
        return "red"
    return "dim"


def num(v: Any, nd: int = 1, *, sign: bool = False) -> str:
    if v is None:
        return "—"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f"{f:+,.{nd}f}" if sign else f"{f:,.{nd}f}"


def big(v: Any) -> str:
    if v is None:
        return "—"
    f = float(v)
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(f) >= div:
            return f"{f / div:.2f}{unit}"
    return f"{f:.0f}"


def hms(ms: int | None) -> str:
    """UTC HH:MM of an epoch-ms timestamp (formatting only; never reads the clock)."""
    if ms is None:
        return "--:--"
    return time.strftime("%H:%M", time.gmtime(int(ms) / 1000))


def hms_s(ms: int | None) -> str:
    if ms is None:
        return "--:--:--"
    return time.strftime("%H:%M:%S", time.gmtime(int(ms) / 1000))


def day(ms: float | None) -> str:
    if ms is None:
        return "—"
    return time.strftime("%Y-%m-%d", time.gmtime(int(ms) / 1000))


def duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    s = max(0, int(ms) // 1000)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def age(ms: int | None) -> str:
    if ms is None:
        return "—"
    s = max(0.0, ms / 1000)
    if s < 60:
        return f"{s:.1f}s"
    if s < 3600:
        return f"{s / 60:.0f}m"
    return f"{s / 3600:.1f}h"


# ------------------------------------------------------------------ header


def position_parts(pos: dict[str, Any] | None) -> tuple[str, str, float | None]:
    """(side label, size/entry text, uPnL) of a position snapshot; flat when none."""
    if not pos or not pos.get("size") or (pos.get("side") or "").lower() in ("flat", "none", ""):
        return "FLAT", "", None
    side = str(pos["side"]).upper()
    return side, f"{float(pos['size']):g} @{num(pos.get('entry_price'), 0)}", pos.get("unrealized_pnl")


def exchange_now(snap: Any, now_ms: int) -> int:
    """The exchange's clock now: the heartbeat's exchange time advanced by the wall time since it,
    times the simulator's speed (1 on OKX). Falls back to ``now_ms`` (cockpit.domain.approval)."""
    return approval.exchange_now(getattr(snap, "heartbeat", None), now_ms)


def header_text(
    snap: Any, symbol: str, now_ms: int, *, compact: bool, initial_equity: float | None, note: str = ""
) -> Text:
    """Compact: one line (price, equity, position, heartbeat). Wide: market line + account line."""
    t = Text(no_wrap=True, overflow="ellipsis")
    p = snap.price or {}
    if not compact:
        t.append(f" {symbol} ", "bold")
    t.append(" last ", "dim")
    t.append(num(p.get("last_price")), "bold")
    # What the engine says about its own inputs (heartbeat): shown first, so no width can clip it.
    beat = snap.heartbeat or {}
    if beat.get("stale_data"):
        t.append(" STALE DATA" if not compact else " STALE", "bold red")
    if beat.get("db_write_failures"):
        t.append(" DB WRITES FAILING" if not compact else " DB FAIL", "bold red")
    if beat.get("stream") in ("stale", "reconnecting"):  # the streams are down: prices follow REST polling
        t.append(" STREAM " + str(beat["stream"]).upper() if not compact else " STREAM?", "bold yellow")
    if not compact:
        t.append("  mark ", "dim")
        t.append(num(p.get("mark_price")))
        t.append("  idx ", "dim")
        carried = getattr(snap, "index_read", None)
        if p.get("index_price") is None and carried and p.get("timestamp") is not None:
            # The newest price row (from the streams) has no index price: the last one read, with its age.
            t.append(num(carried["index_price"]))
            t.append(f" {age(int(p['timestamp']) - int(carried['timestamp']))} old", "yellow")
        else:
            t.append(num(p.get("index_price")))
        f = snap.funding or {}
        if f:
            rate = float(f.get("funding_rate") or 0) * 100
            t.append("  fund ", "dim")
            t.append(f"{rate:+.4f}%", "green" if rate >= 0 else "red")
            nxt = f.get("next_funding_time")
            if nxt == nxt and nxt is not None:  # NaN-safe
                left = int(nxt) - exchange_now(snap, now_ms)
                # Past the stored funding time the rate is being settled and the next time is not read
                # yet (the next funding row brings it): say so rather than count down from 00:00:00.
                t.append(f" in {duration(left)}" if left >= 1000 else " settling", "dim")
        t.append("  OI ", "dim")
        t.append(
            big(
                (snap.open_interest or {}).get("open_interest_value") or (snap.open_interest or {}).get("open_interest")
            )
        )
        t.append("  L/S ", "dim")
        t.append(num((snap.long_short or {}).get("ratio"), 2))
        t.append("\n ")
    else:
        t.append(" ")
    bal = snap.balance
    t.append("eq ", "dim")
    if bal:
        eq = float(bal["total"])
        t.append(num(eq, 0 if compact else 1), "bold")
        if initial_equity and not compact:
            ch = (eq / initial_equity - 1) * 100
            t.append(f" ({ch:+.1f}%)", "green" if ch >= 0 else "red")
    else:
        t.append("—")
    side, what, upnl = position_parts(snap.position)
    t.append("  ")
    if not compact:
        t.append("pos ", "dim")
    t.append(side, side_style(side))
    if what:
        t.append(f" {what}" if not compact else f" {what.split(' @')[0]}")
    if upnl is not None:
        t.append("  uPnL " if not compact else " ", "dim")
        t.append(num(upnl, 1, sign=True), "green" if float(upnl) >= 0 else "red")
    hb = snap.heartbeat_ms
    t.append("  ♥ ", "dim")
    if hb is None:
        t.append("no engine", "yellow")
    else:
        a = now_ms - hb
        t.append(age(a), "red" if a > 30_000 else ("yellow" if a > 10_000 else "green"))
        state = (snap.heartbeat or {}).get("state")
        if state and state not in ("running",):
            t.append(f" {state}", "yellow")
        speed = (snap.heartbeat or {}).get("speed")
        if speed and not compact and float(speed) != 1:
            t.append(f" sim×{float(speed):g}", "dim")
    if note and not compact:
        t.append(f"  {note}", "dim")
    return t


# ------------------------------------------------------------------ strategy weights

_ALIASES = {
    "signal": ("signal", "direction", "side"),
    "strength": ("strength",),
    "score": ("score", "scorer", "score_weight", "scorer_weight"),
    "llm": ("llm", "llm_weight"),
    "final": ("final", "final_weight", "weight"),
    "disabled": ("disabled", "disabled_reason", "off", "reason_disabled"),
}


def _pick(d: dict[str, Any], key: str) -> Any:
    for k in _ALIASES[key]:
        if k in d and d[k] is not None:
            return d[k]
    return None


def weight_rows(weights: Any) -> list[dict[str, Any]]:
    """Normalise a decision's ``weights`` JSON (mapping or list, a few key spellings) to rows."""
    rows: list[dict[str, Any]] = []
    if isinstance(weights, dict):
        items = [(k, v) for k, v in weights.items()]
    elif isinstance(weights, list):
        items = [(w.get("strategy") or w.get("name") or "?", w) for w in weights if isinstance(w, dict)]
    else:
        return rows
    for name, v in items:
        if not isinstance(v, dict):
            v = {"final": v}
        rows.append({"strategy": str(name), **{k: _pick(v, k) for k in _ALIASES}})
    # Weight first; among equal weights (most are 0 when one strategy holds the capital) the strategies that
    # ran before those switched off, each by score, so the pane reads as the selector ranked them.
    rows.sort(
        key=lambda r: (-_num_or(r["final"], -1), bool(r["disabled"]), -_num_or(r["score"], -math.inf), r["strategy"])
    )
    return rows


def _num_or(v: Any, missing: float) -> float:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else missing


def bar(frac: float, width: int) -> str:
    frac = max(0.0, min(1.0, frac))
    eighths = int(round(frac * width * 8))
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(width)


def weights_text(decision: dict[str, Any] | None, *, bar_width: int = 10) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    if not decision:
        t.append("no decision yet", "dim")
        return t
    rows = weight_rows(decision.get("weights"))
    if not rows:
        t.append(f"decision #{decision['id']} {decision.get('action')}: no per-strategy weights recorded", "dim")
        return t
    t.append(f"{'strategy':<16} {'signal':<8} {'score':>5} {'llm':>5}  {'final':<{bar_width + 6}}\n", "bold dim")
    for i, r in enumerate(rows):
        sig = r["signal"]
        sig_s = str(sig.value if hasattr(sig, "value") else sig or "—").upper()
        if r["strength"] is not None and sig_s not in ("FLAT", "—"):
            sig_s += f" {float(r['strength']):.1f}".replace("0.", ".")
        t.append(f"{r['strategy'][:16]:<16} ")
        t.append(f"{sig_s[:8]:<8} ", side_style(str(sig or "").lower()))
        t.append(f"{_fmt_w(r['score']):>5} {_fmt_w(r['llm']):>5}  ")
        if r["disabled"]:
            why = r["disabled"] if isinstance(r["disabled"], str) else "disabled"
            t.append(why[: bar_width + 6], "dim italic")
        else:
            f = float(r["final"]) if isinstance(r["final"], (int, float)) else 0.0
            t.append(bar(f, bar_width), "cyan")
            t.append(f" {f:.2f}")
        if i < len(rows) - 1:
            t.append("\n")
    return t


def _fmt_w(v: Any) -> str:
    if v is None:
        return "—"
    try:
        return f"{float(v):.2f}"
    except (TypeError, ValueError):
        return str(v)[:5]


def regime_label(decision: dict[str, Any] | None) -> str:
    r = (decision or {}).get("regime")
    return str(r).replace("_", " ").upper() if r else "—"


# ------------------------------------------------------------------ rationale


def rationale_title(decision: dict[str, Any] | None, run: dict[str, Any] | None, prompt: str | None) -> str:
    if not decision:
        return "LLM rationale"
    parts = ["LLM rationale"]
    selector = decision.get("selector") or ("llm" if decision.get("llm_run_id") else "offline")
    if run and run.get("model"):
        parts.append(str(run["model"]))
    else:
        parts.append(selector)
    if prompt:
        parts.append(f"prompt {prompt}")
    if run and run.get("latency_ms") is not None:
        parts.append(f"{run['latency_ms'] / 1000:.1f}s")
    parts.append(hms(decision.get("timestamp")))
    return " · ".join(parts)


def rationale_text(decisions: list[dict[str, Any]], runs: dict[int, dict[str, Any]]) -> Text:
    t = Text()
    if not decisions:
        t.append("no decision yet — the engine writes one per closed bar of the decision timeframe", "dim")
        return t
    d = decisions[0]
    selector = d.get("selector") or ("llm" if d.get("llm_run_id") else "offline")
    t.append(
        f"{str(d.get('action', '')).upper()}",
        side_style({"buy": "long", "sell": "short"}.get(d.get("action") or "", "")),
    )
    if d.get("confidence") is not None:
        t.append(f"  conf {float(d['confidence']):.2f}")
    t.append(f"  selector {selector}", "dim")
    if d.get("target_exposure") is not None:
        t.append(f"  target {float(d['target_exposure']):+.2f}", "dim")
    t.append("\n")
    if selector == "offline":
        t.append("No LLM configured: the offline scorer chose the weights.\n", "dim italic")
    # Stored text is cleaned when written; cleaned again here so no older row can drive the terminal.
    if d.get("fallback_reason"):
        t.append(f"fallback: {clean_text(d['fallback_reason'])}\n", "yellow")
    t.append(clean_text(d.get("reasoning") or "(no rationale recorded)", one_line=False).strip() + "\n")
    run = runs.get(d.get("llm_run_id") or -1)
    if run and run.get("error"):
        t.append(f"LLM error: {clean_text(run['error'])}\n", "red")
    for h in decisions[1:]:
        sel = h.get("selector") or ("llm" if h.get("llm_run_id") else "offline")
        t.append(f"▸ {hms(h.get('timestamp'))} {h.get('action')} ", "dim")
        if h.get("fallback_reason"):
            t.append(f"(fallback: {clean_text(h['fallback_reason'])}) ", "yellow")
        else:
            t.append(f"({sel}) ", "dim")
        t.append(cut_words(clean_text((h.get("reasoning") or "").split("\n")[0]), 120) + "\n", "dim")
    t.rstrip()
    return t


# ------------------------------------------------------------------ risk events


def risk_text(events: list[dict[str, Any]], *, limit: int = 100) -> Text:
    """Newest first, one line each: date and time, level, rule, and the stored details as a sentence
    (cockpit.domain.events), never raw JSON."""
    t = Text(no_wrap=True, overflow="ellipsis")
    if not events:
        t.append("no risk events", "dim")
        return t
    for i, e in enumerate(events[:limit]):
        lvl = str(e.get("level", "")).upper()
        style = LEVEL_STYLE.get(lvl, "")
        ts = e.get("timestamp")
        t.append(time.strftime("%m-%d %H:%M ", time.gmtime(int(ts) / 1000)) if ts is not None else "--:-- ", "dim")
        t.append(f"{lvl:<5}" if lvl != "CRITICAL" else "CRIT ", style)
        t.append(f" {str(e.get('rule', ''))}: ", style if lvl in ("ERROR", "CRITICAL") else "bold")
        t.append(risk_sentence(str(e.get("rule", "")), e.get("details")), "dim" if lvl == "INFO" else "")
        if i < min(len(events), limit) - 1:
            t.append("\n")
    return t


# ------------------------------------------------------------------ orders


def approval_left_ms(o: dict[str, Any], exchange_now_ms: int, speed: float = 1.0) -> int | None:
    """Operator (wall) time left to approve: ``expires_at`` is in exchange time, which runs ``speed``
    times faster on an accelerated simulator."""
    if not o.get("expires_at"):
        return None
    return int((o["expires_at"] - exchange_now_ms) / (speed or 1.0))


def order_summary(o: dict[str, Any], now_ms: int, speed: float = 1.0, *, outcome: str = "", keys: bool = True) -> Text:
    """``now_ms``: the exchange's clock now (see exchange_now). ``outcome``: why the order is no longer
    waiting for approval (Snapshot.outcomes); ``keys``: end a pending row with the approve/reject keys."""
    t = Text(no_wrap=True, overflow="ellipsis")
    st = o["status"]
    t.append(f"#{o['id']:<4} ")
    t.append(f"{STATUS_LABEL.get(st, st.upper()):<9}", STATUS_STYLE.get(st, ""))
    if st == "pending_approval":
        left = approval_left_ms(o, now_ms, speed)
        t.append(f"{approval.countdown(left) if left is not None else '':>6} ", "bold yellow")
    else:
        t.append(" " * 7)
    t.append(f"{o['side']} ", side_style(o["side"]))
    t.append(f"{float(o['amount']):g} BTC {ORDER_TYPE.get(o['type'], o['type'])}")
    if o.get("reduce_only"):
        t.append(" RO", "dim")
        why = exit_reason(o)  # why it closes: stop-loss, take-profit, manual, kill switch, signal, ...
        t.append(f" {why}", "bold red" if why in ("stop-loss", "liquidation", "kill switch") else "yellow")
    if o.get("average_price"):
        t.append(f"  @{num(o['average_price'])}")
    elif o.get("price"):
        t.append(f"  lim {num(o['price'])}")
    if o.get("stop_loss"):
        t.append(f"  SL {num(o['stop_loss'], 0)}", "red")
    if o.get("take_profit"):
        t.append(f"  TP {num(o['take_profit'], 0)}", "green")
    if o.get("fee"):
        t.append(f"  fee {float(o['fee']):.2f}", "dim")
    ra = o.get("risk_assessment")
    if isinstance(ra, dict):
        pct = ra.get("risk_pct_equity")  # the risk manager's loss at the stop, as a fraction of equity
        if pct is not None:
            t.append(f"  risk {float(pct) * 100:.1f}%" + (" eq" if keys else ""), "yellow")
    if st == "pending_approval" and keys:
        t.append("  [a]pprove [r]eject", "bold")
    if outcome and st != "pending_approval":
        t.append(f"  {outcome}", "dim")
    return t


_RA_SHOWN = {
    "status",
    "checked_at",
    "requested_amount",
    "approved_amount",
    "notional",
    "risk_amount",
    "risk_pct_equity",
    "reasons",
    "inputs",
    "rules",
}


def risk_assessment_text(ra: Any) -> str:
    """The risk manager's assessment of an order as a trader reads it: verdict, size, notional, the
    loss at the stop against equity, and every rule that did more than pass (reduced, adjusted,
    warned, rejected) with its reason. Keys it does not know are listed as they are."""
    if not ra:
        return ""
    if not isinstance(ra, dict):
        return str(ra)
    parts: list[str] = []
    if ra.get("status"):
        parts.append(str(ra["status"]).upper())
    asked, got = ra.get("requested_amount"), ra.get("approved_amount")
    if got is not None:
        same = asked is None or abs(float(asked) - float(got)) < 1e-12
        parts.append(f"{float(got):g} BTC" + ("" if same or asked is None else f" (asked {float(asked):g})"))
    if ra.get("notional") is not None:
        parts.append(f"notional {num(ra['notional'], 0)}")
    inputs = ra.get("inputs")
    if not isinstance(inputs, dict):
        inputs = {}
    if ra.get("risk_amount") is not None:
        at_stop = f"loss at stop {num(ra['risk_amount'], 2)}"
        if ra.get("risk_pct_equity") is not None:
            at_stop += f" = {float(ra['risk_pct_equity']) * 100:.2f}%"
            if inputs.get("equity") is not None:
                at_stop += f" of equity {num(inputs['equity'], 0)}"
        parts.append(at_stop)
    if inputs.get("mark_price") is not None:
        parts.append(f"mark {num(inputs['mark_price'])}")
    rules = ra.get("rules")
    if not isinstance(rules, dict):
        rules = {}
    if rules:
        passed = sum(1 for r in rules.values() if isinstance(r, dict) and r.get("status") in ("pass", "skipped"))
        parts.append(f"{passed}/{len(rules)} rules passed")
        for name, r in rules.items():
            if isinstance(r, dict) and r.get("status") not in ("pass", "skipped"):
                detail = f": {r['detail']}" if r.get("detail") else ""
                parts.append(f"{name} {r.get('status')}{detail}")
    elif ra.get("reasons"):
        parts.extend(str(x) for x in ra["reasons"])
    for k, v in ra.items():
        if k in _RA_SHOWN:
            continue
        if isinstance(v, float):
            v = f"{v:.4g}"
        elif isinstance(v, (list, dict)):
            v = json_short(v)
        parts.append(f"{k}={v}")
    return " · ".join(parts)


def json_short(v: Any) -> str:
    import json

    s = json.dumps(v, separators=(",", ":"), default=str)
    return s if len(s) < 60 else s[:57] + "..."


def timeline_text(
    order: dict[str, Any] | None,
    events: list[dict[str, Any]],
    fills: list[dict[str, Any]],
    decision: dict[str, Any] | None,
) -> Text:
    """The selected order's detail. A pending order starts with what the trader reads before pressing
    ``a``: the risk verdict and how its size came about (which cap sized it); then the timeline."""
    t = Text()
    if not order:
        t.append("no orders yet", "dim")
        return t
    pending = order["status"] == "pending_approval"
    if pending:
        ra = risk_assessment_text(order.get("risk_assessment"))
        t.append(f"#{order['id']} risk: ", "bold")
        t.append(ra or "no risk assessment recorded", "yellow")
        if order.get("reason"):
            t.append("\n  size: ", "bold")
            t.append(clean_text(str(order["reason"])))
        t.append("\n")
    t.append(f"timeline #{order['id']}: ", "bold")
    if events:
        for i, e in enumerate(events):
            if i:
                t.append(" → ", "dim")
            t.append(e["status"], STATUS_STYLE.get(e["status"], ""))
            t.append(f" {hms_s(e['timestamp'])}", "dim")
            if e.get("message"):
                t.append(f" ({e['message']})", "dim")
    else:
        t.append("no lifecycle events", "dim")
    for f in sorted(fills, key=lambda f: f["id"]):
        t.append(
            f"\n  fill {hms_s(f['timestamp'])} {f['side']} {float(f['amount']):g} @ {num(f['price'])}"
            f" fee {float(f.get('fee') or 0):.2f}",
            side_style(f["side"]),
        )
        if f.get("realized_pnl"):
            t.append(f" pnl {num(f['realized_pnl'], 2, sign=True)}")
    if order.get("reason") and not pending:
        t.append(f"\n  reason: {order['reason']}", "dim")
    if decision and decision.get("reasoning"):
        t.append(f"\n  why (decision #{decision['id']}): ", "dim")
        t.append(cut_words(clean_text(decision["reasoning"].split("\n")[0]), WHY_MAX))
    return t


def banner_text(
    pending: list[dict[str, Any]],
    now_ms: int,
    speed: float = 1.0,
    *,
    target: dict[str, Any] | None = None,
    outcome: str = "",
) -> Text:
    """The approval banner. ``now_ms``: the exchange's clock now (see exchange_now); ``target``: the
    order ``a`` approves (the selected pending one, else the oldest); with nothing pending, ``outcome``
    says what became of the last order that waited. Wraps rather than cuts (the trader reads it before
    pressing a key)."""
    t = Text()
    if not pending:
        if outcome:
            t.append(" APPROVAL ", "bold reverse")
            t.append(f" {outcome}", "bold")
        return t
    o = target if target in pending else pending[0]
    t.append(" APPROVAL ", "bold reverse yellow")
    t.append(
        f" #{o['id']} {o['side']} {float(o['amount']):g} BTC {ORDER_TYPE.get(o['type'], o['type'])}",
        "bold " + side_style(o["side"]),
    )
    if o.get("stop_loss"):
        t.append(f"  SL {num(o['stop_loss'], 0)}")
    if o.get("take_profit"):
        t.append(f"  TP {num(o['take_profit'], 0)}")
    if o.get("expires_at"):
        t.append(f"  {approval.expires_phrase(approval_left_ms(o, now_ms, speed))}", "bold yellow")
    if len(pending) > 1:
        t.append(f"  (+{len(pending) - 1} more)", "bold yellow")
    t.append("  [a]pprove/[r]eject", "bold")  # one word: a wrap never splits the keys
    return t
