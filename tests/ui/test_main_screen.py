"""Pilot tests: keys write operator commands to the database; the panes show what the DB holds."""

from __future__ import annotations

import json

import pytest
from conftest import answer, settle

from cockpit.db import models as m

pytestmark = pytest.mark.anyio


def _commands():
    return list(m.OperatorCommand.select().order_by(m.OperatorCommand.id).dicts())


async def test_main_screen_shows_the_database(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        snap = app.snapshot
        assert snap is not None and len(snap.candles["timestamp"]) == 120
        assert [o["id"] for o in snap.pending] == [demo_ids["pending"]]
        assert app.selected_order_id == demo_ids["pending"]
        assert app.query_one("#approval-banner").has_class("-shown")
        assert not app.main_screen.has_class("-compact")
        header = str(app.query_one("#header-info").render())
        assert "67,412.5" in header and "LONG" in header and "0.4s" in header


async def test_a_approves_the_pending_order(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot)
    cmds = _commands()
    assert len(cmds) == 1
    c = cmds[0]
    assert (c["command"], c["order"], c["operator"], c["status"]) == (
        "approve",
        demo_ids["pending"],
        "tester",
        "pending",
    )


async def test_r_rejects_with_a_reason(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await pilot.pause()
        await pilot.press(*"too big")
        await pilot.press("enter")
        await settle(app, pilot)
    (c,) = _commands()
    assert c["command"] == "reject" and c["order"] == demo_ids["pending"]
    assert json.loads(c["payload"]) == {"reason": "too big"}


async def test_reject_modal_escape_writes_nothing(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("escape")
        await settle(app, pilot)
    assert _commands() == []


async def test_kill_switch_needs_confirmation_then_header_shows_halted(make_app, demo_ids, db):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await answer(app, pilot, "K", "n")
        assert _commands() == []
        await answer(app, pilot, "K", "y")
        (c,) = _commands()
        assert c["command"] == "kill" and c["order"] is None
        # The engine executes the command and persists the kill switch; the header follows the DB.
        m.EngineState.create(
            key="kill_switch", value=json.dumps({"active": True, "reason": "kill switch"}), updated_at=0
        )
        app.request_refresh()
        await settle(app, pilot)
        badge = app.query_one("#mode-badge")
        assert badge.has_class("-halted") and "HALTED" in str(badge.render())


async def test_cancel_needs_an_open_selected_order(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        app.select_order(demo_ids["filled"])
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        assert _commands() == []
        app.select_order(demo_ids["pending"])
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
    (c,) = _commands()
    assert c["command"] == "cancel" and c["order"] == demo_ids["pending"]


async def test_timeframe_keys_switch_the_chart(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        chart = app.query_one("#candles")
        assert chart.timeframe == "1d"  # the chart opens on the decision timeframe (1d by default)
        for key, tf, step in (
            ("1", "15m", 900_000),
            ("2", "1h", 3_600_000),
            ("3", "4h", 14_400_000),
            ("4", "1d", 86_400_000),
        ):
            await pilot.press(key)
            await settle(app, pilot)
            assert app.timeframe == tf and chart.timeframe == tf
            ts = chart.candles["timestamp"]
            assert int(ts[1] - ts[0]) == step
            assert tf in chart.border_title


async def test_compact_layout_tabs(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.main_screen
        assert screen.has_class("-compact")
        assert screen.active_tab == "orders"
        await pilot.press("w")
        assert app.query_one("#weights").display and not app.query_one("#orders").display
        await pilot.press("tab")
        assert screen.active_tab == "rationale"
        assert app.query_one("#approval-banner").display


async def test_live_mode_asks_for_typed_confirmation_once(make_app, demo_ids):
    app = make_app(live=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"nope", "enter")
        await pilot.pause()
        assert _commands() == []
        inp = app.screen.query_one("#live-word")
        inp.value = ""
        await pilot.press(*"LIVE", "enter")
        await settle(app, pilot)
        assert [c["command"] for c in _commands()] == ["approve"]
        assert app.live_confirmed


async def test_poll_error_is_shown_not_fatal(make_app, demo_ids, db):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        db.execute_sql("ALTER TABLE risk_events RENAME TO risk_events_x")
        try:
            app.request_refresh()
            await settle(app, pilot)
            assert app.last_error and "risk_events" in app.last_error
            assert app.is_running
        finally:
            db.execute_sql("ALTER TABLE risk_events_x RENAME TO risk_events")
        app.request_refresh()
        await settle(app, pilot)
        assert app.last_error is None


async def test_a_quiet_engine_heartbeat_keeps_ageing_on_screen(make_app, demo_ids):
    """An engine that stops writing (a database that refuses writes, a hung loop) changes nothing the
    poll compares: the header still re-renders, so its heartbeat age grows and turns red instead of
    showing the last healthy age."""
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        assert "0.4s" in str(app.query_one("#header-info").render())
        app.clock.advance(90_000)
        app.request_refresh()
        await settle(app, pilot)
        header = app.query_one("#header-info").render()
        assert "0.4s" not in str(header) and "2m" in str(header)
        assert any("red" in str(span.style) for span in header.spans if str(header)[span.start : span.end] == "2m")


async def test_a_refresh_without_the_chart_polls_with_the_default_size(make_app, demo_ids):
    # CI once saw the refresh timer fire while the screens were being taken down: the chart was gone
    # and query_one raised NoMatches, which crashed the app on exit.
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        polls = app.polls
        await app.main_screen.query_one("#candles").remove()
        app.request_refresh()
        await settle(app, pilot)
        assert app.polls == polls + 1
        assert app.is_running


async def test_viewer_role_is_shown_and_its_approval_refused(make_app, db, monkeypatch):
    """COCKPIT_ROLE=viewer (an SSH key without the trader role): the badge says VIEWER and `a`
    writes no operator command."""
    from demo_data import fill_demo

    monkeypatch.setenv("COCKPIT_ROLE", "viewer")
    fill_demo()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        badge = app.screen.query_one("#mode-badge")
        assert "VIEWER" in str(badge.render())
        await pilot.press("a")
        await settle(app, pilot)
        from cockpit.db import models as m

        assert m.OperatorCommand.select().count() == 0


async def test_a_timeframe_seen_before_is_drawn_at_once_while_its_poll_reads(make_app, demo_ids):
    """Going back to a timeframe redraws the chart from the candles last polled for it on the key press,
    without waiting for the database read the key starts; that read's candles replace them when it lands."""
    import threading

    from conftest import screen_text

    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        chart = app.query_one("#candles")
        for key in ("1", "2"):  # 15m and 1h polled once each
            await pilot.press(key)
            await settle(app, pilot)
        drawn_1h = screen_text(app)
        await pilot.press("1")
        await settle(app, pilot)
        drawn_15m, kept = screen_text(app), chart.candles
        await pilot.press("2")
        await settle(app, pilot)
        gate, real_poll = threading.Event(), app.poller.poll

        def slow_poll(*args, **kw):
            gate.wait(10)  # the database read the key started has not answered yet
            return real_poll(*args, **kw)

        app.poller.poll = slow_poll
        await pilot.press("1")
        await pilot.pause()
        assert app.timeframe == "15m" and chart.timeframe == "15m" and "Candles 15m" in chart.border_title
        assert chart.candles is kept  # the candles of the last 15m poll, before any new read finished
        assert screen_text(app) == drawn_15m != drawn_1h
        newest = int(kept["timestamp"][-1]) + 900_000  # a candle the engine wrote meanwhile
        m.MarketData.create(
            symbol=app.symbol, timeframe="15m", timestamp=newest, open=1, high=2, low=0.5, close=1.5, volume=1
        )
        gate.set()
        await settle(app, pilot)
        assert chart.timeframe == "15m" and int(chart.candles["timestamp"][-1]) == newest  # the poll's candles
        assert int(chart.candles["timestamp"][1] - chart.candles["timestamp"][0]) == 900_000


async def test_header_index_price_when_the_stream_rows_carry_none(make_app, demo_ids):
    """Price rows from the streams have no index price once the last REST one is over a minute old: the
    header shows the newest index price read, with its age, instead of `idx —`."""
    from conftest import screen_text
    from demo_data import NOW, SYMBOL

    m.PriceSnapshot.create(
        symbol=SYMBOL, timestamp=NOW - 400 + 180_000, last_price=67450.0, mark_price=67440.0, index_price=None
    )
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        header = screen_text(app)
        assert "last 67,450.0" in header and "idx 67,401.2 3m old" in header and "idx —" not in header


async def test_the_event_loop_gets_the_gil_back_within_a_millisecond_while_the_ui_runs(make_app, demo_ids):
    """While the cockpit runs, another thread (the engine's, a poll worker) holds the GIL at most 1 ms
    before the event loop gets it back; the process's own setting comes back when the UI quits."""
    import sys

    saved = sys.getswitchinterval()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        assert sys.getswitchinterval() <= 0.001 < saved
    assert sys.getswitchinterval() == saved


async def test_the_header_is_as_tall_as_its_text_after_a_narrow_moment(make_app, db):
    """The HALTED badge's words wrap in a very narrow terminal; once it is wide again the header is one
    row. (On a loaded machine an auto-height header, whose badge is 100% of it, was once seen 5 rows
    tall at 80x24, pushing the orders pane off the screen; the header's height now follows its text.)"""
    from conftest import steady
    from demo_data import fill_demo

    fill_demo(pending=False, halted=True)
    app = make_app()
    async with app.run_test(size=(16, 24)) as pilot:
        await steady(app, pilot)
        await pilot.resize_terminal(80, 24)
        await steady(app, pilot)
        header = app.query_one("#header")
        assert header.region.height == 1
        assert app.query_one("#mode-badge").region.height == 1
        assert "HALTED" in str(app.query_one("#mode-badge").render())
