"""The account at a glance and its closed trades, read with Peewee's query builder (SQLite and PostgreSQL).

* ``fills_with_orders``: every fill of a symbol with the order it belongs to (why it was placed).
* ``round_trips``: the fills walked in time order into trades, from flat to flat (a flip closes one and
  opens the next), each with entry, exit, realised P&L, fees, the position's funding and the exit
  reason, derived from what the database records about the closing order (``exit_reason``).
* ``realised``: realised P&L after fees (fills' P&L less every fee), since a time and in all.
* ``equity_series``: the account equity over its whole history in N buckets (for a sparkline).

The exchange is the source of every figure: fill P&L is OKX's ``fillPnl`` (computed from the entry only
when a venue gives none), funding is the position's ``fundingFee`` as last read while the trade was open
(None when never read). Nothing here imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import peewee

from cockpit.db.connection import database_proxy
from cockpit.db.models import Balance, DecisionRow, OrderRow, PositionSnapshot, TradeRow

_EPS = 1e-9
# What closed a trade, from the closing order's row (see exit_reason).
EXIT_REASONS = (
    "stop-loss",
    "take-profit",
    "stop/take-profit",
    "liquidation",
    "kill switch",
    "manual",
    "signal",
    "outside order",
    "exchange",
)


def exit_reason(order: dict[str, Any]) -> str:
    """Why an order closed (part of) a position, from what its row records: the reason the cockpit stored when
    it made the order (kill switch, an operator's close, a decision), or how it adopted an order the exchange
    made itself (a triggered stop-loss / take-profit, a liquidation)."""
    reason = str(order.get("reason") or "").lower()
    cid = str(order.get("client_order_id") or "")
    if "liquidation" in reason or "adl by the exchange" in reason:
        return "liquidation"
    if reason.startswith("kill switch"):
        return "kill switch"
    if reason.startswith("manual close"):
        return "manual"
    if reason.startswith("stop-loss/take-profit"):
        return "stop/take-profit"
    if reason.startswith("stop-loss"):
        return "stop-loss"
    if reason.startswith("take-profit"):
        return "take-profit"
    if order.get("decision_id") is not None:
        return "signal"
    if reason == "outside order":
        return "outside order"
    return "exchange" if cid else "unknown"


@dataclass
class RoundTrip:
    side: str  # long | short
    opened_at: int
    size: float = 0.0  # BTC opened
    entry_cost: float = 0.0
    closed: float = 0.0  # BTC closed
    exit_cost: float = 0.0
    closed_at: int | None = None
    pnl: float = 0.0  # gross realised P&L of the closing fills
    fees: float = 0.0
    funding: float | None = None
    exit_reason: str = ""
    reasons: list[str] = field(default_factory=list)  # every closing order's reason, in order
    fills: int = 0
    decision_id: int | None = None  # the decision of the first opening fill (None: not opened by a decision)

    @property
    def entry_price(self) -> float | None:
        return self.entry_cost / self.size if self.size > _EPS else None

    @property
    def exit_price(self) -> float | None:
        return self.exit_cost / self.closed if self.closed > _EPS else None

    @property
    def net(self) -> float:
        """Realised P&L after fees and the position's funding (when it was read)."""
        return self.pnl - self.fees + (self.funding or 0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "size": self.size,
            "entry_price": self.entry_price,
            "exit_price": self.exit_price,
            "pnl": self.pnl,
            "fees": self.fees,
            "funding": self.funding,
            "net": self.net,
            "exit_reason": self.exit_reason,
            "fills": self.fills,
            "decision_id": self.decision_id,
        }


class AccountReads:
    def __init__(self, db: peewee.Database | None = None) -> None:
        self._db = db if db is not None else database_proxy

    def _run(self, query: peewee.Query) -> list[dict[str, Any]]:
        # Executed on this reader's database (the models stay bound to the proxy; no rebinding across threads).
        return list(query.dicts().execute(self._db))

    def fills_with_orders(self, symbol: str, *, since_id: int = 0) -> list[dict[str, Any]]:
        """Fills oldest first, each with its order's side, reason, decision, client id and who decided."""
        q = (
            TradeRow.select(
                TradeRow.id,
                TradeRow.timestamp,
                TradeRow.side,
                TradeRow.price,
                TradeRow.amount,
                TradeRow.fee,
                TradeRow.realized_pnl,
                TradeRow.order.alias("order_id"),
                OrderRow.reason,
                OrderRow.reduce_only,
                OrderRow.decision.alias("decision_id"),
                OrderRow.client_order_id,
                OrderRow.decided_by,
            )
            .join(OrderRow, on=(TradeRow.order == OrderRow.id))
            .where((TradeRow.symbol == symbol) & (TradeRow.id > since_id))
            .order_by(TradeRow.timestamp, TradeRow.id)
        )
        return self._run(q)

    def last_funding(self, symbol: str, side: str, start: int, end: int) -> float | None:
        """The position's funding as last read between ``start`` and ``end`` (ms) while it was ``side``."""
        q = (
            PositionSnapshot.select(PositionSnapshot.funding_fee)
            .where(
                (PositionSnapshot.symbol == symbol)
                & (PositionSnapshot.side == side)
                & (PositionSnapshot.timestamp >= start)
                & (PositionSnapshot.timestamp <= end)
                & PositionSnapshot.funding_fee.is_null(False)
            )
            .order_by(PositionSnapshot.timestamp.desc())
            .limit(1)
        )
        rows = self._run(q)
        return float(rows[0]["funding_fee"]) if rows else None

    def decision_weights(self, ids: list[int]) -> dict[int, dict[str, float]]:
        """{decision id: {strategy: final weight}} of the given decisions (weights JSON as the engine stores it)."""
        import json

        out: dict[int, dict[str, float]] = {}
        ids = sorted({int(i) for i in ids if i is not None})
        for start in range(0, len(ids), 500):
            q = DecisionRow.select(DecisionRow.id, DecisionRow.weights).where(
                DecisionRow.id.in_(ids[start : start + 500])
            )
            for r in self._run(q):
                try:
                    w = json.loads(r["weights"]) if isinstance(r["weights"], str) else (r["weights"] or {})
                except ValueError:
                    w = {}
                out[int(r["id"])] = {
                    k: float(v.get("final") or 0.0) if isinstance(v, dict) else float(v or 0.0)
                    for k, v in (w or {}).items()
                    if isinstance(v, (dict, int, float))
                }
        return out

    def equity_series(self, currency: str = "USDT", *, buckets: int = 40) -> list[float]:
        """Equity over the account's whole history: the mean of each of ``buckets`` equal time slices (empty
        slices are skipped), oldest first."""
        span = self._run(
            Balance.select(
                peewee.fn.MIN(Balance.timestamp).alias("lo"), peewee.fn.MAX(Balance.timestamp).alias("hi")
            ).where(Balance.currency == currency)
        )
        lo, hi = (span[0]["lo"], span[0]["hi"]) if span else (None, None)
        if lo is None or hi is None:
            return []
        width = max(1, (int(hi) - int(lo)) // max(1, buckets) + 1)
        b = ((Balance.timestamp - int(lo)) / width).alias("b")
        q = (
            Balance.select(b, peewee.fn.AVG(Balance.total).alias("eq"))
            .where(Balance.currency == currency)
            .group_by(peewee.SQL("1"))
            .order_by(peewee.SQL("1"))
        )
        return [float(r["eq"]) for r in self._run(q) if r["eq"] is not None]


def round_trips(fills: list[dict[str, Any]]) -> tuple[list[RoundTrip], RoundTrip | None]:
    """(closed trades oldest first, the open one or None) from fills oldest first (``fills_with_orders``).
    The walk starts flat at the first fill the database holds."""
    done: list[RoundTrip] = []
    cur: RoundTrip | None = None
    pos = 0.0
    for f in fills:
        amt, price = float(f["amount"] or 0.0), float(f["price"] or 0.0)
        if amt <= _EPS:
            continue
        fee = abs(float(f["fee"] or 0.0))
        signed = amt if f["side"] == "buy" else -amt
        opening = amt
        if cur is not None and pos * signed < 0:  # reduces (or flips) the position
            closing = min(amt, abs(pos))
            share = closing / amt
            cur.closed += closing
            cur.exit_cost += closing * price
            cur.fees += fee * share
            cur.fills += 1
            rp = f.get("realized_pnl")
            if rp is not None:  # OKX fillPnl: the P&L of the closing part of the fill
                cur.pnl += float(rp)
            else:
                entry = cur.entry_price or price
                cur.pnl += (price - entry) * closing * (1 if cur.side == "long" else -1)
            why = exit_reason(f)
            if not cur.reasons or cur.reasons[-1] != why:
                cur.reasons.append(why)
            pos += closing if signed > 0 else -closing
            opening = amt - closing
            if abs(pos) <= _EPS:
                pos = 0.0
                cur.closed_at = int(f["timestamp"])
                cur.exit_reason = why
                done.append(cur)
                cur = None
            fee = fee * (1 - share)
        if opening > _EPS:
            if cur is None:
                cur = RoundTrip(
                    "long" if signed > 0 else "short", int(f["timestamp"]), decision_id=f.get("decision_id")
                )
            cur.size += opening
            cur.entry_cost += opening * price
            cur.fees += fee
            cur.fills += 1
            pos += opening if signed > 0 else -opening
    return done, cur


def realised(fills: list[dict[str, Any]], since_ms: int | None = None) -> float:
    """Realised P&L after fees of the fills at or after ``since_ms`` (all when None): each closing fill's P&L
    (OKX fillPnl; 0 for opening fills) less every fill's fee."""
    total = 0.0
    for f in fills:
        if since_ms is not None and int(f["timestamp"]) < since_ms:
            continue
        total += float(f.get("realized_pnl") or 0.0) - abs(float(f.get("fee") or 0.0))
    return total


def closed_trades(
    reads: AccountReads, symbol: str, *, limit: int = 50
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(newest ``limit`` closed trades newest first, the open trade) as dicts, with funding filled in."""
    done, cur = round_trips(reads.fills_with_orders(symbol))
    out = []
    for t in reversed(done[-limit:]):
        t.funding = reads.last_funding(symbol, t.side, t.opened_at, t.closed_at or t.opened_at)
        out.append(t.as_dict())
    return out, (cur.as_dict() if cur is not None else None)


def by_strategy(trades: list[dict[str, Any]], weights: dict[int, dict[str, float]]) -> list[dict[str, Any]]:
    """What each strategy's weight earned: every closed trade's net P&L split across the strategies by the final
    weights of the decision that opened it (weights normalised over the strategies with a positive weight).
    Trades not opened by a decision (or with no weights) count under "(no decision)". Best first."""
    acc: dict[str, dict[str, Any]] = {}
    for t in trades:
        w = {k: v for k, v in (weights.get(t.get("decision_id") or -1) or {}).items() if v > 0}
        total = sum(w.values())
        shares = {k: v / total for k, v in w.items()} if total > 0 else {"(no decision)": 1.0}
        for name, share in shares.items():
            a = acc.setdefault(name, {"strategy": name, "trades": 0, "wins": 0, "net": 0.0, "weight": 0.0})
            a["trades"] += 1
            a["wins"] += t["net"] > 0
            a["net"] += t["net"] * share
            a["weight"] += share
    return sorted(acc.values(), key=lambda a: -a["net"])
