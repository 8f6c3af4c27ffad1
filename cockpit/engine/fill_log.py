"""Headless log lines for what happened to the money, not only what was intended: every fill as it is
recorded, named by what caused it (entry, close, stop-loss, take-profit, liquidation, kill switch),
with its realised P&L and the realised total since the engine started.

    2026-01-07T06:00:00Z INFO  fill  kind=stop-loss order=41 side=sell amount=0.0779 price=64210.5 fee=2.5
                                     realized_pnl=-61.2 realized_since_start=-61.2

Read from the trades table after each fast-loop step, so fills from any path (our placements, the
exchange's triggered stops, liquidations found by reconcile) are logged once each, in order.
"""

from __future__ import annotations

from typing import Any

from cockpit.data import DataService


def fill_kind(order: dict[str, Any] | None) -> str:
    """What caused a fill, from its order's recorded reason (the words the order manager writes)."""
    if not order:
        return "fill"
    why = str(order.get("reason") or "").lower()
    if "liquidation" in why or why.startswith("adl"):
        return "liquidation"
    if "stop-loss" in why:
        return "stop-loss"
    if "take-profit" in why:
        return "take-profit"
    if "kill switch" in why:
        return "kill-switch close"
    if order.get("reduce_only") or why.startswith("reduce"):
        return "close"
    if why.startswith("entry"):
        return "entry"
    return "fill"


class FillLog:
    def __init__(self, log: Any, symbol: str) -> None:
        self.log = log
        self.symbol = symbol
        self.last_id: int | None = None  # fills up to this id were there before the engine started
        self.realized = 0.0

    def poll(self, ds: DataService | None = None) -> int:
        """Log the fills recorded since the last call; returns how many."""
        ds = ds or DataService()
        if self.last_id is None:
            newest = ds.trades(symbol=self.symbol, limit=1)
            self.last_id = int(newest[0]["id"]) if newest else 0
            return 0
        rows = ds.trades(symbol=self.symbol, since_id=self.last_id, limit=500)
        for t in reversed(rows):  # oldest first
            order = ds.order(int(t["order_id"])) if t.get("order_id") is not None else None
            kind = fill_kind(order)
            pnl = t.get("realized_pnl")
            fields: dict[str, Any] = {
                "kind": kind,
                "order": t.get("order_id"),
                "side": t["side"],
                "amount": float(t["amount"]),
                "price": float(t["price"]),
                "fee": round(float(t.get("fee") or 0.0), 4),
            }
            if pnl is not None:
                self.realized += float(pnl)
                fields["realized_pnl"] = round(float(pnl), 2)
                fields["realized_since_start"] = round(self.realized, 2)
            (self.log.warning if kind == "liquidation" else self.log.info)("fill", **fields)
        if rows:
            self.last_id = int(rows[0]["id"])
        return len(rows)
