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
    for _ in range(3):
        await app.workers.wait_for_complete()
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
