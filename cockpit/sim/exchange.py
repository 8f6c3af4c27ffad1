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

from cockpit.sim.accounts import (
    CT_VAL,
    LOT_SZ,
    MAKER_FEE,
    MAX_LEVER,
    MIN_SZ,
    TAKER_FEE,
    TICK_SZ,
    AlgoOrder,
    Bill,
    Fill,
    Order,
    Position,
    lots,
)
from cockpit.sim.book import DEPTH, LEVEL_BPS, best, levels  # noqa: F401  (DEPTH, LEVEL_BPS: old names)
from cockpit.sim.market import FUNDING_INTERVAL_MS, Market, MarketEnded

log = logging.getLogger("cockpit.sim")


def _number_reader(req: dict[str, Any]):
    """``num(key)``: the request's number at ``key``, None when absent or empty; OKX's 51000 when unreadable."""

    def num(k: str) -> float | None:
        v = req.get(k)
        if v in (None, ""):
            return None
        try:
            return float(v)
        except (TypeError, ValueError):
            raise OrderError("51000", f"Parameter {k} error") from None

    return num


class OrderError(Exception):
    """A per-order failure reported as OKX's sCode/sMsg."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


# OKX's answers for a TP/SL trigger on the wrong side: (position side, which, against) -> (sCode, message).
_WRONG_SIDE = {
    ("long", "tp", "last"): ("51279", "TP trigger price cannot be lower than the last price"),
    ("long", "sl", "last"): ("51280", "SL trigger price cannot be higher than the last price"),
    ("short", "tp", "last"): ("51277", "TP trigger price cannot be higher than the last price"),
    ("short", "sl", "last"): ("51278", "SL trigger price cannot be lower than the last price"),
    ("long", "tp", "order"): ("51046", "The take profit trigger price must be higher than the order price"),
    ("long", "sl", "order"): ("51047", "The stop loss trigger price must be lower than the order price"),
    ("short", "tp", "order"): ("51048", "The take profit trigger price must be lower than the order price"),
    ("short", "sl", "order"): ("51049", "The stop loss trigger price must be higher than the order price"),
}


PX_TYPES = ("last", "index", "mark")  # what a trigger price is compared with (OKX's *TriggerPxType)


def px_type(req: dict[str, Any], key: str, default: str = "last") -> str:
    """``req[key]`` as a trigger price type (absent or empty: ``default``); 51000 when it is none of OKX's."""
    v = req.get(key)
    if v in (None, ""):
        return default
    if v not in PX_TYPES:
        raise OrderError("51000", f"Parameter {key} error: last, index or mark")
    return str(v)


def check_tp_sl(open_side: str, tp: float | None, sl: float | None, ref: float, against: str = "last") -> None:
    """Raise OKX's error when a TP/SL protecting a position opened by ``open_side`` is on the wrong side of
    ``ref`` (the last price, or the order price of a limit order with attached TP/SL)."""
    long = open_side == "buy"
    if tp is not None and (tp <= ref if long else tp >= ref):
        raise OrderError(*_WRONG_SIDE[("long" if long else "short", "tp", against)])
    if sl is not None and (sl >= ref if long else sl <= ref):
        raise OrderError(*_WRONG_SIDE[("long" if long else "short", "sl", against)])


@dataclass
class _Event:
    frac: float
    kind: str  # limit | algo | liq
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
        self.pos_history: list[dict[str, Any]] = []
        self.cancel_after: int | None = None  # cancel-all-after deadline (simulated ms)
        self.pos_mode = "net_mode"
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
            except Exception:  # a broken subscriber must never break the matching engine
                log.exception("simulator event listener failed on %s", kind)

    # ------------------------------------------------------------ state file (standalone restarts)

    _STATE_FIELDS = ("t", "cash", "lever", "positions", "orders", "by_cl", "algos", "algo_by_cl", "fills", "bills")
    # Added later: a state file written before them restores these defaults.
    _NEW_FIELDS: dict[str, Callable[[], Any]] = {
        "pos_history": list,
        "cancel_after": lambda: None,
        "pos_mode": lambda: "net_mode",
    }

    def snapshot(self) -> dict[str, Any]:
        """The account's whole state (the market itself is rebuilt from its config)."""
        with self.lock:
            state = {k: copy.deepcopy(getattr(self, k)) for k in (*self._STATE_FIELDS, *self._NEW_FIELDS)}
            state["next_id"] = next(self._ids)
            self._ids = itertools.count(state["next_id"])  # next() above consumed one; give it back
            return state

    def restore(self, state: dict[str, Any]) -> None:
        with self.lock:
            for k in self._STATE_FIELDS:
                setattr(self, k, state[k])
            for k, default in self._NEW_FIELDS.items():
                setattr(self, k, state[k] if k in state else default())
            self._ids = itertools.count(int(state["next_id"]))
            self._seg_used = {}

    # ------------------------------------------------------------ ids, prices

    def _id(self, prefix: int) -> str:
        return str(prefix * 10**15 + next(self._ids))

    def last(self, t: int | None = None) -> float:
        return self.market.price_at(self.t if t is None else t)

    def bid_ask(self, t: int | None = None) -> tuple[float, float]:
        return best(self.market, self.t if t is None else t)

    def ref_price(self, kind: str, t: int | None = None) -> float:
        """The last, mark or index price at t (what a trigger of that price type watches)."""
        t = self.t if t is None else t
        return (
            self.market.mark_price(t)
            if kind == "mark"
            else self.market.index_price(t)
            if kind == "index"
            else self.last(t)
        )

    def _last_level(self, px: float, kind: str, ta: int | None) -> float:
        """The last-price level at which the ``kind`` price (mark/index: the last price times a slow premium
        factor, taken at the segment's start) reaches ``px``; the price path is the last price."""
        if kind == "last" or ta is None:
            return px
        f = self.market.mark_factor(ta) if kind == "mark" else self.market.index_factor(ta)
        return round(px / f, 1)

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
            if self.cancel_after is not None and self.t < self.cancel_after <= now_ms:
                # The dead man's switch fires at its deadline: walk to it, cancel everything, go on.
                deadline, self.cancel_after = self.cancel_after, None
                self.advance(deadline)
                for o in self.orders.values():
                    if o.is_open:
                        self._cancel(o, "cancel_all_after")
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
        return (
            any(p.pos for p in self.positions.values())
            or any(o.is_open for o in self.orders.values())
            or any(a.state == "live" for a in self.algos.values())
        )

    def _walk(self, t0: int, t1: int) -> None:
        if t1 <= t0 or not self._busy():
            return
        for ta, pa, tb, pb in self.market.segments(t0, t1):
            self._seg_used.clear()
            self._segment(ta, pa, tb, pb)

    def _events(self, pa: float, pb: float, ta: int | None = None) -> list[_Event]:
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
            if (
                o.is_open
                and o.px is not None
                and o.ord_type in ("limit", "post_only")
                and o.ord_id not in self._seg_used
            ):
                f = hit(o.px, down=o.side == "buy")
                if f is not None:
                    out.append(_Event(f, "limit", o, o.px))
        for a in self.algos.values():
            if a.state != "live":
                continue
            if a.ord_type == "trigger":
                if a.trigger_px is None:
                    continue
                level = self._last_level(a.trigger_px, a.trigger_px_type, ta)
                f = hit(level, down=not a.trigger_up)
                if f is not None:
                    out.append(_Event(f, "algo:trigger", a, level))
                continue
            if a.ord_type == "move_order_stop":
                if a.extreme is None:  # waits for its activation price
                    if a.active_px is not None:  # set whenever extreme is not (placement)
                        f = hit(a.active_px, down=a.side == "buy")
                        if f is not None:
                            out.append(_Event(f, "activate", a, a.active_px))
                    continue
                a.extreme = max(a.extreme, pa) if a.side == "sell" else min(a.extreme, pa)
                level = self._trail_level(a)
                f = hit(level, down=a.side == "sell")
                if f is not None:
                    out.append(_Event(f, "algo:move", a, level))
                continue
            long_close = a.side == "sell"  # closes a long
            for which, px, kind in (("sl", a.sl_trigger_px, a.sl_px_type), ("tp", a.tp_trigger_px, a.tp_px_type)):
                if px is None:
                    continue
                px = self._last_level(px, kind, ta)
                down = (which == "sl") == long_close
                f = hit(px, down=down)
                if f is not None:
                    out.append(_Event(f, "algo:" + which, a, px))
        # OKX liquidates on the mark price: the last-price level where the mark reaches liqPx.
        factor = self.market.mark_factor(ta) if ta is not None else 1.0
        for p in self.positions.values():
            if p.pos:
                lp = p.liq_px(self.cash)
                if lp is not None:
                    lp = round(lp / factor, 1)
                    f = hit(lp, down=p.pos > 0)
                    if f is not None:
                        out.append(_Event(f, "liq", p, lp))
        out.sort(key=lambda e: (e.frac, e.kind != "liq"))
        return out

    def _segment(self, ta: int, pa: float, tb: int, pb: float) -> None:
        for _ in range(200):  # bounded: each pass consumes at least one event
            events = self._events(pa, pb, ta)
            if not events:
                self._trail(pb)
                return
            e = events[0]
            t = int(ta + e.frac * (tb - ta))
            price = pa if e.frac == 0 and e.kind != "limit" else e.price
            if e.kind == "limit":
                self._fill_resting(e.ref, t)
            elif e.kind == "liq":
                self._liquidate(e.ref, price, t)
            elif e.kind == "activate":
                e.ref.extreme, e.ref.u_time = e.price, t
            else:
                self._trigger(e.ref, e.kind.split(":")[1], price, t)
            if e.frac > 0:
                ta, pa = t, price

    @staticmethod
    def _trail_level(a: AlgoOrder) -> float:
        """The level of an active trailing stop (extreme set; a callback spread or else a ratio, per placement)."""
        assert a.extreme is not None and (a.callback_spread is not None or a.callback_ratio is not None)
        x = float(a.extreme)
        if a.callback_spread is not None:
            return x - a.callback_spread if a.side == "sell" else x + a.callback_spread
        assert a.callback_ratio is not None
        return x * (1 - a.callback_ratio) if a.side == "sell" else x * (1 + a.callback_ratio)

    def _trail(self, price: float) -> None:
        """Trailing stops follow the best price seen since activation."""
        for a in self.algos.values():
            if a.state == "live" and a.ord_type == "move_order_stop" and a.extreme is not None:
                a.extreme = max(a.extreme, price) if a.side == "sell" else min(a.extreme, price)

    # ------------------------------------------------------------ account figures

    @staticmethod
    def pkey(mode: str, pos_side: str = "net") -> str:
        """Key of a position: its margin mode (net mode), plus its side in long/short mode."""
        return mode if pos_side in ("", "net") else f"{mode}:{pos_side}"

    def position(self, mode: str, pos_side: str = "net") -> Position:
        key = self.pkey(mode, pos_side)
        p = self.positions.get(key)
        if p is None:
            p = self.positions[key] = Position(mgn_mode=mode, lever=self.lever[mode], pos_side=pos_side or "net")
        return p

    def set_pos_mode(self, pos_mode: str, now: int) -> None:
        """net_mode (one-way) or long_short_mode (hedge); only while flat with nothing pending, as on OKX."""
        with self.lock:
            self.advance(now)
            if pos_mode not in ("net_mode", "long_short_mode"):
                raise OrderError("51000", "Parameter posMode error")
            if pos_mode != self.pos_mode and (self._busy()):
                raise OrderError("59000", "Your settings failed as you have positions or open orders")
            self.pos_mode = pos_mode

    def ord_frozen(self) -> float:
        total = 0.0
        for o in self.orders.values():
            if o.is_open and o.px is not None:
                total += (
                    self._opening_part(o.side, o.remaining, o.td_mode, o.reduce_only, o.pos_side)
                    * CT_VAL
                    * o.px
                    / o.lever
                )
        return total

    def cross_imr(self, price: float) -> float:
        return sum(p.imr(price) for p in self.positions.values() if p.pos and p.mgn_mode == "cross")

    def available(self, price: float) -> float:
        return self.cash - self.cross_imr(price) - self.ord_frozen()

    def equity(self, price: float) -> float:
        return self.cash + sum(p.margin + p.upl(price) for p in self.positions.values() if p.pos)

    def _opening_part(self, side: str, sz: float, mode: str, reduce_only: bool, pos_side: str = "net") -> float:
        if reduce_only:
            return 0.0
        p = self.positions.get(self.pkey(mode, pos_side))
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
            mode = req.get("tdMode")
            if mode in (None, ""):
                raise OrderError("50014", "Parameter tdMode can not be empty")
            if mode not in ("isolated", "cross"):
                raise OrderError("51000", "Parameter tdMode error")
            if req.get("sz") in (None, ""):
                raise OrderError("50014", "Parameter sz can not be empty")
            try:
                sz = float(req["sz"])  # present: checked just above
            except (TypeError, ValueError):
                raise OrderError("51000", "Parameter sz error") from None
            if sz < MIN_SZ or abs(sz / LOT_SZ - round(sz / LOT_SZ)) > 1e-6:
                raise OrderError("51121", f"Order quantity must be a multiple of the lot size {LOT_SZ}")
            px = None
            if ord_type not in ("market", "optimal_limit_ioc"):
                try:
                    given: Any = req.get("px")  # missing or unreadable: refused below
                    px = float(given)
                except (TypeError, ValueError):
                    raise OrderError("51000", "Parameter px error") from None
                if px <= 0 or abs(px / TICK_SZ - round(px / TICK_SZ)) > 1e-6:
                    raise OrderError("51000", "Parameter px error")
            reduce_only = str(req.get("reduceOnly", "false")).lower() == "true"
            pos_side = str(req.get("posSide") or "net")
            if self.pos_mode == "net_mode" and pos_side != "net":
                raise OrderError("51000", "Parameter posSide error: net mode takes posSide net (or none)")
            if self.pos_mode == "long_short_mode":
                if pos_side not in ("long", "short"):
                    raise OrderError("51000", "Parameter posSide error: long/short mode needs posSide long or short")
                # Selling a long or buying back a short closes: never more than the position.
                reduce_only = reduce_only or (pos_side == "long") != (side == "buy")
            pos = self.positions.get(self.pkey(mode, pos_side))
            if reduce_only:
                cur = pos.pos if pos else 0.0
                if cur == 0 or (cur > 0) == (side == "buy"):
                    raise OrderError(
                        "51169", "Order failed because you don't have any positions in this direction for this contract"
                    )
            last = self.last()
            est_px = px if px is not None else last
            lever = self.lever[mode]
            opening = self._opening_part(side, sz, mode, reduce_only, pos_side)
            need = opening * CT_VAL * est_px / lever + sz * CT_VAL * est_px * TAKER_FEE
            if opening > 0 and need > self.available(last) + 1e-9:
                raise OrderError("51008", "Order failed. Insufficient USDT margin in account")
            order = Order(
                ord_id=self._id(7),
                cl_ord_id=cl,
                tag=str(req.get("tag") or ""),
                side=side,
                ord_type=ord_type,
                px=px,
                sz=lots(sz),
                td_mode=mode,
                reduce_only=reduce_only,
                c_time=self.t,
                u_time=self.t,
                lever=lever,
                attach=list(req.get("attachAlgoOrds") or []),
                pos_side=pos_side,
            )
            for a in order.attach:

                def num(k: str, a=a) -> float | None:
                    return float(a[k]) if a.get(k) not in (None, "") else None

                px_type(a, "slTriggerPxType")
                px_type(a, "tpTriggerPxType")
                if px is not None and ord_type in ("limit", "post_only", "fok", "ioc"):
                    check_tp_sl(side, num("tpTriggerPx"), num("slTriggerPx"), px, against="order")
                else:
                    check_tp_sl(side, num("tpTriggerPx"), num("slTriggerPx"), last)
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
        assert o.px is not None  # resting orders are limit orders, placed with their price
        self._fill(o, qty, o.px, "M", t)

    def _fill(self, o: Order, qty: float, px: float, exec_type: str, t: int) -> bool:
        """Book one fill; False when nothing could be filled (reduce-only with no position left)."""
        pos = self.position(o.td_mode, o.pos_side)
        if o.reduce_only:
            room = abs(pos.pos) if pos.pos and (pos.pos > 0) != (o.side == "buy") else 0.0
            qty = lots(min(qty, room))
            if qty <= 0:
                self._cancel(o, "reduce_only_no_position")
                return False
        qty = lots(qty)
        signed = qty if o.side == "buy" else -qty
        pnl = 0.0
        closed: dict[str, Any] | None = None
        pos_bal_chg = 0.0
        if pos.pos and (pos.pos > 0) != (signed > 0):
            close = min(qty, abs(pos.pos))
            pnl = close * CT_VAL * (px - pos.avg_px) * (1 if pos.pos > 0 else -1)
            release = pos.margin * close / abs(pos.pos) if pos.mgn_mode == "isolated" else 0.0
            pos.margin -= release
            pos_bal_chg -= release
            self.cash += release + pnl
            pos.realized_pnl += pnl
            pos.close_pnl += pnl
            pos.close_avg_px = (pos.close_total_pos * pos.close_avg_px + close * px) / (pos.close_total_pos + close)
            pos.close_total_pos = lots(pos.close_total_pos + close)
            was_long = pos.pos > 0
            pos.pos = lots(pos.pos + (close if pos.pos < 0 else -close))
            opening = qty - close
            if pos.pos == 0:
                self.cash += pos.margin
                pos_bal_chg -= pos.margin
                pos.margin = 0.0
                closed = self._history_row(pos, "2", was_long, t)
                pos.avg_px = 0.0
                self._position_closed(pos.mgn_mode, t, pos.pos_side)
        else:
            opening = qty
        if opening > 0:
            if pos.pos == 0:
                pos.c_time, pos.pos_id, pos.lever = t, pos.pos_id or self._id(5), self.lever[pos.mgn_mode]
                # A new position: OKX's per-position totals (realizedPnl, fee, fundingFee) start again.
                pos.realized_pnl = pos.fee = pos.funding_fee = pos.close_pnl = 0.0
                pos.open_max_pos = pos.close_total_pos = pos.close_avg_px = 0.0
            new = abs(pos.pos) + opening
            pos.avg_px = (abs(pos.pos) * pos.avg_px + opening * px) / new
            im = opening * CT_VAL * px / pos.lever
            if pos.mgn_mode == "isolated":
                self.cash -= im
                pos.margin += im
                pos_bal_chg += im
            pos.pos = lots(pos.pos + (opening if signed > 0 else -opening))
            pos.open_max_pos = max(pos.open_max_pos, abs(pos.pos))
        fee = qty * CT_VAL * px * (TAKER_FEE if exec_type == "T" else MAKER_FEE)
        self.cash -= fee
        pos.fee -= fee
        pos.realized_pnl -= fee
        pos.u_time = t
        if closed is not None:  # the closing fill's fee belongs to the closed position
            closed["fee"] -= fee
            closed["realizedPnl"] -= fee
            self.pos_history.append(closed)
        trade_id = self._id(3)
        o.avg_px = (o.acc_fill_sz * o.avg_px + qty * px) / (o.acc_fill_sz + qty)
        o.acc_fill_sz = lots(o.acc_fill_sz + qty)
        o.fee -= fee
        o.pnl += pnl
        o.fill_px, o.fill_sz, o.fill_time, o.u_time, o.trade_id, o.exec_type = px, qty, t, t, trade_id, exec_type
        o.state = "filled" if o.remaining <= 0 else "partially_filled"
        self.fills.append(
            Fill(
                trade_id, self._id(4), o.ord_id, o.cl_ord_id, o.tag, o.side, px, qty, exec_type, -fee, pnl, t, o.td_mode
            )
        )
        self._bill(
            self.fills[-1].bill_id,
            t,
            "trade",
            "1" if o.side == "buy" else "2",
            pnl - fee,
            pnl=pnl,
            fee=-fee,
            sz=qty,
            px=px,
            ord_id=o.ord_id,
            trade_id=trade_id,
            exec_type=exec_type,
            mgn_mode=o.td_mode,
            pos_bal_chg=pos_bal_chg,
        )
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
            a = AlgoOrder(
                algo_id=self._id(8),
                algo_cl_ord_id=str(spec.get("attachAlgoClOrdId") or ""),
                ord_type="oco" if sl is not None and tp is not None else "conditional",
                side="sell" if o.side == "buy" else "buy",
                sz=o.acc_fill_sz,
                td_mode=o.td_mode,
                c_time=t,
                u_time=t,
                sl_trigger_px=sl,
                sl_ord_px=num("slOrdPx") or -1.0,
                tp_trigger_px=tp,
                tp_ord_px=num("tpOrdPx") or -1.0,
                parent_ord_id=o.ord_id,
                sl_px_type=px_type(spec, "slTriggerPxType"),
                tp_px_type=px_type(spec, "tpTriggerPxType"),
            )
            self.algos[a.algo_id] = a
            o.attached_algo_ids.append(a.algo_id)

    def _bill(self, bill_id: str, t: int, type_: str, sub_type: str, chg: float, **kw: Any) -> None:
        self.bills.append(Bill(bill_id, t, type_, chg, sub_type=sub_type, bal=self.cash, **kw))

    def _history_row(self, pos: Position, close_type: str, was_long: bool, t: int) -> dict[str, Any]:
        """A positions-history row for a position that just went flat (type 2: closed, 3/4: liquidated)."""
        return {
            "posId": pos.pos_id,
            "mgnMode": pos.mgn_mode,
            "type": close_type,
            "cTime": pos.c_time,
            "uTime": t,
            "openAvgPx": pos.avg_px,
            "closeAvgPx": pos.close_avg_px,
            "openMaxPos": pos.open_max_pos,
            "closeTotalPos": pos.close_total_pos,
            "pnl": pos.close_pnl,
            "realizedPnl": pos.realized_pnl,
            "fee": pos.fee,
            "fundingFee": pos.funding_fee,
            "liqPenalty": 0.0,
            "direction": "long" if was_long else "short",
            "lever": pos.lever,
            "posSide": pos.pos_side,
        }

    def _position_closed(self, mode: str, t: int, pos_side: str = "net") -> None:
        # Like OKX: only attached TP/SL and close-position (closeFraction) algo orders go with the position;
        # a standalone stop keeps waiting (and fails if it triggers with nothing to reduce).
        for a in self.algos.values():
            if a.state == "live" and a.td_mode == mode and a.closes_with_position and a.pos_side == pos_side:
                a.state, a.u_time = "canceled", t
        for o in self.orders.values():
            if o.is_open and o.reduce_only and o.td_mode == mode and o.pos_side == pos_side:
                self._cancel(o, "position_closed")

    def _cancel(self, o: Order, source: str) -> None:
        o.state = "canceled"  # OKX keeps accFillSz on a partly filled order that was canceled
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
                raise OrderError(
                    "51400", "Order cancellation failed as the order has been filled, canceled or does not exist"
                )
            self._cancel(o, "user")
            return o

    def amend(self, req: dict[str, Any], now: int) -> Order:
        """OKX's amend-order: a new size and/or price for an open order (the order keeps its id)."""
        with self.lock:
            self.advance(now)
            o = self.find(req.get("ordId"), req.get("clOrdId"))
            if o is None:
                raise OrderError("51503", "Order modification failed as the order does not exist")
            if o.state == "canceled":
                raise OrderError("51509", "Modification failed as the order has been canceled")
            if not o.is_open:
                raise OrderError("51510", "Modification failed as the order has been completed")

            num = _number_reader(req)
            new_sz, new_px = num("newSz"), num("newPx")
            new_tp, new_sl = num("newTpTriggerPx"), num("newSlTriggerPx")
            if (
                new_sz is None
                and new_px is None
                and new_tp is None
                and new_sl is None
                and not req.get("attachAlgoOrds")
            ):
                raise OrderError("51500", "Either order price or amount is required")
            if new_sz is not None and (new_sz < MIN_SZ or abs(new_sz / LOT_SZ - round(new_sz / LOT_SZ)) > 1e-6):
                raise OrderError("51121", f"Order quantity must be a multiple of the lot size {LOT_SZ}")
            if new_px is not None:
                if o.px is None:
                    raise OrderError("51506", "Order modification unavailable for the order type")
                if new_px <= 0 or abs(new_px / TICK_SZ - round(new_px / TICK_SZ)) > 1e-6:
                    raise OrderError("51000", "Parameter newPx error")
            if new_sz is not None and new_sz <= o.acc_fill_sz:
                # OKX: a new size at or below what has filled completes the order.
                o.sz = o.acc_fill_sz
                o.state, o.u_time = "filled", self.t
                self._emit("order", o)
                return o
            old = (o.sz, o.px)
            if new_sz is not None:
                o.sz = lots(new_sz)
            if new_px is not None:
                o.px = new_px
            # More size or a better price must still fit the margin.
            extra = (
                self._opening_part(o.side, o.remaining, o.td_mode, o.reduce_only, o.pos_side)
                * CT_VAL
                * (o.px or 0)
                / o.lever
            )
            if extra > 0 and self.available(self.last()) < -1e-9:
                o.sz, o.px = old
                raise OrderError("51502", "Order modification failed for insufficient margin or balance")
            for spec in [*(req.get("attachAlgoOrds") or []), req]:
                for k in ("newTpTriggerPxType", "newSlTriggerPxType"):
                    px_type(spec, k)
            for spec in req.get("attachAlgoOrds") or []:
                for k_new, k in (
                    ("newTpTriggerPx", "tpTriggerPx"),
                    ("newSlTriggerPx", "slTriggerPx"),
                    ("newTpOrdPx", "tpOrdPx"),
                    ("newSlOrdPx", "slOrdPx"),
                    ("newTpTriggerPxType", "tpTriggerPxType"),
                    ("newSlTriggerPxType", "slTriggerPxType"),
                ):
                    if spec.get(k_new) not in (None, ""):
                        if not o.attach:
                            o.attach.append({})
                        o.attach[0][k] = spec[k_new]
            for v, k in ((new_tp, "tpTriggerPx"), (new_sl, "slTriggerPx")):
                if v is not None:
                    if not o.attach:
                        o.attach.append({})
                    o.attach[0][k] = v
                    kind = req.get("new" + k[0].upper() + k[1:] + "Type")
                    if kind:
                        o.attach[0][k + "Type"] = kind
            for aid in o.attached_algo_ids:
                a = self.algos[aid]
                if a.state == "live" and o.attach:
                    spec = o.attach[0]
                    a.tp_trigger_px = float(spec["tpTriggerPx"]) if spec.get("tpTriggerPx") not in (None, "") else None
                    a.sl_trigger_px = float(spec["slTriggerPx"]) if spec.get("slTriggerPx") not in (None, "") else None
                    a.tp_px_type, a.sl_px_type = px_type(spec, "tpTriggerPxType"), px_type(spec, "slTriggerPxType")
            o.u_time = self.t
            if o.ord_type == "post_only" and new_px is not None:  # o.px is new_px here
                bid, ask = self.bid_ask()
                if (o.side == "buy" and new_px >= ask) or (o.side == "sell" and new_px <= bid):
                    o.px = old[1]
                    raise OrderError(
                        "51511", "Modification failed as the order price did not meet the requirement for Post Only"
                    )
            if new_px is not None:  # o.px is new_px here
                bid, ask = self.bid_ask()
                if (o.side == "buy" and new_px >= ask) or (o.side == "sell" and new_px <= bid):
                    self._take(o)
            self._emit("order", o)
            return o

    def close_position(self, mode: str, auto_cxl: bool, now: int, pos_side: str = "net") -> Position:
        """OKX's close-position: market-close the whole position of ``mode`` (and ``pos_side``)."""
        with self.lock:
            self.advance(now)
            p = self.positions.get(self.pkey(mode, pos_side))
            if p is None or not p.pos:
                raise OrderError("51023", "Position does not exist")
            # Pending close (reduce-only) orders block it unless autoCxl cancels them, as on OKX.
            pending = [
                o
                for o in self.orders.values()
                if o.is_open and o.td_mode == mode and o.reduce_only and o.pos_side == p.pos_side
            ]
            if pending and not auto_cxl:
                raise OrderError(
                    "51000", "Close position failed: pending close orders exist (set autoCxl to cancel them)"
                )
            for o in pending:
                self._cancel(o, "close_position")
            o = Order(
                ord_id=self._id(7),
                cl_ord_id="",
                tag="",
                side="sell" if p.pos > 0 else "buy",
                ord_type="market",
                px=None,
                sz=abs(p.pos),
                td_mode=mode,
                reduce_only=True,
                c_time=self.t,
                u_time=self.t,
                lever=p.lever,
                category="normal",
                pos_side=p.pos_side,
            )
            self.orders[o.ord_id] = o
            self._on_new(o)
            return p

    def adjust_margin(self, mode: str, kind: str, amt: float, now: int, pos_side: str = "net") -> Position:
        """Add margin to / reduce margin from an isolated position (OKX's position/margin-balance)."""
        with self.lock:
            self.advance(now)
            p = self.positions.get(self.pkey(mode, pos_side))
            if p is None or not p.pos or mode != "isolated":
                raise OrderError("59300", "Margin call failed. Position does not exist")
            if amt <= 0:
                raise OrderError("51000", "Parameter amt error")
            last = self.last()
            if kind == "add":
                if amt > self.available(last) + 1e-9:
                    raise OrderError("59301", "Margin adjustment failed for exceeding the max limit")
                self.cash -= amt
                p.margin += amt
                chg, sub = -amt, "160"
            elif kind == "reduce":
                # What stays must cover the initial margin at the mark price plus any loss.
                mark = self.market.mark_price(self.t)
                room = p.margin + min(0.0, p.upl(mark)) - p.imr(mark)
                if amt > room + 1e-9:
                    raise OrderError("59301", "Margin adjustment failed for exceeding the max limit")
                self.cash += amt
                p.margin -= amt
                chg, sub = amt, "161"
            else:
                raise OrderError("51000", "Parameter type error: add or reduce")
            p.u_time = self.t
            self._bill(self._id(4), self.t, "margin", sub, chg, mgn_mode=mode, pos_bal_chg=-chg)
            self._emit("account")
            return p

    def set_cancel_after(self, timeout_s: int, now: int) -> int | None:
        """OKX's cancel-all-after: cancel every open order ``timeout_s`` from now (0 turns it off)."""
        with self.lock:
            self.advance(now)
            if timeout_s != 0 and not 10 <= timeout_s <= 120:
                raise OrderError("51000", "Parameter timeOut error: 0, or 10 to 120 seconds")
            self.cancel_after = self.t + timeout_s * 1000 if timeout_s else None
            return self.cancel_after

    def max_size(self, mode: str, px: float | None, lever: float | None = None) -> tuple[float, float]:
        """(max buy, max sell) in contracts that the margin available now allows at ``px`` (default last)."""
        with self.lock:
            last = self.last()
            price = px or last
            lever = lever or self.lever[mode]
            per = CT_VAL * price * (1 / lever + TAKER_FEE)
            avail = max(0.0, self.available(last))
            p = self.positions.get(mode) if self.pos_mode == "net_mode" else None
            cur = p.pos if p else 0.0
            base = avail / per if per > 0 else 0.0
            buy = base + (abs(cur) if cur < 0 else 0.0)
            sell = base + (cur if cur > 0 else 0.0)
            return lots(max(0.0, buy - LOT_SZ / 2)), lots(max(0.0, sell - LOT_SZ / 2))

    def find(self, ord_id: str | None, cl_ord_id: str | None) -> Order | None:
        if ord_id:
            return self.orders.get(str(ord_id))
        if cl_ord_id:
            oid = self.by_cl.get(str(cl_ord_id))
            return self.orders.get(oid) if oid else None
        return None

    # ------------------------------------------------------------ algo orders

    ALGO_TYPES = ("conditional", "oco", "trigger", "move_order_stop")

    def place_algo(self, req: dict[str, Any], now: int) -> AlgoOrder:
        with self.lock:
            self.advance(now)
            ord_type = req.get("ordType")
            if ord_type not in self.ALGO_TYPES:
                raise OrderError(
                    "51000", "Parameter ordType error (the simulator serves " + ", ".join(self.ALGO_TYPES) + ")"
                )
            cl = str(req.get("algoClOrdId") or req.get("clOrdId") or "")
            if cl and cl in self.algo_by_cl:
                raise OrderError("51016", "Duplicated clOrdId")
            mode = req.get("tdMode")
            if mode in (None, ""):
                raise OrderError("50014", "Parameter tdMode can not be empty")
            if mode not in ("isolated", "cross"):
                raise OrderError("51000", "Parameter tdMode error")
            side = req.get("side")
            if side not in ("buy", "sell"):
                raise OrderError("51000", "Parameter side error")

            num = _number_reader(req)
            sz = num("sz")
            close_fraction = str(req.get("closeFraction") or "")
            if sz is None and not close_fraction:
                raise OrderError("50014", "Parameter sz can not be empty")
            if sz is not None and (sz < MIN_SZ or abs(sz / LOT_SZ - round(sz / LOT_SZ)) > 1e-6):
                raise OrderError("51121", f"Order quantity must be a multiple of the lot size {LOT_SZ}")
            pos_side = str(req.get("posSide") or "net")
            if self.pos_mode == "net_mode" and pos_side != "net":
                raise OrderError("51000", "Parameter posSide error: net mode takes posSide net (or none)")
            if self.pos_mode == "long_short_mode" and pos_side not in ("long", "short"):
                raise OrderError("51000", "Parameter posSide error: long/short mode needs posSide long or short")
            default_ro = "true" if ord_type in ("conditional", "oco") else "false"
            a = AlgoOrder(
                algo_id=self._id(8),
                algo_cl_ord_id=cl,
                ord_type=ord_type,
                side=side,
                sz=lots(sz or 0.0),
                td_mode=mode,
                c_time=self.t,
                u_time=self.t,
                reduce_only=str(req.get("reduceOnly") or default_ro).lower() == "true" or bool(close_fraction),
                close_fraction=close_fraction,
                pos_side=pos_side,
            )
            last = self.last()
            if ord_type in ("conditional", "oco"):
                a.sl_px_type, a.tp_px_type = px_type(req, "slTriggerPxType"), px_type(req, "tpTriggerPxType")
                a.sl_trigger_px, a.sl_ord_px = num("slTriggerPx"), num("slOrdPx")
                a.tp_trigger_px, a.tp_ord_px = num("tpTriggerPx"), num("tpOrdPx")
                if a.sl_trigger_px is None and a.tp_trigger_px is None:
                    raise OrderError("50015", "Either parameter tpTriggerPx or slTriggerPx is required")
                if ord_type == "oco" and (a.sl_trigger_px is None or a.tp_trigger_px is None):
                    raise OrderError("50014", "Parameter tpTriggerPx and slTriggerPx can not be empty")
                for k, v in (("slOrdPx", a.sl_ord_px), ("tpOrdPx", a.tp_ord_px)):
                    trig = a.sl_trigger_px if k == "slOrdPx" else a.tp_trigger_px
                    if trig is not None and v is None:
                        raise OrderError("50014", f"Parameter {k} can not be empty")
                check_tp_sl("sell" if side == "buy" else "buy", a.tp_trigger_px, a.sl_trigger_px, last)
            elif ord_type == "trigger":
                a.trigger_px, a.order_px = num("triggerPx"), num("orderPx")
                if a.trigger_px is None:
                    raise OrderError("50014", "Parameter triggerPx can not be empty")
                if a.order_px is None:
                    raise OrderError("50014", "Parameter orderPx can not be empty")
                if a.trigger_px <= 0:
                    raise OrderError("51000", "Parameter triggerPx error")
                # Fires when the price of its type (last, mark or index) reaches triggerPx from where it is now.
                a.trigger_px_type = px_type(req, "triggerPxType")
                a.trigger_up = a.trigger_px > self.ref_price(a.trigger_px_type)
            else:  # move_order_stop
                a.callback_ratio, a.callback_spread = num("callbackRatio"), num("callbackSpread")
                a.active_px = num("activePx")
                if (a.callback_ratio is None) == (a.callback_spread is None):
                    raise OrderError("50015", "Either parameter callbackRatio or callbackSpread is required")
                if a.callback_ratio is not None and not 0.001 <= a.callback_ratio <= 1:
                    raise OrderError("51000", "Parameter callbackRatio error: 0.001 to 1")
                if a.callback_spread is not None and a.callback_spread <= 0:
                    raise OrderError("51000", "Parameter callbackSpread error")
                if a.active_px is None:
                    a.extreme = last  # active at once
            self.algos[a.algo_id] = a
            if cl:
                self.algo_by_cl[cl] = a.algo_id
            return a

    def amend_algo(self, req: dict[str, Any], now: int) -> AlgoOrder:
        """OKX's amend-algos: new size and/or TP/SL trigger and order prices of a live algo order."""
        with self.lock:
            self.advance(now)
            a = self.algos.get(str(req.get("algoId") or ""))
            if a is None and req.get("algoClOrdId"):
                a = self.algos.get(self.algo_by_cl.get(str(req["algoClOrdId"]), ""))
            if a is None:
                raise OrderError("51603", "Order does not exist")
            if a.state != "live":
                raise OrderError("51510", "Modification failed as the order has been completed")

            def num(k: str) -> float | None:
                v = req.get(k)
                return float(v) if v not in (None, "") else None

            new = {
                k: num(k)
                for k in (
                    "newSz",
                    "newTpTriggerPx",
                    "newTpOrdPx",
                    "newSlTriggerPx",
                    "newSlOrdPx",
                    "newTriggerPx",
                    "newOrdPx",
                )
            }
            if all(v is None for v in new.values()):
                raise OrderError("51000", "Nothing to amend: give newSz or a new trigger/order price")
            # A new trigger price may come with its price type (ccxt always sends one: 'last' unless told).
            types = {
                k: px_type(req, "new" + k, default="") for k in ("TriggerPxType", "SlTriggerPxType", "TpTriggerPxType")
            }
            if new["newSz"] is not None and (
                new["newSz"] < MIN_SZ or abs(new["newSz"] / LOT_SZ - round(new["newSz"] / LOT_SZ)) > 1e-6
            ):
                raise OrderError("51121", f"Order quantity must be a multiple of the lot size {LOT_SZ}")
            tp = new["newTpTriggerPx"] if new["newTpTriggerPx"] is not None else a.tp_trigger_px
            sl = new["newSlTriggerPx"] if new["newSlTriggerPx"] is not None else a.sl_trigger_px
            if a.ord_type in ("conditional", "oco"):
                check_tp_sl("sell" if a.side == "buy" else "buy", tp, sl, self.last())
            if new["newSz"] is not None:
                a.sz = lots(new["newSz"])
            a.tp_trigger_px, a.sl_trigger_px = tp, sl
            if new["newTpTriggerPx"] is not None and types["TpTriggerPxType"]:
                a.tp_px_type = types["TpTriggerPxType"]
            if new["newSlTriggerPx"] is not None and types["SlTriggerPxType"]:
                a.sl_px_type = types["SlTriggerPxType"]
            if new["newTpOrdPx"] is not None:
                a.tp_ord_px = new["newTpOrdPx"]
            if new["newSlOrdPx"] is not None:
                a.sl_ord_px = new["newSlOrdPx"]
            if new["newTriggerPx"] is not None and a.ord_type == "trigger":
                a.trigger_px = new["newTriggerPx"]
                a.trigger_px_type = types["TriggerPxType"] or a.trigger_px_type
                a.trigger_up = a.trigger_px > self.ref_price(a.trigger_px_type)
            if new["newOrdPx"] is not None and a.ord_type == "trigger":
                a.order_px = new["newOrdPx"]
            if a.ord_type == "conditional" and a.sl_trigger_px is not None and a.tp_trigger_px is not None:
                a.ord_type = "oco"  # a TP/SL order that gains its second leg
            a.u_time = self.t
            return a

    def cancel_algo(self, algo_id: str | None, now: int) -> AlgoOrder:
        with self.lock:
            self.advance(now)
            a = self.algos.get(str(algo_id))
            if a is None or a.state != "live":
                raise OrderError("51603", "Order does not exist")
            a.state, a.u_time = "canceled", self.t
            return a

    def _trigger(self, a: AlgoOrder, which: str, price: float, t: int) -> None:
        a.state, a.trigger_time, a.u_time, a.actual_side = "effective", t, t, which
        pos = self.positions.get(self.pkey(a.td_mode, a.pos_side))
        sz = abs(pos.pos) if (a.close_fraction and pos) else a.sz
        ord_px = {"sl": a.sl_ord_px, "tp": a.tp_ord_px, "trigger": a.order_px}.get(which, -1.0)
        saved_t = self.t
        self.t = t
        try:
            o = Order(
                ord_id=self._id(7),
                cl_ord_id="",
                tag="",
                side=a.side,
                ord_type="market" if ord_px in (None, -1.0) else "limit",
                px=None if ord_px in (None, -1.0) else ord_px,
                sz=lots(sz),
                td_mode=a.td_mode,
                reduce_only=a.reduce_only
                or (a.pos_side not in ("net", "") and (a.pos_side == "long") != (a.side == "buy")),
                c_time=t,
                u_time=t,
                lever=self.lever[a.td_mode],
                source_algo_id=a.algo_id,
                pos_side=a.pos_side,
            )
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
                pay = p.pos * CT_VAL * mark * rate  # longs pay a positive rate
                self.cash -= pay
                p.funding_fee -= pay
                p.realized_pnl -= pay
                self._bill(
                    self._id(4),
                    ts,
                    "funding",
                    "173" if pay > 0 else "174",
                    -pay,
                    note=f"rate={rate}",
                    mgn_mode=p.mgn_mode,
                    px=mark,
                    sz=abs(p.pos),
                )
                self._emit("account")

    def _liquidate(self, p: Position, price: float, t: int) -> None:
        side = "sell" if p.pos > 0 else "buy"
        qty = abs(p.pos)
        lost = p.margin if p.mgn_mode == "isolated" else -(p.upl(price))
        o = Order(
            ord_id=self._id(7),
            cl_ord_id="",
            tag="",
            side=side,
            ord_type="market",
            px=None,
            sz=qty,
            td_mode=p.mgn_mode,
            reduce_only=True,
            c_time=t,
            u_time=t,
            lever=p.lever,
            state="filled",
            acc_fill_sz=qty,
            avg_px=price,
            fill_px=price,
            fill_sz=qty,
            fill_time=t,
            category="full_liquidation",
            pos_side=p.pos_side,
        )
        o.trade_id = self._id(3)
        o.exec_type = "T"
        o.pnl = -lost
        self.orders[o.ord_id] = o
        self.fills.append(
            Fill(o.trade_id, self._id(4), o.ord_id, "", "", side, price, qty, "T", 0.0, -lost, t, p.mgn_mode)
        )
        if p.mgn_mode == "cross":
            self.cash -= lost
        p.realized_pnl -= lost
        p.close_pnl -= lost
        p.close_avg_px = (p.close_total_pos * p.close_avg_px + qty * price) / (p.close_total_pos + qty)
        p.close_total_pos = lots(p.close_total_pos + qty)
        self.pos_history.append(self._history_row(p, "3", p.pos > 0, t))
        pos_bal_chg = -p.margin
        p.pos, p.margin, p.avg_px, p.u_time = 0.0, 0.0, 0.0, t
        self._bill(
            self._id(4),
            t,
            "liquidation",
            "104" if side == "sell" else "105",
            -lost if p.mgn_mode == "cross" else 0.0,
            pnl=-lost,
            sz=qty,
            px=price,
            ord_id=o.ord_id,
            trade_id=o.trade_id,
            exec_type="T",
            mgn_mode=p.mgn_mode,
            pos_bal_chg=pos_bal_chg,
        )
        self._emit("order", o, self.fills[-1])
        self._position_closed(p.mgn_mode, t, p.pos_side)

    def set_leverage(self, lever: float, mode: str, now: int) -> None:
        with self.lock:
            self.advance(now)
            if not 1 <= lever <= MAX_LEVER:
                raise OrderError("51000", f"Parameter lever error: 1 to {MAX_LEVER}")
            if mode not in ("isolated", "cross"):
                raise OrderError("51000", "Parameter mgnMode error")
            ps = [p for p in self.positions.values() if p.mgn_mode == mode]
            for p in ps:
                if p.pos and mode == "isolated":
                    # Isolated: changing leverage moves margin between the wallet and the position.
                    need = p.notional(p.avg_px) / lever
                    delta = need - p.margin
                    if delta > self.available(self.last()):
                        raise OrderError("59300", "Leverage adjustment failed: insufficient margin")
                    self.cash -= delta
                    p.margin = need
            self.lever[mode] = float(lever)
            for p in ps:
                p.lever = float(lever)
            self._emit("account")
