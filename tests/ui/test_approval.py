"""The approval moment at the keyboard: a countdown that ticks on the operator's clock, one clock in the
banner, the Orders pane and `cockpit orders list`, the reason an order left the queue, a new pending order
selected and announced, text that wraps instead of being cut, and focus that comes back to the orders."""

from __future__ import annotations

import json
import re

import pytest
from conftest import flat_text, screen_text, settle, until
from demo_data import NOW, SYMBOL, fill_demo

from cockpit.data.order_store import OrderStore
from cockpit.db import models as m
from cockpit.domain.clock import ManualClock
from cockpit.domain.orders import Order, OrderStatus

pytestmark = pytest.mark.anyio
MIN = 60_000


def _banner(app) -> str:
    return str(app.query_one("#approval-banner").render())


def _rows(app) -> list[str]:
    t = app.query_one("#orders-table")
    return [str(t.get_row_at(i)[0]) for i in range(t.row_count)]


def _manager(cfg, now_ms: int):
    """The engine's order manager on the test database (what supersedes, expires and rejects orders)."""
    from cockpit.execution.manager import OrderManager

    return OrderManager(cfg, executor=None, clock=ManualClock(now_ms))


def _new_pending(
    now_ms: int,
    *,
    cid: str,
    side: str = "sell",
    amount: float = 0.05,
    reason: str | None = None,
    ttl_ms: int = 15 * MIN,
) -> int:
    oid, _ = OrderStore().create(
        Order(SYMBOL, side, "market", amount, stop_loss=69_000.0, client_order_id=cid),
        now_ms=now_ms,
        mode="sim",
        status=OrderStatus.PENDING_APPROVAL,
        message="waiting for approval (manual, risk approved)",
        expires_at=now_ms + ttl_ms,
        reason=reason,
    )
    return oid


async def test_the_countdown_ticks_every_second_without_a_poll(make_app, demo_ids):
    """Issue #20: `PENDING 14:59` and `expires 14:59` stayed frozen until the order list changed. Polls
    are off here: only the UI's one-second timer can move the countdown."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "expires in 14:59" in _banner(app)
        assert "14:59" in _rows(app)[0]
        polls = app.polls
        app.clock.advance(MIN)
        await until(app, pilot, lambda: "13:59" in _banner(app))
        assert "expires in 13:59" in _banner(app)
        assert "13:59" in _rows(app)[0] and "PENDING" in _rows(app)[0]
        assert app.polls == polls  # the timer recomputed from the clock; nothing was re-read
        app.clock.advance(15 * MIN)
        await until(app, pilot, lambda: "window passed" in _banner(app))
        assert "approval window passed" in _banner(app)


async def test_one_operator_clock_on_an_accelerated_simulator(make_app, db, db_url, capsys):
    """At sim×60 the engine's clock runs 60 times faster: the TTL (15 operator minutes) is 15 exchange
    hours. The banner, the Orders pane and `cockpit orders list` all say the same time left, in the
    operator's clock, never a simulator date."""
    import time

    from cockpit.cli import main

    fill_demo(pending=False)
    wall = int(time.time() * 1000)  # the CLI reads the real wall clock; the app gets the same instant, frozen
    x_now = 1_767_800_000_000  # the simulator's clock: some day in January 2026
    m.EngineState.update(
        value=json.dumps({"ts": x_now, "wall_ms": wall, "state": "running", "speed": 60}), updated_at=x_now
    ).where(m.EngineState.key == "heartbeat").execute()
    oid = _new_pending(x_now, cid="ck-accel", ttl_ms=15 * MIN * 60)
    app = make_app(clock=ManualClock(wall))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        banner, row = _banner(app), next(r for r in _rows(app) if f"#{oid}" in r)
    assert "expires in 15:00" in banner and "15:00" in row
    assert main(["--db", db_url, "orders", "list", "--status", "pending"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.lstrip().startswith(str(oid)))
    left = re.search(r"expires in (\d+):(\d\d) \((\d\d:\d\d:\d\d) UTC\)", line)
    assert left, line
    assert 14 * 60 + 50 <= int(left[1]) * 60 + int(left[2]) <= 15 * 60  # the CLI ran a moment later
    # the UTC time it ends is the operator's: the app's instant plus 15 minutes (give or take the CLI's second)
    h, mi, se = (int(x) for x in left[3].split(":"))
    ends = (wall + 15 * MIN) // 1000 % 86_400
    assert min(abs(h * 3600 + mi * 60 + se - ends), 86_400 - abs(h * 3600 + mi * 60 + se - ends)) <= 2
    assert "2026-01" not in line.split("expires")[1]  # no simulator date for the approval window


@pytest.mark.parametrize(
    "how,expected",
    [
        ("supersede", "superseded by decision"),
        ("expire", "expired: nobody approved it within the approval window"),
        ("reject", "rejected by alice: too big"),
    ],
)
async def test_the_reason_an_order_left_the_queue_is_shown(make_app, cfg, demo_ids, how, expected):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        pid = demo_ids["pending"]
        mgr = _manager(cfg, NOW + 16 * MIN)
        if how == "supersede":
            assert mgr.supersede_pending(decision_id=demo_ids["decision"] + 100) == [pid]
        elif how == "expire":
            assert mgr.expire_pending() == 1
        else:
            mgr.reject(pid, by="alice", reason="too big")
        app.request_refresh()
        await settle(app, pilot)
        # where the trader is looking: a notification, the banner (nothing else waits) and the order's row
        assert any(expected in n.message and f"#{pid}" in n.message for n in app._notifications)
        assert app.query_one("#approval-banner").display and expected in _banner(app)
        assert expected in flat_text(app)
        assert any(expected in r for r in _rows(app) if f"#{pid}" in r) or app.main_screen.compact
        # the note goes once it is old (two minutes of operator time)
        app.clock.advance(3 * MIN)
        await until(app, pilot, lambda: not app.query_one("#approval-banner").display)
        assert not app.query_one("#approval-banner").display


async def test_a_new_pending_order_is_selected_scrolled_into_view_and_rings_once(make_app, demo_ids):
    app = make_app()
    bells = []
    app.bell = lambda: bells.append(app.clock.now_ms())  # the terminal's bell, counted
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert bells == []  # already waiting when the cockpit opened: the banner shows it
        for i in range(6):
            OrderStore().create(
                Order(SYMBOL, "buy", "market", 0.01, client_order_id=f"ck-old{i}"),
                now_ms=NOW,
                status=OrderStatus.REJECTED,
                message="risk rejected",
            )
        app.request_refresh()
        await settle(app, pilot)
        table = app.query_one("#orders-table")
        for _ in range(8):  # the trader reads the oldest order, the list scrolled away from the top
            await pilot.press("down")
            await settle(app, pilot)
        assert app.selected_order_id == demo_ids["filled"] and table.scroll_y > 0
        new = _new_pending(NOW + 1000, cid="ck-new")
        app.request_refresh()
        await settle(app, pilot)
        assert app.selected_order_id == new
        assert "▶ #" + str(new) in str(table.get_row_at(table.cursor_row)[0])
        assert table.scroll_y <= table.cursor_row < table.scroll_y + table.scrollable_content_region.height
        assert f"timeline #{new}" in screen_text(app)  # the detail follows the new order
        assert len(bells) == 1
        app.request_refresh()
        await settle(app, pilot)
        assert len(bells) == 1  # once per order, not per poll
        await pilot.press("a")  # `a` approves what is selected: the newest pending order
        await settle(app, pilot)
    (cmd,) = m.OperatorCommand.select().dicts()
    assert cmd["order"] == new and cmd["command"] == "approve"


async def test_the_bell_can_be_switched_off(make_app, cfg, demo_ids):
    cfg["ui"]["bell_on_pending"] = False
    app = make_app()
    bells = []
    app.bell = lambda: bells.append(1)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        new = _new_pending(NOW + 1000, cid="ck-quiet")
        app.request_refresh()
        await settle(app, pilot)
        assert app.selected_order_id == new and bells == []


async def test_the_risk_verdict_and_the_kill_question_wrap_at_80x24(make_app, demo_ids):
    """Issue #20: cut at `notional 5,061 · loss at` and `close the position w`."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        text = flat_text(app)
        for part in (
            "REDUCED · 0.12 BTC (asked 0.2) · notional 8,090 · loss at stop 181.50 = 1.74% of equity 10,412",
            "max_position reduced: amount capped at 0.12 BTC (max_position_btc)",
            "expires in 14:59",
            "SL 65,900 TP 69,800",
            "[a]pprove/[r]eject",
        ):
            assert part in text, part
        await pilot.press("K")
        await settle(app, pilot)
        from textual.geometry import Region
        from textual.widgets import Label

        label = app.screen.query_one(Label)
        lines = [s.text for s in label.render_lines(Region(0, 0, label.size.width, label.size.height))]
        assert len(lines) >= 2 and label.region.right <= 80
        text = re.sub(r"\s+", " ", " ".join(lines))
        assert (
            "KILL SWITCH: cancel every open order, close the position with reduce-only market orders and halt "
            "new entries until cleared?"
        ) in text


async def test_focus_comes_back_to_the_orders_after_tabs_dialogs_and_resizes(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.query_one("#orders-table")
        await pilot.press("w", "o")  # issue #20: after `w` then `o`, ↑/↓ no longer selected orders
        await settle(app, pilot)
        assert app.focused is table
        await pilot.press("down")
        await settle(app, pilot)
        assert app.selected_order_id == demo_ids["filled"]
        await pilot.press("e")  # another tab: its pane scrolls with ↑/↓
        assert app.focused is app.query_one("#risk")
        await pilot.press("tab")  # Tab cycles: events → orders
        await settle(app, pilot)
        assert app.main_screen.active_tab == "orders" and app.focused is table
        for reply in ("n", "escape"):  # the kill dialog, declined either way
            await pilot.press("K")
            await pilot.pause()
            await pilot.press(reply)
            await settle(app, pilot)
        await pilot.resize_terminal(160, 48)
        await settle(app, pilot)
        await pilot.press("up")
        await settle(app, pilot)
        assert app.focused is table and app.selected_order_id == demo_ids["pending"]
        await pilot.press("tab")  # wide layout: Tab moves the focus to the next pane ...
        assert app.focused is not table
        await pilot.press("r", "escape")  # ... and a dialog brings it back
        await settle(app, pilot)
        await pilot.resize_terminal(80, 24)
        await settle(app, pilot)
        assert app.focused is table
        await pilot.press("down")
        await settle(app, pilot)
        assert app.selected_order_id == demo_ids["filled"]


async def test_a_pending_order_says_which_cap_sized_it(make_app, cfg, demo_ids):
    """The size a trader approves explains itself: the per-trade risk cap, not the target exposure,
    sized this order, and its detail says so before the timeline (at 80x24 too)."""
    import copy

    from cockpit.domain.signals import Decision, Direction, StrategySignal
    from cockpit.engine.sizing import plan_intents

    c = copy.deepcopy(cfg)
    c["risk"]["max_risk_per_trade_pct"] = 0.01
    price = 67_412.5
    (intent,) = plan_intents(
        Decision(
            symbol=SYMBOL,
            timeframe="1h",
            timestamp=NOW,
            action="sell",
            confidence=0.6,
            reasoning="t",
            target_exposure=-0.68,
            weights={"trend_core": 1.0},
        ),
        decision_id=9,
        price=price,
        signals=[StrategySignal("trend_core", Direction.SHORT, 0.8, price, price * 1.02, price * 0.96, "down")],
        equity=10_412.3,
        position_signed=0.0,
        cfg=c,
    )
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        new = _new_pending(NOW + 1000, cid="ck-capped", amount=intent.amount, reason=intent.reason)
        app.request_refresh()
        await until(app, pilot, lambda: f"#{new} risk:" in flat_text(app))
        text = flat_text(app)
        assert "size: entry: decision 9: target exposure -0.68" in text
        assert "per-trade risk cap (1% of equity at a 2.00% stop) cut" in text
        assert text.index("per-trade risk cap") < text.index(f"timeline #{new}")


async def test_the_compact_chart_gives_rows_to_a_waiting_order_and_takes_them_back(make_app, demo_ids):
    """At 80x24 the chart keeps twelve price rows, except while an order waits for approval: then its risk
    verdict and sizing come first, and the rows return once the queue is empty."""
    from cockpit.ui import chart

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        c = app.query_one("#candles")
        assert chart.layout(c.size.height)[0] < 12
        assert "max_position reduced: amount capped at 0.12 BTC" in flat_text(app)
        m.OrderRow.update(status="rejected").where(m.OrderRow.id == demo_ids["pending"]).execute()
        app.request_refresh()
        await until(app, pilot, lambda: chart.layout(c.size.height)[0] >= 12)
        assert chart.layout(c.size.height)[0] >= 12
