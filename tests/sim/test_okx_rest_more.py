"""The simulator as a real OKX (issue 21): the REST calls outside clients use, through unmodified clients
(ccxt sync and async, and the official python-okx SDK) over loopback."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt
import pytest

SYM = "BTC/USDT:USDT"
INST = "BTC-USDT-SWAP"
H = 3_600_000
ISO = {"marginMode": "isolated"}


def _plain_ccxt(sim, cls=ccxt.okx, **extra):
    """ccxt's okx as anyone would configure it for OKX demo trading, with the simulator's URL."""
    x = cls(
        {"apiKey": sim.api_key, "secret": sim.secret, "password": sim.passphrase, "enableRateLimit": False, **extra}
    )
    x.set_sandbox_mode(True)
    x.urls["api"] = {**x.urls["api"], "rest": sim.url}
    return x


@pytest.fixture
def x(sim):
    c = _plain_ccxt(sim)
    c.load_markets()
    return c


@pytest.fixture
def sdk(sim):
    from okx import Account, MarketData, PublicData, Trade

    kw = dict(
        api_key=sim.api_key, api_secret_key=sim.secret, passphrase=sim.passphrase, flag="1", domain=sim.url, debug=False
    )

    class Sdk:
        trade, account = Trade.TradeAPI(**kw), Account.AccountAPI(**kw)
        market, public = MarketData.MarketAPI(**kw), PublicData.PublicAPI(**kw)

    return Sdk


def _ok(r: dict) -> list:
    assert r["code"] == "0", r
    return r["data"]


def _one_minute_path(x, since: int, until: int) -> list[list[float]]:
    """The 1m candles in [since, until), 100 a page (history-candles answers at most 100, like OKX)."""
    out = []
    while since < until:
        out += [r for r in x.fetch_ohlcv(SYM, "1m", since=since, limit=100) if r[0] < until]
        since += 100 * 60_000
    return out


# ------------------------------------------------------------------ market data


def test_mark_and_index_candles_follow_the_last_price(x, sim):
    sim.clock.advance(30 * 60_000)
    last = x.fetch_ohlcv(SYM, "1h", limit=10)
    mark = x.fetch_mark_ohlcv(SYM, "1h", limit=10)
    index = x.fetch_index_ohlcv(SYM, "1h", limit=10)
    assert [r[0] for r in mark] == [r[0] for r in last] == [r[0] for r in index]
    for a, m, i in zip(last, mark, index):
        assert m[3] <= min(m[1], m[4]) <= max(m[1], m[4]) <= m[2]
        assert all(abs(m[k] / a[k] - 1) < 0.0005 and abs(i[k] / a[k] - 1) < 0.0005 for k in (1, 2, 3, 4))
    assert abs(mark[-1][4] - x.fetch_mark_price(SYM)["markPrice"]) <= 0.2


def test_ticker_uses_one_rolling_24h_window(x, sim):
    sim.clock.advance(2 * H)  # 02:00 UTC: the UTC day is 2 hours old
    now = sim.clock.now_ms()
    t = x.fetch_ticker(SYM)
    minutes = _one_minute_path(x, now - 24 * H, now)
    assert len(minutes) == 1440
    inside = [r for r in minutes if r[0] >= now - 24 * H + 60_000]
    assert t["low"] <= min(t["open"], t["last"]) <= max(t["open"], t["last"]) <= t["high"]
    assert t["high"] >= max(r[2] for r in inside) and t["low"] <= min(r[3] for r in inside)
    vol = sum(r[5] for r in minutes)  # BTC: the 1m candles' volume over the same 24 h
    assert float(t["info"]["volCcy24h"]) == pytest.approx(vol, rel=0.01)
    idx = x.publicGetMarketIndexTickers({"instId": "BTC-USDT"})["data"][0]
    assert float(idx["low24h"]) <= float(idx["open24h"]) <= float(idx["high24h"])
    assert abs(float(idx["high24h"]) / t["high"] - 1) < 0.001


def test_history_candles_cap_at_100(x, sim):
    raw = x.publicGetMarketHistoryCandles({"instId": INST, "bar": "1m", "limit": "300"})["data"]
    assert len(raw) == 100
    assert len(x.publicGetMarketCandles({"instId": INST, "bar": "1m", "limit": "300"})["data"]) == 300


def test_numbers_carry_no_float_noise(x, sim):
    x.set_leverage(20, SYM, {"mgnMode": "cross"})
    x.create_order(SYM, "market", "buy", 37.37, None, {"tdMode": "cross"})
    sim.clock.advance(9 * H)
    bodies = [
        x.publicGetMarketTicker({"instId": INST}),
        x.publicGetPublicOpenInterest({"instId": INST}),
        x.privateGetAccountBalance(),
        x.privateGetAccountPositions(),
        x.privateGetTradeFills(),
    ]

    def strings(o):
        if isinstance(o, dict):
            for v in o.values():
                yield from strings(v)
        elif isinstance(o, list):
            for v in o:
                yield from strings(v)
        elif isinstance(o, str):
            yield o

    nums = [s for b in bodies for s in strings(b["data"]) if s.replace(".", "", 1).lstrip("-").isdigit()]
    assert len(nums) > 50
    for s in nums:
        assert "e" not in s and len(s.partition(".")[2]) <= 8, s
        assert s == format(Decimal(repr(float(s))), "f").removesuffix(".0") or "." not in s, s


# ------------------------------------------------------------------ account, limits, tiers


def test_status_tiers_price_limit_and_max_size(x, sdk, sim):
    assert x.fetch_status()["status"] == "ok"
    tiers = x.fetch_market_leverage_tiers(SYM)
    assert tiers[0]["maxLeverage"] == 100 and tiers[0]["maintenanceMarginRate"] == 0.004
    lim = _ok(sdk.public.get_price_limit(INST))[0]
    mark = x.fetch_mark_price(SYM)["markPrice"]
    assert float(lim["sellLmt"]) < mark < float(lim["buyLmt"])
    x.set_leverage(10, SYM, {"mgnMode": "isolated"})
    mx = _ok(sdk.account.get_max_order_size(INST, "isolated"))[0]
    max_buy = float(mx["maxBuy"])
    assert max_buy > 1 and float(_ok(sdk.account.get_max_avail_size(INST, "isolated"))[0]["availBuy"]) > 0
    with pytest.raises(ccxt.InsufficientFunds):  # 5 % over the maximum does not fit ...
        x.create_order(SYM, "market", "buy", round(max_buy * 1.05, 2), None, ISO)
    x.create_order(SYM, "market", "buy", round(max_buy * 0.98, 2), None, ISO)  # ... just under it does
    assert x.fetch_position(SYM)["contracts"] == pytest.approx(round(max_buy * 0.98, 2))


def test_close_position_and_positions_history(x, sim):
    x.set_leverage(5, SYM, {"mgnMode": "isolated"})
    x.create_order(SYM, "market", "buy", 3, None, ISO)
    opened = x.fetch_position(SYM)
    sim.clock.advance(2 * H)
    x.close_position(SYM, params=ISO)
    assert x.fetch_positions([SYM]) == [] or all(p["contracts"] == 0 for p in x.fetch_positions([SYM]))
    hist = x.fetch_positions_history([SYM])
    assert len(hist) == 1
    h = hist[0]["info"]
    assert h["direction"] == "long" and float(h["openMaxPos"]) == 3 and float(h["closeTotalPos"]) == 3
    assert float(h["openAvgPx"]) == pytest.approx(opened["entryPrice"])
    closing = [t for t in x.fetch_my_trades(SYM) if t["side"] == "sell"]
    assert float(h["closeAvgPx"]) == pytest.approx(sum(t["price"] * t["amount"] for t in closing) / 3)
    fees = sum(t["fee"]["cost"] for t in x.fetch_my_trades(SYM))
    assert float(h["pnl"]) - fees == pytest.approx(float(h["realizedPnl"]), abs=1e-6)


def test_ledger_and_funding_history_through_bills(x, sim):
    x.set_leverage(5, SYM, {"mgnMode": "cross"})
    x.create_order(SYM, "market", "sell", 5, None, {"tdMode": "cross"})
    sim.clock.advance(17 * H)  # two funding settlements
    ledger = x.fetch_ledger("USDT", params={"type": "swap"})
    kinds = [e["info"]["type"] for e in ledger]
    assert kinds.count("8") == 2 and kinds.count("2") >= 1
    bal = float(x.privateGetAccountBalance()["data"][0]["details"][0]["cashBal"])
    newest = max(ledger, key=lambda e: int(e["info"]["billId"]))
    assert float(newest["info"]["bal"]) == pytest.approx(bal)
    funding = x.fetch_funding_history(SYM)
    assert len(funding) == 2
    pos = x.fetch_position(SYM)
    assert sum(f["amount"] for f in funding) == pytest.approx(float(pos["info"]["fundingFee"]), abs=1e-6)
    assert all(int(f["timestamp"]) % (8 * H) == 0 for f in funding)


def test_add_and_reduce_margin_moves_liquidation(sdk, x, sim):
    x.set_leverage(20, SYM, {"mgnMode": "isolated"})
    x.create_order(SYM, "market", "buy", 2, None, ISO)
    before = x.fetch_position(SYM)
    _ok(sdk.account.adjustment_margin(INST, "net", "add", "50"))
    after = x.fetch_position(SYM)
    assert float(after["info"]["margin"]) == pytest.approx(float(before["info"]["margin"]) + 50)
    assert after["liquidationPrice"] < before["liquidationPrice"]
    _ok(sdk.account.adjustment_margin(INST, "net", "reduce", "20"))
    r = sdk.account.adjustment_margin(INST, "net", "reduce", "5000")
    assert r["code"] == "59301"
    bills = _ok(sdk.account.get_account_bills(type="6"))
    assert sorted(b["subType"] for b in bills) == ["160", "161"]


# ------------------------------------------------------------------ orders


def test_amend_order(x, sdk, sim):
    last = x.fetch_ticker(SYM)["last"]
    o = x.create_order(SYM, "limit", "buy", 1, round(last * 0.95, 1), {"tdMode": "cross"})
    e = x.edit_order(o["id"], SYM, "limit", "buy", 3, round(last * 0.96, 1))
    got = x.fetch_order(o["id"], SYM)
    assert e["id"] == o["id"] and got["amount"] == 3 and got["price"] == round(last * 0.96, 1)
    # A marketable new price takes liquidity at once.
    _ok(sdk.trade.amend_order(INST, ordId=o["id"], newPx=str(round(last * 1.01, 1))))
    assert x.fetch_order(o["id"], SYM)["status"] == "closed"
    r = sdk.trade.amend_order(INST, ordId=o["id"], newSz="5")
    assert r["data"][0]["sCode"] == "51510"
    r = sdk.trade.amend_order(INST, ordId="123", newSz="5")
    assert r["data"][0]["sCode"] == "51503"
    with pytest.raises(ccxt.OrderNotFound):
        x.edit_order("123", SYM, "limit", "buy", 3, round(last * 0.96, 1))


def test_missing_sz_and_tdmode_are_refused(sdk):
    r = sdk.trade.place_order(INST, "cross", "buy", "market", "")
    assert r["code"] == "50014" and "sz" in r["msg"]
    r = sdk.trade.place_order(INST, "", "buy", "market", "1")
    assert r["code"] == "50014" and "tdMode" in r["msg"]


def test_wrong_side_tp_sl_answer_okx_codes_that_ccxt_maps(x, sdk, sim):
    last = x.fetch_ticker(SYM)["last"]
    with pytest.raises(ccxt.InvalidOrder) as e:  # a long's stop above the last price
        x.create_order(SYM, "market", "buy", 1, None, {"tdMode": "cross", "stopLoss": {"triggerPrice": last * 1.01}})
    assert "51280" in str(e.value)
    with pytest.raises(ccxt.InvalidOrder) as e:  # a long's take-profit below the last price
        x.create_order(SYM, "market", "buy", 1, None, {"tdMode": "cross", "takeProfit": {"triggerPrice": last * 0.99}})
    assert "51279" in str(e.value)
    with pytest.raises(ccxt.InvalidOrder) as e:  # a short's stop below the last price
        x.create_order(SYM, "market", "sell", 1, None, {"tdMode": "cross", "stopLoss": {"triggerPrice": last * 0.99}})
    assert "51278" in str(e.value)
    with pytest.raises(ccxt.InvalidOrder) as e:  # a buy limit's take-profit below its price
        x.create_order(
            SYM,
            "limit",
            "buy",
            1,
            round(last * 0.9, 1),
            {"tdMode": "cross", "takeProfit": {"triggerPrice": last * 0.89}},
        )
    assert "51046" in str(e.value)
    r = sdk.trade.place_algo_order(
        instId=INST,
        tdMode="cross",
        side="sell",
        ordType="conditional",
        sz="1",
        tpTriggerPx=str(round(last * 0.99, 1)),
        tpOrdPx="-1",
    )
    assert r["data"][0]["sCode"] == "51279"


def test_standalone_stop_survives_flat_attached_one_does_not(x, sim):
    last = x.fetch_ticker(SYM)["last"]
    x.create_order(
        SYM, "market", "buy", 2, None, {"tdMode": "cross", "stopLoss": {"triggerPrice": round(last * 0.9, 1)}}
    )
    stop = x.create_order(
        SYM, "market", "sell", 2, None, {"tdMode": "cross", "stopLossPrice": round(last * 0.8, 1), "reduceOnly": True}
    )
    x.create_order(SYM, "market", "sell", 2, None, {"tdMode": "cross", "reduceOnly": True})  # flat
    algos = x.privateGetTradeOrdersAlgoPending({"ordType": "conditional"})["data"]
    assert [a["algoId"] for a in algos] == [stop["id"]]  # the attached stop went with the position
    x.cancel_order(stop["id"], SYM, {"stop": True})  # and the bot's own cancel works


def test_trigger_and_trailing_stop_orders(x, sdk, sim):
    t0 = sim.clock.now_ms()
    last = x.fetch_ticker(SYM)["last"]
    x.create_order(SYM, "market", "buy", 2, None, {"tdMode": "cross"})
    # Look at the coming path to put a trigger 0.3 % above the price where it will be crossed.
    trig = round(last * 1.003, 1)
    trailing = x.create_order(
        SYM, "market", "sell", 2, None, {"tdMode": "cross", "trailingPercent": 0.5, "reduceOnly": True}
    )
    trig_o = x.create_trigger_order(SYM, "market", "buy", 1, None, trig, {"tdMode": "cross"})
    assert trig_o["id"] and trailing["id"]
    for _ in range(48):
        sim.clock.advance(H)
        states = {
            a["algoId"]: a
            for a in sdk.trade.order_algos_history("trigger")["data"]
            + sdk.trade.order_algos_history("move_order_stop")["data"]
        }
        if trig_o["id"] in states and trailing["id"] in states:
            break
    path = _one_minute_path(x, t0, sim.clock.now_ms())
    tr = states[trig_o["id"]]
    assert tr["state"] == "effective"
    t_fire = int(tr["triggerTime"])
    assert max(r[2] for r in path if r[0] < t_fire - 60_000) < trig <= max(r[2] for r in path if r[0] <= t_fire)
    fill = x.fetch_order(tr["ordId"], SYM)
    assert fill["status"] == "closed" and abs(fill["average"] / trig - 1) < 0.0005
    mv = states[trailing["id"]]
    assert mv["state"] == "effective"
    t_mv = int(mv["triggerTime"])
    peak = max(r[2] for r in path if r[0] <= t_mv)
    sold = x.fetch_order(mv["ordId"], SYM)
    assert sold["filled"] == 2 and sold["average"] == pytest.approx(peak * 0.995, rel=0.0006)


def test_cancel_all_after(x, sdk, sim):
    last = x.fetch_ticker(SYM)["last"]
    o = x.create_order(SYM, "limit", "buy", 1, round(last * 0.9, 1), {"tdMode": "cross"})
    x.cancel_all_orders_after(10_000)
    sim.clock.advance(9_000)
    assert x.fetch_order(o["id"], SYM)["status"] == "open"
    sim.clock.advance(2_000)
    got = x.fetch_order(o["id"], SYM)
    assert got["status"] == "canceled" and got["info"]["cancelSource"] == "cancel_all_after"
    o2 = x.create_order(SYM, "limit", "buy", 1, round(last * 0.9, 1), {"tdMode": "cross"})
    x.cancel_all_orders_after(10_000)
    x.cancel_all_orders_after(0)  # turned off
    sim.clock.advance(60_000)
    assert x.fetch_order(o2["id"], SYM)["status"] == "open"


def test_liquidation_happens_on_the_mark_price(x, sim):
    m = sim.exchange.market
    now = sim.clock.now_ms()
    ahead = [m.price_at(now + k * 60_000) for k in range(1, 48 * 60)]
    side = "buy" if min(ahead) / ahead[0] < 2 - max(ahead) / ahead[0] else "sell"  # the larger adverse move
    x.set_leverage(100, SYM, {"mgnMode": "isolated"})
    x.create_order(SYM, "market", side, 10, None, ISO)
    liq = x.fetch_position(SYM)["liquidationPrice"]
    for _ in range(48):
        sim.clock.advance(H)
        if not x.fetch_positions([SYM]):
            break
    liq_orders = [o for o in x.fetch_closed_orders(SYM) if o["info"]["category"] == "full_liquidation"]
    assert len(liq_orders) == 1
    o = liq_orders[0]
    t = int(o["info"]["fillTime"])
    assert abs(o["average"] * m.mark_factor(t) - liq) <= 0.3  # the mark, not the last, reached liqPx


# ------------------------------------------------------------------ other clients, clock


def test_ccxt_async_client(sim):
    import ccxt.async_support as ccxt_async

    async def run():
        x = _plain_ccxt(sim, ccxt_async.okx)
        try:
            await x.load_markets()
            ob = await x.fetch_order_book(SYM, 5)
            trades = await x.fetch_trades(SYM, limit=10)
            mark = await x.fetch_mark_ohlcv(SYM, "1h", limit=3)
            status = await x.fetch_status()
            o = await x.create_order(SYM, "limit", "buy", 1, round(ob["bids"][0][0] * 0.95, 1), {"tdMode": "cross"})
            await x.edit_order(o["id"], SYM, "limit", "buy", 2, round(ob["bids"][0][0] * 0.95, 1))
            e = await x.fetch_order(o["id"], SYM)
            await x.cancel_order(o["id"], SYM)
            return ob, trades, mark, status, e
        finally:
            await x.close()

    ob, trades, mark, status, e = asyncio.run(run())
    assert len(ob["asks"]) == 5 and len(trades) == 10 and len(mark) == 3 and status["status"] == "ok"
    assert e["amount"] == 2


def test_adjust_for_time_difference_signs_with_the_simulator_clock(sim):
    x = _plain_ccxt(sim, options={"adjustForTimeDifference": True})
    x.load_markets()
    assert abs(x.milliseconds() - x.options["timeDifference"] - sim.clock.now_ms()) < 30_000  # adopted public/time
    assert x.fetch_balance()["USDT"]["total"] > 0


def test_wall_clock(cfg):
    import time

    from cockpit.sim import start_simulator

    with start_simulator({**cfg["sim"], "history_days": 3}, port=0, clock="wall") as sim:
        assert sim.clock.speed == 1
        assert abs(sim.clock.now_ms() - time.time() * 1000) < 5_000
        x = _plain_ccxt(sim)  # signs with its own wall clock: accepted
        assert x.fetch_balance()["USDT"]["total"] > 0
        rows = x.fetch_ohlcv(SYM, "1h", limit=48)
        assert len(rows) == 48 and rows[-1][0] == int(time.time() * 1000) // H * H
        # ccxt's paginate works out its windows from its own clock: it works on the wall clock.
        since = (int(time.time() * 1000) // H - 60) * H
        rows = x.fetch_ohlcv(SYM, "1h", since=since, params={"paginate": True, "paginationCalls": 3})
        ts = [r[0] for r in rows]
        assert ts == [since + k * H for k in range(61)]
    with pytest.raises(ValueError):
        start_simulator({**cfg["sim"], "replay_csv": "x.csv"}, port=0, clock="wall")


def test_sim_start_from_environment_accepts_a_yaml_date():
    from cockpit.config import load_config
    from cockpit.sim.server import build_market

    cfg = load_config(None, environ={"COCKPIT__SIM__START": "2026-12-04", "COCKPIT__SIM__HISTORY_DAYS": "2"})
    assert cfg["sim"]["start"] == "2026-12-04"
    _, start = build_market(cfg["sim"])
    assert start == 1_796_342_400_000


def test_long_short_position_mode(x, sim):
    assert x.fetch_position_mode(SYM)["hedged"] is False
    x.set_position_mode(True)
    assert x.fetch_position_mode(SYM)["hedged"] is True
    x.set_leverage(10, SYM, {"mgnMode": "cross"})
    x.create_order(SYM, "market", "buy", 3, None, {"tdMode": "cross", "posSide": "long"})
    x.create_order(SYM, "market", "sell", 2, None, {"tdMode": "cross", "posSide": "short"})
    pos = {p["side"]: p["contracts"] for p in x.fetch_positions([SYM])}
    assert pos == {"long": 3, "short": 2}  # both sides held at once
    with pytest.raises(ccxt.ExchangeError):  # no switching back with positions open
        x.set_position_mode(False)
    x.create_order(SYM, "market", "sell", 5, None, {"tdMode": "cross", "posSide": "long"})  # closes, never flips
    pos = {p["side"]: p["contracts"] for p in x.fetch_positions([SYM])}
    assert pos == {"short": 2}
    x.close_position(SYM, "short", {"marginMode": "cross"})
    assert x.fetch_positions([SYM]) == []
    x.set_position_mode(False)
    assert x.fetch_position_mode(SYM)["hedged"] is False


def test_amend_algo_order(x, sdk, sim):
    last = x.fetch_ticker(SYM)["last"]
    x.create_order(SYM, "market", "buy", 3, None, {"tdMode": "cross"})
    r = _ok(
        sdk.trade.place_algo_order(
            instId=INST,
            tdMode="cross",
            side="sell",
            ordType="conditional",
            sz="1",
            slTriggerPx=str(round(last * 0.95, 1)),
            slOrdPx="-1",
        )
    )
    aid = r[0]["algoId"]
    _ok(sdk.trade.amend_algo_order(instId=INST, algoId=aid, newSz="2", newSlTriggerPx=str(round(last * 0.97, 1))))
    got = _ok(sdk.trade.get_algo_order_details(algoId=aid))[0]
    assert got["sz"] == "2" and float(got["slTriggerPx"]) == round(last * 0.97, 1)
    r = sdk.trade.amend_algo_order(instId=INST, algoId=aid, newSlTriggerPx=str(round(last * 1.01, 1)))
    assert r["data"][0]["sCode"] == "51280"  # a long's stop above the last price
    x.cancel_order(aid, SYM, {"stop": True})
    r = sdk.trade.amend_algo_order(instId=INST, algoId=aid, newSz="1")
    assert r["data"][0]["sCode"] == "51510"


def test_standalone_sim_defaults_to_the_wall_clock(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("COCKPIT__")}
    env["COCKPIT__SIM__HISTORY_DAYS"] = "2"
    out = subprocess.run(
        [sys.executable, "-m", "cockpit", "--db", str(tmp_path / "x.db"), "sim", "--port", "0", "--for", "0.5"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "clock: wall" in out.stdout and "speed 1x" in out.stdout  # (--speed N: the accelerated clock)
