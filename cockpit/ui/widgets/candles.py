"""CandlesChart: the selected timeframe's candles with EMA 12/26, Bollinger(20, 2) and the open
position's entry / stop-loss / take-profit lines (cockpit.ui.chart; plain ANSI colours so the
chart reads the same without truecolor). The poll worker usually hands over the chart already
built for the current size; the widget builds it itself only after a resize."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.text import Text
from textual.widget import Widget

from cockpit.ui import chart

TF_KEYS = {"15m": "1", "1h": "2", "4h": "3", "1d": "4"}


def chart_title(timeframe: str) -> str:
    keys = " ".join(f"[{k}]{tf}" if tf != timeframe else f"[{k}][b]{tf}[/b]" for tf, k in TF_KEYS.items())
    return f"Candles {timeframe}  {keys}"


class CandlesChart(Widget):
    """Draws from plain arrays handed over by the app; never reads the database itself."""

    DEFAULT_CSS = "CandlesChart { width: 1fr; height: 1fr; }"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.timeframe = "1h"
        self.candles: dict[str, np.ndarray] = {}
        self.levels: dict[str, Any] = {}
        self._version = 0
        self._cache_key: tuple = ()
        self._cache: Text | None = None

    def show(self, timeframe: str, candles: dict[str, np.ndarray], levels: dict[str, Any],
             prebuilt: Text | None = None, built_for: tuple[int, int] | None = None) -> None:
        self.timeframe = timeframe
        self.candles = candles
        self.levels = levels
        self._version += 1
        w, h = self.size.width, self.size.height
        if prebuilt is not None and built_for == (w, h):
            self._cache, self._cache_key = prebuilt, (self._version, w, h)
        self._subtitle()
        self.refresh()

    def on_resize(self) -> None:
        self._subtitle()

    def _subtitle(self) -> None:
        self.border_subtitle = chart.subtitle(chart.visible(self.candles, self.size.width), self.timeframe)

    def render(self) -> Text:
        # Rebuild only when the data or the size changed, not on every repaint (e.g. coming back
        # from another screen).
        w, h = self.size.width, self.size.height
        key = (self._version, w, h)
        if key != self._cache_key or self._cache is None:
            self._cache = chart.build(self.candles, self.levels, self.timeframe, w, h)
            self._cache_key = key
        return self._cache
