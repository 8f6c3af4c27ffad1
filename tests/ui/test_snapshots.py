"""Snapshot tests of the real app over the deterministic demo DB with a frozen clock.

Regenerate after an intended visual change: pytest tests/ui --snapshot-update (then look at them).
"""

from __future__ import annotations

import pytest
from conftest import settle, steady
from demo_data import fill_backtest_result, fill_demo

SIZES = [(80, 24), (160, 48)]


def _run_before(app, keys=()):
    async def run_before(pilot) -> None:
        await settle(app, pilot)
        if keys:
            await pilot.press(*keys)
            await settle(app, pilot)
        for inp in app.screen.query("Input"):
            inp.cursor_blink = False
        await steady(app, pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen_pending_approval(snap_compare, make_app, db, size):
    fill_demo()
    app = make_app()
    assert snap_compare(app, terminal_size=size, run_before=_run_before(app))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen_halted_no_pending(snap_compare, make_app, db, size):
    fill_demo(pending=False, halted=True)
    app = make_app()
    assert snap_compare(app, terminal_size=size, run_before=_run_before(app))


def test_reject_modal(snap_compare, make_app, db):
    fill_demo()
    app = make_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=_run_before(app, ["r", *"too big"]))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare, make_app, db, size):
    fill_demo()
    app = make_app()
    assert snap_compare(app, terminal_size=size, run_before=_run_before(app, ["question_mark"]))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_backtest_result(snap_compare, make_app, db, size):
    fill_demo()
    fill_backtest_result()
    app = make_app()
    assert snap_compare(app, terminal_size=size, run_before=_run_before(app, ["b"]))
