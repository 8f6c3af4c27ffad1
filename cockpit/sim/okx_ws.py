"""OKX v5 WebSocket API of the simulator: ``/ws/v5/public``, ``/ws/v5/business``, ``/ws/v5/private``.

Served on the REST port (the HTTP handler upgrades the connection, see ``websocket.py``); the
demo-trading URLs (``?brokerId=9999``, what ccxt.pro's sandbox mode and OKX's own SDKs use) are
the same endpoints. Protocol as OKX documents it: ``{"op": "login" | "subscribe" | "unsubscribe",
"args": [...]}`` in, ``{"event": ...}`` answers and ``{"arg": {...}, "data": [...]}`` pushes out,
the text ``ping`` answered ``pong``, a connection idle for 30 s closed. Login signs
``timestamp + "GET" + "/users/self/verify"`` with the REST credentials (timestamp in seconds,
within 30 s of the simulator's clock or of the wall clock).

Channels: public ``tickers``, ``index-tickers``, ``books``, ``books5``, ``bbo-tbt``, ``trades``,
``mark-price``, ``funding-rate``, ``open-interest``, ``liquidation-orders``; business ``candle<bar>``,
``mark-price-candle<bar>``, ``index-candle<bar>`` (every bar REST serves) and ``trades-all``; private
``orders``, ``positions``, ``account``, ``balance_and_position``, and ``orders-algo`` on business. A
subscription is answered with the current state at once (OKX's initial push), then with changes
(trades and liquidations: new ones only, as OKX). ``liquidation-orders`` carries the simulated
account's own liquidations: they are the only ones this market has.

Order entry on ``/private`` after login (OKX's WebSocket trade API): ``order``, ``batch-orders``,
``cancel-order``, ``batch-cancel-orders``, ``amend-order``, ``batch-amend-orders``; answered
``{"id", "op", "code", "msg", "data", "inTime", "outTime"}`` with the REST endpoints' per-order
``sCode``/``sMsg`` (code ``0`` all done, ``1`` all failed, ``2`` some). ``instIdCode`` (the instruments'
numeric code) stands for ``instId`` as on OKX. ``mass-cancel`` (options only on OKX) is not served.

One pump thread (while anybody is connected) moves the exchange to the clock's now every
``interval_s`` (so resting orders fill and stops trigger without a REST call) and pushes what
changed; order events are pushed the moment the exchange makes them (``SimExchange.listeners``),
positions and account on the next tick after a change and every ``snapshot_s`` anyway (OKX's regular push). Each connection has its own writer thread
and queue, so a stalled or slow client holds up nobody else. Stream faults: see ``faults.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import secrets
import threading
import time
import zlib
from typing import Any, Callable

from cockpit.sim import book as sim_book
from cockpit.sim.accounts import CCY, CT_VAL, INST_FAMILY, INST_ID, INST_ID_CODE
from cockpit.sim.market import MarketEnded
from cockpit.sim.okx_api import ApiError, OkxApi, _bar, n
from cockpit.sim.websocket import WsClosed, WsConnection

log = logging.getLogger("cockpit.sim.ws")

ENDPOINTS = ("public", "business", "private")
PUBLIC = {
    "tickers",
    "index-tickers",
    "books",
    "books5",
    "bbo-tbt",
    "trades",
    "mark-price",
    "funding-rate",
    "open-interest",
    "liquidation-orders",
}
PRIVATE = {"orders", "positions", "account", "balance_and_position"}
BUSINESS_PRIVATE = {"orders-algo"}  # on /business, after login (ccxt: watch_orders(trigger=True))
BUSINESS_PUBLIC = {"trades-all"}  # on /business, no login needed (ccxt logs in anyway)
CANDLE_PREFIXES = ("candle", "mark-price-candle", "index-candle")  # + bar, on /business
TRADES = ("trades", "trades-all")
TRADE_OPS = {"order", "batch-orders", "cancel-order", "batch-cancel-orders", "amend-order", "batch-amend-orders"}
LIQ_INST_TYPES = ("SWAP", "FUTURES", "MARGIN", "OPTION")
IDLE_S = 30.0  # OKX closes a connection that sent nothing for 30 s
QUEUE_MAX = 20_000  # a consumer this far behind is cut off (OKX drops slow consumers too)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def channel_endpoint(channel: str) -> str | None:
    """The endpoint that serves ``channel`` (None: no such channel)."""
    if channel in PUBLIC:
        return "public"
    if channel in PRIVATE:
        return "private"
    if channel in BUSINESS_PRIVATE or channel in BUSINESS_PUBLIC:
        return "business"
    if candle_channel(channel) is not None:
        return "business"
    return None


def candle_channel(channel: str) -> tuple[str, str] | None:
    """(kind, bar) of a candle channel (kind ``candle``, ``mark-price-candle`` or ``index-candle``); None otherwise."""
    for prefix in CANDLE_PREFIXES:
        if channel.startswith(prefix):
            bar = channel[len(prefix) :]
            try:
                _bar(bar)
            except ApiError:
                return None
            return prefix, bar
    return None


def _inst_ok(channel: str, arg: dict) -> bool:
    """The instrument argument ``channel`` takes: the swap, its index (BTC-USDT), or (liquidations) an instType."""
    inst = arg.get("instId")
    if channel in ("orders", "positions", "orders-algo") and arg.get("instType", "ANY") not in ("ANY", "SWAP"):
        return False
    if channel in PRIVATE or channel in BUSINESS_PRIVATE:
        return inst in (None, "", INST_ID)
    if channel == "index-tickers" or channel.startswith("index-candle"):
        return inst == INST_FAMILY
    if channel == "liquidation-orders":
        return arg.get("instType") in LIQ_INST_TYPES
    return inst == INST_ID


def book_checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    """OKX's order-book checksum: CRC32 of the first 25 levels interleaved ``bid:size:ask:size``, signed."""
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += bids[i][:2]
        if i < len(asks):
            parts += asks[i][:2]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


class Session:
    """One client connection: its endpoint, login, subscriptions and outbound queue."""

    def __init__(self, hub: "OkxWsHub", conn: WsConnection, endpoint: str, demo: bool) -> None:
        self.hub, self.conn, self.endpoint, self.demo = hub, conn, endpoint, demo
        self.conn_id = secrets.token_hex(4)
        self.logged_in = False
        self.subs: dict[str, dict] = {}  # channel -> the arg as subscribed
        self.fresh: set[str] = set()  # channels owed their initial push
        self.book_state: dict[str, tuple[int, dict[str, str], dict[str, str]]] = {}
        self.out: queue.Queue = queue.Queue()
        self.last_recv = time.monotonic()
        self.alive = True
        self.writer = threading.Thread(target=self._write_loop, name=f"sim-ws-out-{self.conn_id}", daemon=True)

    # ------------------------------------------------------------ out

    def send_event(self, obj: dict) -> None:
        self._put(("event", "", _dumps({**obj, "connId": self.conn_id})))

    def push(self, channel: str, data: list, **extra: Any) -> None:
        arg = self.subs.get(channel)
        if arg is None:
            return
        self._put(("push", f"ws/v5/{self.endpoint}/{channel}", _dumps({"arg": arg, **extra, "data": data})))

    def _put(self, item: tuple[str, str, str]) -> None:
        if not self.alive:
            return
        if self.out.qsize() > QUEUE_MAX:
            log.warning("ws %s: consumer too slow, closing", self.conn_id)
            self.kill()
            return
        self.out.put(item)

    def _write_loop(self) -> None:
        faults = self.hub.faults
        while True:
            item = self.out.get()
            if item is None or not self.alive:
                return
            kind, path, text = item
            try:
                fault = faults.take(path, stream=True) if kind == "push" else None
                if fault is not None and fault.kind == "drop":
                    self.kill()
                    return
                if fault is not None and fault.kind == "stall":
                    fault.released.wait(fault.delay_s)
                if fault is not None and fault.kind == "malformed":
                    raw = text.encode()[: max(1, len(text) // 2)]
                    self.conn.send_text(raw.decode(errors="ignore"))
                    continue
                self.conn.send_text(text)
            except WsClosed:
                self.kill()
                return

    def kill(self) -> None:
        """End the connection at once (no close frame)."""
        if self.alive:
            self.alive = False
            self.conn.abort()
            self.out.put(None)

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.alive:
            self.alive = False
            self.out.put(None)
            self.conn.close(code, reason)

    # ------------------------------------------------------------ in

    def handle(self, text: str) -> None:
        if text == "ping":  # (behind a stalled push, the pong waits too: a stalled link answers nothing)
            self._put(("event", "", "pong"))
            return
        try:
            msg = json.loads(text)
            if not isinstance(msg, dict):
                raise ValueError
        except ValueError:
            return self.send_event({"event": "error", "code": "60012", "msg": f"Invalid request: {text[:200]}"})
        op = msg.get("op")
        args = msg.get("args")
        rid = {"id": msg["id"]} if "id" in msg else {}
        if op in TRADE_OPS and self.endpoint == "private":
            return self._trade(str(op), msg)
        if op not in ("login", "subscribe", "unsubscribe"):
            return self.send_event({"event": "error", "code": "60019", "msg": f"Invalid op: {op}", **rid})
        if not isinstance(args, list) or not args or not all(isinstance(a, dict) for a in args):
            return self.send_event({"event": "error", "code": "60013", "msg": "Invalid args", **rid})
        if op == "login":
            return self._login(args[0], rid)
        for arg in args:
            if op == "subscribe":
                self._subscribe(arg, rid)
            else:
                self.subs.pop(str(arg.get("channel")), None)
                self.fresh.discard(str(arg.get("channel")))
                self.book_state.pop(str(arg.get("channel")), None)
                self.send_event({"event": "unsubscribe", "arg": arg, **rid})

    def _login(self, a: dict, rid: dict) -> None:
        creds = self.hub.credentials()
        key, phrase, ts, sign = (str(a.get(k) or "") for k in ("apiKey", "passphrase", "timestamp", "sign"))

        def fail(code: str, msg: str) -> None:
            self.send_event({"event": "error", "code": code, "msg": msg, **rid})

        if not hmac.compare_digest(key, creds.api_key):
            return fail("60005", "Invalid apiKey")
        if not hmac.compare_digest(phrase, creds.passphrase):
            return fail("60024", "Wrong passphrase")
        try:
            sent = float(ts)
        except ValueError:
            return fail("60004", "Invalid timestamp")
        # Within 30 s of the simulator's clock (what public/time says) or of the wall clock, as REST checks.
        if min(abs(sent - time.time()), abs(sent - self.hub.api.clock.now_ms() / 1000)) > 30:
            return fail("60006", "Timestamp request expired")
        want = base64.b64encode(
            hmac.new(creds.secret.encode(), f"{ts}GET/users/self/verify".encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(want, sign):
            return fail("60007", "Invalid sign")
        if self.hub.require_simulated and not self.demo:
            return fail("50101", "APIKey does not match current environment.")
        self.logged_in = True
        self.send_event({"event": "login", "code": "0", "msg": "", **rid})

    def _trade(self, op: str, msg: dict) -> None:
        """OKX's WebSocket order entry: the REST endpoints' per-order answers under one ``id``/``op`` reply."""
        in_time = str(time.time_ns() // 1000)
        api = self.hub.api

        def reply(code: str, text: str, data: list) -> None:
            self._put(
                (
                    "event",
                    "",
                    _dumps(
                        {
                            "id": str(msg.get("id") or ""),
                            "op": op,
                            "code": code,
                            "msg": text,
                            "data": data,
                            "inTime": in_time,
                            "outTime": str(time.time_ns() // 1000),
                        }
                    ),
                )
            )

        if not self.logged_in:
            return reply("60011", "Please log in", [])
        args = msg.get("args")
        batch = op.startswith("batch-")
        if (
            not isinstance(args, list)
            or not args
            or not all(isinstance(a, dict) for a in args)
            or (not batch and len(args) != 1)
        ):
            return reply("60013", "Invalid args", [])
        if len(args) > 20:
            return reply(
                "51501" if "amend" in op else "51000",
                "Maximum 20 orders can be modified" if "amend" in op else "Parameter count exceeds the limit 20",
                [],
            )
        reqs = []
        for a in args:
            req = {k: v for k, v in a.items() if k != "instIdCode"}
            code = a.get("instIdCode")
            if code not in (None, "") and req.get("instId") in (None, ""):
                req["instId"] = INST_ID if str(code) == str(INST_ID_CODE) else f"instIdCode {code}"
            reqs.append(req)
        kind = op.removeprefix("batch-").removesuffix("s")  # order | cancel-order | amend-order
        one = {"order": api._place, "cancel-order": api._cancel, "amend-order": api._amend}[kind]
        try:
            results = [one(r) for r in reqs]
        except ApiError as e:  # a missing required parameter fails the whole request, as on REST
            return reply(e.code, e.msg, [])
        failed = sum(r["sCode"] != "0" for r in results)
        reply("0" if not failed else "1" if failed == len(results) else "2", "", results)

    def _subscribe(self, arg: dict, rid: dict) -> None:
        channel = str(arg.get("channel") or "")
        where = channel_endpoint(channel)
        inst = arg.get("instId")
        if where is None or where != self.endpoint or not _inst_ok(channel, arg):
            return self.send_event(
                {
                    "event": "error",
                    "code": "60018",
                    **rid,
                    "msg": f"Wrong URL or channel:{channel},instId:{inst} doesn't exist. Please use "
                    "the correct URL, channel and parameters referring to API document.",
                }
            )
        if (where == "private" or channel in BUSINESS_PRIVATE) and not self.logged_in:
            return self.send_event({"event": "error", "code": "60011", "msg": "Please log in", **rid})
        self.subs[channel] = dict(arg)
        self.book_state.pop(channel, None)
        self.send_event({"event": "subscribe", "arg": arg, **rid})
        self.fresh.add(channel)
        self.hub.wake.set()


def sessions_snapshot(hub: "OkxWsHub") -> list[Session]:
    with hub._lock:
        return list(hub.sessions)


class OkxWsHub:
    """Every WebSocket session of one simulator, the pump that feeds them, and the exchange hook."""

    def __init__(
        self,
        api: OkxApi,
        faults,
        credentials: Callable[[], Any],
        require_simulated: bool,
        interval_s: float = 0.1,
        idle_s: float = IDLE_S,
        snapshot_s: float = 5.0,
    ) -> None:
        self.api = api
        self.faults = faults
        self.credentials = credentials
        self.require_simulated = require_simulated
        self.interval_s = interval_s
        self.idle_s = idle_s
        self.snapshot_s = snapshot_s  # positions/account are pushed this often even when unchanged
        self._private_at = 0.0
        self.sessions: set[Session] = set()
        self._lock = threading.Lock()
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._pump: threading.Thread | None = None
        self._dirty = False
        self._last: dict[str, str] = {}  # channel -> last pushed payload (public)
        self._open_modes: set = set()  # exchange position keys open at the last positions push
        self._candle_open: dict[str, str] = {}  # candle channel -> open time of the forming candle last seen
        self._book_cache: tuple[int, dict] | None = None
        self._algo_seen: dict[str, tuple[str, int]] | None = None  # algo id -> (state, uTime) last pushed
        self._seq = 0  # order-book sequence numbers (seqId / prevSeqId)
        # trades / trades-all -> newest public trade pushed: (ts, ids at that ts)
        self._trade_marks: dict[str, tuple[int, set[str]]] = {}
        api.ex.listeners.append(self._on_exchange_event)

    # ------------------------------------------------------------ connections

    def serve(self, conn: WsConnection, endpoint: str, demo: bool) -> None:
        """Run one connection to its end (in the HTTP handler's thread)."""
        s = Session(self, conn, endpoint, demo)
        with self._lock:
            self.sessions.add(s)
            if self._pump is None or not self._pump.is_alive():
                self._pump = threading.Thread(target=self._pump_loop, name="sim-ws-pump", daemon=True)
                self._pump.start()
        s.writer.start()
        try:
            while s.alive and not self._stop.is_set():
                text = conn.recv()  # the pump closes an idle connection, stop() every one: recv then ends
                s.last_recv = time.monotonic()
                if isinstance(text, bytes):
                    text = text.decode(errors="replace")
                s.handle(text)
        except (WsClosed, OSError):
            pass
        finally:
            s.kill()
            with self._lock:
                self.sessions.discard(s)

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        with self._lock:
            sessions = list(self.sessions)
        for s in sessions:
            s.close(1001, "simulator stopping")
        if self._pump is not None:
            self._pump.join(timeout=2)
        if self._on_exchange_event in self.api.ex.listeners:
            self.api.ex.listeners.remove(self._on_exchange_event)

    def _subscribed(self, channel: str) -> list[Session]:
        with self._lock:
            return [s for s in self.sessions if s.alive and channel in s.subs]

    # ------------------------------------------------------------ private events (under the exchange lock)

    def _on_exchange_event(self, kind: str, obj: Any, fill: Any) -> None:
        self._dirty = True
        if kind != "order":
            return
        if getattr(obj, "category", "") == "full_liquidation" and fill is not None:
            self._push_liquidation(obj, fill)
        subs = self._subscribed("orders")
        if not subs:
            return
        d = self.api._order(obj)
        if fill is None or fill.ord_id != obj.ord_id:  # not a fill: no last-fill fields
            d.update(
                tradeId="",
                fillPx="",
                fillSz="0",
                fillTime="",
                fillFee="0",
                fillFeeCcy="",
                fillPnl="0",
                fillNotionalUsd="",
                execType="",
            )
        else:
            d.update(
                fillPx=n(fill.fill_px),
                fillSz=n(fill.fill_sz),
                tradeId=fill.trade_id,
                fillTime=str(fill.ts),
                fillFee=n(fill.fee),
                fillFeeCcy=CCY,
                fillPnl=n(fill.fill_pnl),
                execType=fill.exec_type,
                fillNotionalUsd=n(fill.fill_sz * CT_VAL * fill.fill_px),
            )
        d.update(
            amendResult="", code="0", msg="", reqId="", notionalUsd=n(obj.sz * CT_VAL * (obj.px or obj.avg_px or 0))
        )
        for s in subs:
            s.push("orders", [d])

    # ------------------------------------------------------------ the pump

    def _pump_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self.sessions:
                    self._pump = None
                    return
            idle = [s for s in sessions_snapshot(self) if time.monotonic() - s.last_recv > self.idle_s]
            for s in idle:
                s.close(4004, f"no data received in {self.idle_s:g}s")
            try:
                self._tick()
            except MarketEnded:
                pass  # a replay past its end: nothing new to say
            except Exception:
                log.exception("simulator websocket pump failed")
            self.wake.wait(self.interval_s)
            self.wake.clear()

    def _tick(self) -> None:
        api = self.api
        with api.ex.lock:
            now = api.now()  # advance the exchange: resting orders fill, stops trigger
            dirty, self._dirty = self._dirty, False
            with self._lock:
                sessions = [s for s in self.sessions if s.alive and s.subs]
            wanted = {c for s in sessions for c in s.subs}
            for ch in TRADES:
                if ch not in wanted:
                    self._trade_marks.pop(ch, None)  # the next subscriber starts from now, not from a stale mark
            if "orders-algo" not in wanted:
                self._algo_seen = None
            payloads: dict[str, list] = {}
            for channel in wanted:
                fn = self._payload(channel)
                if fn is not None:
                    payloads[channel] = fn(now)
            private_changed = dirty or time.monotonic() - self._private_at >= self.snapshot_s
            if private_changed:
                self._private_at = time.monotonic()
        for channel, data in payloads.items():
            if channel.startswith("books") or channel == "bbo-tbt":
                self._push_book(channel, data, sessions)
                continue
            if channel in ("positions", "account", "balance_and_position"):
                for s in sessions:
                    if channel in s.subs and (private_changed or channel in s.fresh):
                        s.fresh.discard(channel)
                        s.push(channel, data, **({"eventType": "snapshot"} if channel != "positions" else {}))
                continue
            if channel in TRADES:
                self._push_trades(channel, data, sessions)
                continue
            if channel == "orders-algo":  # changes only (no snapshot on subscribe, as for orders)
                for s in sessions:
                    s.fresh.discard(channel)
                    if data and channel in s.subs:
                        s.push(channel, data)
                continue
            text = _dumps(data)
            changed = self._last.get(channel) != text
            self._last[channel] = text
            for s in sessions:
                if channel in s.subs and (changed or channel in s.fresh):
                    s.fresh.discard(channel)
                    s.push(channel, data)
        if private_changed:
            with api.ex.lock:
                self._open_modes = {m for m, p in api.ex.positions.items() if p.pos}

    # ------------------------------------------------------------ channel payloads

    def _payload(self, channel: str) -> Callable[[int], list] | None:
        api = self.api
        if channel == "tickers":
            return lambda now: api.tickers({})
        if channel == "index-tickers":
            return lambda now: api.index_tickers({"instId": INST_FAMILY})
        if channel == "mark-price":
            return lambda now: api.mark_price({})
        if channel == "funding-rate":
            return lambda now: api.funding_rate({})
        if channel == "open-interest":
            return lambda now: api.open_interest({})
        cc = candle_channel(channel)
        if cc is not None:
            return lambda now: self._candles(channel, *cc)
        if channel == "positions":
            return lambda now: self._positions(now)
        if channel == "account":
            return lambda now: api.balance({})
        if channel == "balance_and_position":
            return lambda now: self._bal_and_pos(now)
        if channel in ("books", "books5", "bbo-tbt"):
            return lambda now: self._book(now)
        if channel in TRADES:
            return lambda now: self._trades(now)
        if channel == "orders-algo":
            return lambda now: self._algo_changes()
        return None

    def _candles(self, channel: str, kind: str, bar: str) -> list:
        """The forming candle; when a new one has opened, the one that just closed (confirmed) first.
        Mark-price and index candles as their REST endpoints serve them (``ts, o, h, l, c, confirm``)."""
        p = {"bar": bar, "limit": "2"}
        rows = (
            self.api.candles(p)
            if kind == "candle"
            else self.api.mark_candles({**p, "instId": INST_ID})
            if kind == "mark-price-candle"
            else self.api.index_candles({**p, "instId": INST_FAMILY})
        )
        prev = self._candle_open.get(channel)
        self._candle_open[channel] = rows[0][0] if rows else ""
        if rows and prev is not None and prev != rows[0][0] and len(rows) > 1:
            return [rows[1], rows[0]]
        return rows[:1]

    def _positions(self, now: int) -> list:
        api = self.api
        out = api.positions({})
        open_now = {k for k, p in api.ex.positions.items() if p.pos}
        for key in self._open_modes - open_now:  # closed since the last push: OKX says pos "0" once
            pos = api.ex.positions.get(key)
            if pos is not None:
                d = api._position(pos, now)
                d.update(
                    pos="0",
                    availPos="0",
                    avgPx="",
                    upl="0",
                    uplRatio="0",
                    liqPx="",
                    imr="0",
                    margin="",
                    mmr="0",
                    notionalUsd="0",
                )
                out.append(d)
        for d in out:
            d["pTime"] = str(now)
        return out

    def _bal_and_pos(self, now: int) -> list:
        api = self.api
        ex = api.ex
        pos = [
            {
                "posId": p["posId"],
                "tradeId": "",
                "instId": INST_ID,
                "instType": "SWAP",
                "mgnMode": p["mgnMode"],
                "posSide": "net",
                "pos": p["pos"],
                "ccy": CCY,
                "posCcy": "",
                "avgPx": p["avgPx"],
                "uTime": p["uTime"],
            }
            for p in self._positions(now)
        ]
        return [
            {
                "pTime": str(now),
                "eventType": "snapshot",
                "balData": [{"ccy": CCY, "cashBal": n(ex.cash), "uTime": str(now)}],
                "posData": pos,
                "trades": [],
            }
        ]

    def _algo_changes(self) -> list:
        """Algo orders (stop-loss / take-profit) placed, triggered or canceled since the last tick."""
        ex = self.api.ex
        first = self._algo_seen is None
        seen = self._algo_seen or {}
        out = []
        for a in ex.algos.values():
            key = (a.state, a.u_time)
            if seen.get(a.algo_id) != key:
                seen[a.algo_id] = key
                if not first:
                    out.append(self.api._algo(a))
        self._algo_seen = seen
        return out

    # ------------------------------------------------------------ books and trades (book.py: the book REST shows)

    def _book(self, now: int) -> list:
        if self._book_cache is None or self._book_cache[0] != now:
            b = sim_book.book(self.api.ex, INST_ID, 400, now_ms=now)
            self._book_cache = (now, b)
        return [self._book_cache[1]]

    def _push_book(self, channel: str, data: list, sessions: list[Session]) -> None:
        b = data[0]
        ts = str(b["ts"])

        def rows(levels: list, k: int | None = None) -> list[list[str]]:
            return [[n(px), n(sz), "0", "1"] for px, sz in (levels if k is None else levels[:k])]

        if channel in ("books5", "bbo-tbt"):
            k = 5 if channel == "books5" else 1
            item = {"asks": rows(b["asks"], k), "bids": rows(b["bids"], k), "instId": INST_ID, "ts": ts}
            text = _dumps([item["asks"], item["bids"]])
            changed = self._last.get(channel) != text
            self._last[channel] = text
            if changed:
                self._seq += 1
            for s in sessions:
                if channel in s.subs and (changed or channel in s.fresh):
                    s.fresh.discard(channel)
                    s.push(channel, [{**item, "seqId": self._seq}])
            return
        asks, bids = rows(b["asks"]), rows(b["bids"])
        new_a = {r[0]: r[1] for r in asks}
        new_b = {r[0]: r[1] for r in bids}
        checksum = book_checksum(bids, asks)
        for s in sessions:
            if channel not in s.subs:
                continue
            state = s.book_state.get(channel)
            if state is None or channel in s.fresh:
                s.fresh.discard(channel)
                self._seq += 1
                s.book_state[channel] = (self._seq, new_a, new_b)
                s.push(
                    channel,
                    [{"asks": asks, "bids": bids, "ts": ts, "checksum": checksum, "prevSeqId": -1, "seqId": self._seq}],
                    action="snapshot",
                )
                continue
            seq, old_a, old_b = state

            def diff(old: dict[str, str], new: dict[str, str]) -> list[list[str]]:
                out = [[px, "0", "0", "0"] for px in old if px not in new]
                return out + [[px, sz, "0", "1"] for px, sz in new.items() if old.get(px) != sz]

            da, db = diff(old_a, new_a), diff(old_b, new_b)
            if not da and not db:
                continue
            self._seq += 1
            s.book_state[channel] = (self._seq, new_a, new_b)
            s.push(
                channel,
                [{"asks": da, "bids": db, "ts": ts, "checksum": checksum, "prevSeqId": seq, "seqId": self._seq}],
                action="update",
            )

    def _trades(self, now: int) -> list:
        return sim_book.recent_trades(self.api.ex, INST_ID, 300, now_ms=now)

    def _push_trades(self, channel: str, data: list, sessions: list[Session]) -> None:
        """Trades newer than the last pushed, oldest first (none on subscribe: OKX sends no history).
        ``trades`` rows carry ``count`` (trades aggregated into the row); ``trades-all`` rows do not."""
        subs = [s for s in sessions if channel in s.subs]
        for s in subs:
            s.fresh.discard(channel)
        mark = self._trade_marks.get(channel)
        mark_ts, mark_ids = mark or (-1, set())
        new = [r for r in reversed(data) if r["ts"] > mark_ts or (r["ts"] == mark_ts and r["tradeId"] not in mark_ids)]
        if data:
            top = max(r["ts"] for r in data)
            self._trade_marks[channel] = (
                top,
                {r["tradeId"] for r in data if r["ts"] == top} | (mark_ids if top == mark_ts else set()),
            )
        if mark is None or not new:
            return
        extra = {"count": "1"} if channel == "trades" else {}
        out = [
            {
                "instId": INST_ID,
                "tradeId": r["tradeId"],
                "px": n(r["px"]),
                "sz": n(r["sz"]),
                "side": r["side"],
                "ts": str(r["ts"]),
                **extra,
                "source": "0",
            }
            for r in new
        ]
        for s in subs:
            s.push(channel, out)

    def _push_liquidation(self, o: Any, fill: Any) -> None:
        """OKX's liquidation-orders push (instType SWAP) for a liquidation the exchange just made: the
        liquidated position's side, the closing order's side, size (contracts) and price."""
        subs = [
            s for s in self._subscribed("liquidation-orders") if s.subs["liquidation-orders"].get("instType") == "SWAP"
        ]
        if not subs:
            return
        detail = {
            "bkLoss": "0",
            "bkPx": n(fill.fill_px),
            "ccy": "",
            "posSide": "long" if o.side == "sell" else "short",
            "side": o.side,
            "sz": n(fill.fill_sz),
            "ts": str(fill.ts),
        }
        data = [
            {"details": [detail], "instFamily": INST_FAMILY, "instId": INST_ID, "instType": "SWAP", "uly": INST_FAMILY}
        ]
        for s in subs:
            s.push("liquidation-orders", data)
