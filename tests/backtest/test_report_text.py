"""The plain-text backtest report: one drawdown figure in the table and under the chart."""

from __future__ import annotations

import numpy as np

from cockpit.backtest.metrics import drawdown
from cockpit.backtest.report import _pct, equity_chart
from cockpit.domain.humanize import money, pct, table, utc


def test_the_chart_reports_the_same_deepest_drawdown_as_the_table():
    # A long curve with a one-bar crash: squeezed into 64 columns, averaging buckets hid most of it
    # (the table said -10.71% while the chart said `deepest -9.6%`).
    rng = np.random.default_rng(5)
    eq = 10_000 * np.exp(np.cumsum(rng.normal(0.0002, 0.002, 5000)))
    eq[3000] *= 0.88
    table_dd = float(drawdown(eq).min())
    line = equity_chart(eq, width=64)[-1]
    assert f"(deepest {_pct(table_dd)})" in line, (line, table_dd)
    assert "█" in line, "the deepest bucket reaches the full scale"


def test_humanize_dates_money_and_tables():
    assert utc(1_779_001_200_000) == "2026-05-17 07:00 UTC"
    assert money(9712.9486358332) == "9,712.95" and money(None) == "-" and money(float("nan")) == "-"
    assert pct(-0.1071) == "-10.71%"
    assert table([("a", "1"), ("bb", "22")], ("k", "v"), right={1}).splitlines() == ["k    v", "a    1", "bb  22"]
