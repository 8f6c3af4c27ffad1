"""ccxt's real okx class against the built-in simulator: market data, auth, orders, fills, positions."""

from __future__ import annotations

import ccxt
import pytest

SYM = "BTC/USDT:USDT"
H = 3_600_000


def test_markets_and_time(okx, sim):
    m = okx.market(SYM)
    assert m["id"] == "BTC-USDT-SWAP" and m["contractSize"] == 0.01 and m["swap"] and m["linear"]
    assert m["precision"] == {"amount": 0.01, "price": 0.1} and m["limits"]["amount"]["min"] == 0.01
    assert okx.fetch_time() == sim.clock.now_ms()
    sim.clock.advance(90_000)
    assert okx.fetch_time() == sim.clock.now_ms()


def test_ohlcv_pagination_grid_and_forming_candle(okx, sim):
    now = sim.clock.now_ms()
    sim.clock.advance(25 * 60_000)  # 25 minutes into the current hour
    since = now - 50 * H
    rows = okx.fetch_ohlcv(SYM, "1h", since=since, limit=20)
    assert [r[0] for r in rows] == [since + i * H for i in range(20)]
    for _, o, h, l, c, v in rows:
        assert l <= min(o, c) <= max(o, c) <= h and v > 0
    older = okx.fetch_ohlcv(SYM, "1h", limit=5, params={"until": since, "type": "HistoryCandles"})
    assert [r[0] for r in older] == [since - (5 - i) * H for i in range(5)]
    raw = okx.publicGetMarketCandles({"instId": "BTC-USDT-SWAP", "bar": "1H", "limit": "2"})["data"]
    assert raw[0][8] == "0" and raw[1][8] == "1"  # newest first; forming bar unconfirmed
    assert int(raw[0][0]) == now  # the hour that opened at the clock's start
    forming_high = float(raw[0][2])
    sim.clock.advance(40 * 60_000)  # the hour closes
    closed = okx.fetch_ohlcv(SYM, "1h", since=now, limit=1)[0]
    assert closed[0] == now and closed[2] >= forming_high
    # Coarser timeframes aggregate the same path.
    four = okx.fetch_ohlcv(SYM, "4h", since=now - 8 * H, limit=2)
    ones = okx.fetch_ohlcv(SYM, "1h", since=now - 8 * H, limit=4)
    assert four[0][1] == ones[0][1] and four[0][4] == ones[-1][4]
    assert four[0][2] == max(r[2] for r in ones) and four[0][3] == min(r[3] for r in ones)


def test_ticker_mark_funding_oi_ls(okx, sim):
    t = okx.fetch_ticker(SYM)
    assert t["last"] > 0 and t["bid"] <= t["ask"] and t["timestamp"] == sim.clock.now_ms()
    assert abs(okx.fetch_mark_price(SYM)["markPrice"] / t["last"] - 1) < 0.01
    fr = okx.fetch_funding_rate(SYM)
    assert fr["fundingTimestamp"] % (8 * H) == 0 and fr["fundingTimestamp"] > sim.clock.now_ms()
    assert fr["interval"] == "8h" and abs(fr["fundingRate"]) < 0.004
    hist = okx.fetch_funding_rate_history(SYM, limit=10)
    ts = [h["timestamp"] for h in hist]
    assert len(ts) == 10 and all(b - a == 8 * H for a, b in zip(ts, ts[1:])) and ts[-1] <= sim.clock.now_ms()
    oi = okx.fetch_open_interest(SYM)
    assert oi["openInterestAmount"] > 0 and oi["openInterestValue"] > 0
    ls = okx.fetch_long_short_ratio_history(SYM, "1h", since=sim.clock.now_ms() - 10 * H, limit=5)
    assert len(ls) == 5 and all(x["longShortRatio"] > 0 for x in ls)
    assert [x["timestamp"] for x in ls] == sorted(x["timestamp"] for x in ls)


def test_signature_passphrase_and_demo_header_are_checked(cfg, sim):
    from cockpit.market.exchange import make_exchange

    good = sim.credentials
    for bad in ({**good, "secret": "wrong"}, {**good, "password": "wrong"}, {**good, "apiKey": "nobody"}):
        x = make_exchange(cfg, mode="sim", rest_url=sim.url, credentials=bad, for_tests=True)
        with pytest.raises(ccxt.AuthenticationError):
            x.fetch_balance()
    live = make_exchange(cfg, mode="okx-live", rest_url=sim.url, credentials=good, for_tests=True)
    with pytest.raises(ccxt.AuthenticationError):  # no x-simulated-trading header
        live.fetch_balance()
    x = make_exchange(cfg, mode="sim", rest_url=sim.url, credentials=good, for_tests=True)
    assert x.fetch_balance()["USDT"]["total"] == cfg["sim"]["initial_balance"]


def test_sandbox_first_then_url(cfg):
    from cockpit.market.exchange import make_exchange

    x = make_exchange(cfg, mode="okx-demo", rest_url="http://127.0.0.1:9", credentials=None, for_tests=True)
    assert x.urls["api"]["rest"] == "http://127.0.0.1:9" and x.headers.get("x-simulated-trading") == "1"
    live = make_exchange(cfg, mode="okx-live", credentials=None)
    assert "x-simulated-trading" not in (live.headers or {}) and live.enableRateLimit


def test_market_order_with_attached_sl_tp_fills_and_positions(okx, sim):
    okx.set_leverage(5, SYM, {"marginMode": "isolated"})
    last = okx.fetch_ticker(SYM)["last"]
    o = okx.create_order(
        SYM,
        "market",
        "buy",
        10,
        None,
        {
            "clientOrderId": "c1",
            "marginMode": "isolated",
            "stopLoss": {"triggerPrice": round(last * 0.9, 1)},
            "takeProfit": {"triggerPrice": round(last * 1.1, 1)},
        },
    )
    got = okx.fetch_order(o["id"], SYM)
    assert got["status"] == "closed" and got["filled"] == 10 and got["clientOrderId"] == "c1"
    assert got["stopLossPrice"] == round(last * 0.9, 1) and got["fee"]["cost"] > 0
    assert okx.fetch_order(None, SYM, {"clientOrderId": "c1"})["id"] == o["id"]
    (pos,) = okx.fetch_positions([SYM])
    assert pos["side"] == "long" and pos["contracts"] == 10 and pos["leverage"] == 5 and pos["marginMode"] == "isolated"
    assert pos["liquidationPrice"] < pos["entryPrice"]
    algos = okx.fetch_open_orders(SYM, params={"ordType": "oco"})
    assert len(algos) == 1 and algos[0]["amount"] == 10 and algos[0]["side"] == "sell"
    bal = okx.fetch_balance()["USDT"]
    assert bal["free"] < bal["total"] < 10000
    trades = okx.fetch_my_trades(SYM)
    assert sum(t["amount"] for t in trades) == 10 and all(t["order"] == o["id"] for t in trades)
    # Closing with reduce-only flattens the position and cancels the attached TP/SL.
    okx.create_order(SYM, "market", "sell", 10, None, {"reduceOnly": True, "marginMode": "isolated"})
    assert okx.fetch_positions([SYM]) == []
    assert okx.fetch_open_orders(SYM, params={"ordType": "oco"}) == []
    assert okx.fetch_balance()["USDT"]["free"] == pytest.approx(okx.fetch_balance()["USDT"]["total"])


def test_take_profit_triggers_as_price_moves(okx, sim):
    last = okx.fetch_ticker(SYM)["last"]
    okx.create_order(
        SYM,
        "market",
        "buy",
        1,
        None,
        {
            "marginMode": "isolated",
            "takeProfit": {"triggerPrice": round(last + 5, 1)},
            "stopLoss": {"triggerPrice": round(last - 5, 1)},
        },
    )
    for _ in range(240):
        sim.clock.advance(60_000)
        if not okx.fetch_positions([SYM]):
            break
    assert okx.fetch_positions([SYM]) == []
    hist = okx.fetch_closed_orders(SYM, params={"ordType": "oco"})
    assert hist and hist[0]["status"] == "closed"
    closes = [t for t in okx.fetch_my_trades(SYM) if t["side"] == "sell"]
    assert closes and abs(closes[0]["price"] - last) < 20


def test_limit_order_rest_cancel_and_errors(okx, sim):
    last = okx.fetch_ticker(SYM)["last"]
    o = okx.create_order(SYM, "limit", "buy", 1, round(last * 0.8, 1), {"clientOrderId": "lim1"})
    assert [x["id"] for x in okx.fetch_open_orders(SYM)] == [o["id"]]
    assert okx.fetch_balance()["USDT"]["free"] < 10000  # margin frozen for the order
    with pytest.raises(ccxt.InvalidOrder):  # duplicate client order id
        okx.create_order(SYM, "limit", "buy", 1, round(last * 0.8, 1), {"clientOrderId": "lim1"})
    okx.cancel_order(o["id"], SYM)
    assert okx.fetch_order(o["id"], SYM)["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        okx.cancel_order(o["id"], SYM)
    with pytest.raises(ccxt.OrderNotFound):
        okx.fetch_order("123", SYM)
    with pytest.raises(ccxt.InsufficientFunds):
        okx.create_order(SYM, "market", "buy", 10_000, None, {"marginMode": "isolated"})
    with pytest.raises(ccxt.ExchangeError):  # reduce-only without a position
        okx.create_order(SYM, "market", "sell", 1, None, {"reduceOnly": True})
    assert okx.fetch_closed_orders(SYM) == []  # "filled" history: nothing filled yet


def test_large_orders_fill_in_pieces(okx, sim):
    okx.set_leverage(50, SYM, {"marginMode": "isolated"})
    okx.create_order(SYM, "market", "buy", 350, None, {"marginMode": "isolated"})
    fills = okx.fetch_my_trades(SYM)
    prices = [f["price"] for f in sorted(fills, key=lambda f: f["id"])]
    assert len(fills) == 4 and sum(f["amount"] for f in fills) == 350 and prices == sorted(prices)
    last = okx.fetch_ticker(SYM)["last"]
    o = okx.create_order(SYM, "limit", "sell", 300, round(last + 1, 1), {"marginMode": "isolated"})
    states = set()
    for _ in range(600):
        sim.clock.advance(60_000)
        got = okx.fetch_order(o["id"], SYM)
        states.add((got["status"], 0 < got["filled"] < 300))
        if got["status"] == "closed":
            break
    assert ("open", True) in states and got["status"] == "closed"


def test_funding_settles_and_liquidation(okx, sim):
    okx.set_leverage(100, SYM, {"marginMode": "isolated"})
    okx.create_order(SYM, "market", "buy", 10, None, {"marginMode": "isolated"})
    before = okx.fetch_balance()["USDT"]["total"]
    nxt = okx.fetch_funding_rate(SYM)["fundingTimestamp"]
    sim.clock.set(nxt + 1)
    pos = okx.fetch_positions([SYM])
    if pos:  # still open: funding was charged on it
        assert float(pos[0]["info"]["fundingFee"]) != 0
    liquidated = not pos
    for _ in range(24 * 14):
        if liquidated:
            break
        sim.clock.advance(H)
        liquidated = not okx.fetch_positions([SYM])
    assert liquidated
    liq = [o for o in sim.exchange.orders.values() if o.category == "full_liquidation"]
    assert len(liq) == 1
    assert okx.fetch_balance()["USDT"]["total"] < before


def test_faults(cfg, okx, sim):
    import json
    import urllib.request

    sim.faults.add("rate_limit")
    with pytest.raises(ccxt.RateLimitExceeded):
        okx.fetch_ticker(SYM)
    sim.faults.add("server_error")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        okx.fetch_ticker(SYM)
    sim.faults.add("drop")
    with pytest.raises(ccxt.NetworkError):
        okx.fetch_ticker(SYM)
    assert okx.fetch_ohlcv(SYM, "1h", limit=3)
    sim.faults.add("malformed", path="market/candles")
    assert okx.fetch_ohlcv(SYM, "1h", limit=3) == []  # ccxt swallows it: the ingest must notice
    okx.timeout = 300
    sim.faults.add("slow", delay_s=1.0)
    with pytest.raises(ccxt.RequestTimeout):
        okx.fetch_ticker(SYM)
    okx.timeout = 10_000
    # Admin endpoint: a one-off order rejection.
    req = urllib.request.Request(
        sim.url + "/sim/admin/faults", data=json.dumps({"kind": "reject_order"}).encode(), method="POST"
    )
    assert json.loads(urllib.request.urlopen(req).read())["kind"] == "reject_order"
    with pytest.raises(ccxt.InsufficientFunds):
        okx.create_order(SYM, "market", "buy", 1)
    assert okx.create_order(SYM, "market", "buy", 1)["id"]
    kinds = [k for k, _ in sim.faults.fired]
    assert kinds == ["rate_limit", "server_error", "drop", "malformed", "slow", "reject_order"]
