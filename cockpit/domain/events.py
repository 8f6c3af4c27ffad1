"""Risk events in words a trader reads: one sentence from the JSON ``details`` the engine stores.

``risk_sentence("per_trade_risk", '{"status": "reduced", "detail": "...", "amount_before": 0.2, ...}')``
gives ``buy 0.2 BTC reduced 0.2 → 0.12 BTC: ...``. Keys it does not know follow as ``key value`` pairs,
so nothing the engine recorded is hidden, but no braces or quotes reach the screen.
"""

from __future__ import annotations

import json
import math
from typing import Any

from cockpit.domain.text import clean_text

_QUIET = {
    "client_order_id",
    "intent",
    "status",
    "detail",
    "action",
    "by",
    "reason",
    "error",
    "order_id",
    "amount_before",
    "amount_after",
    "rules",
}


def _value(v: Any, depth: int = 0) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "—" if not math.isfinite(v) else f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    if isinstance(v, dict):
        if depth:
            return "…"
        return "(" + ", ".join(f"{str(k).replace('_', ' ')} {_value(x, 1)}" for k, x in v.items()) + ")"
    if isinstance(v, (list, tuple)):
        shown = [_value(x, 1) for x in list(v)[:3]]
        return ", ".join(shown) + (f" (+{len(v) - 3} more)" if len(v) > 3 else "")
    return clean_text(str(v))


def risk_sentence(rule: str, details: Any) -> str:
    """One line: what happened, to which order, why. ``details`` is the stored JSON (or plain text)."""
    d = details
    if isinstance(details, str) and details[:1] == "{":
        try:
            d = json.loads(details)
        except ValueError:
            d = details
    if not isinstance(d, dict):
        return clean_text(str(d or "")) or rule.replace("_", " ")
    parts: list[str] = []
    intent = d.get("intent") if isinstance(d.get("intent"), dict) else None
    what = f"{intent.get('side')} {float(intent.get('amount') or 0):g} BTC" if intent else "order"
    status, detail = d.get("status"), d.get("detail")
    if status in ("reduced", "adjusted") and d.get("amount_before") is not None and d.get("amount_after") is not None:
        parts.append(f"{what} {status} {float(d['amount_before']):g} → {float(d['amount_after']):g} BTC")
    elif status == "rejected":
        parts.append(f"{what} rejected")
    elif status:
        parts.append(str(status))
    if d.get("action"):
        act = str(d["action"])
        if d.get("by"):
            act += f" by {d['by']}"
        parts.append(act)
    elif d.get("by"):
        parts.append(f"by {d['by']}")
    head = "; ".join(parts)
    why = detail or d.get("reason")
    if why:
        head = f"{head}: {clean_text(str(why))}" if head else clean_text(str(why))
    tail: list[str] = []
    if d.get("order_id") is not None:
        tail.append(f"order #{d['order_id']}")
    if d.get("error"):
        tail.append(f"error: {clean_text(str(d['error']))}")
    for k, v in d.items():
        if k in _QUIET or v is None or v == "" or v == {}:
            continue
        tail.append(f"{str(k).replace('_', ' ')} {_value(v)}")
    return "; ".join(x for x in [head, *tail] if x) or rule.replace("_", " ")
