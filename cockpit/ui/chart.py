"""The candles chart as Rich Text, drawn cell by cell with numpy; touches no widget.

One terminal column per candle (zoomed in: a candle and a gap; zoomed out: 2, 4 or 8 candles merged
into one), newest on the right, half-cell vertical resolution for bodies and wicks (heavy and light
box-drawing strokes). Over the candles, where no candle is: EMA 12/26 and Bollinger(20, 2) (each
toggled by key), the open position's entry / stop-loss / take-profit as dashed lines labelled at
their prices on the axis, the fills from the database as markers (buy ▲ under the bar, sell ▼ over
it; hollow △ ▽ for reduce-only exits). Under the candles: volume in eighth-cell bars (its own strip
when the pane is tall enough, else in the plot's bottom rows), then a time axis with dated ticks.
A cursor bar, when the chart has focus, is drawn as a dotted column and read out by ``readout``.
Plain ANSI colour names only, so it reads the same without truecolor (e.g. over SSH).

It replaced a plotext build (15 ms at 160 columns, 60-70 ms when the machine was busy) that was the
largest share of the time between pressing a timeframe key and seeing the chart (bench/ui_latency.py);
this one takes a millisecond or two. The poll worker builds it; the widget builds it itself only after
a resize or a chart key (scroll, zoom, cursor, overlay).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from rich.text import Text

from cockpit.indicators.core import bollinger, ema
from cockpit.ui.render import position_parts

AXIS = 11  # the price axis on the right: one rule column and ten for labels
WARMUP = 60  # extra (merged) bars read to the left of the window so the overlays are defined at its edge
ZOOMS = (-1, 0, 1, 2, 3)  # -1: two columns per candle; 0: one; n > 0: 2**n candles merged per column
SEPARATE_VOLUME_FROM = 15  # rows of plot + volume from which volume gets its own strip (else it shares the plot)

# Cell glyphs indexed by body-upper*8 + body-lower*4 + wick-upper*2 + wick-lower: a half covered by
# the body is drawn heavy, one covered only by the wick light (the body implies the wick).
_GLYPHS = np.array(list(" ╷╵│╻╻╽╽╹╿╹╿┃┃┃┃"), dtype="<U1")
_EIGHTHS = " ▁▂▃▄▅▆▇█"

# Style ids of the cell grid.
(EMPTY, UP, DOWN, EMA_FAST, EMA_SLOW, BAND, ENTRY, STOP, TAKE, AXIS_STYLE, VOL_UP, VOL_DOWN, BUY, SELL, CURSOR) = range(
    15
)
STYLES = {
    EMPTY: "",
    UP: "green",
    DOWN: "red",
    EMA_FAST: "yellow",
    EMA_SLOW: "magenta",
    BAND: "cyan",
    ENTRY: "white",
    STOP: "red",
    TAKE: "green",
    AXIS_STYLE: "bright_black",
    VOL_UP: "dim green",
    VOL_DOWN: "dim red",
    BUY: "bold bright_green",
    SELL: "bold bright_red",
    CURSOR: "bright_white",
}
LEVELS = (("entry", ENTRY), ("SL", STOP), ("TP", TAKE))


@dataclass(frozen=True)
class View:
    """What part of the history the chart shows and what it draws over it (plain data: the widget
    changes it on keys, the poll worker reads enough candles for it)."""

    end: int | None = None  # open time of the newest candle shown; None follows the newest candle
    zoom: int = 0  # one of ZOOMS
    cursor: int | None = None  # the cursor bar, counted in (merged) bars from the right edge; None: no cursor
    ema: bool = True
    bb: bool = True
    volume: bool = True

    @property
    def merge(self) -> int:
        return 2**self.zoom if self.zoom > 0 else 1

    @property
    def spacing(self) -> int:
        return 2 if self.zoom < 0 else 1

    def zoomed(self, step: int) -> "View":
        i = min(max(ZOOMS.index(self.zoom) + step, 0), len(ZOOMS) - 1)
        return replace(self, zoom=ZOOMS[i])


DEFAULT_VIEW = View()


def plot_width(width: int) -> int:
    return max(10, width - AXIS) if width else 120


def bars_shown(width: int, view: View = DEFAULT_VIEW) -> int:
    """How many (merged) bars fit the plot area."""
    return max(1, plot_width(width) // view.spacing)


def candles_needed(width: int, view: View = DEFAULT_VIEW) -> int:
    """Source candles to read for ``view`` at ``width``: the window plus the overlays' warm-up."""
    return (bars_shown(width, view) + WARMUP) * view.merge


def merged(candles: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    """Candles merged ``k`` at a time on the calendar (a 1h chart at 4: the 00:00, 04:00, ... bars of a 4h
    chart; the newest may still be forming): open of the first, high/low over the group, close of the
    last, volume summed."""
    ts = np.asarray(candles.get("timestamp", ()), dtype=np.int64)
    if k <= 1 or len(ts) == 0:
        return candles
    step = int(np.min(np.diff(ts))) if len(ts) >= 2 else 1
    keys = ts // (max(step, 1) * k)
    starts = np.flatnonzero(np.r_[True, np.diff(keys) != 0])
    ends = np.r_[starts[1:], len(ts)] - 1

    def col(key: str) -> np.ndarray:
        return np.asarray(candles[key], dtype=float)

    return {
        "timestamp": ts[starts],
        "open": col("open")[starts],
        "high": np.maximum.reduceat(col("high"), starts),
        "low": np.minimum.reduceat(col("low"), starts),
        "close": col("close")[ends],
        "volume": np.add.reduceat(col("volume"), starts) if "volume" in candles else np.zeros(len(starts)),
    }


def window(candles: dict[str, np.ndarray], width: int, view: View = DEFAULT_VIEW) -> dict[str, np.ndarray]:
    """The (merged) bars on screen: those up to ``view.end``, as many as fit the plot area."""
    c = _upto(candles, view.end)
    c = merged(c, view.merge)
    fit = bars_shown(width, view)
    if len(c.get("timestamp", ())) > fit:
        return {k: v[-fit:] for k, v in c.items()}
    return c


def visible(candles: dict[str, np.ndarray], width: int) -> dict[str, np.ndarray]:
    """One column per candle: the newest that fit the plot area (the default view)."""
    return window(candles, width)


def _upto(candles: dict[str, np.ndarray], end: int | None) -> dict[str, np.ndarray]:
    ts = candles.get("timestamp", ())
    if end is None or not len(ts):
        return candles
    i = int(np.searchsorted(np.asarray(ts), end, side="right"))
    return candles if i == len(ts) else {k: v[:i] for k, v in candles.items()}


def subtitle(candles: dict[str, np.ndarray], timeframe: str) -> str:
    ts = candles.get("timestamp")
    if ts is None or not len(ts):
        return ""
    fmt = "%Y-%m-%d" if timeframe == "1d" else "%m-%d %H:%M"
    return (
        f"{time.strftime(fmt, time.gmtime(int(ts[0]) / 1000))} → "
        f"{time.strftime(fmt, time.gmtime(int(ts[-1]) / 1000))} UTC · {len(ts)} bars"
    )


def levels(position: dict[str, Any] | None, orders: list[dict[str, Any]]) -> dict[str, Any]:
    """Entry / SL / TP of the open position: entry from the snapshot, SL/TP from its newest entry order."""
    side, _, _ = position_parts(position)
    if side == "FLAT" or position is None:
        return {}
    out: dict[str, Any] = {"entry": position.get("entry_price")}
    for o in orders:
        if (
            o["status"] in ("filled", "partially_filled")
            and not o.get("reduce_only")
            and (o.get("stop_loss") or o.get("take_profit"))
        ):
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


def overlays(close: np.ndarray, view: View = DEFAULT_VIEW) -> list[tuple[np.ndarray, int]]:
    """(values, style) of EMA 12, EMA 26 and the Bollinger bands over ``close`` (NaN where undefined)."""
    out: list[tuple[np.ndarray, int]] = []
    if view.ema and len(close) >= 2:
        # drawn from the first bar (no warm-up NaNs): WARMUP bars to the left of the window settle them
        out += [(ema(close, 12, min_periods=1), EMA_FAST), (ema(close, 26, min_periods=1), EMA_SLOW)]
    if view.bb:
        up, _, lo = bollinger(close, 20, 2.0)
        if not np.isnan(up).all():
            out += [(up, BAND), (lo, BAND)]
    return out


def legend(view: View = DEFAULT_VIEW) -> str:
    """The overlays that are on, as console markup for the chart's border title."""
    parts = []
    if view.ema:
        parts.append("[yellow]──[/]EMA12 [magenta]──[/]EMA26")
    if view.bb:
        parts.append("[cyan]··[/]BB20,2")
    if view.volume:
        parts.append("[green dim]▃[/]vol")
    return "  ".join(parts)


# ------------------------------------------------------------------ fills


def fill_marks(fills: list[dict[str, Any]], ts: np.ndarray, bar_ms: int) -> dict[int, list[dict[str, Any]]]:
    """The fills that fall in each bar of ``ts`` (open times, ``bar_ms`` long), keyed by bar index."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not len(ts):
        return out
    for f in fills:
        t = int(f["timestamp"])
        i = int(np.searchsorted(ts, t, side="right")) - 1
        if 0 <= i < len(ts) and t < int(ts[i]) + bar_ms:
            out.setdefault(i, []).append(f)
    return out


def _bar_ms(ts: np.ndarray, timeframe_ms: int | None) -> int:
    if timeframe_ms:
        return int(timeframe_ms)
    if len(ts) >= 2:
        return int(np.min(np.diff(ts)))
    return 3_600_000


# ------------------------------------------------------------------ time axis

_MIN, _HOUR, _DAY = 60_000, 3_600_000, 86_400_000
_TICK_STEPS = (
    [m * _MIN for m in (15, 30)]
    + [h * _HOUR for h in (1, 2, 3, 4, 6, 12)]
    + [d * _DAY for d in (1, 2, 3, 7, 14)]
    + ["1M", "3M", "6M", "1Y"]
)


def _month_key(ms: int) -> int:
    t = time.gmtime(ms / 1000)
    return t.tm_year * 12 + t.tm_mon - 1


def tick_label(ms: int, step: int | str, new_day: bool = True) -> str:
    """A tick's label: the date on the first tick of a day (the year on January 1st, the month on
    steps of months), else the time of day."""
    t = time.gmtime(ms / 1000)
    if isinstance(step, str):
        return str(t.tm_year) if t.tm_mon == 1 else time.strftime("%b", t)
    if new_day or step >= _DAY:
        return str(t.tm_year) if (t.tm_mon, t.tm_mday) == (1, 1) else time.strftime("%b %d", t)
    return time.strftime("%H:%M", t)


def ticks(ts: np.ndarray, spacing: int, width: int) -> list[tuple[int, str]]:
    """(column, label) of the time ticks: the first bar of each calendar step (15 minutes to a year,
    the smallest whose labels do not crowd each other), labelled with its date or time of day."""
    n = len(ts)
    if n < 2:
        return []
    span = int(ts[-1] - ts[0])
    days = np.asarray(ts, dtype=np.int64) // _DAY
    for step in _TICK_STEPS:
        if isinstance(step, str):
            per = {"1M": 1, "3M": 3, "6M": 6, "1Y": 12}[step]
            keys = np.array([_month_key(int(t)) // per for t in ts])
            approx = per * 30 * _DAY
        else:
            keys = np.asarray(ts, dtype=np.int64) // step
            approx = step
        if (n - 1) * spacing * approx / max(span, 1) < 9:  # too few columns between two ticks
            continue
        idx = np.flatnonzero(np.diff(keys) != 0) + 1
        out: list[tuple[int, str]] = []
        last_end, last_day = -2, -1  # the first tick always carries its date
        for i in idx.tolist():
            col, label = i * spacing, tick_label(int(ts[i]), step, new_day=int(days[i]) != last_day)
            if col > last_end + 1 and col + len(label) + 1 <= width:
                out.append((col, label))
                last_end, last_day = col + len(label), int(days[i])
        if out:
            return out
    return []


# ------------------------------------------------------------------ the chart


def layout(height: int, view: View = DEFAULT_VIEW) -> tuple[int, int, bool, int]:
    """(price rows, volume rows, volume in its own strip, time-axis rows) for a chart ``height`` lines tall."""
    axis_rows = 1 if height >= 6 else 0
    avail = height - axis_rows
    if not view.volume or avail < 8:
        return avail, 0, False, axis_rows
    if avail >= SEPARATE_VOLUME_FROM:
        vr = max(2, min(6, avail // 6))
        return avail - vr, vr, True, axis_rows
    return avail, 2, False, axis_rows


def build(
    candles: dict[str, np.ndarray],
    lv: dict[str, Any],
    timeframe: str,
    width: int,
    height: int,
    view: View = DEFAULT_VIEW,
    fills: list[dict[str, Any]] | None = None,
    timeframe_ms: int | None = None,
) -> Text:
    """``height`` lines of exactly ``width`` cells."""
    width, height = max(1, int(width)), max(1, int(height))
    upto = _upto(candles, view.end)
    n_all = len(upto.get("timestamp", ()))
    pw = width - AXIS
    ph, vr, vol_strip, axis_rows = layout(height, view)
    if n_all == 0 or pw < 10 or ph < 3:
        msg = (
            "reading older candles…"
            if n_all == 0 and len(candles.get("timestamp", ()))
            else f"no {timeframe} candles in the database yet"
            if n_all == 0
            else "window too small for the chart"
        )
        lines = [" " * width] * height
        lines[height // 2] = msg[:width].center(width)
        return Text("\n".join(lines), style="bright_black", no_wrap=True, overflow="crop")

    # Overlays use every fetched (merged) bar up to the window's end (warm-up), then keep the window.
    allm = merged(upto, view.merge)
    over_all = overlays(np.asarray(allm["close"], dtype=float), view)
    c = window(candles, width, view)
    n = len(c["timestamp"])
    if n == 0:
        return build({}, lv, timeframe, width, height)
    ts = np.asarray(c["timestamp"], dtype=np.int64)
    o, h, low, cl = (np.asarray(c[k], dtype=float) for k in ("open", "high", "low", "close"))
    vol = np.asarray(c.get("volume", np.zeros(n)), dtype=float)
    over = [(v[-n:], st) for v, st in over_all]
    sp = view.spacing
    bar_ms = _bar_ms(np.asarray(allm["timestamp"], dtype=np.int64), (timeframe_ms or 0) * view.merge or None)
    marks = fill_marks(fills or [], ts, bar_ms)

    lo_p, hi_p = float(np.min(low)), float(np.max(h))
    for v, _ in over:
        ok = v[~np.isnan(v)]
        if len(ok):
            lo_p, hi_p = min(lo_p, float(ok.min())), max(hi_p, float(ok.max()))
    span0 = max(hi_p - lo_p, abs(hi_p) * 1e-6, 1e-9)
    lines_lv = [(name, float(lv[name]), st) for name, st in LEVELS if lv.get(name)]
    for _, lvl, _ in lines_lv:  # a level close to the candles widens the range; a far one is pinned to an edge
        if lo_p - 0.25 * span0 <= lvl <= hi_p + 0.25 * span0:
            lo_p, hi_p = min(lo_p, lvl), max(hi_p, lvl)
    # Room for the fill markers over the highest and under the lowest bar, and for volume sharing the plot.
    top = 1.2 if marks else 0.3
    bottom = top + (vr if not vol_strip else 0)
    per_row = (hi_p - lo_p) / max(ph - top - bottom, 1.0)
    lo_p, hi_p = lo_p - bottom * per_row, hi_p + top * per_row
    per_row = (hi_p - lo_p) / ph

    def pos(v: np.ndarray) -> np.ndarray:  # price -> rows from the bottom (float)
        return (v - lo_p) / per_row

    # Candles: which halves of each cell the body and the wick cover; columns right-aligned.
    xs = pw - 1 - (n - 1 - np.arange(n)) * sp  # the column of each bar
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
    grid[:, xs] = _GLYPHS[code]
    up_col = np.where(cl >= o, UP, DOWN).astype(np.int8)
    style[:, xs] = np.where(code > 0, up_col[None, :], EMPTY)

    # Volume: eighth-cell bars scaled to the window's largest volume, coloured like their candle.
    vgrid = np.full((vr, pw), " ", dtype="<U1")
    vstyle = np.zeros((vr, pw), dtype=np.int8)
    if vr:
        top = float(vol.max()) if len(vol) and vol.max() > 0 else 1.0
        eighths = np.round(vol / top * vr * 8).astype(int)
        eighths = np.where((vol > 0) & (eighths == 0), 1, eighths)
        for r in range(vr):  # r = 0 is the bottom row
            e = np.clip(eighths - r * 8, 0, 8)
            vgrid[r, xs] = np.array(list(_EIGHTHS), dtype="<U1")[e]
            vstyle[r, xs] = np.where(e > 0, np.where(up_col == UP, VOL_UP, VOL_DOWN), EMPTY)
        if not vol_strip:  # sharing the plot: only where no candle is
            free = style[:vr] == EMPTY
            grid[:vr][free], style[:vr][free] = vgrid[free], vstyle[free]

    # Level lines first, then overlays; neither covers a candle.
    for _, lvl, st in lines_lv:
        k = int(np.floor(pos(np.array(lvl))))
        if 0 <= k < ph:
            free = (style[k] == EMPTY) | (style[k] == VOL_UP) | (style[k] == VOL_DOWN)
            grid[k][free], style[k][free] = "╌", st
    for v, st in over:
        cols = np.flatnonzero(~np.isnan(v))
        if not len(cols):
            continue
        k = np.floor(pos(v[cols])).astype(int)
        inside = (k >= 0) & (k < ph)
        cols, k = xs[cols[inside]], k[inside]
        free = style[k, cols] == EMPTY
        grid[k[free], cols[free]] = "·" if st == BAND else "─"
        style[k[free], cols[free]] = st

    # Fill markers: buys under the bar's low, sells over its high; hollow for reduce-only exits.
    for i, fs in marks.items():
        x = int(xs[i])
        for side in ("buy", "sell"):
            same = [f for f in fs if str(f.get("side", "")).lower() == side]
            if not same:
                continue
            exit_ = all(f.get("reduce_only") for f in same)
            if side == "buy":
                k, ch = int(np.floor(pos(np.array(low[i])))) - 1, "△" if exit_ else "▲"
            else:
                k, ch = int(np.floor(pos(np.array(h[i])))) + 1, "▽" if exit_ else "▼"
            k = min(max(k, 0), ph - 1)
            if style[k, x] in (UP, DOWN):
                continue
            grid[k, x], style[k, x] = ch, BUY if side == "buy" else SELL

    # The cursor bar: a dotted column wherever nothing else is drawn.
    cur_x = None
    if view.cursor is not None and 0 <= view.cursor < n:
        cur_x = int(xs[n - 1 - view.cursor])
        for g, s_ in ((grid, style), (vgrid, vstyle)) if vol_strip else ((grid, style),):
            free = s_[:, cur_x] == EMPTY
            g[free, cur_x] = "┊"
            s_[free, cur_x] = CURSOR

    # The price axis: labels every few rows, then the last price and the levels over them, in price order.
    labels: dict[int, tuple[str, str]] = {}
    every = 4 if ph >= 12 else 2
    for k in range(ph - 1 - (ph - 1) % every, -1, -every):
        labels[k] = (price_label(lo_p + (k + 0.5) * per_row, per_row * every), STYLES[AXIS_STYLE])
    named: list[tuple[float, int, tuple[str, str]]] = []  # (price, wanted row, label)
    k_last = int(np.floor(pos(np.array(cl[-1]))))
    named.append(
        (float(cl[-1]), k_last, (price_label(float(cl[-1]), per_row), "bold reverse " + STYLES[int(up_col[-1])]))
    )
    for name, lvl, st in lines_lv:
        k = int(np.floor(pos(np.array(lvl))))
        arrow = "▲" if k >= ph else "▼" if k < 0 else ""
        tag = "E" if name == "entry" else name
        named.append((lvl, k, (f"{tag}{arrow} {price_label(lvl, per_row)}", f"bold {STYLES[st]}")))
    for k, i in place_labels([(v, k) for v, k, _ in named], ph).items():
        labels[k] = named[i][2]

    t = Text(no_wrap=True, overflow="crop")
    first = True
    for r in range(ph - 1, -1, -1):  # top row first
        if not first:
            t.append("\n")
        first = False
        _row(t, grid[r], style[r], pw)
        text, label_style = labels.get(r, ("", ""))
        t.append("┤" if r in labels else "│", STYLES[AXIS_STYLE])
        t.append(text[: AXIS - 1].ljust(AXIS - 1), label_style or None)
    if vol_strip:
        vtop = float(vol.max()) if len(vol) else 0.0
        for r in range(vr - 1, -1, -1):
            t.append("\n")
            _row(t, vgrid[r], vstyle[r], pw)
            t.append("┤" if r == vr - 1 else "│", STYLES[AXIS_STYLE])
            t.append((f"V {_qty(vtop)}" if r == vr - 1 else "").ljust(AXIS - 1), STYLES[AXIS_STYLE])
    if axis_rows:
        t.append("\n")
        t.append(_time_axis(ts, sp, pw, xs, cur_x, view, bar_ms))
        t.append("└" + "UTC".ljust(AXIS - 1), STYLES[AXIS_STYLE])
    return t


def place_labels(items: list[tuple[float, int]], rows: int) -> dict[int, int]:
    """Rows (from the bottom) for the named axis labels, given as (price, wanted row from the bottom);
    returns {row: index into items}. Each sits at its own price's row when it can; crowded ones are
    pushed apart so that they still read in price order from top to bottom; one whose price is off
    the chart is pinned inside it."""
    if not items or rows <= 0:
        return {}
    order = sorted(range(len(items)), key=lambda i: -items[i][0])  # highest price first = top
    want = [rows - 1 - min(max(items[i][1], 0), rows - 1) for i in order]  # rows from the top
    got = list(want)
    for i in range(1, len(got)):  # downwards: never on or above the label of a higher price
        got[i] = max(got[i], got[i - 1] + 1)
    if got and got[-1] > rows - 1:  # then back up from the bottom edge
        got[-1] = rows - 1
        for i in range(len(got) - 2, -1, -1):
            got[i] = min(got[i], got[i + 1] - 1)
    return {rows - 1 - g: it for g, it in zip(got, order) if 0 <= g < rows}


def _row(t: Text, g: np.ndarray, s: np.ndarray, pw: int) -> None:
    cuts = np.flatnonzero(np.diff(s)) + 1
    start = 0
    for end in [*cuts.tolist(), pw]:
        t.append("".join(g[start:end]), STYLES[int(s[start])] or None)
        start = end


def _time_axis(
    ts: np.ndarray, spacing: int, pw: int, xs: np.ndarray, cur_x: int | None, view: View, bar_ms: int
) -> Text:
    """Dated ticks under the bars; the cursor bar's full time in reverse under it, over any tick it meets."""
    cells = [" "] * pw
    cur = None
    if cur_x is not None and view.cursor is not None:
        lab = bar_time(int(ts[len(ts) - 1 - view.cursor]), bar_ms)[:pw]
        start = min(max(cur_x - len(lab) // 2, 0), max(pw - len(lab), 0))
        cur = (start, lab)
    x0 = int(xs[0])
    for col, label in ticks(ts, spacing, pw - x0):
        a, b = x0 + col, x0 + col + len(label) + 1
        if cur is not None and a <= cur[0] + len(cur[1]) and b >= cur[0] - 1:
            continue
        cells[a:b] = list("╵" + label)
    t = Text("".join(cells[:pw]), STYLES[AXIS_STYLE])
    if cur is not None:
        start, lab = cur
        t = Text("".join(cells[:start]) + lab + "".join(cells[start + len(lab) : pw]), STYLES[AXIS_STYLE])
        t.stylize("reverse", start, start + len(lab))
    return t


def bar_time(ms: int, bar_ms: int) -> str:
    """A bar's open time in UTC: with the time of day unless the bars are a day or longer."""
    fmt = "%Y-%m-%d" if bar_ms >= _DAY else "%Y-%m-%d %H:%M"
    return time.strftime(fmt, time.gmtime(ms / 1000))


def _qty(v: float) -> str:
    for unit, div in (("M", 1e6), ("K", 1e3)):
        if abs(v) >= div:
            return f"{v / div:.1f}{unit}"
    return f"{v:.0f}" if abs(v) >= 10 else f"{v:.2f}"


def readout(
    candles: dict[str, np.ndarray],
    width: int,
    view: View,
    fills: list[dict[str, Any]] | None = None,
    timeframe_ms: int | None = None,
) -> str:
    """The cursor bar's date, OHLC, change, volume and its fills, as console markup (the chart's subtitle)."""
    c = window(candles, width, view)
    n = len(c.get("timestamp", ()))
    if view.cursor is None or not n:
        return ""
    i = n - 1 - min(view.cursor, n - 1)
    o, h, lo, cl, v = (float(c[k][i]) for k in ("open", "high", "low", "close", "volume"))
    bar_ms = (timeframe_ms or _bar_ms(np.asarray(c["timestamp"]), None)) * (view.merge if timeframe_ms else 1)
    chg = (cl / o - 1) * 100 if o else 0.0
    colour = "green" if cl >= o else "red"
    step = max(abs(h - lo), abs(h) * 1e-4) / 10
    p = lambda x: price_label(x, step, width=14)  # noqa: E731
    mk = fill_marks(fills or [], np.asarray(c["timestamp"], dtype=np.int64), bar_ms).get(i, [])
    if width >= 100:
        out = (
            f"[b]{bar_time(int(c['timestamp'][i]), bar_ms)}[/b]  O {p(o)}  H {p(h)}  L {p(lo)}  "
            f"C [{colour}]{p(cl)} {chg:+.2f}%[/]  V {_qty(v)}"
        )
        for f in mk[:2]:
            side = str(f.get("side", "")).lower()
            what = "exit" if f.get("reduce_only") else "entry"
            out += f"  [{'green' if side == 'buy' else 'red'}]{side} {float(f['amount']):g} @{p(float(f['price']))} {what}[/]"
    else:  # narrow: the same figures, tighter (an 80-column border holds 76 cells)
        stamp = bar_time(int(c["timestamp"][i]), bar_ms)[5:]
        out = f"[b]{stamp}[/b] O {p(o)} H {p(h)} L {p(lo)} C [{colour}]{p(cl)} {chg:+.2f}%[/] V {_qty(v)}"
        for f in mk[:1]:
            side = str(f.get("side", "")).lower()
            mark = ("▲" if side == "buy" else "▼") if not f.get("reduce_only") else ("△" if side == "buy" else "▽")
            out += f" [{'green' if side == 'buy' else 'red'}]{mark}{float(f['amount']):g}@{p(float(f['price']))}[/]"
    if len(mk) > 2 or (width < 100 and len(mk) > 1):
        out += f" +{len(mk) - (2 if width >= 100 else 1)} fills"
    return out


def clamp_cursor(view: View, candles: dict[str, np.ndarray], width: int) -> View:
    n = len(window(candles, width, view).get("timestamp", ()))
    if view.cursor is None or n == 0:
        return view
    return replace(view, cursor=min(max(view.cursor, 0), n - 1))


def scrolled(view: View, candles: dict[str, np.ndarray], bars: int, timeframe_ms: int) -> View:
    """``view`` moved ``bars`` (merged) bars back in time (negative: forward). Within the loaded candles
    the new end is a real candle's time; beyond them it is estimated from the timeframe (the poll then
    reads the candles there). Forward past the newest candle the view follows the newest again."""
    ts = np.asarray(candles.get("timestamp", ()), dtype=np.int64)
    if not len(ts):
        return view
    step = bars * view.merge
    end_i = len(ts) - 1 if view.end is None else int(np.searchsorted(ts, view.end, side="right")) - 1
    new_i = end_i - step
    if new_i >= len(ts) - 1:
        return replace(view, end=None)
    if new_i >= 0:
        return replace(view, end=int(ts[new_i]))
    return replace(view, end=int(ts[0]) + new_i * int(timeframe_ms))
