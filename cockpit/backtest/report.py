"""Plain-text rendering of a backtest report: a metrics table and a small equity/drawdown chart."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

import numpy as np

from cockpit.backtest.metrics import drawdown

_BLOCKS = " ▁▂▃▄▅▆▇█"


def _date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{v * 100:+.2f}%"


def _num(v: Any, fmt: str = "{:.2f}") -> str:
    return "n/a" if v is None else fmt.format(v)


def _resample(values: np.ndarray, width: int, how=np.mean) -> np.ndarray:
    """``values`` in ``width`` buckets, each reduced with ``how`` (mean for the equity line; min for
    drawdown, so the deepest point survives the squeeze)."""
    if len(values) <= width:
        return values
    edges = np.linspace(0, len(values), width + 1).astype(int)
    return np.array([how(values[a:b]) if b > a else values[min(a, len(values) - 1)] for a, b in zip(edges, edges[1:])])


def equity_chart(equity: np.ndarray, *, width: int = 64, height: int = 8) -> list[str]:
    """Equity as a block-character area chart, plus one drawdown line underneath."""
    if len(equity) == 0:
        return ["(no bars)"]
    eq = _resample(np.asarray(equity, dtype=float), width)
    lo, hi = float(eq.min()), float(eq.max())
    span = hi - lo or 1.0
    levels = (eq - lo) / span * (height * 8 - 1)
    rows = []
    for r in range(height - 1, -1, -1):
        line = []
        for v in levels:
            full = v - r * 8
            line.append(_BLOCKS[8] if full >= 8 else _BLOCKS[max(0, int(full) + 1)] if full >= 0 else " ")
        label = f"{hi:>11,.0f} " if r == height - 1 else f"{lo:>11,.0f} " if r == 0 else " " * 12
        rows.append(label + "│" + "".join(line))
    # The deepest figure is the full curve's (the table's "Max drawdown"), not that of averaged buckets.
    full = drawdown(np.asarray(equity, dtype=float))
    dd = _resample(full, width, np.min)
    worst = float(full.min()) if len(full) else 0.0
    scale = abs(worst) or 1.0
    dline = "".join(_BLOCKS[min(8, int(round(abs(v) / scale * 8)))] for v in dd)
    rows.append(f"{'drawdown':>11} │" + dline + f"  (deepest {_pct(worst)})")
    return rows


def render_report(rep: Mapping[str, Any], equity: np.ndarray | None = None) -> str:
    """``rep`` is ``BacktestReport.to_json()``; ``equity`` the full curve for the chart (else the JSON's)."""
    m = rep["metrics"]
    s = rep["settings"]
    params = ", ".join(f"{k}={v}" for k, v in rep["params"].items() if not str(k).startswith("_"))
    head = [
        f"Backtest #{rep['result_id']}" if rep.get("result_id") else "Backtest (not saved)",
        f"  {rep['strategy']}({params})  {rep['symbol']} {rep['timeframe']}  "
        f"{_date(rep['start'])} -> {_date(rep['end'])}  ({m['bars']} bars, engine: {rep['engine']})",
        f"  capital {s['capital']:,.2f}  fee {s['taker_fee'] * 100:.3f}%/side  slippage {s['slippage_bps']:g} bps"
        f"  leverage {s['leverage']:g}x  lot {s['lot_size']:g}",
        f"  funding: {rep['funding_source']}",
        f"  SL/TP inside a bar: {rep['intrabar']}",
        "",
    ]
    rows = [
        ("Final equity", _num(m["final_equity"], "{:,.2f}")),
        ("Total return", _pct(m["total_return"])),
        ("CAGR", _pct(m["cagr"])),
        ("Max drawdown", _pct(m["max_drawdown"])),
        ("Sharpe", _num(m["sharpe"])),
        ("Sortino", _num(m["sortino"])),
        ("Calmar", _num(m["calmar"])),
        ("Profit factor", _num(m["profit_factor"])),
        ("Win rate", "n/a" if m["win_rate"] is None else f"{m['win_rate'] * 100:.1f}%"),
        ("Avg win / loss", f"{_num(m['avg_win'], '{:,.2f}')} / {_num(m['avg_loss'], '{:,.2f}')}"),
        ("Trades", str(m["trades"])),
        ("Exposure", "n/a" if m["exposure"] is None else f"{m['exposure'] * 100:.1f}%"),
        ("Fees paid", _num(m["fees"], "{:,.2f}")),
        ("Funding paid", _num(m["funding"], "{:,.2f}")),
        ("Liquidations", str(m["liquidations"])),
    ]
    if m.get("open_position"):
        rows.append(("Open at end", f"{m['open_position']:+.4f} BTC (marked to the last close)"))
    w = max(len(k) for k, _ in rows)
    table = [f"  {k:<{w}}  {v:>16}" for k, v in rows]
    eq = equity if equity is not None else np.array([p[1] for p in rep.get("equity_curve", [])])
    return "\n".join(head + table + ["", "  Equity"] + ["  " + line for line in equity_chart(eq)]) + "\n"
