"""The operator's clock for the approval window, shared by the cockpit, ``cockpit orders list`` and the API.

One clock for the operator: ``execution.approval_ttl_s`` is the trader's (wall) time to decide. The
engine stores ``expires_at`` on its own clock (the exchange's; on an accelerated simulator that clock
runs ``sim.speed`` times faster, so the TTL is scaled when the order is written) and expires the order
by that clock. Every surface turns it back into operator time the same way: the engine's heartbeat
says what its clock read (``ts``) at which wall time (``wall_ms``) and at what ``speed``, so

    exchange now     = ts + (wall now - wall_ms) * speed
    time left (wall) = (expires_at - exchange now) / speed

and the absolute moment is ``wall now + time left``, printed in UTC. Without a heartbeat (no engine has
run on the database) the exchange clock is taken to be the wall clock.
"""

from __future__ import annotations

import time
from typing import Any, Mapping


def heartbeat_speed(heartbeat: Mapping[str, Any] | None) -> float:
    v = (heartbeat or {}).get("speed")
    return float(v) if isinstance(v, (int, float)) and v > 0 else 1.0


def exchange_now(heartbeat: Mapping[str, Any] | None, wall_now_ms: int) -> int:
    """The engine's clock now, extrapolated from its last heartbeat; ``wall_now_ms`` without one."""
    hb = heartbeat or {}
    ts, wall = hb.get("ts"), hb.get("wall_ms")
    if isinstance(ts, (int, float)) and isinstance(wall, (int, float)):
        return int(ts + (wall_now_ms - wall) * heartbeat_speed(hb))
    return int(wall_now_ms)


def approval_left_ms(expires_at: Any, heartbeat: Mapping[str, Any] | None, wall_now_ms: int) -> int | None:
    """Operator (wall) milliseconds left to approve; None when the order has no expiry. Negative once
    the window has passed (the engine expires the order at its next step)."""
    if not isinstance(expires_at, (int, float)) or not expires_at:
        return None
    return int((expires_at - exchange_now(heartbeat, wall_now_ms)) / heartbeat_speed(heartbeat))


def countdown(left_ms: int | None) -> str:
    """``14:59`` (minutes:seconds), ``1:02:03`` past an hour, ``0:00`` once passed; ``—`` without one."""
    if left_ms is None:
        return "—"
    s = max(0, int(left_ms) // 1000)
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def expires_phrase(left_ms: int | None, wall_now_ms: int | None = None) -> str:
    """``expires in 14:59`` (``… (17:58:12 UTC)`` with the wall time it ends at), or ``approval window
    passed``; empty without an expiry."""
    if left_ms is None:
        return ""
    if left_ms <= 0:
        return "approval window passed"
    s = f"expires in {countdown(left_ms)}"
    if wall_now_ms is not None:
        s += time.strftime(" (%H:%M:%S UTC)", time.gmtime((wall_now_ms + left_ms) / 1000))
    return s


def left_queue_reason(order: Mapping[str, Any], last_message: str | None = None) -> str:
    """Why an order that waited for approval is no longer waiting, as the trader reads it:
    ``approved by alice``, ``rejected by bob: too big``, ``superseded by decision 12``, ``expired: …``."""
    st = str(order.get("status") or "")
    by = order.get("decided_by")
    msg = (last_message or "").strip()
    if st == "pending_approval":
        return "waiting for approval"
    if st == "expired":
        return "expired: nobody approved it within the approval window"
    if st == "canceled":
        if msg.startswith("superseded"):
            return f"{msg} (a newer decision re-planned the position)"
        return msg or "canceled"
    if st == "rejected":
        if msg:
            return msg
        return f"rejected by {by}" + (f": {order['reason']}" if order.get("reason") else "") if by else "rejected"
    if by:
        return f"approved by {by} → {st.replace('_', ' ')}"
    return msg or st.replace("_", " ")
