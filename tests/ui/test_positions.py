"""Pilot tests: the position line (side, size, entry, mark, uPnL, liquidation, margin ratio, funding, leverage,
SL/TP, realised P&L today and since start, equity sparkline) at 80x24 and 160x48, and the closed-trades
screen (`t`) with exit reasons, fees, funding and what each strategy's weight earned."""

from __future__ import annotations

import pytest
from conftest import settle
from demo_data import HOUR, NOW, SYMBOL

from cockpit.db import models as m

pytestmark = pytest.mark.anyio


def _bar(app) -> str:
    return str(app.query_one("#position-bar").render())


def _stop_out(demo_ids) -> None:
    """The demo's long 0.1 BTC stopped out at 65,900 (an order the exchange made, adopted as the cockpit does)."""
    o = m.OrderRow.create(
        symbol=SYMBOL,
        side="sell",
        type="market",
        amount=0.10,
        status="filled",
        reduce_only=1,
        client_order_id="ck-x77",
        exchange_order_id="ex-77",
        updated_at=NOW - HOUR,
        filled=0.10,
        average_price=65900.0,
        fee=3.3,
        mode="sim",
        decided_by="exchange",
        reason="stop-loss triggered",
    )
    m.TradeRow.create(
        order=o,
        symbol=SYMBOL,
        side="sell",
        price=65900.0,
        amount=0.10,
        fee=3.3,
        fee_currency="USDT",
        realized_pnl=-108.0,
        timestamp=NOW - HOUR,
        exchange_trade_id="t-77",
    )
    for i, eq in enumerate((10_500.0, 10_300.0, 10_450.0, 10_400.0)):
        m.Balance.create(currency="USDT", timestamp=NOW - 300 + i * 50, total=eq, free=eq, used=0.0)


async def test_position_line_at_160x48_reads_every_figure(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        bar = _bar(app)
        line1, line2 = bar.split("\n")
        for part in (
            "LONG 0.12 BTC @ 66,980.0",
            "mark 67,409.8",
            "uPnL +51.9",
            "liq 34,100.0 (49% away)",
            "margin ratio 3.1%",
            "funding -1.24",
            "lev 2x",
            "SL 65,900 TP 69,800",
        ):
            assert part in line1, part
        assert "realised today -3.4 · since start -3.4" in line2  # the entry's fee is realised
        assert "equity ▄ 10,412.3 (+4.1%)" in line2 and "X close · S stop · T tp · C cancel all" in line2
        assert app.query_one("#position-bar").size.height == 2


async def test_position_line_at_80x24_is_one_compact_line(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert _bar(app).strip() == "LONG 0.12@66,980 uPnL +51.9 liq 34,100 │ day -3.4 all -3.4 ▄"
        assert app.query_one("#position-bar").size.height == 1


async def test_a_stop_out_shows_as_realised_pnl_last_trade_and_on_the_sparkline(make_app, demo_ids, monkeypatch):
    monkeypatch.setattr("cockpit.ui.account_view.EQUITY_EVERY_S", 0.0)  # re-aggregate at every poll
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        _stop_out(demo_ids)
        app.request_refresh()
        await settle(app, pilot)
        bar = _bar(app)
        r = f"{-108 - 3.35 - 3.3:+,.1f}"
        assert f"realised today {r} · since start {r}" in bar
        assert "last trade long → stop-loss -114.65" in bar
        spark = bar.split("equity ")[1].split(" ")[0]
        assert len(spark) == 5 and spark[1] == "█" and spark[2] == "▁"  # 10,412.3, then 10,500 10,300 10,450 10,400
        assert "10,400.0 (+4.0%)" in bar


async def test_trades_screen_lists_exit_reason_pnl_fees_funding_and_by_strategy(make_app, demo_ids):
    _stop_out(demo_ids)
    m.PositionSnapshot.create(
        symbol=SYMBOL,
        timestamp=NOW - 2 * HOUR,
        side="long",
        size=0.10,
        entry_price=66980.0,
        mark_price=66500.0,
        funding_fee=-0.84,
    )
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        summary = str(app.screen.query_one("#trades-summary").render())
        assert "1 closed trade(s) · won 0 (0%)" in summary and "exits: stop-loss 1" in summary
        rows = app.screen.query_one("#trades-table")
        (row,) = [[str(c) for c in rows.get_row_at(i)] for i in range(rows.row_count)]
        assert row[0] == "01-15 13:00" and row[2:6] == ["0.1", "66,980.0", "65,900.0", "[red]stop-loss[/]"]
        assert row[6:] == ["[red]-115.49[/]", "[red]-108.00[/]", "6.65", "[red]-0.84[/]"]  # net, P&L, fees, funding
        strat = app.screen.query_one("#trades-strategies")
        assert [str(c) for c in strat.get_row_at(0)] == ["trend_core", "1", "0/1", "1.00", "[red]-115.49[/]"]
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is app.main_screen


async def test_flat_account_shows_flat_and_zero_realised(make_app, db):
    from demo_data import fill_demo

    fill_demo(pending=False)
    m.PositionSnapshot.update(side="flat", size=0).execute()
    m.TradeRow.delete().execute()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert _bar(app).strip() == "FLAT │ day +0.0 all +0.0 ▄"


async def test_a_stop_out_in_the_orders_pane_says_stop_loss_not_only_ro(make_app, demo_ids):
    _stop_out(demo_ids)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.query_one("#orders-table")
        lines = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert any("sell 0.1 BTC mkt RO stop-loss  @65,900.0" in line for line in lines), lines


async def test_no_position_snapshot_is_unknown_not_flat(make_app, db):
    from demo_data import fill_demo

    fill_demo(pending=False)
    m.PositionSnapshot.delete().execute()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        line1 = _bar(app).split("\n")[0]
        assert line1.strip() == "position — (not read yet)" and "FLAT" not in line1
