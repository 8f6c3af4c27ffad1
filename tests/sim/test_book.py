"""The synthetic book and tape (cockpit/sim/book.py): what market/books and market/trades serve is what
the matching engine fills against."""

from __future__ import annotations

SYM = "BTC/USDT:USDT"


def test_market_order_walks_the_book_that_market_books_shows(okx, sim):
    ob = okx.fetch_order_book(SYM, limit=5)
    asks = ob["asks"]
    assert len(asks) == 5 and len(ob["bids"]) == 5
    assert ob["bids"][0][0] < asks[0][0] and all(a[0] < b[0] for a, b in zip(asks, asks[1:]))
    t = okx.fetch_ticker(SYM)
    assert ob["bids"][0][0] == t["bid"] and asks[0][0] == t["ask"]
    # 2.5 levels' worth (contracts are amounts in ccxt): fills at the first three ask prices.
    depth = asks[0][1]
    okx.set_leverage(50, SYM, params={"mgnMode": "isolated"})
    o = okx.create_order(SYM, "market", "buy", depth * 2.5)
    fills = okx.fetch_my_trades(SYM, params={"ordId": o["id"]})
    assert sorted(f["price"] for f in fills) == [a[0] for a in asks[:3]]
    assert sorted(f["amount"] for f in fills) == sorted([depth, depth, depth / 2])


def test_trades_tape_newest_is_last_and_includes_own_fills(okx, sim):
    sim.clock.advance(120_000)
    trades = okx.fetch_trades(SYM, limit=50)
    assert len(trades) == 50
    ts = [x["timestamp"] for x in trades]
    assert ts == sorted(ts) and ts[-1] <= sim.clock.now_ms()
    assert trades[-1]["price"] == okx.fetch_ticker(SYM)["last"]
    assert all(x["side"] in ("buy", "sell") and x["amount"] > 0 for x in trades)
    o = okx.create_order(SYM, "market", "sell", 0.5)
    mine = okx.fetch_my_trades(SYM, params={"ordId": o["id"]})[0]
    assert mine["id"] in [x["id"] for x in okx.fetch_trades(SYM, limit=20)]
    # history-trades pages back by tradeId with `after`.
    first = okx.publicGetMarketHistoryTrades({"instId": "BTC-USDT-SWAP", "limit": "10"})["data"]
    older = okx.publicGetMarketHistoryTrades({"instId": "BTC-USDT-SWAP", "limit": "10", "after": first[-1]["tradeId"]})[
        "data"
    ]
    assert len(older) == 10 and int(older[0]["ts"]) < int(first[-1]["ts"])


def test_book_module_api_is_stable(sim):
    from cockpit.sim import book

    ex = sim.exchange
    b = book.book(ex, "BTC-USDT-SWAP", 3)
    assert set(b) == {"bids", "asks", "ts"} and len(b["bids"]) == len(b["asks"]) == 3
    assert b["asks"][0][0] == ex.bid_ask()[1] and b["asks"][0][1] == book.DEPTH
    assert book.book(ex.market, "BTC-USDT-SWAP", 3, now_ms=b["ts"]) == b
    tr = book.recent_trades(ex, "BTC-USDT-SWAP", 5)
    assert len(tr) == 5 and {"tradeId", "px", "sz", "side", "ts"} <= set(tr[0])
