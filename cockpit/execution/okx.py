"""OKXExecutor: the OrderExecutor over ccxt's ``okx`` class, for the built-in simulator (on loopback),
OKX demo trading and OKX live. The same code path for all three; only the ccxt instance differs.

At this boundary, sizes change units: the engine speaks BTC, OKX speaks contracts (ctVal 0.01 BTC),
rounded with ccxt's ``amount_to_precision``. After ``create_order`` the order is fetched again,
because ccxt's batch-orders reply carries no status. A reply that does not look like an order
(no id, a foreign client id, negative sizes) is never turned into an order: the report says
FAILED/not found and the OrderManager looks the order up by its client id.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

import ccxt

from cockpit.domain.orders import Fill, Order, OrderStatus, Position
from cockpit.domain.settings import Config
from cockpit.execution.base import (
    AccountFill,
    AccountState,
    ExecutionReport,
    InstrumentInfo,
    OrderExecutor,
    ProtectiveOrder,
)

S = OrderStatus
_CCXT_STATUS = {
    "open": S.SUBMITTED,
    "closed": S.FILLED,
    "canceled": S.CANCELED,
    "cancelled": S.CANCELED,
    "rejected": S.REJECTED,
    "expired": S.EXPIRED,
}
_OKX_STATE = {
    "live": S.SUBMITTED,
    "partially_filled": S.PARTIALLY_FILLED,
    "filled": S.FILLED,
    "canceled": S.CANCELED,
    "mmp_canceled": S.CANCELED,
}
DUPLICATE_CODES = ("51016", "Duplicated client order ID")
ORDER_ID = re.compile(r"\d{1,32}")  # OKX order ids are numeric strings


class MalformedReply(ValueError):
    pass


# What ccxt's parsers raise on junk such as 'NaN' where a number belongs (not ccxt errors).
_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError)


def _num(x: Any) -> float | None:
    if x is None or x == "":
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class OKXExecutor(OrderExecutor):
    name = "okx"

    def __init__(
        self, exchange: ccxt.Exchange, cfg: Config | None = None, *, symbol: str = "BTC/USDT:USDT", clock: Any = None
    ) -> None:
        self.exchange = exchange
        self.symbol = symbol
        ex_cfg: Mapping[str, Any] = cfg.get("execution", {}) if cfg else {}
        # The client's default (make_exchange sets isolated) unless the config says otherwise.
        self.margin_mode = (
            ex_cfg.get("margin_mode") or (getattr(exchange, "options", None) or {}).get("defaultMarginMode") or "cross"
        )
        self.clock = clock
        self._leverage: dict[str, float] = {}
        self._markets_loaded = False

    # ---------------------------------------------------------------- market, units

    def _market(self, symbol: str) -> dict[str, Any]:
        if not self._markets_loaded:
            self.exchange.load_markets()
            self._markets_loaded = True
        return self.exchange.market(symbol)

    def contract_size(self, symbol: str) -> float:
        return float(self._market(symbol).get("contractSize") or 1.0)

    def to_contracts(self, symbol: str, amount_btc: float) -> float:
        """BTC -> contracts, truncated to the market's lot size."""
        c = amount_btc / self.contract_size(symbol)
        return float(self.exchange.amount_to_precision(symbol, c + 1e-9))

    def to_base(self, symbol: str, contracts: float | None) -> float:
        return round(float(contracts or 0.0) * self.contract_size(symbol), 12)

    def instrument(self, symbol: str) -> InstrumentInfo:
        m = self._market(symbol)
        cs = float(m.get("contractSize") or 1.0)
        lot = _num((m.get("precision") or {}).get("amount")) or 1.0
        min_c = _num(((m.get("limits") or {}).get("amount") or {}).get("min")) or lot
        tick = _num((m.get("precision") or {}).get("price")) or 0.1
        return InstrumentInfo(
            symbol, amount_step=round(lot * cs, 12), min_amount=round(min_c * cs, 12), price_step=tick, contract_size=cs
        )

    def mark_price(self, symbol: str) -> float | None:
        try:
            r = self.exchange.fetch_mark_price(symbol)
            return _num(r.get("markPrice")) or _num((r.get("info") or {}).get("markPx"))
        except (ccxt.NotSupported, AttributeError):
            t = self.exchange.fetch_ticker(symbol)
            return _num(t.get("markPrice")) or _num(t.get("last"))

    # ---------------------------------------------------------------- reports

    def _report(self, raw: Any, order: Order | None, *, fills: bool = True) -> ExecutionReport:
        """A ccxt order structure -> ExecutionReport; MalformedReply when it is not a usable order."""
        if not isinstance(raw, dict):
            raise MalformedReply(f"expected an order structure, got {type(raw).__name__}")
        info = raw.get("info") or {}
        # ccxt puts the algo id in 'id' for orders made by a triggered algo; the order's own id is ordId.
        oid = info.get("ordId") if isinstance(info, dict) and info.get("ordId") else raw.get("id")
        if not isinstance(oid, str) or not ORDER_ID.fullmatch(oid):
            raise MalformedReply(f"order reply without a valid id: {oid!r}")
        cid = raw.get("clientOrderId") or info.get("clOrdId") or (order.client_order_id if order else None)
        if order is not None and order.client_order_id and cid and cid != order.client_order_id:
            raise MalformedReply(f"reply for client id {cid!r}, expected {order.client_order_id!r}")
        symbol = raw.get("symbol") or (order.symbol if order else self.symbol)
        filled_c = _num(raw.get("filled"))
        if filled_c is None:
            filled_c = _num(info.get("accFillSz")) or 0.0
        if filled_c < 0:
            raise MalformedReply(f"negative filled amount {filled_c}")
        status = _CCXT_STATUS.get(raw.get("status") or "") or _OKX_STATE.get(info.get("state") or "")
        if status is None:
            raise MalformedReply(
                f"order {oid} without a status (status={raw.get('status')!r}, state={info.get('state')!r})"
            )
        filled = self.to_base(symbol, filled_c)
        if status == S.SUBMITTED and filled > 0:
            status = S.PARTIALLY_FILLED
        fee_cost = _num((raw.get("fee") or {}).get("cost"))
        rep = ExecutionReport(
            client_order_id=str(cid or ""),
            status=status,
            exchange_order_id=oid,
            filled=filled,
            average_price=_num(raw.get("average")) or _num(info.get("avgPx")),
            fee=abs(fee_cost) if fee_cost is not None else 0.0,
            message=f"okx state {info.get('state') or raw.get('status')}",
            raw=info,
        )
        if fills and filled > 0:
            rep.fills = self._fills(oid, symbol, rep.client_order_id)
        return rep

    def _fills(self, exchange_order_id: str, symbol: str, client_order_id: str) -> list[Fill]:
        out = []
        for t in self.exchange.fetch_order_trades(exchange_order_id, symbol):
            tid, price, amount = t.get("id"), _num(t.get("price")), _num(t.get("amount"))
            if not tid or price is None or amount is None or amount <= 0:
                continue  # a malformed fill is skipped; the order's cumulative fill still counts
            fee = _num((t.get("fee") or {}).get("cost")) or 0.0
            out.append(
                Fill(
                    order_client_id=client_order_id,
                    side=t.get("side") or "",
                    price=price,
                    amount=self.to_base(symbol, amount),
                    fee=abs(fee),
                    fee_currency=(t.get("fee") or {}).get("currency") or "USDT",
                    timestamp=int(t.get("timestamp") or 0),
                    trade_id=str(tid),
                    realized_pnl=_num((t.get("info") or {}).get("fillPnl")),
                )
            )
        return out

    @staticmethod
    def _not_found(order: Order, message: str) -> ExecutionReport:
        return ExecutionReport(
            client_order_id=order.client_order_id or "", status=S.FAILED, found=False, message=message
        )

    # ---------------------------------------------------------------- orders

    def _ensure_leverage(self, symbol: str, leverage: float) -> str:
        lev = float(leverage or 1.0)
        if self._leverage.get(symbol) == lev:
            return ""
        try:
            self.exchange.set_leverage(lev, symbol, {"mgnMode": self.margin_mode})
            self._leverage[symbol] = lev
            return ""
        except ccxt.NetworkError:
            raise
        except ccxt.BaseError as e:
            return f"; set_leverage failed: {e}"

    def place(self, order: Order) -> ExecutionReport:
        if not order.client_order_id:
            raise ValueError("an order needs a client_order_id to be placed")
        symbol = order.symbol
        contracts = self.to_contracts(symbol, order.amount)
        if contracts <= 0:
            return ExecutionReport(
                order.client_order_id, S.REJECTED, found=False, message=f"amount {order.amount:g} BTC is below one lot"
            )
        note = "" if order.reduce_only else self._ensure_leverage(symbol, order.leverage)
        params: dict[str, Any] = {"clientOrderId": order.client_order_id, "tdMode": self.margin_mode}
        if order.reduce_only:
            params["reduceOnly"] = True
        if order.stop_loss and not order.reduce_only:
            params["stopLoss"] = {"triggerPrice": order.stop_loss}
        if order.take_profit and not order.reduce_only:
            params["takeProfit"] = {"triggerPrice": order.take_profit}
        price = order.price if order.type == "limit" else None
        try:
            raw = self.exchange.create_order(symbol, order.type, order.side, contracts, price, params)
        except ccxt.NetworkError:
            raise  # unknown outcome: the caller looks the order up by client id
        except _PARSE_ERRORS as e:
            return ExecutionReport(
                order.client_order_id,
                S.FAILED,
                found=False,
                message=f"malformed create_order reply: {type(e).__name__}: {e}"[:300],
            )
        except ccxt.BaseError as e:
            if any(c in str(e) for c in DUPLICATE_CODES):
                # A retried submit: the exchange already has this client id. Adopt that order.
                return self.find(order.client_order_id, symbol)
            return ExecutionReport(
                order.client_order_id, S.REJECTED, found=False, message=f"rejected by the exchange: {e}"[:500]
            )
        oid = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(oid, str) or not ORDER_ID.fullmatch(oid):
            # Never turn this into an order: the caller looks the order up by its client id.
            return ExecutionReport(
                order.client_order_id,
                S.FAILED,
                found=False,
                message=f"malformed create_order reply (id={oid!r})",
                raw=_safe(raw),
            )
        # ccxt's batch-orders reply has no status: fetch the order (by our client id) for its real state.
        try:
            rep = self._report(self.exchange.fetch_order(None, symbol, {"clOrdId": order.client_order_id}), order)
        except ccxt.NetworkError:
            return ExecutionReport(
                order.client_order_id, S.SUBMITTED, exchange_order_id=oid, message="placed; status fetch failed" + note
            )
        except (ccxt.BaseError, MalformedReply, *_PARSE_ERRORS) as e:
            return ExecutionReport(
                order.client_order_id,
                S.SUBMITTED,
                exchange_order_id=oid,
                message=f"placed; status fetch unusable: {e}"[:500] + note,
            )
        if rep.exchange_order_id != oid:
            return ExecutionReport(
                order.client_order_id,
                S.FAILED,
                found=False,
                message=f"create_order reply id {oid!r} differs from the exchange's {rep.exchange_order_id!r}",
            )
        return self._with_note(rep, note)

    @staticmethod
    def _with_note(rep: ExecutionReport, note: str) -> ExecutionReport:
        if note:
            rep.message += note
        return rep

    def fetch(self, order: Order) -> ExecutionReport:
        """found=False only when the exchange says it has no such order; MalformedReply when the reply
        cannot be read (then nothing is known and the caller tries again later)."""
        symbol = order.symbol
        try:
            if order.exchange_order_id:
                raw = self.exchange.fetch_order(order.exchange_order_id, symbol)
            else:
                raw = self.exchange.fetch_order(None, symbol, {"clOrdId": order.client_order_id})
        except ccxt.OrderNotFound as e:
            return self._not_found(order, f"not found: {e}"[:300])
        except _PARSE_ERRORS as e:  # ccxt's own parser choked on the reply: we learned nothing
            raise MalformedReply(f"unreadable order reply: {type(e).__name__}: {e}"[:300]) from e
        try:
            return self._report(raw, order)
        except MalformedReply:
            raise
        except _PARSE_ERRORS as e:
            raise MalformedReply(f"unreadable order reply: {type(e).__name__}: {e}"[:300]) from e

    def find(self, client_order_id: str, symbol: str) -> ExecutionReport:
        return self.fetch(Order(symbol=symbol, side="buy", type="market", amount=0.0, client_order_id=client_order_id))

    def cancel(self, order: Order) -> ExecutionReport:
        symbol = order.symbol
        try:
            if order.exchange_order_id:
                self.exchange.cancel_order(order.exchange_order_id, symbol)
            else:
                self.exchange.cancel_order(None, symbol, {"clOrdId": order.client_order_id})
        except ccxt.OrderNotFound:
            pass  # already filled or canceled: the fetch below tells which
        except ccxt.InvalidOrder:
            pass  # OKX 51400-51402: cannot cancel a filled/canceled order
        return self.fetch(order)

    def open_orders(self, symbol: str) -> list[ExecutionReport]:
        out = []
        for raw in self.exchange.fetch_open_orders(symbol):
            try:
                out.append(self._report(raw, None, fills=False))
            except MalformedReply:
                continue
        return out

    def recent_closed(self, symbol: str) -> list[ExecutionReport]:
        out = []
        for raw in self.exchange.fetch_closed_orders(symbol, None, 50):
            try:
                out.append(self._report(raw, None, fills=False))
            except MalformedReply:
                continue
        return out

    # ---------------------------------------------------------------- protective (TP/SL algo) orders

    def protective_orders(self, symbol: str) -> list[ProtectiveOrder]:
        rows = self.exchange.private_get_trade_orders_algo_pending(
            {"instId": self._market(symbol)["id"], "ordType": "conditional,oco"}
        )
        data = rows.get("data") if isinstance(rows, dict) else None
        if not isinstance(data, list):
            raise MalformedReply(f"unreadable algo order list: {str(rows)[:200]}")
        out = []
        for r in data:
            aid = r.get("algoId") if isinstance(r, dict) else None
            if not aid or r.get("side") not in ("buy", "sell"):
                raise MalformedReply(f"algo order without an id or a side: {str(r)[:200]}")
            whole = str(r.get("closeFraction") or "") not in ("", "0")
            out.append(
                ProtectiveOrder(
                    str(aid),
                    r["side"],
                    _num(r.get("slTriggerPx")) or None,
                    _num(r.get("tpTriggerPx")) or None,
                    0.0 if whole else self.to_base(symbol, _num(r.get("sz")) or 0.0),
                    whole,
                )
            )
        return out

    def amend_protection(
        self, symbol: str, algo_id: str, *, stop_loss: float | None = None, take_profit: float | None = None
    ) -> None:
        body: dict[str, Any] = {"instId": self._market(symbol)["id"], "algoId": algo_id}
        if stop_loss is not None:
            body.update(newSlTriggerPx=self.exchange.price_to_precision(symbol, stop_loss), newSlOrdPx="-1")
        if take_profit is not None:
            body.update(newTpTriggerPx=self.exchange.price_to_precision(symbol, take_profit), newTpOrdPx="-1")
        self._algo_ok(self.exchange.private_post_trade_amend_algos(body), "amend")

    def place_protection(self, symbol: str, side: str, *, stop_loss: float | None, take_profit: float | None) -> str:
        # No algoClOrdId: the order it places when triggered must not look like one of ours (ck...), so the
        # OrderManager adopts it as a triggered stop-loss/take-profit.
        body: dict[str, Any] = {
            "instId": self._market(symbol)["id"],
            "tdMode": self.margin_mode,
            "side": side,
            "ordType": "oco" if stop_loss is not None and take_profit is not None else "conditional",
            "closeFraction": "1",
            "reduceOnly": "true",
        }
        if stop_loss is not None:
            body.update(slTriggerPx=self.exchange.price_to_precision(symbol, stop_loss), slOrdPx="-1")
        if take_profit is not None:
            body.update(tpTriggerPx=self.exchange.price_to_precision(symbol, take_profit), tpOrdPx="-1")
        return self._algo_ok(self.exchange.private_post_trade_order_algo(body), "place")

    def trigger_kind(self, symbol: str, algo_id: str) -> str | None:
        """OKX's actualSide of a triggered algo order: 'sl' -> stop-loss, 'tp' -> take-profit."""
        try:
            reply = self.exchange.private_get_trade_order_algo({"algoId": algo_id})
        except ccxt.BaseError:
            return None
        data = reply.get("data") if isinstance(reply, dict) else None
        row = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        return {"sl": "stop-loss", "tp": "take-profit"}.get(str(row.get("actualSide") or ""))

    @staticmethod
    def _algo_ok(reply: Any, what: str) -> str:
        data = reply.get("data") if isinstance(reply, dict) else None
        row = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None
        if row is None or str(row.get("sCode", "0")) != "0" or not row.get("algoId"):
            raise ValueError(f"the exchange did not {what} the stop-loss/take-profit order: {str(reply)[:300]}")
        return str(row["algoId"])

    # ---------------------------------------------------------------- account

    def position(self, symbol: str) -> Position:
        """The exchange's position. A row that cannot be read raises MalformedReply: it is never taken as
        flat. An empty list *is* returned as flat (OKX lists no row for a flat position), so flat alone
        proves nothing: the OrderManager confirms it against the ledger."""
        try:
            rows = self.exchange.fetch_positions([symbol])
        except _PARSE_ERRORS as e:
            raise MalformedReply(f"unreadable positions reply: {type(e).__name__}: {e}"[:300]) from e
        if not isinstance(rows, list):
            raise MalformedReply(f"positions reply is not a list: {type(rows).__name__}")
        for p in rows:
            if not isinstance(p, dict) or p.get("symbol") != symbol:
                continue
            given = p.get("info")
            info: dict[str, Any] = given if isinstance(given, dict) else {}
            contracts = _num(p.get("contracts"))
            pos_raw = _num(info.get("pos"))
            if contracts is None and pos_raw is None:
                raise MalformedReply(
                    f"position row for {symbol} without a readable size "
                    f"(contracts={p.get('contracts')!r}, pos={info.get('pos')!r})"
                )
            if contracts is None:
                contracts = abs(pos_raw or 0.0)
            if contracts < 0:
                raise MalformedReply(f"position row for {symbol} with a negative size {contracts!r}")
            if contracts == 0:
                continue
            side = p.get("side")
            if side not in ("long", "short"):
                if not pos_raw:
                    raise MalformedReply(f"position row for {symbol} without a side (pos={info.get('pos')!r})")
                side = "long" if pos_raw > 0 else "short"
            return Position(
                symbol=symbol,
                side=side,
                size=self.to_base(symbol, abs(contracts)),
                entry_price=_num(p.get("entryPrice")) or 0.0,
                leverage=_num(p.get("leverage")) or 1.0,
                unrealized_pnl=_num(p.get("unrealizedPnl")) or 0.0,
                margin=_num(p.get("initialMargin")) or _num(p.get("collateral")) or 0.0,
                liquidation_price=_num(p.get("liquidationPrice")),
                mark_price=_num(p.get("markPrice")),
                funding_fee=_num(info.get("fundingFee")),
                margin_ratio=_num(p.get("marginRatio")),
            )
        return Position(symbol=symbol, side="flat", size=0.0)

    def account_fills(self, symbol: str, since_ms: int, *, max_pages: int = 50) -> list[AccountFill]:
        """Every fill in ``symbol`` since ``since_ms`` (OKX trade/fills-history through ccxt's fetch_my_trades,
        paged backwards by bill id), oldest first. Any unreadable fill raises MalformedReply: a ledger
        reconciled from a partial list would look complete when it is not."""
        out: dict[str, AccountFill] = {}
        params: dict[str, Any] = {}
        for _ in range(max_pages):
            try:
                page = self.exchange.fetch_my_trades(symbol, int(since_ms), None, dict(params))
            except _PARSE_ERRORS as e:
                raise MalformedReply(f"unreadable fills reply: {type(e).__name__}: {e}"[:300]) from e
            if not isinstance(page, list):
                raise MalformedReply(f"fills reply is not a list: {type(page).__name__}")
            oldest: int | None = None
            for t in page:
                af = self._account_fill(t, symbol)
                out.setdefault(str(af.fill.trade_id), af)
                bill = _num(((t.get("info") or {}) if isinstance(t, dict) else {}).get("billId"))
                if bill is not None:
                    oldest = int(bill) if oldest is None else min(oldest, int(bill))
            if len(page) < 100 or oldest is None:
                break
            params = {"after": str(oldest)}  # OKX: records older than this bill id
        else:
            raise MalformedReply(f"more than {max_pages} pages of fills since {since_ms}; not all were read")
        return sorted(out.values(), key=lambda a: (a.fill.timestamp, a.fill.trade_id or ""))

    def _account_fill(self, t: Any, symbol: str) -> AccountFill:
        if not isinstance(t, dict):
            raise MalformedReply(f"fill is not a record: {type(t).__name__}")
        given = t.get("info")
        info: dict[str, Any] = given if isinstance(given, dict) else {}
        tid, oid = t.get("id") or info.get("tradeId"), t.get("order") or info.get("ordId")
        price, amount, ts = _num(t.get("price")), _num(t.get("amount")), _num(t.get("timestamp"))
        side = t.get("side") or info.get("side")
        if (
            not tid
            or not isinstance(oid, str)
            or not ORDER_ID.fullmatch(oid)
            or price is None
            or price <= 0
            or amount is None
            or amount <= 0
            or ts is None
            or side not in ("buy", "sell")
        ):
            raise MalformedReply(
                f"unreadable fill: id={tid!r} order={oid!r} side={side!r} price={t.get('price')!r} "
                f"amount={t.get('amount')!r}"[:300]
            )
        fee = _num((t.get("fee") or {}).get("cost")) or 0.0
        cid = t.get("clientOrderId") or info.get("clOrdId") or ""
        return AccountFill(
            Fill(
                order_client_id=str(cid),
                side=side,
                price=price,
                amount=self.to_base(symbol, amount),
                fee=abs(fee),
                fee_currency=(t.get("fee") or {}).get("currency") or "USDT",
                timestamp=int(ts),
                trade_id=str(tid),
                realized_pnl=_num(info.get("fillPnl")),
            ),
            exchange_order_id=oid,
            client_order_id=str(cid),
        )

    def account(self) -> AccountState:
        bal = self.exchange.fetch_balance()
        ccy = "USDT"
        total = _num((bal.get("total") or {}).get(ccy))
        if total is None:
            raise MalformedReply(f"balance reply without {ccy} total")
        return AccountState(
            equity=total,
            free=_num((bal.get("free") or {}).get(ccy)) or 0.0,
            used=_num((bal.get("used") or {}).get(ccy)) or 0.0,
            currency=ccy,
        )


def _safe(raw: Any) -> dict[str, Any] | None:
    return raw if isinstance(raw, dict) else {"reply": repr(raw)[:200]}
