"""OKXExecutor through ccxt against the built-in simulator on loopback (no mocks in between)."""

from __future__ import annotations

import pytest

from cockpit.data import DataService
from cockpit.domain.orders import Order, OrderIntent, OrderStatus
from cockpit.execution.okx import MalformedReply

S = OrderStatus
SYM = "BTC/USDT:USDT"


def test_units_and_precision(okx):
    info = okx.instrument(SYM)
    assert info.contract_size == 0.01 and info.amount_step == pytest.approx(0.0001)
    assert info.min_amount == pytest.approx(0.0001) and info.price_step == pytest.approx(0.1)
    assert okx.to_contracts(SYM, 0.0123) == pytest.approx(1.23)
    assert okx.to_contracts(SYM, 0.012345) == pytest.approx(1.23)  # truncated to the lot
    assert okx.to_base(SYM, 1.23) == pytest.approx(0.0123)


def test_market_order_with_attached_stop_and_take_profit(okx, sim):
    m = okx.mark_price(SYM)
    sl, tp = round(m * 0.98, 1), round(m * 1.04, 1)
    o = Order(SYM, "buy", "market", 0.0123, stop_loss=sl, take_profit=tp, leverage=2.0, client_order_id="cktestx1d1l0")
    r = okx.place(o)
    assert r.status == S.FILLED and r.exchange_order_id and r.filled == pytest.approx(0.0123)
    assert r.average_price == pytest.approx(m, rel=1e-3) and r.fee > 0
    assert len(r.fills) == 1 and r.fills[0].trade_id and r.fills[0].amount == pytest.approx(0.0123)
    (algo,) = sim.exchange.algos.values()
    assert (algo.sl_trigger_px, algo.tp_trigger_px) == (sl, tp) and algo.side == "sell"
    pos = okx.position(SYM)
    assert pos.side == "long" and pos.size == pytest.approx(0.0123) and pos.leverage == 2.0
    acct = okx.account()
    assert acct.equity == pytest.approx(10_000 - r.fee, abs=1.0) and acct.used > 0


def test_duplicate_client_id_is_one_order(okx, sim):
    o = Order(SYM, "sell", "market", 0.01, client_order_id="cktestx1d2l0")
    a = okx.place(o)
    b = okx.place(Order(SYM, "sell", "market", 0.01, client_order_id="cktestx1d2l0"))
    assert a.exchange_order_id == b.exchange_order_id and len(sim.exchange.orders) == 1
    assert okx.position(SYM).size == pytest.approx(0.01)


def test_limit_order_rests_then_cancels(okx, sim):
    m = okx.mark_price(SYM)
    o = Order(SYM, "buy", "limit", 0.01, price=round(m * 0.95, 1), client_order_id="cktestx1d3l0")
    r = okx.place(o)
    assert r.status == S.SUBMITTED
    o.exchange_order_id = r.exchange_order_id
    assert [x.client_order_id for x in okx.open_orders(SYM)] == ["cktestx1d3l0"]
    assert okx.cancel(o).status == S.CANCELED
    assert okx.open_orders(SYM) == []
    assert okx.cancel(o).status == S.CANCELED  # canceling twice is harmless


def test_unknown_and_unreadable_orders_are_not_found(okx, sim):
    r = okx.find("cknothere1", SYM)
    assert r.found is False and r.status == S.FAILED
    o = Order(SYM, "buy", "market", 0.01, client_order_id="cktestx1d4l0")
    placed = okx.place(o)
    o.exchange_order_id = placed.exchange_order_id
    sim.faults.add("garbage", path="trade/order")
    with pytest.raises(MalformedReply):  # ids come back as junk: never treated as an order, nor as "not found"
        okx.fetch(o)
    assert okx.fetch(o).status == S.FILLED


def test_exchange_rejection_is_reported_not_raised(okx, sim):
    sim.faults.add("reject_order", code="51008")
    r = okx.place(Order(SYM, "buy", "market", 0.01, client_order_id="cktestx1d5l0"))
    assert r.status == S.REJECTED and "51008" in r.message


def test_triggered_stop_is_recorded_with_its_fill_and_position_matches(make_manager, decision_id, okx, sim):
    """A tight attached stop/take-profit triggers as the simulated market moves: the order the exchange
    made is stored once with its fill, and the database's position is the exchange's (flat)."""
    om = make_manager("auto", min_stop_distance_pct=0.001)
    m = okx.mark_price(SYM)
    oid = om.submit_intent(
        OrderIntent(
            SYM,
            "buy",
            0.01,
            stop_loss=round(m * 0.998, 1),
            take_profit=round(m * 1.002, 1),
            leverage=2.0,
            decision_id=decision_id(),
        )
    )
    assert DataService().order(oid)["status"] == "filled"
    for _ in range(48):
        sim.clock.advance(600_000)
        if okx.position(SYM).size == 0:
            break
    assert okx.position(SYM).size == 0, "the simulated market never reached the stop or the take-profit"
    om.sync()
    om.sync()
    ds = DataService()
    closes = [o for o in ds.orders() if o["reduce_only"]]
    assert len(closes) == 1 and closes[0]["status"] == "filled", ds.order_events(closes[0]["id"])
    assert closes[0]["decided_by"] == "exchange"
    assert closes[0]["reason"] in ("stop-loss triggered", "take-profit triggered")
    assert len(ds.trades(order_id=closes[0]["id"])) == 1
    assert ds.positions(SYM)[0]["size"] == 0
    buys = sum(t["amount"] for t in ds.trades() if t["side"] == "buy")
    sells = sum(t["amount"] for t in ds.trades() if t["side"] == "sell")
    assert buys == pytest.approx(sells)


@pytest.mark.parametrize("amount", [0.01, 0.02, 0.12])
def test_garbled_position_reply_is_never_flat(okx, sim, amount):
    okx.place(Order(SYM, "buy", "market", amount, client_order_id=f"cktestx1d6l{int(amount * 100)}"))
    sim.faults.add("garbage", path="account/positions")
    with pytest.raises(MalformedReply):
        okx.position(SYM)
    assert okx.position(SYM).size == pytest.approx(amount)


def test_account_fills_lists_every_fill_across_pages(okx, sim):
    """OKX answers at most 100 fills per page: 130 fills come back complete (paged by bill id), oldest first."""
    since = sim.clock.now_ms()
    for k in range(130):  # straight into the simulator's book (no HTTP): many small fills quickly
        sim.exchange.place(
            {
                "instId": "BTC-USDT-SWAP",
                "side": "buy" if k % 2 == 0 else "sell",
                "ordType": "market",
                "sz": "1",
                "tdMode": "cross",
                "clOrdId": f"cktestx1d7l{k}",
            },
            since,
        )
    fills = okx.account_fills(SYM, since)
    assert [f.fill.trade_id for f in fills] == [f.trade_id for f in sim.exchange.fills]
    assert len(fills) == 130 and all(f.exchange_order_id and f.fill.amount == pytest.approx(0.01) for f in fills)
    sim.faults.add("garbage", path="trade/fills-history")
    with pytest.raises(MalformedReply):  # never a partial list taken as complete
        okx.account_fills(SYM, since)
