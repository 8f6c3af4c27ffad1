"""The simulator's OKX v5 WebSocket API through unmodified ccxt.pro (and a raw aiohttp client for the
protocol details ccxt does not expose): public, business and private channels, login, faults."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time

import aiohttp
import ccxt
import pytest

SYM = "BTC/USDT:USDT"
T = 10.0  # seconds any single wait may take before the test fails (never hangs)


def run(coro, timeout: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def pro(cfg, sim):
    """A factory of ccxt.pro okx clients pointed at ``sim`` (closed by the test's own ``finally``)."""
    from cockpit.market.exchange import make_stream_exchange

    def make(**kw):
        x = make_stream_exchange(cfg, mode="sim", rest_url=sim.url, credentials=sim.credentials, for_tests=True, **kw)
        x.streaming["keepAlive"] = 400  # ccxt's own ping/pong watchdog, short so a dead link shows at once
        return x

    return make


async def w(aw, timeout: float = T):
    return await asyncio.wait_for(aw, timeout)


def test_public_and_business_channels_through_ccxt_pro(pro, sim, okx):
    async def main():
        x = pro()
        try:
            t = await w(x.watch_ticker(SYM))
            rest = okx.fetch_ticker(SYM)
            assert (t["last"], t["bid"], t["ask"], t["timestamp"]) == (
                rest["last"],
                rest["bid"],
                rest["ask"],
                rest["timestamp"],
            )
            sim.clock.advance(60_000)
            t2 = await w(x.watch_ticker(SYM))
            assert t2["timestamp"] == sim.clock.now_ms() and t2["last"] == okx.fetch_ticker(SYM)["last"]

            for tf in ("1m", "15m", "1h", "4h", "1d"):
                c = await w(x.watch_ohlcv(SYM, tf))
                assert c[-1] == okx.fetch_ohlcv(SYM, tf, limit=1)[-1], tf
            assert any("/business" in url for url in x.clients)  # candles live on the business endpoint

            def levels(book, k=400):
                return [lv[:2] for lv in book["bids"][:k]], [lv[:2] for lv in book["asks"][:k]]

            ob = await w(x.watch_order_book(SYM))
            assert len(ob["bids"]) == 400 and levels(ob) == levels(okx.fetch_order_book(SYM, limit=400))
            sim.clock.advance(30_000)  # updates (deltas) keep the local book equal to REST's
            ob = await w(x.watch_order_book(SYM))
            assert levels(ob) == levels(okx.fetch_order_book(SYM, limit=400))
            ob5 = await w(x.watch_order_book(SYM, 5))
            assert levels(ob5) == levels(okx.fetch_order_book(SYM, limit=5))

            trades = asyncio.ensure_future(x.watch_trades(SYM))
            await asyncio.sleep(0.3)  # subscribed; OKX sends no history on subscribe
            before = sim.clock.now_ms()
            sim.clock.advance(5_000)
            got = await w(trades)
            assert got and all(before < tr["timestamp"] <= sim.clock.now_ms() for tr in got)
            assert got[-1]["price"] == okx.fetch_trades(SYM, limit=1)[-1]["price"]

            fr = await w(x.watch_funding_rate(SYM))
            assert fr["fundingRate"] == okx.fetch_funding_rate(SYM)["fundingRate"]
            mp = await w(x.watch_mark_price(SYM))
            assert (
                mp["info"]["markPx"] == okx.publicGetPublicMarkPrice({"instId": "BTC-USDT-SWAP"})["data"][0]["markPx"]
            )
        finally:
            await x.close()

    run(main())


async def until(pred, timeout: float = T):
    """Wait (bounded) until ``pred()`` holds; what ccxt.pro received lands in its caches as it arrives."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting for a stream update"
        await asyncio.sleep(0.02)


def test_private_channels_follow_orders_fills_positions_and_balance(pro, sim, okx):
    async def main():
        x = pro()
        try:
            bal = await w(x.watch_balance())
            assert bal["USDT"]["total"] == 10000.0
            assert await w(x.watch_positions()) == []
            orders = asyncio.ensure_future(x.watch_orders())
            await asyncio.sleep(0.3)
            o = await x.create_order(SYM, "market", "buy", 1.5)
            first = await w(orders)
            assert first[0]["id"] == o["id"]

            def order(oid):
                mine = [s for s in (x.orders or []) if s["id"] == oid]
                return mine[-1] if mine else None

            await until(lambda: order(o["id"]) and order(o["id"])["status"] == "closed")
            assert order(o["id"])["filled"] == 1.5
            assert order(o["id"])["average"] == okx.fetch_order(o["id"], SYM)["average"]

            def contracts():
                return [p["contracts"] for p in x.positions if p["contracts"]] if x.positions else []

            await until(lambda: contracts() == [1.5])
            assert [p["side"] for p in x.positions if p["contracts"]] == ["long"]
            total = okx.fetch_balance()["USDT"]["total"]
            await until(lambda: x.balance["USDT"]["total"] == pytest.approx(total, abs=1e-6))

            # A resting limit order filled by the market alone: no REST call in between, the stream says so.
            now = sim.clock.now_ms()
            lows = [sim.market.price_at(now + k * 60_000) for k in range(1, 240)]
            px = round(min(lows) + 5.0, 1)
            assert px < okx.fetch_ticker(SYM)["bid"]
            lim = await x.create_order(SYM, "limit", "buy", 0.5, px)
            await until(lambda: order(lim["id"]) and order(lim["id"])["status"] == "open")
            sim.clock.advance(240 * 60_000)
            await until(lambda: order(lim["id"])["status"] == "closed")
            trade = [tr for tr in x.myTrades if tr["order"] == lim["id"]]
            assert trade and trade[-1]["price"] == px and trade[-1]["takerOrMaker"] == "maker"
            await until(lambda: contracts() == [2.0])
            # Closing the position: OKX pushes pos "0" once, ccxt reads it as flat.
            await x.create_order(SYM, "market", "sell", 2.0, params={"reduceOnly": True})
            await until(lambda: contracts() == [])
        finally:
            await x.close()

    run(main())


def test_trigger_orders_stream_on_business(pro, sim, okx):
    """watch_orders(trigger=True): the orders-algo channel (business endpoint, after login)."""

    async def main():
        x = pro()
        try:
            await x.create_order(SYM, "market", "buy", 1.0)
            algos = asyncio.ensure_future(x.watch_orders(SYM, params={"trigger": True}))
            await asyncio.sleep(0.5)
            last = okx.fetch_ticker(SYM)["last"]
            placed = await x.create_order(
                SYM, "market", "sell", 1.0, params={"stopLossPrice": round(last * 0.9, 1), "reduceOnly": True}
            )
            got = await w(algos)
            assert [(o["id"], o["status"]) for o in got] == [(placed["id"], "open")]
            assert got[0]["stopLossPrice"] == round(last * 0.9, 1)
            assert any("/business" in url for url in x.clients)
            canceled = asyncio.ensure_future(x.watch_orders(SYM, params={"trigger": True}))
            await asyncio.sleep(0.2)
            await x.cancel_order(placed["id"], SYM, params={"trigger": True})
            got = await w(canceled)
            assert [(o["id"], o["status"]) for o in got] == [(placed["id"], "canceled")]
        finally:
            await x.close()

    run(main())


# ------------------------------------------------------------ the protocol itself (raw client)


def _login_args(sim, ts: str | None = None, secret: str | None = None) -> dict:
    ts = ts or str(int(time.time()))
    sign = base64.b64encode(
        hmac.new((secret or sim.secret).encode(), f"{ts}GET/users/self/verify".encode(), hashlib.sha256).digest()
    ).decode()
    return {"apiKey": sim.api_key, "passphrase": sim.passphrase, "timestamp": ts, "sign": sign}


async def _raw(sim, endpoint: str, demo: bool = True):
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(f"{sim.ws_url}/{endpoint}" + ("?brokerId=9999" if demo else ""), autoping=False)
    return session, ws


async def _next(ws, timeout: float = T):
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return msg.data if msg.data == "pong" else json.loads(msg.data)


def test_protocol_login_errors_subscribe_rules_ping_and_open_interest(sim):
    async def main():
        session, ws = await _raw(sim, "private")
        try:
            await ws.send_str("ping")
            assert await _next(ws) == "pong"
            await ws.send_json({"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]})
            assert (await _next(ws))["code"] == "60011"  # please log in
            await ws.send_json({"op": "login", "args": [_login_args(sim, secret="wrong")]})
            assert (await _next(ws))["code"] == "60007"  # invalid sign
            await ws.send_json({"op": "login", "args": [_login_args(sim, ts=str(int(time.time()) - 120))]})
            assert (await _next(ws))["code"] == "60006"  # expired
            await ws.send_json({"op": "login", "args": [{**_login_args(sim), "apiKey": "nope"}]})
            assert (await _next(ws))["code"] == "60005"
            await ws.send_json({"op": "login", "args": [_login_args(sim)]})
            ok = await _next(ws)
            assert ok["event"] == "login" and ok["code"] == "0"
            await ws.send_json({"op": "subscribe", "args": [{"channel": "tickers", "instId": "BTC-USDT-SWAP"}]})
            assert (await _next(ws))["code"] == "60018"  # a public channel on /private
            await ws.send_json({"op": "nonsense", "args": [{}]})
            assert (await _next(ws))["code"] == "60019"
            await ws.send_str("{not json")
            assert (await _next(ws))["code"] == "60012"
        finally:
            await ws.close()
            await session.close()

        session, ws = await _raw(sim, "private", demo=False)  # a demo key on the live URL: refused
        try:
            await ws.send_json({"op": "login", "args": [_login_args(sim)]})
            assert (await _next(ws))["code"] == "50101"
        finally:
            await ws.close()
            await session.close()

        session, ws = await _raw(sim, "public")
        try:
            await ws.send_json({"op": "subscribe", "args": [{"channel": "candle1m", "instId": "BTC-USDT-SWAP"}]})
            assert (await _next(ws))["code"] == "60018"  # candles live on /business
            await ws.send_json({"op": "subscribe", "args": [{"channel": "tickers", "instId": "ETH-USDT-SWAP"}]})
            assert (await _next(ws))["code"] == "60018"
            await ws.send_json(
                {"op": "subscribe", "id": "7", "args": [{"channel": "open-interest", "instId": "BTC-USDT-SWAP"}]}
            )
            ack = await _next(ws)
            assert ack["event"] == "subscribe" and ack["id"] == "7" and ack["connId"]
            push = await _next(ws)
            assert push["arg"]["channel"] == "open-interest" and float(push["data"][0]["oi"]) > 0
            await ws.send_json({"op": "unsubscribe", "args": [{"channel": "open-interest", "instId": "BTC-USDT-SWAP"}]})
            assert (await _next(ws))["event"] == "unsubscribe"
            sim.clock.advance(600_000)
            await ws.send_str("ping")
            assert await _next(ws) == "pong"  # nothing pushed after unsubscribe
        finally:
            await ws.close()
            await session.close()

    run(main())


def test_books_channel_sequence_and_checksum(sim):
    from cockpit.sim.okx_ws import book_checksum

    async def main():
        session, ws = await _raw(sim, "public")
        try:
            await ws.send_json({"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT-SWAP"}]})
            assert (await _next(ws))["event"] == "subscribe"
            snap = await _next(ws)
            assert snap["action"] == "snapshot"
            d = snap["data"][0]
            book = {"bids": {r[0]: r for r in d["bids"]}, "asks": {r[0]: r for r in d["asks"]}}
            seq = d["seqId"]
            assert d["prevSeqId"] == -1 and d["checksum"] == book_checksum(d["bids"], d["asks"])
            for _ in range(3):
                sim.clock.advance(20_000)
                upd = await _next(ws)
                u = upd["data"][0]
                assert upd["action"] == "update" and u["prevSeqId"] == seq and u["seqId"] > seq
                seq = u["seqId"]
                for side in ("bids", "asks"):
                    for r in u[side]:
                        if r[1] == "0":
                            book[side].pop(r[0], None)
                        else:
                            book[side][r[0]] = r
                bids = sorted(book["bids"].values(), key=lambda r: -float(r[0]))
                asks = sorted(book["asks"].values(), key=lambda r: float(r[0]))
                assert book_checksum(bids, asks) == u["checksum"]
        finally:
            await ws.close()
            await session.close()

    run(main())


# ------------------------------------------------------------ faults on streams: ccxt.pro reconnects


@pytest.mark.parametrize("kind", ["drop", "malformed", "stall"])
def test_stream_faults_then_ccxt_pro_reconnects(pro, sim, kind):
    sim.clock.set_speed(60)

    async def main():
        x = pro()
        try:
            await w(x.watch_ticker(SYM))
            sim.faults.add(kind, path="ws/v5/public/tickers", delay_s=3.0)
            failed = None
            for _ in range(20):
                try:
                    t = await w(x.watch_ticker(SYM), 3)
                except (ccxt.NetworkError, asyncio.TimeoutError) as e:  # RequestTimeout is a NetworkError
                    failed = e
                    continue
                if failed is not None:
                    break
            assert failed is not None, "the fault never reached the client"
            assert t["timestamp"] <= sim.clock.now_ms()
            fresh = await w(x.watch_ticker(SYM))
            assert fresh["timestamp"] > t["timestamp"] - 1  # streaming again on a new connection
        finally:
            sim.faults.clear()
            await x.close()

    run(main())
    assert (kind, "ws/v5/public/tickers") in sim.faults.fired


def test_stream_faults_never_touch_rest_and_rest_faults_never_touch_streams(pro, sim, okx):
    sim.faults.add("drop", path="ws/")
    assert okx.fetch_ticker(SYM)["last"] > 0  # REST does not take a ws/ fault
    sim.faults.clear()
    sim.faults.add("server_error", count=1, path="market/ticker")  # a REST fault: streams never take it

    async def main():
        x = pro()
        try:
            assert (await w(x.watch_ticker(SYM)))["last"] > 0
        finally:
            await x.close()

    run(main())
    assert [f.kind for f in sim.faults.active()] == ["server_error"]
    sim.faults.clear()
