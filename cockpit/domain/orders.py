"""Orders and the OrderStatus state machine shared by backtest, paper and live trading."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class OrderStatus(str, Enum):
    NEW = "new"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    REJECTED = "rejected"
    CANCELED = "canceled"
    EXPIRED = "expired"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def is_open(self) -> bool:
        return not self.is_terminal


TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.REJECTED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.FAILED}
)

_S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _S.NEW: frozenset({_S.PENDING_APPROVAL, _S.APPROVED, _S.REJECTED, _S.FAILED}),
    _S.PENDING_APPROVAL: frozenset({_S.APPROVED, _S.REJECTED, _S.EXPIRED, _S.CANCELED}),
    _S.APPROVED: frozenset({_S.SUBMITTED, _S.FAILED, _S.CANCELED, _S.REJECTED}),
    # submitted -> filled directly is normal for market orders.
    _S.SUBMITTED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.REJECTED, _S.FAILED, _S.EXPIRED}),
    _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED}),
}
for _t in TERMINAL:
    TRANSITIONS[_t] = frozenset()


class IllegalTransition(ValueError):
    pass


def can_transition(src: OrderStatus, dst: OrderStatus) -> bool:
    return _status(dst) in TRANSITIONS[_status(src)]


def _status(value) -> OrderStatus:
    """``value`` as an OrderStatus; members pass through without the (slow) enum constructor call."""
    return value if value.__class__ is OrderStatus else OrderStatus(value)


@dataclass(slots=True)
class OrderIntent:
    """What the engine wants to do, before risk and approval."""

    symbol: str
    side: str  # buy / sell
    amount: float  # base currency (BTC)
    type: str = "market"  # market / limit
    price: float | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    leverage: float = 1.0
    reduce_only: bool = False
    decision_id: int | None = None
    leg: int = 0
    reason: str = ""


@dataclass(slots=True)
class Order:
    symbol: str
    side: str
    type: str
    amount: float
    status: OrderStatus = OrderStatus.NEW
    price: float | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    leverage: float = 1.0
    reduce_only: bool = False
    client_order_id: str | None = None
    exchange_order_id: str | None = None
    filled: float = 0.0
    average_price: float | None = None
    id: int | None = None
    decision_id: int | None = None
    history: list[tuple[OrderStatus, str]] = field(default_factory=list)

    def transition(self, dst: OrderStatus, message: str = "") -> None:
        # hot in backtests: members skip the enum constructor (a plain string still works)
        if dst.__class__ is not OrderStatus:
            dst = OrderStatus(dst)
        if dst not in TRANSITIONS[_status(self.status)]:
            raise IllegalTransition(f"order {self.id or self.client_order_id}: {self.status.value} -> {dst.value}")
        self.status = dst
        self.history.append((dst, message))

    @property
    def row_id(self) -> int:
        """``id`` of an order the store returned (it sets the row id on every order it creates or reads)."""
        if self.id is None:
            raise ValueError(f"order {self.client_order_id}: not stored, so it has no id")
        return self.id

    @property
    def client_id(self) -> str:
        """``client_order_id`` of an order the order manager stored (it gives every order one)."""
        if self.client_order_id is None:
            raise ValueError(f"order {self.id}: no client order id")
        return self.client_order_id


@dataclass(frozen=True, slots=True)
class Fill:
    order_client_id: str
    side: str
    price: float
    amount: float
    fee: float
    fee_currency: str
    timestamp: int
    trade_id: str | None = None
    realized_pnl: float | None = None


@dataclass(slots=True)
class Position:
    symbol: str
    side: str  # long / short / flat
    size: float  # base currency, >= 0
    entry_price: float = 0.0
    leverage: float = 1.0
    unrealized_pnl: float = 0.0
    margin: float = 0.0
    liquidation_price: float | None = None
    mark_price: float | None = None
    funding_fee: float | None = None  # funding settled since the position opened (negative = paid); None: unknown
    margin_ratio: float | None = None  # maintenance margin / collateral; None: unknown

    @property
    def signed_size(self) -> float:
        return self.size if self.side == "long" else -self.size if self.side == "short" else 0.0


@dataclass(slots=True)
class AccountState:
    """Balance of the account (and, for the RiskManager, the position as the OrderManager knows it).
    Executors return it; risk reads it."""

    equity: float
    free: float
    used: float
    currency: str = "USDT"
    # Filled in by the OrderManager for the RiskManager (optional; executors may leave them):
    position: Position | None = None  # the venue's position in the symbol being traded
    open_risk: float = 0.0  # money at risk (|entry - stop| x size) in the position and working entry orders
    # What the position is known to be (set by the OrderManager; previews leave the defaults):
    position_confirmed: bool = True  # False: empty/unreadable reply the ledger does not back (no new entries)
    position_note: str = ""  # why it is not confirmed, or how it was confirmed
    ledger_position: float | None = None  # signed BTC from our recorded fills (None: no ledger yet)
    as_of_ms: int | None = None  # when the position and balance were read (exchange clock ms)
