"""What an outside bot (freqtrade on OKX futures, issue 21) does against the standalone simulator, through
unmodified ccxt configured the way freqtrade configures it: the REST URL, the demo header, nothing about the
clock. ``bench/outside_bot.py`` runs the bot itself; these tests pin the calls it makes."""

from __future__ import annotations

import json
import time
import urllib.request

import ccxt
import pytest

from cockpit.sim import start_simulator

SYM = "BTC/USDT:USDT"


def _bot_ccxt(sim) -> ccxt.okx:
    """ccxt's okx as freqtrade builds it from ``exchange.ccxt_config`` (urls + headers), markets loaded."""
    x = ccxt.okx(
        {
            "apiKey": sim.api_key,
            "secret": sim.secret,
            "password": sim.passphrase,
            "enableRateLimit": False,
            "urls": {"api": {"rest": sim.url}},
            "headers": {"x-simulated-trading": "1"},
            "options": {"defaultType": "swap", "brokerId": "ffb5405ad327SUDE"},
        }
    )
    x.load_markets()
    return x


def test_wall_clock_reads_now_once_the_simulator_is_up(cfg):
    """The wall clock was started before the market's history was generated, so it ran behind real time by
    the build (freqtrade logged "Time offset to OKX is 800ms"; OKX's time is now). Public time, the time
    stamps of orders and the signature window must read the wall clock as soon as the simulator answers."""
    sim = start_simulator(dict(cfg["sim"]), clock="wall", port=0)  # the standalone default: 180 days built
    try:
        up = int(time.time() * 1000)
        served = _bot_ccxt(sim).fetch_time()
        # Never behind the moment start_simulator returned (a few ms for monotonic vs wall rounding);
        # before the fix it was behind by the whole build (hundreds of ms).
        assert served >= up - 20, f"public/time {served} is {up - served} ms behind the wall clock"
        with urllib.request.urlopen(sim.url + "/sim/admin/state", timeout=10) as r:
            assert json.loads(r.read())["now"] >= up - 20
    finally:
        sim.stop()


def test_freqtrade_stop_loss_round_trip(sim):
    """freqtrade's OKX futures path: fetch_accounts (posMode), leverage set and read back in isolated mode, a
    market entry, a stop loss on the exchange (a conditional algo, reduce-only), read with the stop flag; once
    triggered the algo is closed and names the order it placed, which is filled; a cancelled stop is listed
    among the cancelled conditional orders."""
    x = _bot_ccxt(sim)
    assert x.fetch_accounts()[0]["info"]["posMode"] == "net_mode"
    iso = {"mgnMode": "isolated", "posSide": "net"}
    x.set_leverage(3, SYM, iso)
    assert x.fetch_leverage(SYM, iso)["longLeverage"] == 3
    x.create_order(SYM, "market", "buy", 1, None, {"tdMode": "isolated", "posSide": "net"})
    last = x.fetch_ticker(SYM)["last"]
    stop = x.create_order(
        SYM,
        "market",
        "sell",
        1,
        None,
        {"tdMode": "isolated", "posSide": "net", "reduceOnly": True, "stopLossPrice": round(last * 0.9995, 1)},
    )
    assert x.fetch_order(stop["id"], SYM, {"stop": True})["status"] == "open"
    pending = x.fetch_open_orders(SYM, params={"stop": True, "ordType": "conditional"})
    assert [o["id"] for o in pending] == [stop["id"]]
    for _ in range(600):  # minute by minute until the market reaches the stop
        sim.clock.advance(60_000)
        got = x.fetch_order(stop["id"], SYM, {"stop": True})
        if got["status"] != "open":
            break
    assert got["status"] == "closed" and got["info"]["ordId"], got["info"]
    placed = x.fetch_order(got["info"]["ordId"], SYM)
    assert placed["status"] == "closed" and placed["filled"] == 1 and placed["side"] == "sell"
    assert [p for p in x.fetch_positions([SYM]) if p["contracts"]] == []

    x.create_order(SYM, "market", "sell", 1, None, {"tdMode": "isolated", "posSide": "net"})
    last = x.fetch_ticker(SYM)["last"]
    stop2 = x.create_order(
        SYM,
        "market",
        "buy",
        1,
        None,
        {"tdMode": "isolated", "posSide": "net", "reduceOnly": True, "stopLossPrice": round(last * 1.01, 1)},
    )
    x.cancel_order(stop2["id"], SYM, {"stop": True})
    cancelled = x.fetch_canceled_orders(SYM, params={"stop": True, "ordType": "conditional"})
    assert [(o["id"], o["status"]) for o in cancelled] == [(stop2["id"], "canceled")]


def test_bot_sees_position_and_isolated_margin(sim):
    """After its entry the bot reads its position (isolated, the contracts it bought, a liquidation price) and a
    balance that counts the margin as used."""
    x = _bot_ccxt(sim)
    x.set_leverage(3, SYM, {"mgnMode": "isolated", "posSide": "net"})
    free0 = x.fetch_balance()["USDT"]["free"]
    x.create_order(SYM, "market", "sell", 2, None, {"tdMode": "isolated", "posSide": "net"})
    (pos,) = [p for p in x.fetch_positions([SYM]) if p["contracts"]]
    assert (pos["side"], pos["contracts"], pos["marginMode"]) == ("short", 2, "isolated")
    assert pos["liquidationPrice"] > pos["entryPrice"]
    bal = x.fetch_balance()["USDT"]
    assert bal["used"] > 0 and bal["free"] < free0


def test_stop_on_mark_price_fires_on_the_mark(sim):
    """freqtrade's ``stoploss_price_type: mark`` sends slTriggerPxType=mark: OKX watches the mark price for that
    stop. The simulator echoed "last" and fired on the last price; now the mark stop fires where the mark
    reaches its trigger, the last-price twin where the last does (they part by the mark's premium)."""
    x = _bot_ccxt(sim)
    x.create_order(SYM, "market", "buy", 2, None, {"tdMode": "isolated", "posSide": "net"})
    trigger = round(x.fetch_ticker(SYM)["last"] * 0.999, 1)
    stops = {
        kind: x.create_order(
            SYM,
            "market",
            "sell",
            1,
            None,
            {
                "tdMode": "isolated",
                "posSide": "net",
                "reduceOnly": True,
                "stopLossPrice": trigger,
                "slTriggerPxType": kind,
            },
        )["id"]
        for kind in ("mark", "last")
    }
    assert x.fetch_order(stops["mark"], SYM, {"stop": True})["info"]["slTriggerPxType"] == "mark"
    for _ in range(2000):
        sim.clock.advance(60_000)
        got = {k: x.fetch_order(i, SYM, {"stop": True})["info"] for k, i in stops.items()}
        if all(g["state"] != "live" for g in got.values()):
            break
    t_mark, t_last = int(got["mark"]["triggerTime"]), int(got["last"]["triggerTime"])
    assert t_mark != t_last
    assert sim.market.mark_price(t_mark) <= trigger + 0.2 < sim.market.mark_price(t_mark - 1000)
    assert sim.market.price_at(t_last) <= trigger + 0.2


def test_stop_price_type_must_be_last_index_or_mark(sim):
    x = _bot_ccxt(sim)
    x.create_order(SYM, "market", "buy", 1, None, {"tdMode": "isolated", "posSide": "net"})
    with pytest.raises(ccxt.BadRequest, match="slTriggerPxType"):
        x.create_order(
            SYM,
            "market",
            "sell",
            1,
            None,
            {
                "tdMode": "isolated",
                "posSide": "net",
                "reduceOnly": True,
                "stopLossPrice": 60000.0,
                "slTriggerPxType": "close",
            },
        )
