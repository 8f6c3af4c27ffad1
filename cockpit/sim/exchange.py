"""The matching engine: one account trading BTC-USDT-SWAP against the simulated market.

Time moves lazily: every API call first runs ``advance(now)``, which walks the intrabar price
path from the last processed time to now, one monotonic segment at a time, and fires in path
order whatever the price crosses (resting limit orders, attached stop-loss/take-profit triggers,
liquidation), with funding settled at every 8-hour mark on the way. The result is the same whether
the clock runs fast, slow or in jumps.

Fills: a market order walks the synthetic book of ``book.py`` (``DEPTH`` contracts per level, one
level per half basis point; the same book ``market/books`` serves) and so fills in several pieces when large; a resting limit order fills as maker
at its price, at most a quarter of the bar's volume per path segment, so large ones fill partially
over time. Fees: taker 0.05 %, maker 0.02 %.
"""

from __future__ import annotations

import copy
import itertools
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from cockpit.sim.accounts import (CT_VAL, LOT_SZ, MAKER_FEE, MAX_LEVER, MIN_SZ, TAKER_FEE, TICK_SZ, AlgoOrder,
                                  Bill, Fill, Order, Position, lots)
from cockpit.sim.book import DEPTH, LEVEL_BPS, best, levels  # noqa: F401  (DEPTH, LEVEL_BPS: old names)
from cockpit.sim.market import FUNDING_INTERVAL_MS, Market, MarketEnded

log = logging.getLogger("cockpit.sim")


class OrderError(Exception):
    """A per-order failure reported as OKX's sCode/sMsg."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


@dataclass
class _Event:
    frac: float
    kind: str           # limit | algo | liq
    ref: Any
    price: float


class SimExchange:
    def __init__(self, market: Market, *, start_ms: int, initial_balance: float, default_lever: float = 5.0) -> None:
        self.market = market
        self.lock = threading.RLock()
        self.t = int(start_ms)
        self.cash = float(initial_balance)
        self.lever = {"isolated": float(default_lever), "cross": float(default_lever)}
        self.positions: dict[str, Position] = {}
        self.orders: dict[str, Order] = {}
        self.by_cl: dict[str, str] = {}
        self.algos: dict[str, AlgoOrder] = {}
        self.algo_by_cl: dict[str, str] = {}
        self.fills: list[Fill] = []
        self.bills: list[Bill] = []
        self._ids = itertools.count(1)
        self._seg_used: dict[str, float] = {}
        # Account events for the WebSocket streams: listener(kind, obj, fill), called under ``lock`` at the
        # moment of the change ("order": an order was accepted, filled or canceled, with the Fill when it was
        # a fill; "account": cash moved without an order, e.g. funding or a leverage change).
        self.listeners: list[Callable[[str, Any, Any], None]] = []

    def _emit(self, kind: str, obj: Any = None, fill: Any = None) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, obj, fill)
            except Exception:   # a broken subscriber must never break the matching engine
                log.exception("simulator event listener failed on %s", kind)

    # ------------------------------------------------------------ state file (standalone restarts)

    _STATE_FIELDS = ("t", "cash", "lever", "positions", "orders", "by_cl", "algos", "algo_by_cl", "fills", "bills")

    def snapshot(self) -> dict[str, Any]:
        """The account's whole state (the market itself is rebuilt from its config)."""
        with self.lock:
            state = {k: copy.deepcopy(getattr(self, k)) for k in self._STATE_FIELDS}
            state["next_id"] = next(self._ids)
            self._ids = itertools.count(state["next_id"])  # next() above consumed one; give it back
            return state

    def restore(self, state: dict[str, Any]) -> None:
        with self.lock:
            for k in self._STATE_FIELDS:
                setattr(self, k, state[k])
            self._ids = itertools.count(int(state["next_id"]))
            self._seg_used = {}

    # ------------------------------------------------------------ ids, prices

    def _id(self, prefix: int) -> str:
        return str(prefix * 10**15 + next(self._ids))

    def last(self, t: int | None = None) -> float:
        return self.market.price_at(self.t if t is None else t)

    def bid_ask(self, t: int | None = None) -> tuple[float, float]:
        return best(self.market, self.t if t is None else t)

    # ------------------------------------------------------------ time

    def advance(self, now_ms: int) -> None:
        """Run the account forward to now; past a replay's end: up to the end, then MarketEnded."""
        with self.lock:
            horizon = self.market.horizon_ms
            if horizon is not None and now_ms > horizon:
                # Settle everything up to the last replayed moment exactly once, then say why no further.
                self.advance(horizon)
                raise MarketEnded(horizon, now_ms, self.market.source)
            if now_ms <= self.t:
                return
            t0 = self.t
            next_funding = (t0 // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
            while next_funding <= now_ms:
                self._walk(t0, next_funding)
                self._settle_funding(next_funding)
                t0 = next_funding
                next_funding += FUNDING_INTERVAL_MS
            self._walk(t0, now_ms)
            self.t = now_ms

    def _busy(self) -> bool:
        return (any(p.pos for p in self.positions.values()) or any(o.is_open for o in self.orders.values())
                or any(a.state == "live" for a in self.algos.values()))

    def _walk(self, t0: int, t1: int) -> None:
        if t1 <= t0 or not self._busy():
            return
        for ta, pa, tb, pb in self.market.segments(t0, t1):
            self._seg_used.clear()
            self._segment(ta, pa, tb, pb)

    def _events(self, pa: float, pb: float) -> list[_Event]:
        out: list[_Event] = []

        def hit(level: float, down: bool) -> float | None:
            # down: fires when price <= level; else when price >= level.
            if down:
                if pa <= level:
                    return 0.0
                return (pa - level) / (pa - pb) if pb <= level else None
            if pa >= level:
                return 0.0
            return (level - pa) / (pb - pa) if pb >= level else None

        for o in self.orders.values():
            if o.is_open and o.px is not None and o.ord_type in ("limit", "post_only") and o.ord_id not in self._seg_used:
                f = hit(o.px, down=o.side == "buy")
                if f is not None:
                    out.append(_Event(f, "limit", o, o.px))
        for a in self.algos.values():
            if a.state != "live":
                continue
            long_close = a.side == "sell"   # closes a long
            for which, px in (("sl", a.sl_trigger_px), ("tp", a.tp_trigger_px)):
                if px is None:
                    continue
                down = (which == "sl") == long_close
                f = hit(px, down=down)
                if f is not None:
                    out.append(_Event(f, "algo:" + which, a, px))
        for p in self.positions.values():
            if p.pos:
                lp = p.liq_px(self.cash)
                if lp is not None:
                    f = hit(lp, down=p.pos > 0)
                    if f is not None:
                        out.append(_Event(f, "liq", p, lp))
        out.sort(key=lambda e: (e.frac, e.kind != "liq"))
        return out

    def _segment(self, ta: int, pa: float, tb: int, pb: float) -> None:
        for _ in range(200):   # bounded: each pass consumes at least one event
            events = self._events(pa, pb)
            if not events:
                return
            e = events[0]
            t = int(ta + e.frac * (tb - ta))
            price = pa if e.frac == 0 and e.kind != "limit" else e.price
            if e.kind == "limit":
                self._fill_resting(e.ref, t)
            elif e.kind == "liq":
                self._liquidate(e.ref, price, t)
            else:
                self._trigger(e.ref, e.kind.split(":")[1], price, t)
            if e.frac > 0:
                ta, pa = t, price

    # ------------------------------------------------------------ account figures

    def position(self, mode: str) -> Position:
        p = self.positions.get(mode)
        if p is None:
            p = self.positions[mode] = Position(mgn_mode=mode, lever=self.lever[mode])
        return p

    def ord_frozen(self) -> float:
        total = 0.0
        for o in self.orders.values():
            if o.is_open and o.px is not None:
                total += self._opening_part(o.side, o.remaining, o.td_mode, o.reduce_only) * CT_VAL * o.px / o.lever
        return total

    def cross_imr(self, price: float) -> float:
        p = self.positions.get("cross")
        return p.imr(price) if p and p.pos else 0.0

    def available(self, price: float) -> float:
        return self.cash - self.cross_imr(price) - self.ord_frozen()

    def equity(self, price: float) -> float:
        return self.cash + sum(p.margin + p.upl(price) for p in self.positions.values() if p.pos)

    def _opening_part(self, side: str, sz: float, mode: str, reduce_only: bool) -> float:
        if reduce_only:
            return 0.0
        p = self.positions.get(mode)
        cur = p.pos if p else 0.0
        signed = sz if side == "buy" else -sz
        if cur == 0 or (cur > 0) == (signed > 0):
            return sz
        return max(0.0, abs(signed) - abs(cur))

    # ------------------------------------------------------------ orders

    def place(self, req: dict[str, Any], now: int) -> Order:
        """Validate and place one order; raise OrderError with OKX's sCode."""
        with self.lock:
            self.advance(now)
            cl = str(req.get("clOrdId") or "")
            if cl and cl in self.by_cl:
                raise OrderError("51016", "Duplicated clOrdId")
            side = req.get("side")
            if side not in ("buy", "sell"):
                raise OrderError("51000", "Parameter side error")
            ord_type = req.get("ordType")
            if ord_type not in ("market", "limit", "post_only", "ioc", "fok", "optimal_limit_ioc"):
                raise OrderError("51000", "Parameter ordType error")
            mode = req.get("tdMode") or "cross"
            if mode not in ("isolated", "cross"):
                raise OrderError("51000", "Parameter tdMode error")
            try:
                sz = float(req.get("sz"))
            except (TypeError, ValueError):
                raise OrderError("51000", "Parameter sz error") from None
            if sz < MIN_SZ or abs(sz / LOT_SZ - round(sz / LOT_SZ)) > 1e-6:
                raise OrderError("51121", f"Order quantity must be a multiple of the lot size {LOT_SZ}")
            px = None
            if ord_type not in ("market", "optimal_limit_ioc"):
                try:
                    px = float(req.get("px"))
                except (TypeError, ValueError):
                    raise OrderError("51000", "Parameter px error") from None
                if px <= 0 or abs(px / TICK_SZ - round(px / TICK_SZ)) > 1e-6:
                    raise OrderError("51000", "Parameter px error")
            reduce_only = str(req.get("reduceOnly", "false")).lower() == "true"
            pos = self.positions.get(mode)
            if reduce_only:
                cur = pos.pos if pos else 0.0
                if cur == 0 or (cur > 0) == (side == "buy"):
                    raise OrderError("51169", "Order failed because you don't have any positions in this direction "
                                              "for this contract")
            last = self.last()
            est_px = px if px is not None else last
            lever = self.lever[mode]
            opening = self._opening_part(side, sz, mode, reduce_only)
            need = opening * CT_VAL * est_px / lever + sz * CT_VAL * est_px * TAKER_FEE
            if opening > 0 and need > self.available(last) + 1e-9:
                raise OrderError("51008", "Order failed. Insufficient USDT margin in account")
            order = Order(ord_id=self._id(7), cl_ord_id=cl, tag=str(req.get("tag") or ""), side=side,
                          ord_type=ord_type, px=px, sz=lots(sz), td_mode=mode, reduce_only=reduce_only,
                          c_time=self.t, u_time=self.t, lever=lever, attach=list(req.get("attachAlgoOrds") or []))
            for a in order.attach:
                for k in ("slTriggerPx", "tpTriggerPx"):
                    if a.get(k) not in (None, ""):
                        v = float(a[k])
                        wrong = (k == "slTriggerPx") == (side == "buy") and v >= est_px or \
                                (k == "slTriggerPx") != (side == "buy") and v <= est_px
                        if wrong:
                            code = "51053" if k == "slTriggerPx" else "51052"
                            raise OrderError(code, f"{k} is on the wrong side of the order price")
            self.orders[order.ord_id] = order
            if cl:
                self.by_cl[cl] = order.ord_id
            self._emit("order", order)
            self._on_new(order)
            return order

    def _on_new(self, o: Order) -> None:
        bid, ask = self.bid_ask()
        marketable = o.px is None or (o.side == "buy" and o.px >= ask) or (o.side == "sell" and o.px <= bid)
        if o.ord_type == "post_only" and marketable:
            self._cancel(o, "post_only_would_take")
            return
        if o.ord_type == "fok" and not self._book_can_fill(o):
            self._cancel(o, "fok_not_filled")
            return
        if marketable:
            self._take(o)
        if o.is_open and o.ord_type in ("market", "optimal_limit_ioc", "ioc", "fok"):
            self._cancel(o, "ioc_remainder")

    def _book_can_fill(self, o: Order) -> bool:
        left = o.remaining
        for lvl, size in levels(self.market, o.side, self.t):
            if o.px is not None and ((o.side == "buy" and lvl > o.px) or (o.side == "sell" and lvl < o.px)):
                return False
            left -= size
            if left <= 0:
                return True
        return False

    def _take(self, o: Order) -> None:
        """Fill as taker through the book (``book.levels``), one fill per level, up to the limit price."""
        for lvl, size in levels(self.market, o.side, self.t):
            if not o.is_open or o.remaining <= 0:
                break
            if o.px is not None and ((o.side == "buy" and lvl > o.px) or (o.side == "sell" and lvl < o.px)):
                break
            if not self._fill(o, min(o.remaining, size), lvl, "T", self.t):
                break

    def _fill_resting(self, o: Order, t: int) -> None:
        vol = self.market.volume_at(t)
        liq = max(DEPTH / 4, vol * 0.25 / 3 / CT_VAL)
        used = self._seg_used.get(o.ord_id, 0.0)
        qty = lots(min(o.remaining, max(LOT_SZ, liq - used)))
        self._seg_used[o.ord_id] = used + qty + 1e9  # one maker fill per order per segment
        self._fill(o, qty, o.px, "M", t)

    def _fill(self, o: Order, qty: float, px: float, exec_type: str, t: int) -> bool:
        """Book one fill; False when nothing could be filled (reduce-only with no position left)."""
        pos = self.position(o.td_mode)
        if o.reduce_only:
            room = abs(pos.pos) if pos.pos and (pos.pos > 0) != (o.side == "buy") else 0.0
            qty = lots(min(qty, room))
            if qty <= 0:
                self._cancel(o, "reduce_only_no_position")
                return False
        qty = lots(qty)
        signed = qty if o.side == "buy" else -qty
        pnl = 0.0
        if pos.pos and (pos.pos > 0) != (signed > 0):
            close = min(qty, abs(pos.pos))
            pnl = close * CT_VAL * (px - pos.avg_px) * (1 if pos.pos > 0 else -1)
            release = pos.margin * close / abs(pos.pos) if pos.mgn_mode == "isolated" else 0.0
            pos.margin -= release
            self.cash += release + pnl
            pos.realized_pnl += pnl
            pos.pos = lots(pos.pos + (close if pos.pos < 0 else -close))
            opening = qty - close
            if pos.pos == 0:
                self.cash += pos.margin
                pos.margin = 0.0
                pos.avg_px = 0.0
                self._position_closed(pos.mgn_mode, t)
        else:
            opening = qty
        if opening > 0:
            if pos.pos == 0:
                pos.c_time, pos.pos_id, pos.lever = t, pos.pos_id or self._id(5), self.lever[pos.mgn_mode]
            new = abs(pos.pos) + opening
            pos.avg_px = (abs(pos.pos) * pos.avg_px + opening * px) / new
            im = opening * CT_VAL * px / pos.lever
            if pos.mgn_mode == "isolated":
                self.cash -= im
                pos.margin += im
            pos.pos = lots(pos.pos + (opening if signed > 0 else -opening))
        fee = qty * CT_VAL * px * (TAKER_FEE if exec_type == "T" else MAKER_FEE)
        self.cash -= fee
        pos.fee -= fee
        pos.realized_pnl -= fee
        pos.u_time = t
        trade_id = self._id(3)
        o.avg_px = (o.acc_fill_sz * o.avg_px + qty * px) / (o.acc_fill_sz + qty)
        o.acc_fill_sz = lots(o.acc_fill_sz + qty)
        o.fee -= fee
        o.pnl += pnl
        o.fill_px, o.fill_sz, o.fill_time, o.u_time, o.trade_id, o.exec_type = px, qty, t, t, trade_id, exec_type
        o.state = "filled" if o.remaining <= 0 else "partially_filled"
        self.fills.append(Fill(trade_id, self._id(4), o.ord_id, o.cl_ord_id, o.tag, o.side, px, qty, exec_type,
                               -fee, pnl, t, o.td_mode))
        self.bills.append(Bill(self.fills[-1].bill_id, t, "trade", pnl - fee))
        if o.attach and opening > 0:
            self._attach(o, t)
        self._emit("order", o, self.fills[-1])
        return True

    def _attach(self, o: Order, t: int) -> None:
        """Attached TP/SL become live algo orders for the filled size (resized as the parent fills)."""
        if o.attached_algo_ids:
            for aid in o.attached_algo_ids:
                a = self.algos[aid]
                if a.state == "live":
                    a.sz = o.acc_fill_sz
            return
        for spec in o.attach:
            def num(k: str) -> float | None:
                v = spec.get(k)
                return float(v) if v not in (None, "") else None
            sl, tp = num("slTriggerPx"), num("tpTriggerPx")
            if sl is None and tp is None:
                continue
            a = AlgoOrder(algo_id=self._id(8), algo_cl_ord_id=str(spec.get("attachAlgoClOrdId") or ""),
                          ord_type="oco" if sl is not None and tp is not None else "conditional",
                          side="sell" if o.side == "buy" else "buy", sz=o.acc_fill_sz, td_mode=o.td_mode, c_time=t,
                          u_time=t, sl_trigger_px=sl, sl_ord_px=num("slOrdPx") or -1.0, tp_trigger_px=tp,
                          tp_ord_px=num("tpOrdPx") or -1.0, parent_ord_id=o.ord_id)
            self.algos[a.algo_id] = a
            o.attached_algo_ids.append(a.algo_id)

    def _position_closed(self, mode: str, t: int) -> None:
        for a in self.algos.values():
            if a.state == "live" and a.td_mode == mode:
                a.state, a.u_time = "canceled", t
        for o in self.orders.values():
            if o.is_open and o.reduce_only and o.td_mode == mode:
                self._cancel(o, "position_closed")

    def _cancel(self, o: Order, source: str) -> None:
        o.state = "canceled"   # OKX keeps accFillSz on a partly filled order that was canceled
        o.cancel_source = source
        o.u_time = self.t
        self._emit("order", o)

    def cancel(self, ord_id: str | None, cl_ord_id: str | None, now: int) -> Order:
        with self.lock:
            self.advance(now)
            o = self.find(ord_id, cl_ord_id)
            if o is None:
                raise OrderError("51603", "Order does not exist")
            if not o.is_open:
                raise OrderError("51400", "Order cancellation failed as the order has been filled, canceled or "
                                          "does not exist")
            self._cancel(o, "user")
            return o

    def find(self, ord_id: str | None, cl_ord_id: str | None) -> Order | None:
        if ord_id:
            return self.orders.get(str(ord_id))
        if cl_ord_id:
            oid = self.by_cl.get(str(cl_ord_id))
            return self.orders.get(oid) if oid else None
        return None

    # ------------------------------------------------------------ algo orders

    def place_algo(self, req: dict[str, Any], now: int) -> AlgoOrder:
        with self.lock:
            self.advance(now)
            ord_type = req.get("ordType")
            if ord_type not in ("conditional", "oco"):
                raise OrderError("51000", "Parameter ordType error (the simulator supports conditional and oco)")
            cl = str(req.get("algoClOrdId") or req.get("clOrdId") or "")
            if cl and cl in self.algo_by_cl:
                raise OrderError("51016", "Duplicated clOrdId")
            mode = req.get("tdMode") or "cross"

            def num(k: str) -> float | None:
                v = req.get(k)
                return float(v) if v not in (None, "") else None
            sz = num("sz")
            if sz is None and not req.get("closeFraction"):
                raise OrderError("51000", "Parameter sz error")
            a = AlgoOrder(algo_id=self._id(8), algo_cl_ord_id=cl, ord_type=ord_type, side=req.get("side"),
                          sz=lots(sz or 0.0), td_mode=mode, c_time=self.t, u_time=self.t,
                          sl_trigger_px=num("slTriggerPx"), sl_ord_px=num("slOrdPx"),
                          tp_trigger_px=num("tpTriggerPx"), tp_ord_px=num("tpOrdPx"),
                          reduce_only=str(req.get("reduceOnly", "true")).lower() == "true" or bool(req.get("closeFraction")),
                          close_fraction=str(req.get("closeFraction") or ""))
            if a.sl_trigger_px is None and a.tp_trigger_px is None:
                raise OrderError("51000", "slTriggerPx or tpTriggerPx is required")
            self.algos[a.algo_id] = a
            if cl:
                self.algo_by_cl[cl] = a.algo_id
            return a

    def cancel_algo(self, algo_id: str, now: int) -> AlgoOrder:
        with self.lock:
            self.advance(now)
            a = self.algos.get(str(algo_id))
            if a is None or a.state != "live":
                raise OrderError("51603", "Order does not exist")
            a.state, a.u_time = "canceled", self.t
            return a

    def _trigger(self, a: AlgoOrder, which: str, price: float, t: int) -> None:
        a.state, a.trigger_time, a.u_time, a.actual_side = "effective", t, t, which
        pos = self.positions.get(a.td_mode)
        sz = abs(pos.pos) if (a.close_fraction and pos) else a.sz
        ord_px = a.sl_ord_px if which == "sl" else a.tp_ord_px
        saved_t = self.t
        self.t = t
        try:
            o = Order(ord_id=self._id(7), cl_ord_id="", tag="", side=a.side,
                      ord_type="market" if ord_px in (None, -1.0) else "limit",
                      px=None if ord_px in (None, -1.0) else ord_px, sz=lots(sz), td_mode=a.td_mode,
                      reduce_only=a.reduce_only, c_time=t, u_time=t, lever=self.lever[a.td_mode],
                      source_algo_id=a.algo_id)
            self.orders[o.ord_id] = o
            a.ord_id = o.ord_id
            if o.sz <= 0 or (o.reduce_only and not (pos and pos.pos)):
                a.state = "order_failed"
                self._cancel(o, "reduce_only_no_position")
                return
            self._on_new(o)
        finally:
            self.t = saved_t

    # ------------------------------------------------------------ funding, liquidation, leverage

    def _settle_funding(self, ts: int) -> None:
        rate = self.market.funding_rate(ts)
        mark = self.market.mark_price(ts)
        for p in self.positions.values():
            if p.pos:
                pay = p.pos * CT_VAL * mark * rate   # longs pay a positive rate
                self.cash -= pay
                p.funding_fee -= pay
                p.realized_pnl -= pay
                self.bills.append(Bill(self._id(4), ts, "funding", -pay, f"rate={rate}"))
                self._emit("account")

    def _liquidate(self, p: Position, price: float, t: int) -> None:
        side = "sell" if p.pos > 0 else "buy"
        qty = abs(p.pos)
        lost = p.margin if p.mgn_mode == "isolated" else -(p.upl(price))
        o = Order(ord_id=self._id(7), cl_ord_id="", tag="", side=side, ord_type="market", px=None, sz=qty,
                  td_mode=p.mgn_mode, reduce_only=True, c_time=t, u_time=t, lever=p.lever, state="filled",
                  acc_fill_sz=qty, avg_px=price, fill_px=price, fill_sz=qty, fill_time=t, category="full_liquidation")
        o.trade_id = self._id(3)
        o.exec_type = "T"
        o.pnl = -lost
        self.orders[o.ord_id] = o
        self.fills.append(Fill(o.trade_id, self._id(4), o.ord_id, "", "", side, price, qty, "T", 0.0, -lost, t,
                               p.mgn_mode))
        if p.mgn_mode == "cross":
            self.cash -= lost
        p.realized_pnl -= lost
        p.pos, p.margin, p.avg_px, p.u_time = 0.0, 0.0, 0.0, t
        self.bills.append(Bill(self._id(4), t, "liquidation", -lost))
        self._emit("order", o, self.fills[-1])
        self._position_closed(p.mgn_mode, t)

    def set_leverage(self, lever: float, mode: str, now: int) -> None:
        with self.lock:
            self.advance(now)
            if not 1 <= lever <= MAX_LEVER:
                raise OrderError("51000", f"Parameter lever error: 1 to {MAX_LEVER}")
            if mode not in ("isolated", "cross"):
                raise OrderError("51000", "Parameter mgnMode error")
            p = self.positions.get(mode)
            if p and p.pos and mode == "isolated":
                # Isolated: changing leverage moves margin between the wallet and the position.
                need = p.notional(p.avg_px) / lever
                delta = need - p.margin
                if delta > self.available(self.last()):
                    raise OrderError("59300", "Leverage adjustment failed: insufficient margin")
                self.cash -= delta
                p.margin = need
            self.lever[mode] = float(lever)
            if p:
                p.lever = float(lever)
            self._emit("account")
