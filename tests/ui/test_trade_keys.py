"""Pilot tests: trade management keys (X close, S stop-loss, T take-profit, C cancel all) write operator
commands to the database, with who; the engine's answer comes back as a notification."""

from __future__ import annotations

import json

import pytest
from conftest import answer, settle

from cockpit.db import models as m

pytestmark = pytest.mark.anyio
SIZES = [(80, 24), (160, 48)]


def _commands():
    return list(m.OperatorCommand.select().order_by(m.OperatorCommand.id).dicts())


def _screen_text(app) -> str:
    return "\n".join(str(w.render()) for w in app.screen.query("Static") if not w.has_class("button"))


@pytest.mark.parametrize("size", SIZES)
async def test_x_closes_the_position_after_confirmation(make_app, demo_ids, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("X")
        await pilot.pause()
        text = _screen_text(app)
        assert "CLOSE POSITION" in text and "LONG 0.12 BTC" in text and "reduce-only market order" in text
        await pilot.press("n")
        await settle(app, pilot)
        assert _commands() == []
        await answer(app, pilot, "X", "y")
    (c,) = _commands()
    assert (c["command"], c["operator"], c["order"]) == ("close_position", "tester", None)
    assert json.loads(c["payload"])["side"] == "long"  # the engine refuses if the position is no longer long
    assert m.EngineState.get_or_none(m.EngineState.key == "kill_switch") is None  # no halt


@pytest.mark.parametrize("size", SIZES)
async def test_s_moves_the_stop_and_a_wrong_side_stop_is_refused_in_the_dialog(make_app, demo_ids, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("S")
        await pilot.pause()
        inp = app.screen.query_one("#price")
        assert inp.value == "65900.0"  # prefilled with the stop in force
        assert "mark 67,409.8" in _screen_text(app)
        inp.value = "68000"
        await pilot.press("enter")
        await pilot.pause()
        assert "a long's stop-loss goes below the price" in _screen_text(app)
        assert _commands() == []
        inp.value = "66500"
        await pilot.press("enter")
        await settle(app, pilot)
    (c,) = _commands()
    assert c["command"] == "set_stop_loss" and json.loads(c["payload"]) == {"price": 66500.0, "side": "long"}
    assert c["operator"] == "tester"


async def test_t_moves_the_take_profit_and_esc_sends_nothing(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("T")
        await pilot.pause()
        await pilot.press("escape")
        await settle(app, pilot)
        assert _commands() == []
        await pilot.press("T")
        await pilot.pause()
        assert app.screen.query_one("#price").value == "69800.0"
        app.screen.query_one("#price").value = "70500"
        await pilot.press("enter")
        await settle(app, pilot)
    (c,) = _commands()
    assert c["command"] == "set_take_profit" and json.loads(c["payload"]) == {"price": 70500.0, "side": "long"}


async def test_c_cancels_all_after_confirmation_and_the_engines_refusal_is_shown(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("C")
        await pilot.pause()
        assert "CANCEL ALL 1 open order(s)" in _screen_text(app)
        await pilot.press("y")
        await settle(app, pilot)
        (c,) = _commands()
        assert c["command"] == "cancel_all"
        # The engine answers (here written by hand); the next poll shows it.
        m.OperatorCommand.update(status="failed", result="order 2: exchange unreachable", processed_at=1).where(
            m.OperatorCommand.id == c["id"]
        ).execute()
        app.request_refresh()
        await settle(app, pilot)
        assert any("cancel all refused: order 2: exchange unreachable" in n.message for n in app._notifications)


async def test_trade_keys_without_a_position_say_so_and_send_nothing(make_app, db):
    from demo_data import fill_demo

    fill_demo(pending=False)
    m.PositionSnapshot.update(side="flat", size=0).execute()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        for key in ("X", "S", "T", "C"):
            await pilot.press(key)
            await settle(app, pilot)
        assert not app.screen.query("PriceModal") and app.screen is app.main_screen
        assert any("no open position" in n.message for n in app._notifications)
        assert any("no open orders to cancel" in n.message for n in app._notifications)
    assert _commands() == []


async def test_a_viewer_session_may_not_close_or_move_the_stop(make_app, demo_ids, monkeypatch):
    """Over SSH a key without the trader role runs the same app as a viewer: the command is refused where it
    is written, and the refusal is shown."""
    monkeypatch.setenv("COCKPIT_ROLE", "viewer")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await answer(app, pilot, "X", "y")
        assert any("role 'viewer' may not close position" in n.message for n in app._notifications)
    assert _commands() == []
