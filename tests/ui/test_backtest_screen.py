"""The backtest screen: stored results, a real run through cockpit.backtest to completion, cancel."""

from __future__ import annotations

import pytest
from conftest import open_screen, settle
from demo_data import fill_backtest_result, fill_demo

from cockpit.db import models as m

pytestmark = pytest.mark.anyio


async def run_to_end(app, pilot) -> None:
    """Ctrl+R on the form as it stands, then wait until the run's result has been shown."""
    await pilot.press("ctrl+r")
    await settle(app, pilot)
    await settle(app, pilot)


async def start_a_run(app, pilot):
    """Open the backtest screen and start a run on its default form; returns the screen, mid-run."""
    screen = await open_screen(app, pilot, "b")
    await pilot.press("ctrl+r")
    await pilot.pause()
    assert screen.running
    return screen


async def test_backtest_screen_opens_with_the_stored_result(make_app, db):
    fill_demo()
    rid = fill_backtest_result()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_screen(app, pilot, "b")
        assert type(screen).__name__ == "BacktestScreen"
        assert screen.current is not None and screen.current["id"] == rid
        assert screen.query_one("#bt-trades").row_count == 6
        # The equity chart's x axis is dated: the stored curve runs 2025-10-07 14:00 → 2026-01-15 02:00.
        axis = screen.query_one("#bt-equity").render().plain
        assert "2025-10-07" in axis and "2026-01-15" in axis, axis[-400:]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main_screen


async def test_backtest_runs_to_completion_and_is_stored(make_app, db):
    fill_demo(bars=2300)  # ~96 days of 1h candles: the form's default 90-day range plus warm-up
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_screen(app, pilot, "b")
        assert screen.runner is not None, "cockpit.backtest.api.run_backtest should be found"
        await run_to_end(app, pilot)
        assert not screen.running
        status = str(screen.query_one("#bt-status").render())
        assert "done" in status, status
        rows = list(m.BacktestResult.select())
        assert len(rows) == 1
        assert screen.current is not None and screen.current["id"] == rows[0].id
        assert screen.query_one("#bt-progress").percentage == 1.0
        from cockpit.ui.screens.backtest import metric_rows

        shown = dict(metric_rows(screen.current))
        assert shown["total return"] == f"{rows[0].total_return * 100:+.2f}%"
        assert screen.query_one("#bt-trades").row_count == m.BacktestOrder.select().count()


async def test_the_default_range_follows_the_stored_candles_not_the_clock(make_app, db):
    # The simulator's market (or a replay, or an import) can lie far from today: a form prefilled
    # with the last 90 days of the clock found no candles at all on a fresh `cockpit` run.
    from cockpit.domain.clock import ManualClock
    from demo_data import HOUR, NOW

    fill_demo(bars=2300)  # 1h: ~96 days ending at NOW; 1d: 2300 days
    app = make_app(clock=ManualClock(NOW + 400 * 24 * HOUR))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_screen(app, pilot, "b")
        form = lambda: (screen.query_one("#bt-from").value, screen.query_one("#bt-to").value)  # noqa: E731
        assert form() == ("2025-10-17", "2026-01-15")  # the last 90 days of the stored 1h candles
        screen.query_one("#bt-timeframe").value = "1d"
        await settle(app, pilot)
        assert form() == ("2025-10-17", "2026-01-15")  # 1d candles also end on 2026-01-15
        screen.query_one("#bt-from").value = "2025-12-01"  # typed by the operator: kept from now on
        screen.query_one("#bt-timeframe").value = "1h"
        await settle(app, pilot)
        assert form() == ("2025-12-01", "2026-01-15")
        await run_to_end(app, pilot)
        assert "done" in str(screen.query_one("#bt-status").render())
        (row,) = m.BacktestResult.select()
        assert row.config.start_time == 1_764_547_200_000  # 2025-12-01 00:00 UTC, as typed


async def test_compare_two_runs(make_app, db):
    fill_demo()
    fill_backtest_result(name="older", total_return=0.05, seed=1)
    fill_backtest_result(name="newer", total_return=0.12, seed=2)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_screen(app, pilot, "b")
        runs = screen.query_one("#bt-runs")
        runs.focus()
        runs.move_cursor(row=1)
        await pilot.press("c")
        await settle(app, pilot)
        assert screen.compare_with is not None and screen.compare_with["id"] != screen.current["id"]
        assert "vs" in screen.query_one("#bt-metrics").border_title


async def test_bad_form_is_reported_not_run(make_app, db):
    fill_demo()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_screen(app, pilot, "b")
        screen.query_one("#bt-from").value = "yesterday"
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert not screen.running
        assert m.BacktestResult.select().count() == 0


async def test_cancel_stops_the_run_and_stores_nothing(make_app, db):
    fill_demo(bars=2300)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start_a_run(app, pilot)
        await pilot.press("ctrl+x")
        await settle(app, pilot)
        await settle(app, pilot)
        assert not screen.running
        assert "cancelled" in str(screen.query_one("#bt-status").render())
        assert m.BacktestResult.select().count() == 0


async def test_portfolio_backtest_runs_all_enabled_strategies(make_app, db):
    """Choosing "portfolio" runs every enabled strategy through the scorer and scheduler."""
    fill_demo(bars=2300)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_screen(app, pilot, "b")
        screen.query_one("#bt-strategy").value = "portfolio"
        await pilot.pause()
        assert screen.request()["portfolio"] is True
        await run_to_end(app, pilot)
        status = str(screen.query_one("#bt-status").render())
        assert "done" in status, status
        rows = list(m.BacktestConfig.select())
        assert [r.strategy for r in rows] == ["portfolio"]


async def test_a_backtest_keeps_running_while_the_trader_is_on_the_main_screen(make_app, db):
    fill_demo(bars=2300)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start_a_run(app, pilot)
        await pilot.press("escape")  # back to the market while it runs
        await pilot.pause()
        assert app.screen is app.main_screen
        await settle(app, pilot)
        await settle(app, pilot)
        assert m.BacktestResult.select().count() == 1, "the run finished and was stored"
        await pilot.press("b")
        await settle(app, pilot)
        assert app.screen is screen and not screen.running
        assert "done" in str(screen.query_one("#bt-status").render())
        assert screen.current is not None and screen.current["id"] == m.BacktestResult.get().id


# ------------------------------------------------------------------ which run opens, sweep rows, keyboard


def _sweep_row(rank: int = 1, trades: int = 4287) -> int:
    """A sweep row as cockpit.backtest.sweep stores it: metrics only, no curve, no trades."""
    import json

    from demo_data import NOW, SYMBOL

    cfg = m.BacktestConfig.create(
        name=f"sweep ema_trend 1h #{rank} (fast=8,slow=21)",
        symbol=SYMBOL,
        timeframe="1h",
        start_time=NOW - 90 * 86_400_000,
        end_time=NOW,
        initial_capital=10000.0,
        commission_rate=0.0005,
        strategy="ema_trend",
        strategy_params=json.dumps(
            {"fast": 8, "slow": 21, "_engine": "fast", "_sweep_rank": rank, "_sweep_metric": "sharpe"}
        ),
    )
    return m.BacktestResult.create(
        config=cfg,
        total_return=-0.185,
        max_drawdown=-0.2,
        sharpe_ratio=-0.4,
        total_trades=trades,
        equity_curve="[]",
        trade_log="[]",
        status="sweep",
        metrics=json.dumps({"sweep_rank": rank, "walk_forward": None}),
    ).id


async def test_opens_the_newest_full_run_not_a_newer_sweep_row_and_sweep_rows_show_their_parameters(make_app, db):
    fill_demo()
    full = fill_backtest_result()
    sweep = _sweep_row()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_screen(app, pilot, "b")
        assert screen.current["id"] == full
        assert screen.query_one("#bt-trades").row_count == 6
        runs = screen.query_one("#bt-runs")
        row = [str(c) for c in runs.get_row(str(sweep))]
        assert "sweep#1 ema_trend fast=8,slow=21" in row[-1], row
        assert "_engine" not in row[-1]
        # Opening the sweep row says why it has no trades instead of `Trades (0)` next to 4287 trades.
        screen.run_open_result(sweep)
        await settle(app, pilot)
        assert "none stored for a sweep row (4287 trades counted)" in screen.query_one("#bt-trades").border_title


async def test_after_a_run_the_screen_opens_that_run_even_when_newer_rows_arrived(make_app, db):
    fill_demo()
    state = {}

    def runner(cfg, ds, req, progress=None, cancel=None, store=None):
        state["mine"] = fill_backtest_result(name="mine")
        _sweep_row()  # the training loop (another process) stores a sweep meanwhile: a newer row
        return {"result_id": state["mine"]}

    app = make_app(backtest_runner=runner)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_screen(app, pilot, "b")
        await run_to_end(app, pilot)
        assert screen.current is not None and screen.current["id"] == state["mine"]
        assert screen.query_one("#bt-trades").row_count == 6


async def test_metrics_are_coloured_by_sign(make_app, db):
    fill_demo()
    fill_backtest_result(total_return=-0.05)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_screen(app, pilot, "b")
        from cockpit.ui.screens.backtest import metrics_table

        t = metrics_table(screen.current)
        cells = {str(k): v for k, v in zip(t.columns[0]._cells, t.columns[1]._cells)}
        assert cells["total return"].plain == "-5.00%" and cells["total return"].style == "red"
        assert cells["sharpe"].style == "green" and cells["max drawdown"].style == "red"
        assert cells["final equity"].style == ""


async def test_the_form_is_usable_by_keyboard_alone_at_80x24(make_app, db):
    fill_demo(bars=2300)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(app, pilot, "b")
        form = screen.query_one("#bt-form")
        seen = []
        for _ in range(12):  # Tab walks the form; each focused field is scrolled into view
            await pilot.press("tab")
            await pilot.pause()
            w = app.focused
            if w is None or w.id in seen:
                break
            seen.append(w.id)
            if form in w.ancestors:
                top = w.region.y
                assert form.content_region.y <= top < form.content_region.bottom, f"{w.id} is off screen"
        for wid in ("bt-strategy", "bt-timeframe", "bt-from", "bt-to", "bt-params", "bt-capital", "bt-run"):
            assert wid in seen, (wid, seen)
        # The parameters wrap instead of being cut at the column's edge.
        params = screen.query_one("#bt-params")
        assert "take_atr" in params.text and params.size.height >= 2
        # Typing into the parameters and Enter on Run starts a run with them.
        screen.query_one("#bt-run").focus()
        await pilot.press("enter")
        await settle(app, pilot)
        await settle(app, pilot)
        assert m.BacktestResult.select().count() == 1
