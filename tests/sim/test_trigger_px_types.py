"""Trigger price types through unmodified ccxt: an attached stop-loss (``slTriggerPxType``) and a trigger
order (``triggerPxType``) of type mark or index fire when THAT price reaches the trigger, as on OKX, not
when the last price does. Each test finds a stretch of the simulated market where the last price
crosses a level that the mark (index) price does not, and places a last-type twin beside it."""

from __future__ import annotations

import ccxt
import pytest

SYM = "BTC/USDT:USDT"


def _window(sim, kind: str, low: bool, hours: int = 2) -> tuple[int, float, int]:
    """(start, level, end): from ``start`` to ``end`` the last price goes below (low) / above ``level`` and
    the ``kind`` price never does; the level is at least 2 away from both extremes."""
    m = sim.market
    price = m.mark_price if kind == "mark" else m.index_price
    now = sim.clock.now_ms()
    for k in range(400):
        s, e = now + 60_000 + k * 1_800_000, now + 60_000 + k * 1_800_000 + hours * 3_600_000
        pts = [s] + [tb for _, _, tb, _ in m.segments(s, e)]
        last = [m.price_at(t) for t in pts]
        ref = [price(t) for t in pts]
        ext_last, ext_ref = (min(last), min(ref)) if low else (max(last), max(ref))
        gap = ext_ref - ext_last if low else ext_last - ext_ref
        start_gap = last[0] - ext_last if low else ext_last - last[0]
        if gap >= 4 and start_gap > 50:
            return s, round((ext_last + ext_ref) / 2, 1), e
    raise AssertionError(f"no stretch where the last price crosses a level the {kind} price does not")


def test_attached_stop_loss_fires_on_its_trigger_price_type(sim, okx):
    start, level, end = _window(sim, "mark", low=True)
    sim.clock.advance(start - sim.clock.now_ms())
    on_mark = okx.create_order(
        SYM,
        "market",
        "buy",
        1,
        params={"stopLoss": {"triggerPrice": level, "type": "market", "triggerPriceType": "mark"}},
    )
    on_last = okx.create_order(SYM, "market", "buy", 1, params={"stopLoss": {"triggerPrice": level, "type": "market"}})
    sent = okx.fetch_order(on_mark["id"], SYM)["info"]["attachAlgoOrds"][0]
    assert (sent["slTriggerPx"], sent["slTriggerPxType"]) == (str(level), "mark")
    assert okx.fetch_order(on_last["id"], SYM)["info"]["attachAlgoOrds"][0]["slTriggerPxType"] == "last"

    sim.clock.advance(end - sim.clock.now_ms())
    states = {o["id"]: okx.fetch_order(o["id"], SYM)["info"]["attachAlgoOrds"][0]["state"] for o in (on_mark, on_last)}
    assert states == {on_mark["id"]: "live", on_last["id"]: "effective"}
    assert [p["contracts"] for p in okx.fetch_positions([SYM]) if p["contracts"]] == [1]

    # A bad type is refused as OKX refuses it (ccxt checks the unified one itself: the raw field here).
    with pytest.raises(ccxt.BadRequest, match="51000"):
        okx.create_order(
            SYM,
            "market",
            "buy",
            1,
            params={
                "attachAlgoOrds": [
                    {"slTriggerPx": str(round(level * 0.9, 1)), "slOrdPx": "-1", "slTriggerPxType": "bid"}
                ]
            },
        )


def test_trigger_order_fires_on_its_trigger_price_type(sim, okx):
    start, level, end = _window(sim, "index", low=False)
    sim.clock.advance(start - sim.clock.now_ms())
    on_index = okx.create_order(SYM, "market", "buy", 1, params={"triggerPrice": level, "triggerPxType": "index"})
    on_last = okx.create_order(SYM, "market", "buy", 1, params={"triggerPrice": level})
    listed = {o["id"]: o for o in okx.fetch_open_orders(SYM, params={"trigger": True})}
    assert listed[on_index["id"]]["triggerPrice"] == level
    assert listed[on_index["id"]]["info"]["triggerPxType"] == "index"
    assert listed[on_last["id"]]["info"]["triggerPxType"] == "last"

    sim.clock.advance(end - sim.clock.now_ms())
    still = [o["id"] for o in okx.fetch_open_orders(SYM, params={"trigger": True})]
    assert still == [on_index["id"]]
    assert [p["contracts"] for p in okx.fetch_positions([SYM]) if p["contracts"]] == [1]


def test_amending_keeps_or_changes_the_trigger_price_type(okx):
    last = okx.fetch_ticker(SYM)["last"]
    trig = okx.create_order(SYM, "market", "buy", 1, params={"triggerPrice": round(last * 1.2, 1)})
    okx.edit_order(
        trig["id"],
        SYM,
        "trigger",
        "buy",
        None,
        None,
        params={"triggerPrice": round(last * 1.3, 1), "newTriggerPxType": "mark"},
    )
    got = {o["id"]: o for o in okx.fetch_open_orders(SYM, params={"trigger": True})}[trig["id"]]
    assert (got["triggerPrice"], got["info"]["triggerPxType"]) == (round(last * 1.3, 1), "mark")

    lim = okx.create_order(
        SYM,
        "limit",
        "buy",
        1,
        round(last * 0.9, 1),
        params={"stopLoss": {"triggerPrice": round(last * 0.8, 1), "type": "market", "triggerPriceType": "index"}},
    )
    okx.edit_order(
        lim["id"],
        SYM,
        "limit",
        "buy",
        None,
        None,
        params={"attachAlgoOrds": [{"newSlTriggerPx": str(round(last * 0.85, 1)), "newSlTriggerPxType": "mark"}]},
    )
    att = okx.fetch_order(lim["id"], SYM)["info"]["attachAlgoOrds"][0]
    assert (att["slTriggerPx"], att["slTriggerPxType"]) == (str(round(last * 0.85, 1)), "mark")
