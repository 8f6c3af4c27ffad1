"""CandlesChart: the selected timeframe's candles with volume, fill markers, EMA 12/26, Bollinger(20, 2)
and the open position's entry / stop-loss / take-profit lines (cockpit.ui.chart; plain ANSI colours so
the chart reads the same without truecolor).

With focus (`v`, Tab or a click) it is a chart to read, TradingView style: ←/→ move a cursor bar (its
date, OHLC, change, volume and fills in the bottom border) and scroll at the edges, PgUp/PgDn scroll a
page, Home/End jump to the oldest / newest candle, +/− zoom, Esc gives the focus back to the orders.
↑/↓ are never taken: they stay the orders list's. The poll worker usually hands over the chart already
built for the current size and view; the widget builds it itself after a resize or a chart key, and asks
for a poll only when the view needs candles that are not loaded. It keeps the last live candles polled for
each timeframe, so a timeframe key redraws the chart at once from them (``switch_to``) while the poll the
key asks for reads the database; the poll's candles replace them when it lands.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.binding import Binding
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget

from cockpit.domain.market import timeframe_ms
from cockpit.ui import chart

TF_KEYS = {"15m": "1", "1h": "2", "4h": "3", "1d": "4"}
STRIPS_KEPT = 8  # charts whose rows stay converted for the screen (a few per timeframe)


def chart_title(timeframe: str, view: chart.View = chart.DEFAULT_VIEW) -> str:
    keys = " ".join(f"[{k}]{tf}" if tf != timeframe else f"[{k}][b]{tf}[/b]" for tf, k in TF_KEYS.items())
    zoom = {-1: " ×½", 0: ""}.get(view.zoom, f" ×{view.merge}")
    return f"Candles {timeframe}{zoom}  {keys}  {chart.legend(view)}"


class CandlesChart(Widget, can_focus=True):
    """Draws from plain arrays handed over by the app; never reads the database itself."""

    DEFAULT_CSS = "CandlesChart { width: 1fr; height: 1fr; }"

    BINDINGS = [
        Binding("left", "cursor(1)", "Bar ←", show=False),
        Binding("right", "cursor(-1)", "Bar →", show=False),
        Binding("pageup,shift+left", "page(1)", "Page ←", show=False),
        Binding("pagedown,shift+right", "page(-1)", "Page →", show=False),
        Binding("home", "oldest", "Oldest", show=False),
        Binding("end", "newest", "Newest", show=False),
        Binding("plus,equals_sign", "zoom(-1)", "Zoom in", show=False),
        Binding("minus,underscore", "zoom(1)", "Zoom out", show=False),
        Binding("escape", "leave", "Back to orders", show=False),
        # ↑/↓ always select orders: with the chart focused they hand the focus back and move there.
        Binding("up", "orders('up')", "Order ↑", show=False),
        Binding("down", "orders('down')", "Order ↓", show=False),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.timeframe = "1h"
        self.candles: dict[str, np.ndarray] = {}
        self.levels: dict[str, Any] = {}
        self.fills: list[dict[str, Any]] = []
        self.view = chart.DEFAULT_VIEW
        self.first: int | None = None  # oldest / newest stored candle (from the poll)
        self.last: int | None = None
        self._version = 0
        self._cache_key: tuple = ()
        self._cache: Text | None = None
        # Per timeframe, the last live (not scrolled) poll's data and the chart last drawn from it.
        self._kept: dict[str, dict[str, Any]] = {}
        self._sig: Any = None  # the poll signature of what is shown (None: unknown, always redraw)
        # id(chart Text) -> (that Text, (width, height, style) converted for, its rows as strips).
        self._strips: dict[int, tuple[Text, tuple[Any, ...], list[Strip]]] = {}

    # ------------------------------------------------------------- data from the poll

    def show(
        self,
        timeframe: str,
        candles: dict[str, np.ndarray],
        levels: dict[str, Any],
        prebuilt: Text | None = None,
        built_for: tuple[int, int] | None = None,
        *,
        view: chart.View | None = None,
        fills: list[dict[str, Any]] | None = None,
        first: int | None = None,
        last: int | None = None,
        sig: Any = None,
    ) -> None:
        """``sig``: the poll's signature of these candles, levels, fills and view; the same data as on
        screen (a poll after a timeframe key drawn from the kept candles, or nothing new) is not redrawn."""
        if sig is not None and timeframe == self.timeframe and sig == self._sig:
            return
        self._sig = sig
        if timeframe != self.timeframe:
            self.view = replace(
                chart.DEFAULT_VIEW,
                ema=self.view.ema,
                bb=self.view.bb,
                volume=self.view.volume,
                cursor=0 if self.view.cursor is not None else None,
            )
        self.timeframe = timeframe
        self.candles = candles
        self.levels = levels
        self.fills = fills or []
        self.first, self.last = first, last
        self._version += 1
        w, h = self.size.width, self.size.height
        if prebuilt is not None and built_for == (w, h) and (view is None or view == self.view):
            self._cache, self._cache_key = prebuilt, (self._version, w, h, self.view)
        if self.view.end is None:
            self._kept[timeframe] = {
                "candles": candles,
                "levels": levels,
                "fills": self.fills,
                "first": first,
                "last": last,
                "sig": sig,
                "built": None,
            }
        self._clamp()
        self._titles()
        self.refresh()

    def switch_to(self, timeframe: str) -> bool:
        """Show ``timeframe`` now from the candles last polled for it (the poll the key asks for replaces
        them a moment later), reusing the chart last drawn from them when the size and view still match.
        False (nothing changes) when it was never polled."""
        kept = self._kept.get(timeframe)
        if kept is None or timeframe == self.timeframe:
            return False
        text, built_for, built_view = kept["built"] or (None, None, None)
        self.show(
            timeframe,
            kept["candles"],
            kept["levels"],
            text,
            built_for,
            view=built_view,
            fills=kept["fills"],
            first=kept["first"],
            last=kept["last"],
            sig=kept["sig"],
        )
        return True

    @property
    def tf_ms(self) -> int:
        return timeframe_ms(self.timeframe)

    # ------------------------------------------------------------- keys

    def on_focus(self) -> None:
        if self.view.cursor is None:
            self._set_view(replace(self.view, cursor=0))

    def on_blur(self) -> None:
        if self.view.cursor is not None:
            self._set_view(replace(self.view, cursor=None))

    def action_cursor(self, bars: int) -> None:
        """Move the cursor ``bars`` bars back in time (negative: forward); at an edge, scroll."""
        v = self.view
        n = len(chart.window(self.candles, self.size.width, v).get("timestamp", ()))
        cur = (v.cursor or 0) + bars
        if 0 <= cur < n:
            self._set_view(replace(v, cursor=cur))
        elif cur >= n:
            self._scroll(cur - n + 1, replace(v, cursor=max(n - 1, 0)))
        else:
            self._scroll(cur, replace(v, cursor=0))

    def action_page(self, pages: int) -> None:
        self._scroll(pages * max(1, chart.bars_shown(self.size.width, self.view) - 1), self.view)

    def action_oldest(self) -> None:
        if self.first is None:
            return
        shown = chart.bars_shown(self.size.width, self.view) * self.view.merge
        v = replace(
            self.view,
            end=self.first + (shown - 1) * self.tf_ms,
            cursor=None if self.view.cursor is None else shown // self.view.merge - 1,
        )
        self._set_view(v)

    def action_newest(self) -> None:
        self._set_view(replace(self.view, end=None, cursor=None if self.view.cursor is None else 0))

    def action_zoom(self, step: int) -> None:
        self._set_view(self.view.zoomed(step))

    def action_leave(self) -> None:
        try:
            self.screen.query_one("#orders-table").focus()
        except Exception:  # noqa: BLE001 - no orders list on this screen
            self.screen.set_focus(None)

    def action_orders(self, direction: str) -> None:
        self.action_leave()
        for table in self.screen.query("#orders-table"):
            getattr(table, f"action_cursor_{direction}")()

    def toggle(self, overlay: str) -> None:
        """Switch an overlay ('ema', 'bb', 'volume') on or off."""
        self._set_view(replace(self.view, **{overlay: not getattr(self.view, overlay)}))

    def _scroll(self, bars: int, base: chart.View) -> None:
        v = chart.scrolled(base, self.candles, bars, self.tf_ms)
        if v.end is not None and self.last is not None and v.end >= self.last:
            v = replace(v, end=None)
        self._set_view(v)

    def _set_view(self, view: chart.View) -> None:
        if view == self.view:
            return
        self.view = view
        self._clamp()
        self._version += 1
        self._titles()
        self.refresh()
        if self._needs_data():
            request = getattr(self.app, "request_refresh", None)
            if request is not None:
                request()

    def _clamp(self) -> None:
        """Keep the view on stored candles: not before the oldest page, cursor on a shown bar."""
        v = self.view
        ts = np.asarray(self.candles.get("timestamp", ()), dtype=np.int64)
        if v.end is not None and len(ts) and self.first is not None and int(ts[0]) <= self.first:
            shown = chart.bars_shown(self.size.width, v) * v.merge
            floor = int(ts[min(shown, len(ts)) - 1])
            if v.end < floor:
                v = replace(v, end=floor)
        self.view = chart.clamp_cursor(v, self.candles, self.size.width)

    def _needs_data(self) -> bool:
        ts = np.asarray(self.candles.get("timestamp", ()), dtype=np.int64)
        if not len(ts):
            return False
        v, w = self.view, self.size.width
        at_oldest = self.first is not None and int(ts[0]) <= self.first
        at_newest = self.last is not None and int(ts[-1]) >= self.last
        if v.end is None:
            return not at_newest or (len(ts) < chart.candles_needed(w, v) and not at_oldest)
        upto = int(np.searchsorted(ts, v.end, side="right"))
        ahead = len(ts) - upto
        return (upto < chart.candles_needed(w, v) and not at_oldest) or (
            ahead < chart.bars_shown(w, v) * v.merge and not at_newest
        )

    # ------------------------------------------------------------- drawing

    def on_resize(self) -> None:
        self._clamp()
        self._titles()

    def _titles(self) -> None:
        self.border_title = chart_title(self.timeframe, self.view)
        w = self.size.width
        if self.view.cursor is not None:
            self.border_subtitle = chart.readout(self.candles, w, self.view, self.fills, self.tf_ms)
        else:
            where = "" if self.view.end is None else "  [reverse] history: End for live [/]"
            self.border_subtitle = chart.subtitle(chart.window(self.candles, w, self.view), self.timeframe) + where

    def render(self) -> Text:
        # Rebuild only when the data, the view or the size changed, not on every repaint (e.g. coming
        # back from another screen).
        w, h = self.size.width, self.size.height
        key = (self._version, w, h, self.view)
        if key != self._cache_key or self._cache is None:
            self._cache = chart.build(
                self.candles,
                self.levels,
                self.timeframe,
                w,
                h,
                view=self.view,
                fills=self.fills,
                timeframe_ms=self.tf_ms,
            )
            self._cache_key = key
        kept = self._kept.get(self.timeframe)
        if kept is not None and kept["candles"] is self.candles:
            kept["built"] = (self._cache, (w, h), self.view)
        return self._cache

    def render_line(self, y: int) -> Strip:
        """Line API: the chart's rows converted for the screen once per chart, size and style, and kept
        for the last few charts, so going back to a timeframe (or to the main screen) repaints without
        converting its ~600 styled runs again (Textual's default converts on every refresh)."""
        w, h = self.size
        text = self.render()
        style = self.visual_style
        kept = self._strips.get(id(text))
        under = (w, h, style, self.text_selection)  # a mouse selection is drawn into the strips
        if kept is None or kept[0] is not text or kept[1] != under:
            kept = (text, under, self._to_strips(text, w, h, style))
            self._strips.pop(id(text), None)
            self._strips[id(text)] = kept
            while len(self._strips) > STRIPS_KEPT:
                del self._strips[next(iter(self._strips))]
        strips = kept[2]
        return strips[y] if 0 <= y < len(strips) else Strip.blank(w, style.rich_style)

    def _to_strips(self, text: Text, w: int, h: int, style: Any) -> list[Strip]:
        """The chart's rows as strips: Rich renders the Text's runs and each segment gets the widget's
        base style and its cell offset (what a mouse selection starts from), as Textual's own conversion
        gives them, in a fraction of its time (1.7 ms instead of 13 for a 92x16 chart, measured; it was
        most of a timeframe switch on the event loop). A selection in progress is drawn by Textual's."""
        if self.text_selection is not None:
            return Visual.to_strips(self, visualize(self, text, markup=False), w, h, style)
        base = style.rich_style
        strips: list[Strip] = []
        for y, line in enumerate(
            Segment.split_and_crop_lines(text.render(self.app.console), w, pad=True, include_new_lines=False)
        ):
            if y >= h:
                break
            x, segs = 0, []
            for seg in line:
                styled = base + seg.style if seg.style else base
                segs.append(Segment(seg.text, styled + RichStyle.from_meta({"offset": (x, y)})))
                x += seg.cell_length
            strips.append(Strip(segs, w))
        while len(strips) < h:
            strips.append(Strip.blank(w, base))
        return strips
