"""UI fixtures: a demo database, a frozen clock and an app built by the same factory as the CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_data import NOW, fill_demo  # noqa: E402


@pytest.fixture
def demo_ids(db):
    return fill_demo()


@pytest.fixture
def make_app(cfg, db):
    from cockpit.domain.clock import ManualClock
    from cockpit.ui.app import create_app

    def make(**kw):
        kw.setdefault("clock", ManualClock(NOW))
        kw.setdefault("poll_enabled", False)
        kw.setdefault("operator", "tester")
        return create_app(cfg, db=db, **kw)

    return make


async def settle(app, pilot) -> None:
    """Wait for every worker, then for the messages they posted to be handled."""
    from textual.worker import WorkerCancelled

    for _ in range(3):
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:  # an exclusive poll replaced by a newer one (a key pressed meanwhile)
            continue
        await pilot.pause()


async def until(app, pilot, cond, rounds: int = 100) -> None:
    """Settle until ``cond()`` holds, for chains a single settle may not cover on a loaded machine
    (a worker's message starts another worker whose message fills the screen). Gives up after
    ``rounds`` short pauses and leaves the caller's assertion to say what was not reached."""
    for _ in range(rounds):
        if cond():
            return
        await settle(app, pilot)
        await pilot.pause(0.05)


async def steady(app, pilot, rounds: int = 40) -> None:
    """Settle until two looks in a row, a short pause apart, show the same screen. Covers what a settle
    alone does not: work scheduled after a refresh (the footer recomposes its keys after
    ``refresh_bindings``, focus moves after a resize), which a loaded machine may not have run yet."""
    shown = None
    for _ in range(rounds):
        await settle(app, pilot)
        await pilot.pause(0.05)
        now = screen_text(app)
        if now == shown:
            return
        shown = now


def screen_text(app) -> str:
    """What the terminal shows now (every layer, dialogs over the screen below), as plain text lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def flat_text(app) -> str:
    """``screen_text`` as one line: borders and runs of blanks become one space, so a sentence wrapped
    over several rows of a pane reads as it was written."""
    import re

    return re.sub(r"[\s│█▌▐▏▎]+", " ", screen_text(app))


async def open_screen(app, pilot, key: str):
    """Let the first poll land, press ``key`` (a screen's key), let that screen load; returns it."""
    await settle(app, pilot)
    await pilot.press(key)
    await settle(app, pilot)
    return app.screen


async def answer(app, pilot, key: str, reply: str) -> None:
    """Press ``key`` (an action that asks for confirmation), answer the modal with ``reply`` ("y"/"n"),
    let what it started finish."""
    await pilot.press(key)
    await pilot.pause()
    await pilot.press(reply)
    await settle(app, pilot)


@pytest.fixture
def anyio_backend():
    # Async tests run through anyio's pytest plugin (installed with httpx/openai) on asyncio.
    return "asyncio"
