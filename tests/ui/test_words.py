"""Words a trader can read: risk events as dated one-line sentences (no JSON), older rationale lines cut
between words, the prompts screen's empty state, and `U` in the footer while trading is halted."""

from __future__ import annotations

import json

import pytest
from conftest import flat_text, open_screen, screen_text, settle
from demo_data import HOUR, NOW, SYMBOL, fill_demo

from cockpit.db import models as m

pytestmark = pytest.mark.anyio


async def test_risk_events_read_as_dated_sentences(make_app, db):
    fill_demo()
    m.RiskEventRow.create(
        symbol=SYMBOL,
        timestamp=NOW - 200,
        level="ERROR",
        rule="reduce_only",
        details=json.dumps(
            {
                "status": "rejected",
                "detail": "nothing to reduce: position long 0.03, order buy",
                "intent": {"side": "buy", "amount": 0.05, "decision_id": 4, "leg": 0},
            }
        ),
    )
    m.RiskEventRow.create(
        symbol=SYMBOL,
        timestamp=NOW - 100,
        level="CRITICAL",
        rule="kill_switch",
        details=json.dumps({"action": "engaged", "by": "alice", "reason": "operator kill switch"}),
    )
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        text = str(app.query_one("#risk").body.render())  # the pane's lines (the screen cuts them at its edge)
        assert "01-15 14:00 CRIT  kill_switch: engaged by alice" in screen_text(app)
        assert "01-15 14:00 CRIT  kill_switch: engaged by alice: operator kill switch" in text
        assert "01-15 14:00 ERROR reduce_only: buy 0.05 BTC rejected: nothing to reduce" in text
        assert "01-15 13:00 INFO  daily_loss: -0.4% of -3.0% limit" in text
        assert "{" not in text and '"status"' not in text
        # newest first, each event on one line of its own
        assert text.index("kill_switch") < text.index("reduce_only") < text.index("daily_loss")


async def test_older_rationale_lines_are_not_cut_inside_a_number(make_app, db):
    fill_demo()
    words = "Trend intact; " * 7 + "net target exposure +0.2437 after the cap"  # +0.2437 straddles char 120
    assert words.index("+0.2437") < 120 < words.index("+0.2437") + 7
    m.DecisionRow.create(
        symbol=SYMBOL,
        timeframe="1h",
        timestamp=NOW - 2 * HOUR,
        action="buy",
        confidence=0.5,
        reasoning=words,
        selector="offline",
        regime="trending_up",
        weights=json.dumps({}),
    )
    m.DecisionRow.create(
        symbol=SYMBOL,
        timeframe="1h",
        timestamp=NOW - 100,
        action="hold",
        confidence=0.5,
        reasoning="latest",
        selector="offline",
        regime="ranging",
        weights=json.dumps({}),
    )
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        text = flat_text(app)
        assert "Trend intact; net target exposure…" in text
        assert "+0.24…" not in text and "+0.2…" not in text


async def test_the_prompts_screen_says_how_to_make_a_candidate(make_app, db):
    fill_demo()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        s = await open_screen(app, pilot, "p")
        assert "none yet" in s.query_one("#pr-candidates").border_title
        assert "`cockpit train run` makes one" in flat_text(app)
        await pilot.press("P")  # nothing to publish: said, and no dialog opens over the placeholder
        await settle(app, pilot)
        assert app.screen is s


async def test_the_footer_offers_U_while_halted(make_app, db):
    fill_demo(pending=False)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert " U " not in footer and "Clear halt" not in footer
        m.EngineState.create(
            key="kill_switch", value=json.dumps({"active": True, "reason": "kill switch"}), updated_at=NOW
        )
        app.request_refresh()
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "U Clear halt" in footer
        await pilot.press("U")
        await pilot.pause()
        assert "Clear the kill switch" in flat_text(app)


async def test_the_footer_keeps_its_keys_when_they_did_not_change(make_app, db):
    """Help and back: each screen's footer shows its own keys, and the main screen's footer is not
    rebuilt (its keys are the same widgets) since nothing it shows changed; a halt still rebuilds it."""
    from textual.widgets._footer import FooterKey

    fill_demo(pending=False)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        before = list(app.screen.query(FooterKey))
        main_footer = screen_text(app).splitlines()[-1]
        assert before and "Approve" in main_footer
        for _ in range(2):
            await pilot.press("question_mark")
            await settle(app, pilot)
            assert "Back" in screen_text(app).splitlines()[-1]
            await pilot.press("escape")
            await settle(app, pilot)
            assert screen_text(app).splitlines()[-1] == main_footer
            assert list(app.screen.query(FooterKey)) == before
        m.EngineState.create(
            key="kill_switch", value=json.dumps({"active": True, "reason": "kill switch"}), updated_at=NOW
        )
        app.request_refresh()
        await settle(app, pilot)
        assert "U Clear halt" in screen_text(app).splitlines()[-1]
        assert list(app.screen.query(FooterKey)) != before
