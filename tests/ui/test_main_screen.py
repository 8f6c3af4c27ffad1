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
    assert (c["command"], c["order"], c["operator"], c["status"]) == ("approve", demo_ids["pending"], "tester",
                                                                     "pending")


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
        m.EngineState.create(key="kill_switch", value=json.dumps({"active": True, "reason": "kill switch"}),
                             updated_at=0)
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
        for key, tf, step in (("1", "15m", 900_000), ("2", "1h", 3_600_000), ("3", "4h", 14_400_000),
                              ("4", "1d", 86_400_000)):
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
        assert any("red" in str(span.style) for span in header.spans if str(header)[span.start:span.end] == "2m")


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
