"""More of OKX's v5 WebSocket API in the simulator, through clients nobody here wrote: ccxt.pro's
``create_order_ws`` / ``edit_order_ws`` / ``cancel_order_ws`` / ``cancel_orders_ws``, ``watch_trades``
on ``trades-all`` and ``watch_liquidations``; python-okx's ``WsPrivateAsync`` order entry and
``WsPublicAsync`` subscriptions to ``index-tickers``, ``mark-price-candle<bar>`` and ``index-candle<bar>``.

python-okx's ``WebSocketFactory`` always passes a TLS context, which ``websockets`` refuses for a
``ws://`` URL; the tests open the loopback connection themselves and hand it to the client (its
login, subscribe and order messages are its own)."""

from __future__ import annotations

import asyncio
import json
import time

import ccxt
import pytest
import websockets

SYM = "BTC/USDT:USDT"
T = 10.0


def run(coro, timeout: float = 40.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def w(aw, timeout: float = T):
    return await asyncio.wait_for(aw, timeout)


@pytest.fixture
def pro(cfg, sim):
    from cockpit.market.exchange import make_stream_exchange

    def make():
        return make_stream_exchange(cfg, mode="sim", rest_url=sim.url, credentials=sim.credentials, for_tests=True)

    return make


def _far_bid(okx) -> float:
    return round(okx.fetch_ticker(SYM)["bid"] * 0.8, 1)


def test_order_entry_over_the_private_socket_through_ccxt_pro(pro, okx):
    async def main():
        x = pro()
        try:
            px = _far_bid(okx)
            # ccxt's default op is batch-orders, with the instrument as instIdCode (from instruments)
            o = await w(x.create_order_ws(SYM, "limit", "buy", 2, px))
            rest = okx.fetch_order(o["id"], SYM)
            assert (rest["status"], rest["price"], rest["amount"]) == ("open", px, 2)
            o2 = await w(
                x.create_order_ws(SYM, "limit", "buy", 1, px - 10, params={"op": "order", "clOrdId": "wsentry1"})
            )
            assert okx.fetch_order(o2["id"], SYM)["clientOrderId"] == "wsentry1"

            edited = await w(x.edit_order_ws(o["id"], SYM, "limit", "buy", 3, px - 5))
            assert edited["id"] == o["id"]
            rest = okx.fetch_order(o["id"], SYM)
            assert (rest["price"], rest["amount"]) == (px - 5, 3)

            canceled = await w(x.cancel_order_ws(o2["id"], SYM))
            assert canceled["id"] == o2["id"] and okx.fetch_order(o2["id"], SYM)["status"] == "canceled"

            o3 = await w(x.create_order_ws(SYM, "limit", "buy", 1, px - 20))
            both = await w(x.cancel_orders_ws([o["id"], o3["id"]], SYM))
            assert sorted(b["id"] for b in both) == sorted([o["id"], o3["id"]])
            assert okx.fetch_open_orders(SYM) == []

            m = await w(x.create_order_ws(SYM, "market", "buy", 1))
            assert okx.fetch_order(m["id"], SYM)["status"] == "closed"
            assert [p["contracts"] for p in okx.fetch_positions([SYM]) if p["contracts"]] == [1]

            # A refused order: the exchange's sCode reaches ccxt as an error, nothing is placed.
            with pytest.raises(ccxt.BaseError, match="51008"):  # insufficient margin
                await w(x.create_order_ws(SYM, "limit", "buy", 5000, px))
            with pytest.raises(ccxt.BaseError, match="51400|51603"):
                await w(x.cancel_order_ws("123456", SYM))
            assert okx.fetch_open_orders(SYM) == []
        finally:
            await x.close()

    run(main())


async def _okx_private(sim):
    from okx.websocket.WsPrivateAsync import WsPrivateAsync

    got: list = []
    c = WsPrivateAsync(
        apiKey=sim.api_key, passphrase=sim.passphrase, secretKey=sim.secret, url=f"{sim.ws_url}/private?brokerId=9999"
    )
    c.websocket = await websockets.connect(c.url)  # ws:// on loopback (see the module docstring)
    c.callback = lambda m: got.append(m if m == "pong" else json.loads(m))
    consumer = asyncio.ensure_future(c.consume())
    return c, got, consumer


async def _reply(got: list, pred, timeout: float = T):
    deadline = time.monotonic() + timeout
    while True:
        for m in got:
            if isinstance(m, dict) and pred(m):
                got.remove(m)
                return m
        assert time.monotonic() < deadline, f"no such reply; got {got}"
        await asyncio.sleep(0.02)


def test_order_entry_through_python_okx_and_the_reply_format(sim, okx):
    async def main():
        c, got, consumer = await _okx_private(sim)
        try:
            px = _far_bid(okx)
            order = {
                "instId": "BTC-USDT-SWAP",
                "tdMode": "cross",
                "side": "buy",
                "ordType": "limit",
                "sz": "1",
                "px": str(px),
                "clOrdId": "pyokx1",
            }
            await c.place_order([order], id="r1")
            r = await _reply(got, lambda m: m.get("id") == "r1")
            assert (r["op"], r["code"], r["msg"]) == ("order", "60011", "Please log in") and r["data"] == []

            await c.login()
            assert (await _reply(got, lambda m: m.get("event") == "login"))["code"] == "0"
            await c.place_order([order], id="r2")
            r = await _reply(got, lambda m: m.get("id") == "r2")
            assert set(r) == {"id", "op", "code", "msg", "data", "inTime", "outTime"}
            assert (r["op"], r["code"]) == ("order", "0") and r["data"][0]["sCode"] == "0"
            assert int(r["outTime"]) >= int(r["inTime"])
            oid = r["data"][0]["ordId"]
            assert okx.fetch_order(oid, SYM)["clientOrderId"] == "pyokx1"

            await c.amend_order([{"instId": "BTC-USDT-SWAP", "ordId": oid, "newPx": str(px - 1)}], id="r3")
            r = await _reply(got, lambda m: m.get("id") == "r3")
            assert (r["op"], r["code"]) == ("amend-order", "0") and okx.fetch_order(oid, SYM)["price"] == px - 1

            # A batch with one bad order: code 2, each order's own sCode.
            bad = {**order, "clOrdId": "pyokx2", "sz": "0.015"}
            await c.batch_orders([{**order, "clOrdId": "pyokx3"}, bad], id="r4")
            r = await _reply(got, lambda m: m.get("id") == "r4")
            assert (r["op"], r["code"]) == ("batch-orders", "2")
            assert [d["sCode"] for d in r["data"]] == ["0", "51121"]
            # A missing required parameter fails the request as a whole, as on REST.
            await c.place_order([{k: v for k, v in order.items() if k != "sz"}], id="r5")
            r = await _reply(got, lambda m: m.get("id") == "r5")
            assert (r["code"], r["data"]) == ("50014", [])

            await c.cancel_order([{"instId": "BTC-USDT-SWAP", "clOrdId": "pyokx1"}], id="r6")
            r = await _reply(got, lambda m: m.get("id") == "r6")
            assert (r["op"], r["code"]) == ("cancel-order", "0")
            await c.cancel_order([{"instId": "BTC-USDT-SWAP", "clOrdId": "pyokx1"}], id="r7")
            r = await _reply(got, lambda m: m.get("id") == "r7")
            assert r["code"] == "1" and r["data"][0]["sCode"] != "0"
            open_ids = [o["clientOrderId"] for o in okx.fetch_open_orders(SYM)]
            assert open_ids == ["pyokx3"]
        finally:
            consumer.cancel()
            await c.websocket.close()

    run(main())


async def _okx_public(sim, endpoint: str):
    from okx.websocket.WsPublicAsync import WsPublicAsync

    got: list = []
    c = WsPublicAsync(url=f"{sim.ws_url}/{endpoint}")
    c.websocket = await websockets.connect(c.url)
    consumer = asyncio.ensure_future(c.consume())
    return c, got, consumer


def test_index_tickers_and_mark_and_index_candles_through_python_okx(sim, okx):
    async def main():
        pub, got, c1 = await _okx_public(sim, "public")
        bus, got_b, c2 = await _okx_public(sim, "business")
        try:
            await pub.subscribe(
                [{"channel": "index-tickers", "instId": "BTC-USDT"}], lambda m: got.append(json.loads(m))
            )
            await _reply(got, lambda m: m.get("event") == "subscribe")
            push = await _reply(got, lambda m: m.get("arg", {}).get("channel") == "index-tickers" and "data" in m)
            rest = okx.publicGetMarketIndexTickers({"instId": "BTC-USDT"})["data"]
            assert push["data"] == rest
            sim.clock.advance(60_000)
            push = await _reply(got, lambda m: m.get("arg", {}).get("channel") == "index-tickers" and "data" in m)
            assert push["data"] == okx.publicGetMarketIndexTickers({"instId": "BTC-USDT"})["data"]
            assert push["data"][0]["ts"] == str(sim.clock.now_ms())
            # the swap's id is not an index; candles are not served on /public
            await pub.subscribe(
                [{"channel": "index-tickers", "instId": "BTC-USDT-SWAP"}], lambda m: got.append(json.loads(m))
            )
            assert (await _reply(got, lambda m: m.get("event") == "error"))["code"] == "60018"
            await pub.subscribe(
                [{"channel": "mark-price-candle1m", "instId": "BTC-USDT-SWAP"}], lambda m: got.append(json.loads(m))
            )
            assert (await _reply(got, lambda m: m.get("event") == "error"))["code"] == "60018"

            await bus.subscribe(
                [
                    {"channel": "mark-price-candle1m", "instId": "BTC-USDT-SWAP"},
                    {"channel": "index-candle15m", "instId": "BTC-USDT"},
                ],
                lambda m: got_b.append(json.loads(m)),
            )
            mk = await _reply(got_b, lambda m: m.get("arg", {}).get("channel") == "mark-price-candle1m" and "data" in m)
            ix = await _reply(got_b, lambda m: m.get("arg", {}).get("channel") == "index-candle15m" and "data" in m)
            assert (
                mk["data"]
                == okx.publicGetMarketMarkPriceCandles({"instId": "BTC-USDT-SWAP", "bar": "1m", "limit": "1"})["data"]
            )
            assert (
                ix["data"]
                == okx.publicGetMarketIndexCandles({"instId": "BTC-USDT", "bar": "15m", "limit": "1"})["data"]
            )
            assert len(mk["data"][0]) == 6
            # a new minute: the one that closed (confirmed "1") first, then the forming one
            sim.clock.advance(60_000)
            mk2 = await _reply(
                got_b, lambda m: m.get("arg", {}).get("channel") == "mark-price-candle1m" and "data" in m
            )
            assert mk2["data"][0][0] == mk["data"][0][0] and mk2["data"][0][5] == "1"
            assert (
                mk2["data"][-1]
                == okx.publicGetMarketMarkPriceCandles({"instId": "BTC-USDT-SWAP", "bar": "1m", "limit": "1"})["data"][
                    0
                ]
            )
        finally:
            for task, c in ((c1, pub), (c2, bus)):
                task.cancel()
                await c.websocket.close()

    run(main())


def test_trades_all_on_business_through_ccxt_pro(pro, sim, okx):
    async def main():
        x = pro()
        try:
            trades = asyncio.ensure_future(x.watch_trades(SYM, params={"channel": "trades-all"}))
            await asyncio.sleep(0.5)  # subscribed (ccxt logs in first); no history on subscribe
            assert any("/business" in url for url in x.clients)
            before = sim.clock.now_ms()
            sim.clock.advance(5_000)
            got = await w(trades)
            assert got and all(before < tr["timestamp"] <= sim.clock.now_ms() for tr in got)
            rest = okx.fetch_trades(SYM, limit=1)[-1]
            assert (got[-1]["id"], got[-1]["price"], got[-1]["amount"]) == (rest["id"], rest["price"], rest["amount"])
            assert "count" not in got[-1]["info"]  # trades-all rows are single trades
        finally:
            await x.close()

    run(main())


def test_liquidation_orders_push_the_accounts_liquidation_through_ccxt_pro(pro, sim, okx):
    now = sim.clock.now_ms()
    p0 = sim.market.price_at(now)
    drop = next(
        (now + k * 600_000 for k in range(1, 6 * 24 * 18) if sim.market.price_at(now + k * 600_000) < p0 * 0.98), None
    )
    assert drop is not None, "the simulated market never falls 2% within the history horizon"
    okx.set_leverage(100, SYM, params={"mgnMode": "isolated"})
    okx.create_order(SYM, "market", "buy", 5, params={"tdMode": "isolated"})

    async def main():
        x = pro()
        try:
            liq = asyncio.ensure_future(x.watch_liquidations(SYM))
            await asyncio.sleep(0.5)
            sim.clock.advance(drop - now)
            got = await w(liq)
            hist = okx.fetch_positions_history([SYM])
            assert hist and hist[-1]["info"]["type"] == "3"  # closed by liquidation
            mine = [t for t in okx.fetch_my_trades(SYM) if t["side"] == "sell"]
            assert got[-1]["symbol"] == SYM and got[-1]["side"] == "sell" and got[-1]["contracts"] == 5
            assert got[-1]["price"] == mine[-1]["price"] and got[-1]["timestamp"] == mine[-1]["timestamp"]
            assert got[-1]["info"]["details"][0]["posSide"] == "long"
        finally:
            await x.close()

    run(main())
