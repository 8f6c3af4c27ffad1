"""Deterministic client order ids.

OKX's clOrdId is up to 32 case-sensitive alphanumerics. Ours is ``ck`` + a per-database namespace
(6 characters, chosen once and kept in engine_state, so two databases trading one account never
collide) + ``d<decision id>l<leg>``. The same decision and leg always give the same id, so a
retried submit finds the existing order (orders.client_order_id is UNIQUE, and the exchange rejects
a duplicate clOrdId) instead of creating a second one.
"""

from __future__ import annotations

import re

PREFIX = "ck"
_VALID = re.compile(r"[A-Za-z0-9]{1,32}")
_NS = re.compile(r"[a-z0-9]{6}")


def decision_client_id(namespace: str, decision_id: int, leg: int = 0) -> str:
    return _checked(f"{PREFIX}{namespace}d{int(decision_id)}l{int(leg)}")


def system_client_id(namespace: str, kind: str, stamp_ms: int, leg: int = 0) -> str:
    """Orders the system makes without a decision (kill-switch closes: kind 'k'; manual: 'm'; operator closes: 'c')."""
    if not re.fullmatch(r"[a-z]", kind):
        raise ValueError(f"kind must be one lowercase letter, got {kind!r}")
    return _checked(f"{PREFIX}{namespace}{kind}{int(stamp_ms)}l{int(leg)}")


def namespace_prefix(namespace: str) -> str:
    return f"{PREFIX}{namespace}"


def _checked(cid: str) -> str:
    if not _VALID.fullmatch(cid):
        raise ValueError(f"client order id {cid!r} is not 1-32 alphanumerics")
    return cid
