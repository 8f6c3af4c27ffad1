"""SimulatedExecutor: the in-process fill model shared by backtests and paper trading.

One position per symbol (net mode), isolated margin, USDT-margined linear swap. Time comes from
the Clock the caller passes (a ManualClock driven bar by bar in backtests).

A bar is processed in two phases, and this order *is* the fill convention:

``begin_bar(ts, open, high, low)``  (the bar's open)
    1. market orders queued since the previous bar fill at ``open`` +/- slippage
       (slippage = ``slippage_bps`` of the price plus ``slippage_range`` x (high - low)), taker fee;
    2. until ``end_bar`` is called, ``place()`` of a market order fills immediately at this open
       (this is how the backtest engine acts at bar k+1's open on a decision taken at bar k's close).
``end_bar(segments=None)``  (inside the bar, then its close)
    3. the bar's path is walked segment by segment: the bar itself ``[(open, high, low)]``, or its
       lower-timeframe bars (e.g. the four 15m bars of a 1h bar) when the caller has them.
       In each segment, for an open position, *adverse* triggers are checked before favourable ones
       (the conservative rule when both fall in one segment): liquidation / stop-loss first —
       whichever level price reaches first going adversely — then take-profit; then resting limit
       orders. A gap through a level fills at the segment's open.
    Stop-loss fills are stop-market orders (taker fee, slippage); take-profit fills at its price
    (or the better gapped open) with the taker fee; limit orders fill at their price (or the better
    open) with the maker fee when price trades through.

Liquidation: isolated margin = entry notional / leverage (an add brings its own notional / leverage, a
partial close releases its share); the position is liquidated when price
reaches the level where margin + unrealised P&L = maintenance_margin x notional. The loss is then
the whole isolated margin (the remaining maintenance margin is forfeited, as on the exchange).

Funding: ``charge_funding(rate x mark)`` for the 8h settlements inside a bar (the backtest engine passes the
sum over them): a long pays ``size x mark x rate`` (receives when the rate is negative), a short the
opposite. As on the exchange in isolated mode it is settled against the position's margin, so paying
funding moves the liquidation price closer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cockpit.domain.clock import Clock
from cockpit.domain.orders import TERMINAL, Order, OrderStatus, Position
from cockpit.execution.base import AccountState, ExecutionReport, OrderExecutor

_INF = math.inf
_NEW, _APPROVED, _SUBMITTED = OrderStatus.NEW, OrderStatus.APPROVED, OrderStatus.SUBMITTED
_FILLED, _CANCELED = OrderStatus.FILLED, OrderStatus.CANCELED
_PLACEABLE = (_NEW, _APPROVED, _SUBMITTED)


@dataclass(slots=True)
class FillRecord:
    """One executed fill with the engine's bookkeeping (what backtest_orders stores)."""

    timestamp: int
    side: str  # buy / sell
    price: float
    amount: float
    fee: float
    reason: str  # signal / stop / take_profit / liquidation / limit / close
    pnl: float | None = None  # realised P&L of a closing fill, after the position's fees and funding
    funding: float | None = None  # funding paid over the closed position's life (negative = received)
    client_order_id: str | None = None


@dataclass(slots=True)
class ClosedTrade:
    side: str  # long / short
    entry_time: int
    exit_time: int
    entry_price: float
    exit_price: float
    size: float
    gross_pnl: float
    fees: float
    funding: float
    exit_reason: str
    stop_loss: float | None = None
    take_profit: float | None = None

    @property
    def pnl(self) -> float:
        return self.gross_pnl - self.fees - self.funding

    def as_dict(self) -> dict:
        return {
            "side": self.side,
            "entry_time": self.entry_time,
            "exit_time": self.exit_time,
            "entry_price": self.entry_price,
            "exit_price": self.exit_price,
            "size": self.size,
            "gross_pnl": self.gross_pnl,
            "fees": self.fees,
            "funding": self.funding,
            "pnl": self.pnl,
            "exit_reason": self.exit_reason,
            "stop_loss": self.stop_loss,
            "take_profit": self.take_profit,
        }


class SimulatedExecutor(OrderExecutor):
    name = "simulated"

    def __init__(
        self,
        clock: Clock,
        *,
        symbol: str = "BTC/USDT:USDT",
        cash: float = 10_000.0,
        taker_fee: float = 0.0005,
        maker_fee: float = 0.0002,
        slippage_bps: float = 0.0,
        slippage_range: float = 0.0,
        maintenance_margin: float = 0.004,
        leverage: float = 1.0,
        lot_size: float = 0.0,
        retain_orders: bool = True,
    ) -> None:
        if leverage < 1:
            raise ValueError(f"leverage must be >= 1, got {leverage}")
        self.clock = clock
        self.symbol = symbol
        self.cash = float(cash)
        self.taker_fee = float(taker_fee)
        self.maker_fee = float(maker_fee)
        self.slippage_bps = float(slippage_bps)
        self.slippage_range = float(slippage_range)
        self.mmr = float(maintenance_margin)
        self.leverage = float(leverage)
        self.lot_size = float(lot_size)
        # Position state (net mode): side +1 long, -1 short, 0 flat.
        self.side = 0
        self.size = 0.0
        self.entry = 0.0
        self.margin = 0.0
        self.stop: float | None = None
        self.take: float | None = None
        self.liq = None
        self._pos_open_time = 0
        self._pos_fees = 0.0
        self._pos_funding = 0.0
        # Orders. With ``retain_orders=False`` (the backtest engine) an order is forgotten once it is
        # filled/canceled/rejected (its fill lives on in ``records``/``trades``; fetch() reports it unknown),
        # so a long backtest does not keep every Order and its history alive.
        self.retain_orders = bool(retain_orders)
        self._orders: dict[str, Order] = {}
        self._queued: list[Order] = []  # market orders waiting for the next bar's open
        self._resting: list[Order] = []  # limit orders
        self._reasons: dict[str, str] = {}
        self._seq = 0
        # Bar state.
        self._in_open = False
        self._open = self._high = self._low = 0.0
        self._last = 0.0
        # Results.
        self.records: list[FillRecord] = []
        self.trades: list[ClosedTrade] = []
        self.fees_paid = 0.0
        self.funding_paid = 0.0
        self.liquidations = 0

    # ------------------------------------------------------------------ OrderExecutor interface

    def place(self, order: Order, *, reason: str = "signal") -> ExecutionReport:
        cid = order.client_order_id
        if cid is None:
            self._seq += 1
            cid = order.client_order_id = f"sim-{self._seq}"
        elif cid in self._orders:
            return self.fetch(self._orders[cid])  # idempotent per client_order_id
        status = order.status
        if status not in _PLACEABLE:
            return ExecutionReport(
                cid, OrderStatus.FAILED, message=f"cannot place an order that is {order.status.value}"
            )
        self._orders[cid] = order
        self._reasons[cid] = reason
        if status == _NEW:
            order.transition(_APPROVED, "simulated: no approval step")
            status = _APPROVED
        if status == _APPROVED:
            order.transition(_SUBMITTED, "simulated")
        if order.amount <= 0 or order.type not in ("market", "limit") or (order.type == "limit" and not order.price):
            order.transition(
                OrderStatus.REJECTED, f"invalid order: {order.type} amount={order.amount} price={order.price}"
            )
        elif order.type == "limit":
            self._resting.append(order)
        elif self._in_open:
            self._fill_market(order, self._open, reason)
        else:
            self._queued.append(order)
        report = ExecutionReport(
            cid, order.status, exchange_order_id=cid, filled=order.filled, average_price=order.average_price
        )
        if not self.retain_orders and order.status in TERMINAL:
            self._forget(cid)
        return report

    def _forget(self, cid: str | None) -> None:
        if cid is None:  # never a key: every order placed here gets a client id
            return
        self._orders.pop(cid, None)
        self._reasons.pop(cid, None)

    def market_at_open(
        self,
        side: str,
        amount: float,
        *,
        reduce_only: bool = False,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        reason: str = "signal",
    ) -> bool:
        """A market order filled now, at this bar's open +/- slippage with the taker fee: the same fill as
        ``place()`` of an approved market order between ``begin_bar`` and ``end_bar``, without an Order
        object (the backtest engine's compact path; the fill and any closed trade are recorded alike).
        False when nothing was done (amount <= 0, or reduce-only with no opposite position)."""
        if not self._in_open:
            raise RuntimeError("market_at_open() outside a bar's open: call begin_bar() first")
        self._seq += 1
        if amount <= 0:
            return False
        return self._fill(
            side,
            amount,
            self.market_price(side, self._open),
            self.taker_fee,
            reason,
            f"sim-{self._seq}",
            reduce_only,
            stop_loss,
            take_profit,
        )

    def cancel(self, order: Order) -> ExecutionReport:
        if order.status.is_open:
            order.transition(OrderStatus.CANCELED, "canceled")
            for book in (self._queued, self._resting):
                if order in book:
                    book.remove(order)
            report = self.fetch(order)
            if not self.retain_orders:
                self._forget(order.client_order_id)
            return report
        return self.fetch(order)

    def fetch(self, order: Order) -> ExecutionReport:
        cid = order.client_order_id or ""
        if cid not in self._orders:
            return ExecutionReport(cid, OrderStatus.FAILED, message="unknown order")
        return ExecutionReport(
            cid, order.status, exchange_order_id=cid, filled=order.filled, average_price=order.average_price
        )

    def open_orders(self, symbol: str) -> list[ExecutionReport]:
        return [self.fetch(o) for o in self._queued + self._resting if o.symbol == symbol]

    def position(self, symbol: str | None = None) -> Position:
        if self.side == 0:
            return Position(symbol or self.symbol, "flat", 0.0, leverage=self.leverage)
        upnl = self.side * self.size * (self._last - self.entry)
        return Position(
            symbol or self.symbol,
            "long" if self.side > 0 else "short",
            self.size,
            self.entry,
            self.leverage,
            upnl,
            self.margin,
            self.liq,
            self._last,
        )

    def account(self) -> AccountState:
        eq = self.equity(self._last)
        return AccountState(equity=eq, free=self.cash - self.margin, used=self.margin)

    # ------------------------------------------------------------------ state helpers

    def equity(self, price: float) -> float:
        if self.side == 0:
            return self.cash
        return self.cash + self.side * self.size * (price - self.entry)

    def entry_size(self, price: float, fraction: float = 1.0) -> float:
        """The largest size whose margin plus taker fee uses ``fraction`` of the free cash at ``price``."""
        free = self.equity(price) if self.side == 0 else self.cash - self.margin
        if free <= 0 or price <= 0:
            return 0.0
        size = free * fraction / (price * (1.0 / self.leverage + self.taker_fee))
        if self.lot_size > 0:
            size = math.floor(size / self.lot_size + 1e-9) * self.lot_size
        return size

    def market_price(self, side: str, price: float) -> float:
        slip = price * self.slippage_bps * 1e-4 + self.slippage_range * (self._high - self._low)
        return price + slip if side == "buy" else price - slip

    def trigger_band(self, include_liquidation: bool = True) -> tuple[float, float]:
        """(lo, hi): a bar whose low <= lo or high >= hi may fill or trigger something; others cannot."""
        lo, hi = -_INF, _INF
        liq = self.liq if include_liquidation else None
        if self.side > 0:
            if self.stop is not None:
                lo = self.stop
            if liq is not None and liq > lo:
                lo = liq
            if self.take is not None:
                hi = self.take
        elif self.side < 0:
            if self.stop is not None:
                hi = self.stop
            if liq is not None and liq < hi:
                hi = liq
            if self.take is not None:
                lo = self.take
        for o in self._resting:
            if o.price is None:  # resting orders are limit orders, placed with their price
                continue
            if o.side == "buy":
                lo = max(lo, o.price)
            else:
                hi = min(hi, o.price)
        return lo, hi

    # ------------------------------------------------------------------ bar processing

    def begin_bar(self, ts: int, open_: float, high: float, low: float) -> None:
        self._open, self._high, self._low, self._last = open_, high, low, open_
        self._in_open = True
        if self._queued:
            queued, self._queued = self._queued, []
            for o in queued:
                self._fill_market(o, open_, self._reasons.get(o.client_order_id or "", "signal"))
                if not self.retain_orders:
                    self._forget(o.client_order_id)

    def end_bar(self, close: float, segments=None) -> None:
        """Walk the bar's path: ``segments`` is a sequence of (open, high, low), by default the bar itself."""
        self._in_open = False
        if segments is None:
            self._segment(self._open, self._high, self._low)
        else:
            for so, sh, sl in segments:
                if self.side == 0 and not self._resting:
                    break
                self._segment(so, sh, sl)
        self._last = close

    def charge_funding(self, rate_times_mark: float) -> float:
        """Funding for the open position given sum(rate x mark) over one or more settlements."""
        if self.side == 0 or rate_times_mark == 0.0:
            return 0.0
        paid = self.side * self.size * rate_times_mark
        self.cash -= paid
        self.margin -= paid  # isolated: funding is settled against the position's margin
        self._set_liq()
        self.funding_paid += paid
        self._pos_funding += paid
        return paid

    def set_brackets(self, stop: float | None, take: float | None) -> None:
        self.stop = stop if stop is not None and stop > 0 and math.isfinite(stop) else None
        self.take = take if take is not None and take > 0 and math.isfinite(take) else None

    # ------------------------------------------------------------------ internals

    def _segment(self, so: float, sh: float, sl: float) -> None:
        if self.side > 0:
            adverse = self.stop if self.stop is not None else -_INF
            liq = self.liq if self.liq is not None else -_INF
            level = adverse if adverse >= liq else liq
            if sl <= level:
                self._adverse_exit(min(so, level), liq > adverse)
            elif self.take is not None and sh >= self.take:
                self._close(max(so, self.take), "take_profit", slip=False)
        elif self.side < 0:
            adverse = self.stop if self.stop is not None else _INF
            liq = self.liq if self.liq is not None else _INF
            level = adverse if adverse <= liq else liq
            if sh >= level:
                self._adverse_exit(max(so, level), liq < adverse)
            elif self.take is not None and sl <= self.take:
                self._close(min(so, self.take), "take_profit", slip=False)
        if self._resting:
            for o in list(self._resting):
                if o.price is None:  # resting orders are limit orders, placed with their price
                    continue
                if o.side == "buy" and sl <= o.price:
                    px = min(so, o.price)
                elif o.side == "sell" and sh >= o.price:
                    px = max(so, o.price)
                else:
                    continue
                self._resting.remove(o)
                self._execute(o, px, self.maker_fee, self._reasons.get(o.client_order_id or "", "limit"))
                if not self.retain_orders:
                    self._forget(o.client_order_id)

    def _adverse_exit(self, price: float, liquidation: bool) -> None:
        if liquidation:
            self._liquidate(price)
        else:
            self._close(price, "stop", slip=True)

    def _close(self, price: float, reason: str, *, slip: bool) -> None:
        side = "sell" if self.side > 0 else "buy"
        if slip:
            price = self.market_price(side, price)
        self._seq += 1
        cid = f"sim-{self._seq}"
        if self.retain_orders:
            o = Order(self.symbol, side, "market", self.size, status=_SUBMITTED, reduce_only=True, client_order_id=cid)
            self._orders[cid] = o
            self._execute(o, price, self.taker_fee, reason)
        else:
            self._fill(side, self.size, price, self.taker_fee, reason, cid, True, None, None)

    def _liquidate(self, price: float) -> None:
        side = "sell" if self.side > 0 else "buy"
        self._seq += 1
        cid = f"sim-{self._seq}"
        size = self.size
        ts = self.clock.now_ms()
        # The whole isolated margin is lost: P&L at the liquidation price plus the forfeited remainder.
        gross = -self.margin
        self._realise(ts, side, price, size, 0.0, gross, "liquidation", cid)
        self.liquidations += 1
        if self.retain_orders:
            o = Order(self.symbol, side, "market", size, status=_SUBMITTED, reduce_only=True, client_order_id=cid)
            self._orders[cid] = o
            o.filled, o.average_price = size, price
            o.transition(_FILLED, f"liquidation @ {price:.8g}")

    def _fill_market(self, order: Order, ref_price: float, reason: str) -> None:
        self._execute(order, self.market_price(order.side, ref_price), self.taker_fee, reason)

    def _execute(self, order: Order, price: float, fee_rate: float, reason: str) -> None:
        if not self._fill(
            order.side,
            order.amount,
            price,
            fee_rate,
            reason,
            order.client_order_id,
            order.reduce_only,
            order.stop_loss,
            order.take_profit,
        ):
            order.transition(_CANCELED, "reduce-only: no opposite position to reduce")
            return
        order.filled = order.amount
        order.average_price = price
        order.transition(_FILLED, f"{reason} @ {price:.8g}")

    def _fill(
        self,
        side: str,
        amount: float,
        price: float,
        fee_rate: float,
        reason: str,
        cid: str | None,
        reduce_only: bool,
        stop_loss: float | None,
        take_profit: float | None,
    ) -> bool:
        """Execute ``amount`` at ``price``: close/reduce the opposite position, then open or add. False
        (nothing done) for a reduce-only order with no opposite position."""
        ts = self.clock.now_ms()
        sgn = 1 if side == "buy" else -1
        if reduce_only and (self.side == 0 or sgn == self.side):
            return False
        if self.side != 0 and sgn != self.side:
            closing = min(amount, self.size)
            fee = closing * price * fee_rate
            gross = self.side * closing * (price - self.entry)
            self._realise(ts, side, price, closing, fee, gross, reason, cid, partial=closing < self.size)
            amount -= closing
            if reduce_only:
                amount = 0.0
        if amount > 1e-15:
            fee = amount * price * fee_rate
            if self.side == 0:
                self.side, self.entry, self.size = sgn, price, amount
                self._pos_open_time = ts
                self._pos_fees = fee
                self._pos_funding = 0.0
                self.set_brackets(stop_loss, take_profit)
                self.margin = self.size * self.entry / self.leverage
            else:  # adding to the position: average the entry, add the new part's margin
                new = self.size + amount
                self.entry = (self.entry * self.size + price * amount) / new
                self.size = new
                self._pos_fees += fee
                self.margin += amount * price / self.leverage  # funding already settled stays deducted
            self.cash -= fee
            self.fees_paid += fee
            self._set_liq()
            self.records.append(FillRecord(ts, side, price, amount, fee, reason, None, None, cid))
        return True

    def _set_liq(self) -> None:
        self.liq = self.liquidation_price(self.margin)

    def liquidation_price(self, margin):
        """Where margin + unrealised P&L = maintenance margin x notional (works on numpy arrays too)."""
        if self.side > 0:
            v = (self.entry - margin / self.size) / (1.0 - self.mmr)
            if isinstance(v, float):
                return v if v > 0 else None
            return v
        return (self.entry + margin / self.size) / (1.0 + self.mmr)

    def _realise(
        self,
        ts: int,
        side: str,
        price: float,
        amount: float,
        fee: float,
        gross: float,
        reason: str,
        cid: str | None,
        partial: bool = False,
    ) -> None:
        self.cash += gross - fee
        self.fees_paid += fee
        share = amount / self.size if self.size else 1.0
        entry_fees = self._pos_fees * share
        funding = self._pos_funding * share
        self.trades.append(
            ClosedTrade(
                "long" if self.side > 0 else "short",
                self._pos_open_time,
                ts,
                self.entry,
                price,
                amount,
                gross,
                entry_fees + fee,
                funding,
                reason,
                self.stop,
                self.take,
            )
        )
        self.records.append(
            FillRecord(ts, side, price, amount, fee, reason, gross - entry_fees - fee - funding, funding, cid)
        )
        if partial:  # the closed share of the isolated margin is released; the liquidation price follows
            self.size -= amount
            self._pos_fees -= entry_fees
            self._pos_funding -= funding
            self.margin -= self.margin * share
            self._set_liq()
        else:
            self.side, self.size, self.entry, self.margin = 0, 0.0, 0.0, 0.0
            self.stop = self.take = self.liq = None
            self._pos_fees = self._pos_funding = 0.0
