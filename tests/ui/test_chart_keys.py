"""Pilot tests of the chart as a trader reads it: keys pressed, screen text asserted at 80x24 and 160x48
(frozen clock, the demo database: 120 candles per timeframe, one buy filled 3 hours before NOW)."""

from __future__ import annotations

import pytest
from conftest import settle, until
from demo_data import HOUR, NOW

from cockpit.ui import chart

pytestmark = pytest.mark.anyio
SIZES = [(80, 24), (160, 48)]


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def chart_lines(app) -> list[str]:
    c = app.query_one("#candles")
    return c.render().plain.split("\n")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_chart_keeps_twelve_price_rows_a_time_axis_and_volume(make_app, db, size):
    # No order waiting: while one waits for approval the compact chart gives rows to its risk verdict
    # (tests/ui/test_approval.py), and the full-size layout keeps twelve either way.
    from demo_data import fill_demo

    fill_demo(pending=size[1] >= 40)
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        c = app.query_one("#candles")
        ph, vr, _, axis = chart.layout(c.size.height)
        assert ph >= 12 and vr > 0 and axis == 1
        text = screen_text(app)
        assert "└UTC" in text
        assert "Dec 18" in text or "2026" in text, "the 1d chart's time axis carries dates"
        assert any(ch in text for ch in "▁▂▃▄▅▆▇█"), "volume is drawn"
        assert "EMA12" in c.border_title and "vol" in c.border_title


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_cursor_reads_out_the_bar_and_arrows_scroll_only_with_the_chart_focused(make_app, demo_ids, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("2")  # 1h
        await settle(app, pilot)
        c = app.query_one("#candles")
        # The orders list has the focus: ←/→ leave the chart alone, ↓ still selects orders.
        await pilot.press("left", "left")
        assert c.view == chart.DEFAULT_VIEW
        await pilot.press("down")
        await settle(app, pilot)
        assert app.selected_order_id == demo_ids["filled"]
        await pilot.press("v")
        await settle(app, pilot)
        assert c.has_focus
        assert "01-15 14:00" in screen_text(app), "the cursor starts on the newest bar"
        assert " O 6" in screen_text(app) and " V " in screen_text(app)
        await pilot.press("left", "left", "left")
        await settle(app, pilot)
        text = screen_text(app)
        fill = "▲0.1@66,980" if c.size.width < 100 else "buy 0.1 @66,980 entry"
        assert "01-15 11:00 O" in text.replace("  ", " ") and fill in text, "the fill 3h ago is read out on its bar"
        # The buy is marked under its candle.
        assert any("▲" in ln[: -chart.AXIS] for ln in chart_lines(app))
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.query_one("#orders-table").has_focus and c.view.cursor is None
        await pilot.press("up")
        await settle(app, pilot)
        assert app.selected_order_id == demo_ids["pending"]
        # ↑/↓ with the chart focused still select orders (and give the focus back to them).
        await pilot.press("v")
        await settle(app, pilot)
        await pilot.press("down")
        await settle(app, pilot)
        assert app.query_one("#orders-table").has_focus and app.selected_order_id == demo_ids["filled"]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_page_home_end_scroll_through_history(make_app, demo_ids, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "v")
        await settle(app, pilot)
        c = app.query_one("#candles")
        newest = int(c.candles["timestamp"][-1])
        await pilot.press("pageup")
        await until(app, pilot, lambda: c.view.end is not None)
        shown = chart.window(c.candles, c.size.width, c.view)["timestamp"]
        assert int(shown[-1]) < newest
        await pilot.press("home")
        await until(app, pilot, lambda: int(c.candles["timestamp"][0]) == NOW // HOUR * HOUR - 119 * HOUR)
        shown = chart.window(c.candles, c.size.width, c.view)["timestamp"]
        assert int(shown[0]) == NOW // HOUR * HOUR - 119 * HOUR, "Home shows the oldest stored candle"
        assert "history: End for live" not in c.border_subtitle or c.view.cursor is not None
        await pilot.press("end")
        await settle(app, pilot)
        assert c.view.end is None
        assert int(chart.window(c.candles, c.size.width, c.view)["timestamp"][-1]) == newest
        assert "01-15 14:00" in screen_text(app)


async def test_zoom_and_overlay_keys_change_the_chart_and_say_so(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("2", "v")
        await settle(app, pilot)
        c = app.query_one("#candles")
        n0 = len(chart.window(c.candles, c.size.width, c.view)["timestamp"])
        await pilot.press("minus")
        await settle(app, pilot)
        assert "×2" in c.border_title
        await pilot.press("plus", "plus")
        await settle(app, pilot)
        assert "×½" in c.border_title
        assert len(chart.window(c.candles, c.size.width, c.view)["timestamp"]) < n0
        await pilot.press("escape", "m")  # overlay keys work without the chart's focus
        await settle(app, pilot)
        assert "EMA12" not in c.border_title and "BB20" in c.border_title
        assert "EMA12" not in screen_text(app)
        await pilot.press("B", "V")
        await settle(app, pilot)
        assert "BB20" not in c.border_title and "vol" not in c.border_title
        assert chart.layout(c.size.height, c.view)[1] == 0
        await pilot.press("m")
        await settle(app, pilot)
        assert "EMA12" in screen_text(app)


async def test_help_lists_the_chart_keys(make_app, demo_ids):
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await settle(app, pilot)
        text = screen_text(app)
        assert "m B V" in text and "Home End" in text and "Focus the chart" in text


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_chart_rows_are_drawn_exactly_as_textual_draws_its_text(make_app, demo_ids, size):
    """The chart converts its rows for the screen itself (faster than Textual's generic conversion): the
    same characters, colours and attributes, and the same cell offsets a mouse selection starts from,
    with the cursor, zoomed in and out, another timeframe and overlays off."""
    from textual.visual import Visual, visualize

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        c = app.query_one("#candles")
        for keys in ((), ("v", "left", "left"), ("plus",), ("minus", "minus"), ("escape", "1"), ("V", "m", "B")):
            for k in keys:
                await pilot.press(k)
            await settle(app, pilot)
            w, h = c.size
            text, style = c.render(), c.visual_style
            want = Visual.to_strips(c, visualize(c, text, markup=False), w, h, style)
            got = c._to_strips(text, w, h, style)
            assert [s.render(app.console) for s in got] == [s.render(app.console) for s in want], keys

            def cells(strips):  # each cell's (x, y) as its segment's offset says
                out = []
                for s in strips:
                    for seg in s:
                        x, y = seg.style.meta["offset"]
                        out += [(x + i, y) for i in range(len(seg.text))]
                return out

            assert cells(got) == cells(want), keys
