"""The OrderExecutor interface shared by backtests (SimulatedExecutor), the built-in simulator,
OKX demo and OKX live (OKXExecutor). A strategy cannot tell which one it runs against.

Sizes are in base currency (BTC); an executor converts to contracts at its boundary.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from cockpit.domain.orders import AccountState, Fill, Order, OrderStatus, Position


@dataclass(slots=True)
class ExecutionReport:
    """What the venue says about one order right now."""

    client_order_id: str
    status: OrderStatus
    exchange_order_id: str | None = None
    filled: float = 0.0
    average_price: float | None = None
    fee: float = 0.0
    fills: list[Fill] = field(default_factory=list)
    message: str = ""
    raw: dict[str, Any] | None = None
    # False when the venue does not know the order (fetch of an unknown client id): reconciliation
    # marks such an order failed. Executors that never set it report "found".
    found: bool = True


@dataclass(frozen=True, slots=True)
class InstrumentInfo:
    """Precision of one market in base currency (BTC). Defaults: OKX BTC-USDT-SWAP
    (ctVal 0.01 BTC, lotSz = minSz = 0.01 contracts, tick 0.1 USDT)."""

    symbol: str
    amount_step: float = 0.0001
    min_amount: float = 0.0001
    price_step: float = 0.1
    contract_size: float = 0.01


@dataclass(frozen=True, slots=True)
class ProtectiveOrder:
    """A live stop-loss / take-profit order on the venue (OKX: a conditional or oco algo order)."""

    algo_id: str
    side: str  # the side it closes with: sell closes a long
    stop_loss: float | None
    take_profit: float | None
    amount: float  # BTC; 0 when it closes the whole position (close_fraction)
    close_fraction: bool = False


@dataclass(frozen=True, slots=True)
class AccountFill:
    """One fill on the account as the venue lists it (OKX trade/fills): the ledger is reconciled from these."""

    fill: Fill
    exchange_order_id: str
    client_order_id: str = ""


class OrderExecutor(ABC):
    """Place, cancel and fetch orders; read positions and balance."""

    name: str = "executor"

    @abstractmethod
    def place(self, order: Order) -> ExecutionReport:
        """Submit ``order`` (with its attached stop-loss/take-profit). Idempotent per client_order_id."""

    @abstractmethod
    def cancel(self, order: Order) -> ExecutionReport: ...

    @abstractmethod
    def fetch(self, order: Order) -> ExecutionReport:
        """The venue's current view of the order; status FAILED with a message when it is unknown."""

    @abstractmethod
    def open_orders(self, symbol: str) -> list[ExecutionReport]: ...

    @abstractmethod
    def position(self, symbol: str) -> Position: ...

    @abstractmethod
    def account(self) -> AccountState: ...

    # Optional, with defaults so existing executors keep working:

    def instrument(self, symbol: str) -> InstrumentInfo:
        """The market's precision (the risk manager rounds sizes and prices to it)."""
        return InstrumentInfo(symbol)

    def mark_price(self, symbol: str) -> float | None:
        """The venue's current mark price, or None when it cannot tell (callers fall back to stored prices)."""
        return None

    def recent_closed(self, symbol: str) -> list[ExecutionReport]:
        """Recently closed orders on the venue, including ones it created itself (an attached stop-loss or
        take-profit that triggered; ``raw['algoId']`` set). Default: none."""
        return []

    def account_fills(self, symbol: str, since_ms: int) -> list[AccountFill]:
        """Every fill on the account in ``symbol`` since ``since_ms`` (any order, including ones the venue
        made itself), oldest first; raises ValueError when the venue's answer cannot be read. Default: none."""
        return []

    def find(self, client_order_id: str, symbol: str) -> ExecutionReport:
        """Look an order up by client order id alone (reconciliation after a crash); found=False if unknown."""
        return self.fetch(Order(symbol=symbol, side="buy", type="market", amount=0.0, client_order_id=client_order_id))

    # Protective orders (moving the stop-loss / take-profit of an open position). Optional: a venue
    # without them says so, and the operator's command fails with that message.

    def protective_orders(self, symbol: str) -> list[ProtectiveOrder]:
        """Live stop-loss / take-profit orders in ``symbol``; ValueError when the reply cannot be read."""
        raise NotImplementedError(f"{self.name} cannot list stop-loss/take-profit orders")

    def amend_protection(
        self, symbol: str, algo_id: str, *, stop_loss: float | None = None, take_profit: float | None = None
    ) -> None:
        """Move the trigger prices of one live protective order."""
        raise NotImplementedError(f"{self.name} cannot move stop-loss/take-profit orders")

    def place_protection(self, symbol: str, side: str, *, stop_loss: float | None, take_profit: float | None) -> str:
        """A new protective order closing the whole position when triggered; returns its id."""
        raise NotImplementedError(f"{self.name} cannot place stop-loss/take-profit orders")

    def trigger_kind(self, symbol: str, algo_id: str) -> str | None:
        """Which leg of a protective order triggered: 'stop-loss', 'take-profit', or None when unknown."""
        return None
