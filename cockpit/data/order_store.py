"""Order persistence: orders, their lifecycle events, fills, position snapshots and balances.

Every status change goes through ``OrderStore.transition``: inside one transaction it checks the
state machine (cockpit.domain.orders), updates the order with a guard on its current status and
writes the order_lifecycle_events row, so the status and its history can never disagree, and an
illegal transition raises ``IllegalTransition`` without writing anything.

Lifecycle messages and order reasons often carry the exchange's own error text, which a server or proxy
may fill with the request's headers: they pass through the run's ``Redactor`` (configured secrets
blanked) before they are written.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Iterable, cast

import peewee

from cockpit.db.connection import database_proxy
from cockpit.db.models import (
    Balance,
    DecisionRow,
    EngineState,
    OrderLifecycleEvent,
    OrderRow,
    PositionRow,
    PositionSnapshot,
    TradeRow,
)
from cockpit.db.portable import replace_row, write_transaction
from cockpit.domain.orders import Fill, IllegalTransition, Order, OrderStatus, Position, can_transition
from cockpit.domain.text import Redactor

# Columns a caller may set together with (or without) a status change.
UPDATABLE = frozenset(
    {
        "exchange_order_id",
        "filled",
        "average_price",
        "fee",
        "decided_by",
        "decided_at",
        "reason",
        "amount",
        "risk_assessment",
        "expires_at",
        "price",
        "stop_loss",
        "take_profit",
    }
)


def _order(row: OrderRow) -> Order:
    return Order(
        symbol=row.symbol,
        side=row.side,
        type=row.type,
        amount=float(row.amount),
        status=OrderStatus(row.status),
        price=row.price,
        stop_loss=row.stop_loss,
        take_profit=row.take_profit,
        leverage=float(row.leverage or 1.0),
        reduce_only=bool(row.reduce_only),
        client_order_id=row.client_order_id,
        exchange_order_id=row.exchange_order_id,
        filled=float(row.filled or 0.0),
        average_price=row.average_price,
        id=row.id,
        decision_id=row.decision_id,
    )


class OrderStore:
    def __init__(self, db: peewee.Database | None = None, *, redactor: Redactor | None = None) -> None:
        self._db = db if db is not None else database_proxy
        self._redact = redactor or Redactor()

    def _text_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {k: self._redact(v) if isinstance(v, str) else v for k, v in fields.items()}

    # ---------------------------------------------------------------- client id namespace

    def client_id_namespace(self, *, now_ms: int) -> str:
        """Six lowercase alphanumerics chosen once per database (engine_state 'client_id_namespace')."""
        with write_transaction(self._db):
            row = EngineState.get_or_none(EngineState.key == "client_id_namespace")
            if row is not None and row.value:
                return json.loads(row.value)
            ns = secrets.token_hex(3)
            EngineState.insert(
                key="client_id_namespace", value=json.dumps(ns), updated_at=int(now_ms)
            ).on_conflict_ignore().execute()
            # the row exists now (inserted above, or another writer's); its value is the namespace's JSON
            return json.loads(cast(str, EngineState.get(EngineState.key == "client_id_namespace").value))

    # ---------------------------------------------------------------- orders

    def create(
        self,
        order: Order,
        *,
        now_ms: int,
        leg: int = 0,
        mode: str | None = None,
        status: OrderStatus = OrderStatus.NEW,
        message: str = "",
        expires_at: int | None = None,
        reason: str | None = None,
        risk_assessment: dict[str, Any] | str | None = None,
    ) -> tuple[int, bool]:
        """Insert ``order`` (status new, then ``status`` if different), or find the existing order with the
        same client_order_id. Returns (order id, created)."""
        if not order.client_order_id:
            raise ValueError("an order needs a client_order_id before it is stored")
        ra = json.dumps(risk_assessment, default=str) if isinstance(risk_assessment, dict) else risk_assessment
        ra, reason, message = self._redact(ra), self._redact(reason), self._redact(message) or ""
        with write_transaction(self._db):
            existing = OrderRow.get_or_none(OrderRow.client_order_id == order.client_order_id)
            if existing is not None:
                return existing.id, False
            try:
                with self._db.atomic():  # a savepoint: after a failed insert the transaction stays usable
                    oid = OrderRow.insert(
                        symbol=order.symbol,
                        side=order.side,
                        type=order.type,
                        price=order.price,
                        amount=order.amount,
                        leverage=order.leverage,
                        status=OrderStatus.NEW.value,
                        client_order_id=order.client_order_id,
                        exchange_order_id=order.exchange_order_id,
                        updated_at=int(now_ms),
                        decision=order.decision_id,
                        leg=leg,
                        reduce_only=int(order.reduce_only),
                        stop_loss=order.stop_loss,
                        take_profit=order.take_profit,
                        mode=mode,
                        expires_at=expires_at,
                        reason=reason,
                        risk_assessment=ra,
                    ).execute()
            except peewee.IntegrityError:
                # Another writer stored the same client order id between our read and insert; any other
                # constraint (e.g. an unknown decision id) is the caller's error.
                row = OrderRow.get_or_none(OrderRow.client_order_id == order.client_order_id)
                if row is None:
                    raise
                return row.id, False
            first = message if OrderStatus(status) == OrderStatus.NEW and message else "created"
            OrderLifecycleEvent.insert(
                order=oid, status=OrderStatus.NEW.value, message=first, timestamp=int(now_ms)
            ).execute()
            if OrderStatus(status) != OrderStatus.NEW:
                self.transition(oid, status, now_ms=now_ms, message=message)
        order.id = oid
        return oid, True

    def transition(
        self, order_id: int, dst: OrderStatus | str, *, now_ms: int, message: str = "", **fields: Any
    ) -> Order:
        """Move the order to ``dst`` and write its lifecycle event, atomically; raise IllegalTransition."""
        dst = OrderStatus(dst)
        bad = set(fields) - UPDATABLE
        if bad:
            raise ValueError(f"cannot set {', '.join(sorted(bad))} on an order")
        if isinstance(fields.get("risk_assessment"), dict):
            fields["risk_assessment"] = json.dumps(fields["risk_assessment"], default=str)
        fields, message = self._text_fields(fields), self._redact(message) or ""
        with write_transaction(self._db):
            row = OrderRow.get_or_none(OrderRow.id == order_id)
            if row is None:
                raise KeyError(f"no order with id {order_id}")
            src = OrderStatus(row.status)
            if not can_transition(src, dst):
                raise IllegalTransition(f"order {order_id} ({row.client_order_id}): {src.value} -> {dst.value}")
            update = {getattr(OrderRow, k): v for k, v in fields.items()}
            update[OrderRow.status] = dst.value
            update[OrderRow.updated_at] = int(now_ms)
            n = OrderRow.update(update).where((OrderRow.id == order_id) & (OrderRow.status == src.value)).execute()
            if n != 1:  # pragma: no cover - another writer moved it between our read and update
                raise IllegalTransition(f"order {order_id}: status changed concurrently from {src.value}")
            OrderLifecycleEvent.insert(
                order=order_id, status=dst.value, message=message, timestamp=int(now_ms)
            ).execute()
            row = OrderRow.get_by_id(order_id)
        return _order(row)

    def update(self, order_id: int, *, now_ms: int, **fields: Any) -> Order:
        """Change columns other than the status (fills so far, the exchange id)."""
        bad = set(fields) - UPDATABLE
        if bad:
            raise ValueError(f"cannot set {', '.join(sorted(bad))} on an order")
        if fields:
            update = {getattr(OrderRow, k): v for k, v in self._text_fields(fields).items()}
            update[OrderRow.updated_at] = int(now_ms)
            OrderRow.update(update).where(OrderRow.id == order_id).execute()
        return self.get(order_id)

    def get(self, order_id: int) -> Order:
        row = OrderRow.get_or_none(OrderRow.id == order_id)
        if row is None:
            raise KeyError(f"no order with id {order_id}")
        return _order(row)

    def find(self, order_id: int) -> Order | None:
        row = OrderRow.get_or_none(OrderRow.id == order_id)
        return _order(row) if row is not None else None

    def by_client_id(self, client_order_id: str) -> Order | None:
        row = OrderRow.get_or_none(OrderRow.client_order_id == client_order_id)
        return _order(row) if row is not None else None

    def row(self, order_id: int) -> dict[str, Any] | None:
        r = OrderRow.select().where(OrderRow.id == order_id).dicts().first()
        return dict(r) if r else None

    def with_status(self, statuses: Iterable[OrderStatus | str], *, symbol: str | None = None) -> list[Order]:
        sts = [OrderStatus(s).value for s in statuses]
        q = OrderRow.select().where(OrderRow.status.in_(sts))
        if symbol:
            q = q.where(OrderRow.symbol == symbol)
        return [_order(r) for r in q.order_by(OrderRow.id)]

    def expired_pending(self, now_ms: int) -> list[Order]:
        q = OrderRow.select().where(
            (OrderRow.status == OrderStatus.PENDING_APPROVAL.value)
            & OrderRow.expires_at.is_null(False)
            & (OrderRow.expires_at <= int(now_ms))
        )
        return [_order(r) for r in q.order_by(OrderRow.id)]

    def attach_decision_risk(self, decision_id: int, leg: int, assessment: dict[str, Any]) -> None:
        """Merge one leg's risk assessment into decisions.risk_assessment: {"status", "legs": {leg: ...}}
        (keys the decision layer wrote are kept). The overall status is the worst of the legs."""
        with write_transaction(self._db):
            row = DecisionRow.get_or_none(DecisionRow.id == decision_id)
            if row is None:
                return
            try:
                cur = json.loads(row.risk_assessment) if row.risk_assessment else {}
            except ValueError:
                cur = {"previous": row.risk_assessment}
            if not isinstance(cur, dict):
                cur = {"previous": cur}
            legs = cur.setdefault("legs", {})
            legs[str(leg)] = assessment
            order = {"approved": 0, "reduced": 1, "rejected": 2}
            cur["status"] = max((v.get("status", "approved") for v in legs.values()), key=lambda x: order.get(x, 0))
            DecisionRow.update(risk_assessment=json.dumps(cur, default=str)).where(
                DecisionRow.id == decision_id
            ).execute()

    # ---------------------------------------------------------------- fills

    def record_fill(self, order_id: int, symbol: str, fill: Fill) -> bool:
        """Store one fill; False when this (order, exchange trade id) is already stored."""
        if not fill.trade_id:
            raise ValueError("a fill needs the exchange's trade id so it is recorded once")
        tid = str(fill.trade_id)
        with write_transaction(self._db):
            # Checked first (portable: an ignored insert reports nothing reliable on every backend);
            # UNIQUE(order_id, exchange_trade_id) still guards against a concurrent writer.
            if TradeRow.select().where((TradeRow.order == order_id) & (TradeRow.exchange_trade_id == tid)).exists():
                return False
            TradeRow.insert(
                order=order_id,
                symbol=symbol,
                side=fill.side,
                price=fill.price,
                amount=fill.amount,
                fee=fill.fee,
                fee_currency=fill.fee_currency,
                realized_pnl=fill.realized_pnl,
                timestamp=int(fill.timestamp),
                exchange_trade_id=tid,
            ).on_conflict_ignore().execute()
        return True

    def fill_totals(self, order_id: int) -> tuple[float, float | None, float]:
        """(filled amount, average price, fees) over the stored fills of one order."""
        t = TradeRow
        fn = peewee.fn
        r = self._db.execute(
            t.select(fn.COALESCE(fn.SUM(t.amount), 0), fn.SUM(t.price * t.amount), fn.COALESCE(fn.SUM(t.fee), 0)).where(
                t.order == order_id
            )
        ).fetchone()
        amount = float(r[0] or 0.0)
        avg = float(r[1]) / amount if amount > 0 and r[1] is not None else None
        return amount, avg, float(r[2] or 0.0)

    def by_exchange_id(self, exchange_order_id: str, symbol: str) -> Order | None:
        row = OrderRow.get_or_none((OrderRow.exchange_order_id == str(exchange_order_id)) & (OrderRow.symbol == symbol))
        return _order(row) if row is not None else None

    def has_trade(self, symbol: str, trade_id: str) -> bool:
        """Whether a fill with this exchange trade id is stored (under any order) for ``symbol``."""
        return (
            TradeRow.select()
            .where((TradeRow.symbol == symbol) & (TradeRow.exchange_trade_id == str(trade_id)))
            .exists()
        )

    def has_synthetic_fills(self, order_id: int) -> bool:
        """Fills recorded without the exchange's trade list (id '<order>:<cumulative>', see OrderManager)."""
        return TradeRow.select().where((TradeRow.order == order_id) & TradeRow.exchange_trade_id.contains(":")).exists()

    def replace_synthetic_fills(self, order_id: int, symbol: str, fills: Iterable[Fill]) -> int:
        """Swap an order's synthetic fills for the exchange's own list, in one transaction (so the ledger never
        counts a fill twice nor loses one); returns how many real fills were added."""
        n = 0
        with write_transaction(self._db):
            TradeRow.delete().where((TradeRow.order == order_id) & TradeRow.exchange_trade_id.contains(":")).execute()
            for f in fills:
                n += self.record_fill(order_id, symbol, f)
        return n

    def fills_signed(self, symbol: str) -> float:
        """Σ signed fill amounts (buy +, sell -) in ``trades`` for ``symbol``: the ledger's position change."""
        signed = peewee.Case(TradeRow.side, (("buy", TradeRow.amount),), TradeRow.amount * -1)
        v = TradeRow.select(peewee.fn.COALESCE(peewee.fn.SUM(signed), 0)).where(TradeRow.symbol == symbol).scalar()
        return float(v or 0.0)

    # ---------------------------------------------------------------- engine state (ledger bookkeeping)

    def state(self, key: str) -> Any:
        row = EngineState.get_or_none(EngineState.key == key)
        if row is None or row.value is None:
            return None
        try:
            return json.loads(row.value)
        except ValueError:
            return None

    def set_state(self, key: str, value: Any, *, now_ms: int) -> None:
        text = json.dumps(value, default=str)
        with write_transaction(self._db):
            n = EngineState.update(value=text, updated_at=int(now_ms)).where(EngineState.key == key).execute()
            if n == 0:
                EngineState.insert(key=key, value=text, updated_at=int(now_ms)).on_conflict_ignore().execute()

    # ---------------------------------------------------------------- position, balance

    def record_position(self, position: Position, *, now_ms: int) -> None:
        """The exchange's position: a snapshot row plus the current-position row of the symbol."""
        vals = dict(
            symbol=position.symbol,
            side=position.side,
            size=position.size,
            entry_price=position.entry_price,
            leverage=position.leverage,
            unrealized_pnl=position.unrealized_pnl,
            margin=position.margin,
            liquidation_price=position.liquidation_price,
        )
        with write_transaction(self._db):
            replace_row(
                PositionSnapshot,
                ("symbol", "timestamp", "side"),
                timestamp=int(now_ms),
                mark_price=position.mark_price,
                funding_fee=position.funding_fee,
                margin_ratio=position.margin_ratio,
                **vals,
            )
            n = (
                PositionRow.update(updated_at=int(now_ms), **vals)
                .where(PositionRow.symbol == position.symbol)
                .execute()
            )
            if n == 0:
                PositionRow.insert(updated_at=int(now_ms), **vals).execute()

    def record_balance(
        self, currency: str, total: float, free: float | None, used: float | None, *, now_ms: int
    ) -> None:
        replace_row(
            Balance,
            ("currency", "timestamp"),
            currency=currency,
            timestamp=int(now_ms),
            total=total,
            free=free,
            used=used,
        )
