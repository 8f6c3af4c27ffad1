"""Data, prompts and help screens, the command palette's commands."""

from __future__ import annotations

import pytest
from conftest import answer, open_screen, settle, until
from demo_data import fill_demo, fill_training_candidate

from cockpit.db import models as m

pytestmark = pytest.mark.anyio


async def test_data_screen_lists_coverage_and_runs(make_app, db):
    fill_demo()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await open_screen(app, pilot, "d")
        assert app.screen.query_one("#data-coverage").row_count == 4
        assert app.screen.query_one("#data-runs").row_count == 2


async def test_data_repair_needs_confirmation_and_reports(make_app, db):
    fill_demo()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await open_screen(app, pilot, "d")
        await answer(app, pilot, "R", "n")
        assert "repair" not in str(app.screen.query_one("#data-status").render())
        await answer(app, pilot, "R", "y")
        assert "no gaps" in str(app.screen.query_one("#data-status").render())


async def test_prompts_screen_shows_versions_diff_and_scores(make_app, db):
    fill_demo()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        s = await open_screen(app, pilot, "p")
        assert s.query_one("#pr-versions").row_count == 2
        assert s.query_one("#pr-scores").row_count == m.StrategyScore.select().count()
        assert "v8 vs v7" in s.query_one("#pr-diff").border_title


async def test_help_lists_every_binding_and_palette_has_the_actions(make_app, db):
    fill_demo()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        keys = {b.key for b in app.main_screen.BINDINGS} | {b.key for b in app.BINDINGS}
        from cockpit.ui.app import KEYMAP

        documented = " ".join(k for k, _, _ in KEYMAP)
        for k in keys:
            shown = {"question_mark": "?", "tab": "Tab"}.get(k, k)
            assert shown in documented, f"binding {k!r} missing from the help screen"
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for t in ("Approve pending order", "Reject pending order", "Kill switch", "Backtest screen", "Chart 4h"):
            assert t in titles
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        assert app.screen is app.main_screen


async def test_secondary_screens_are_kept_and_reread_on_return(make_app, db):
    fill_demo()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        data_screen = await open_screen(app, pilot, "d")
        assert data_screen.query_one("#data-runs").row_count == 2
        await pilot.press("escape")
        m.IngestionRun.create(
            source="sim",
            symbol="BTC/USDT:USDT",
            timeframe="4h",
            data_type="candles",
            started_at=1,
            ended_at=2,
            rows_inserted=3,
            status="success",
        )
        await pilot.press("d")
        await settle(app, pilot)
        assert app.screen is data_screen, "the same screen comes back, not a new one"
        assert data_screen.query_one("#data-runs").row_count == 3, "coming back re-reads the runs"
        await pilot.press("question_mark")
        await settle(app, pilot)
        help_screen = app.screen
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen is help_screen


async def test_full_collections_leave_the_key_path_while_the_app_runs(make_app, db):
    import gc

    from cockpit.ui.gc_idle import NEVER

    fill_demo()
    saved = gc.get_threshold()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        assert app.gc_idle.installed, "installed once the first state is on screen"
        assert gc.get_threshold()[2] == NEVER and gc.get_freeze_count() > 0
        before = app.gc_idle.last_input
        await pilot.press("question_mark", "escape", "1")
        await settle(app, pilot)
        assert app.gc_idle.last_input > before, "key presses postpone major passes"
    assert gc.get_threshold() == saved, "thresholds restored when the app exits"
    assert gc.get_freeze_count() == 0, "nothing stays frozen after the app exits"


def _candidate(version: str, *, report: bool) -> None:
    fill_training_candidate(version, report=report)


async def test_publish_a_reviewed_training_candidate_from_the_prompts_screen(make_app, db):
    fill_demo()
    _candidate("t1", report=False)
    _candidate("t2", report=True)  # newest first: the cursor starts on t2
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        s = await open_screen(app, pilot, "p")
        assert s.query_one("#pr-candidates").row_count == 2
        await answer(app, pilot, "P", "n")  # declined: nothing changes
        assert {r.status for r in m.StrategyScore.select().where(m.StrategyScore.version == "t2")} == {"draft"}
        await answer(app, pilot, "P", "y")
        await settle(app, pilot)
        assert {r.status for r in m.StrategyScore.select().where(m.StrategyScore.version == "t2")} == {"published"}
        assert {r.status for r in m.StrategyScore.select().where(m.StrategyScore.version == "s3")} == {"retired"}
        assert m.PromptVersion.get(m.PromptVersion.version == "v9-t2").status == "published"
        meta = m.ModelVersion.get(m.ModelVersion.version == "t2").metadata
        assert '"published_by": "tester"' in meta
        # The screen re-read: the score table shown is t2's, the candidate shows as published.
        scores = s.query_one("#pr-scores")
        await until(app, pilot, lambda: scores.row_count and scores.get_row_at(0)[0] == "t2")
        assert {scores.get_row_at(i)[0] for i in range(scores.row_count)} == {"t2"}
        assert str(s.query_one("#pr-candidates").get_row_at(0)[1]) == "published"


async def test_publish_refuses_a_candidate_without_report_and_a_viewer(make_app, db, monkeypatch):
    fill_demo()
    _candidate("t1", report=False)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await open_screen(app, pilot, "p")
        await pilot.press("P")  # no report: refused before any confirmation
        await pilot.pause()
        assert type(app.screen).__name__ == "PromptsScreen"
        assert any("no held-out report" in n.message for n in app._notifications)
        assert {r.status for r in m.StrategyScore.select().where(m.StrategyScore.version == "t1")} == {"draft"}
    _candidate("t2", report=True)
    monkeypatch.setenv("COCKPIT_ROLE", "viewer")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await open_screen(app, pilot, "p")
        await answer(app, pilot, "P", "y")
        assert {r.status for r in m.StrategyScore.select().where(m.StrategyScore.version == "t2")} == {"draft"}
        assert m.ModelVersion.get(m.ModelVersion.version == "t2").metadata.count("published_by") == 0
        assert any("'viewer' may not publish" in n.message for n in app._notifications)


def test_candidate_verdict_comes_from_the_held_out_report():
    # The pipeline stores report.verdict; the screen once read a key no report has and called every
    # real candidate "does not beat equal weights".
    from cockpit.ui.screens.prompts import candidate_row

    def row(v):
        return candidate_row({"version": "x", "metadata": {"status": "candidate", "report": {"verdict": v}}})

    assert row({"passes": True, "beats_cash": True})["verdict_style"] == "green"
    lost = row({"passes": False, "beats_cash": False, "beats_equal_weights": False})
    assert lost["verdict"] == "does not beat cash" and lost["verdict_style"] == "red"
    assert row({"passes": False, "beats_cash": True, "within_drawdown_limit": True})["verdict_style"] == "yellow"


async def test_help_reopens_with_the_same_screen_and_follows_a_theme_change(make_app, db):
    """The help screen is kept and not restyled on every visit; a theme chosen meanwhile (command
    palette) still reaches it, however many times it was opened before."""
    from conftest import screen_text

    fill_demo()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        help_screen = await open_screen(app, pilot, "question_mark")
        first, dark = screen_text(app), help_screen.styles.background
        for _ in range(2):
            await pilot.press("escape")
            await settle(app, pilot)
            assert await open_screen(app, pilot, "question_mark") is help_screen
            assert screen_text(app) == first and help_screen.styles.background == dark
        await pilot.press("escape")
        await settle(app, pilot)
        app.theme = "textual-light"
        await settle(app, pilot)
        assert await open_screen(app, pilot, "question_mark") is help_screen
        assert help_screen.styles.background != dark
        assert "Approve the selected" in screen_text(app)


async def test_keys_queued_behind_quit_open_no_screen(make_app, db):
    """'q' then 't' typed fast: the trades screen was pushed on an app already shutting down and its mount
    raised NoMatches (a traceback and exit status 1). Keys after quit do nothing now."""
    fill_demo()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        from textual import events

        for key, char in (("q", "q"), ("t", "t"), ("d", "d"), ("question_mark", "?")):
            app.post_message(events.Key(key, char))  # in one batch, as a terminal delivers fast typing
        await pilot.pause()
    assert app.return_code == 0
