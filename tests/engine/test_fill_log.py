"""Headless log lines for fills: what caused each (entry, stop-loss, liquidation, ...), its realised P&L
and the running total, once each and in order; fills from before the engine started are not replayed."""

from __future__ import annotations

import io
import json

from cockpit.data.order_store import OrderStore
from cockpit.domain.orders import Fill, Order, OrderStatus
from cockpit.engine.eventlog import EventLog
from cockpit.engine.fill_log import FillLog

SYM = "BTC/USDT:USDT"


def _filled(
    cid: str,
    side: str,
    amount: float,
    price: float,
    *,
    reason: str,
    pnl: float | None = None,
    reduce_only: bool = False,
) -> int:
    store = OrderStore()
    oid, _ = store.create(
        Order(SYM, side, "market", amount, reduce_only=reduce_only, client_order_id=cid),
        now_ms=1_000,
        status=OrderStatus.APPROVED,
        reason=reason,
    )
    store.record_fill(
        oid, SYM, Fill(cid, side, price, amount, 0.5, "USDT", 2_000, trade_id=f"t-{cid}", realized_pnl=pnl)
    )
    return oid


def test_fills_are_logged_by_cause_with_realised_pnl(db):
    out = io.StringIO()
    log = EventLog(fmt="json", stream=out)
    fills = FillLog(log, SYM)
    _filled("ck-before", "buy", 0.1, 60_000.0, reason="entry: decision 1")
    assert fills.poll() == 0  # the engine starts: earlier fills are history, not news
    entry = _filled("ck-entry", "buy", 0.05, 61_000.0, reason="entry: decision 2: target exposure +0.50")
    stop = _filled("ck-stop", "sell", 0.05, 60_000.0, reason="stop-loss triggered", pnl=-50.0, reduce_only=True)
    liq = _filled("ck-liq", "sell", 0.1, 55_000.0, reason="full_liquidation by the exchange", pnl=-500.0)
    assert fills.poll() == 3
    assert fills.poll() == 0  # once each
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [(r["event"], r["kind"], r["order"], r["level"]) for r in lines] == [
        ("fill", "entry", entry, "INFO"),
        ("fill", "stop-loss", stop, "INFO"),
        ("fill", "liquidation", liq, "WARNING"),
    ]
    assert lines[1]["realized_pnl"] == -50.0 and lines[1]["realized_since_start"] == -50.0
    assert lines[2]["realized_since_start"] == -550.0 and lines[2]["price"] == 55_000.0
