"""The candles chart as Rich Text, drawn cell by cell with numpy; touches no widget.

One terminal column per candle, newest on the right, half-cell vertical resolution for bodies and
wicks (heavy and light box-drawing strokes), EMA 12/26 and Bollinger(20, 2) drawn where no candle is,
the open position's entry / stop-loss / take-profit as dashed lines labelled on the price axis, and
the last price marked on the axis. Plain ANSI colour names only, so it reads the same without
truecolor (e.g. over SSH).

It replaced a plotext build (15 ms at 160 columns, 60-70 ms when the machine was busy) that was the
largest share of the time between pressing a timeframe key and seeing the chart (bench/ui_latency.py);
this one takes about a millisecond. The poll worker builds it; the widget builds it only after a resize.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from rich.text import Text

from cockpit.ui.render import bollinger, ema, position_parts

AXIS = 11  # the price axis on the right: one rule column and ten for labels

# Cell glyphs indexed by body-upper*8 + body-lower*4 + wick-upper*2 + wick-lower: a half covered by
# the body is drawn heavy, one covered only by the wick light (the body implies the wick).
_GLYPHS = np.array(list(" ╷╵│╻╻╽╽╹╿╹╿┃┃┃┃"), dtype="<U1")

# Style ids of the cell grid.
EMPTY, UP, DOWN, EMA_FAST, EMA_SLOW, BAND, ENTRY, STOP, TAKE, AXIS_STYLE = range(10)
STYLES = {EMPTY: "", UP: "green", DOWN: "red", EMA_FAST: "yellow", EMA_SLOW: "magenta", BAND: "cyan",
          ENTRY: "white", STOP: "red", TAKE: "green", AXIS_STYLE: "bright_black"}
LEVELS = (("entry", ENTRY), ("SL", STOP), ("TP", TAKE))


def visible(candles: dict[str, np.ndarray], width: int) -> dict[str, np.ndarray]:
    """One column per candle: the newest that fit the plot area."""
    fit = max(10, width - AXIS) if width else 120
    if len(candles.get("timestamp", ())) > fit:
        return {k: v[-fit:] for k, v in candles.items()}
    return candles


def subtitle(candles: dict[str, np.ndarray], timeframe: str) -> str:
    ts = candles.get("timestamp", ())
    if not len(ts):
        return ""
    fmt = "%Y-%m-%d" if timeframe == "1d" else "%m-%d %H:%M"
    return (f"{time.strftime(fmt, time.gmtime(int(ts[0]) / 1000))} → "
            f"{time.strftime(fmt, time.gmtime(int(ts[-1]) / 1000))} UTC · {len(ts)} bars")


def levels(position: dict[str, Any] | None, orders: list[dict[str, Any]]) -> dict[str, Any]:
    """Entry / SL / TP of the open position: entry from the snapshot, SL/TP from its newest entry order."""
    side, _, _ = position_parts(position)
    if side == "FLAT" or position is None:
        return {}
    out: dict[str, Any] = {"entry": position.get("entry_price")}
    for o in orders:
        if o["status"] in ("filled", "partially_filled") and not o.get("reduce_only") and (
                o.get("stop_loss") or o.get("take_profit")):
            out["SL"], out["TP"] = o.get("stop_loss"), o.get("take_profit")
            break
    return out


def price_label(v: float, step: float, width: int = AXIS - 1) -> str:
    """A price with as many decimals as the axis step needs, thousands separated when it fits."""
    decimals = max(0, min(8, -int(math.floor(math.log10(step))) + 1)) if step > 0 else 2
    s = f"{v:,.{decimals}f}"
    if len(s) > width:
        s = f"{v:.{decimals}f}"
    if len(s) > width:
        s = f"{v:.4g}"
    return s[:width]


def overlays(close: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """(values, style) of EMA 12, EMA 26 and the Bollinger bands over ``close`` (NaN where undefined)."""
    out: list[tuple[np.ndarray, int]] = []
    if len(close) >= 2:
        out += [(ema(close, 12), EMA_FAST), (ema(close, 26), EMA_SLOW)]
    _, up, lo = bollinger(close, 20, 2.0)
    if not np.isnan(up).all():
        out += [(up, BAND), (lo, BAND)]
    return out


def build(candles: dict[str, np.ndarray], lv: dict[str, Any], timeframe: str, width: int, height: int) -> Text:
    """``height`` lines of exactly ``width`` cells."""
    width, height = max(1, int(width)), max(1, int(height))
    n_all = len(candles.get("timestamp", ()))
    pw, ph = width - AXIS, height - 1  # plot area; the top line is the legend
    if n_all == 0 or pw < 10 or ph < 3:
        msg = f"no {timeframe} candles in the database yet" if n_all == 0 else "window too small for the chart"
        lines = [" " * width] * height
        lines[height // 2] = msg[:width].center(width)
        return Text("\n".join(lines), style="bright_black", no_wrap=True, overflow="crop")

    # Overlays use every fetched candle (warm-up), then keep the visible window.
    over_all = overlays(np.asarray(candles["close"], dtype=float))
    c = visible(candles, width)
    n = len(c["timestamp"])
    o, h, low, cl = (np.asarray(c[k], dtype=float) for k in ("open", "high", "low", "close"))
    over = [(v[-n:], st) for v, st in over_all]

    lo_p, hi_p = float(np.min(low)), float(np.max(h))
    for v, _ in over:
        ok = v[~np.isnan(v)]
        if len(ok):
            lo_p, hi_p = min(lo_p, float(ok.min())), max(hi_p, float(ok.max()))
    span0 = max(hi_p - lo_p, abs(hi_p) * 1e-6, 1e-9)
    lines_lv = [(name, float(lv[name]), st) for name, st in LEVELS if lv.get(name)]
    for _, v, _ in lines_lv:  # a level close to the candles widens the range; a far one is pinned to an edge
        if lo_p - 0.25 * span0 <= v <= hi_p + 0.25 * span0:
            lo_p, hi_p = min(lo_p, v), max(hi_p, v)
    pad = (hi_p - lo_p) * 0.02 or span0 * 0.02
    lo_p, hi_p = lo_p - pad, hi_p + pad
    per_row = (hi_p - lo_p) / ph

    def pos(v: np.ndarray) -> np.ndarray:  # price -> rows from the bottom (float)
        return (v - lo_p) / per_row

    # Candles: which halves of each cell the body and the wick cover.
    x0 = pw - n  # right-aligned
    rows = np.arange(ph, dtype=float)[:, None]  # cell k covers [k, k+1) from the bottom
    b0, b1 = pos(np.minimum(o, cl))[None, :], pos(np.maximum(o, cl))[None, :]
    w0, w1 = pos(low)[None, :], pos(h)[None, :]
    tiny = (b1 - b0) < 0.5  # a body thinner than half a cell still shows in the half holding its middle
    mid = (b0 + b1) / 2
    b0 = np.where(tiny, np.floor(mid * 2) / 2, b0)
    b1 = np.where(tiny, b0 + 0.5, b1)

    def covers(a: np.ndarray, b: np.ndarray, lo_: np.ndarray, hi_: np.ndarray) -> np.ndarray:
        return (a < hi_) & (b > lo_)

    bl, bu = covers(b0, b1, rows, rows + 0.5), covers(b0, b1, rows + 0.5, rows + 1)
    wl, wu = covers(w0, w1, rows, rows + 0.5), covers(w0, w1, rows + 0.5, rows + 1)
    code = bu * 8 + bl * 4 + wu * 2 + wl
    grid = np.full((ph, pw), " ", dtype="<U1")
    style = np.zeros((ph, pw), dtype=np.int8)
    grid[:, x0:] = _GLYPHS[code]
    up_col = np.where(cl >= o, UP, DOWN).astype(np.int8)
    style[:, x0:] = np.where(code > 0, up_col[None, :], EMPTY)

    # Level lines first, then overlays; neither covers a candle.
    for _, v, st in lines_lv:
        k = int(np.floor(pos(np.array(v))))
        if 0 <= k < ph:
            free = style[k] == EMPTY
            grid[k][free], style[k][free] = "╌", st
    for v, st in over:
        cols = np.flatnonzero(~np.isnan(v))
        if not len(cols):
            continue
        k = np.floor(pos(v[cols])).astype(int)
        inside = (k >= 0) & (k < ph)
        cols, k = cols[inside] + x0, k[inside]
        free = style[k, cols] == EMPTY
        grid[k[free], cols[free]] = "·" if st == BAND else "─"
        style[k[free], cols[free]] = st

    # The price axis: labels every few rows, then the levels and the last price over them.
    labels: dict[int, tuple[str, str]] = {}
    every = 4 if ph >= 12 else 2
    for k in range(ph - 1 - (ph - 1) % every, -1, -every):
        labels[k] = (price_label(lo_p + (k + 0.5) * per_row, per_row * every), STYLES[AXIS_STYLE])
    taken: dict[int, float] = {}  # rows holding the last price or a level (and its price): never hidden

    def place(k: int, v: float, label: tuple[str, str]) -> None:
        # A label whose row is taken moves to the side its price lies on (below a higher price, above a
        # lower one), so crowded labels still read in price order from top to bottom.
        up = -1 if k in taken and v < taken[k] else 1
        for d in (0, up, 2 * up, 3 * up, -up, -2 * up, -3 * up):
            r = k + d
            if 0 <= r < ph and r not in taken:
                labels[r] = label
                taken[r] = v
                return

    k_last = min(max(int(np.floor(pos(np.array(cl[-1])))), 0), ph - 1)
    place(k_last, float(cl[-1]), (price_label(float(cl[-1]), per_row), "bold reverse " + STYLES[int(up_col[-1])]))
    for name, v, st in lines_lv:
        k = int(np.floor(pos(np.array(v))))
        arrow = "▲" if k >= ph else "▼" if k < 0 else ""
        tag = "E" if name == "entry" else name
        place(min(max(k, 0), ph - 1), v, (f"{tag}{arrow} {price_label(v, per_row)}", f"bold {STYLES[st]}"))

    t = Text(no_wrap=True, overflow="crop")
    t.append(_legend(width))
    for r in range(ph - 1, -1, -1):  # top row first
        t.append("\n")
        g, s = grid[r], style[r]
        cuts = np.flatnonzero(np.diff(s)) + 1
        start = 0
        for end in [*cuts.tolist(), pw]:
            t.append("".join(g[start:end]), STYLES[int(s[start])] or None)
            start = end
        text, st = labels.get(r, ("", ""))
        t.append("┤" if r in labels else "│", STYLES[AXIS_STYLE])
        t.append(text[:AXIS - 1].ljust(AXIS - 1), st or None)
    return t


def _legend(width: int) -> Text:
    t = Text(no_wrap=True, overflow="crop")
    for label, st, mark in (("EMA12", EMA_FAST, "─"), ("EMA26", EMA_SLOW, "─"), ("BB 20,2", BAND, "·")):
        t.append(f" {mark}{mark} ", STYLES[st])
        t.append(label, "bright_black")
    t.pad_right(max(0, width - t.cell_len))
    t.truncate(width)
    return t
