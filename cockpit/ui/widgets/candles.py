"""CandlesChart: the selected timeframe's candles with EMA 12/26, Bollinger(20, 2) and the open
position's entry / stop-loss / take-profit lines (textual-plotext; plain ANSI colours so the
chart reads the same without truecolor)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from rich.text import Text
from textual_plotext import PlotextPlot

from cockpit.ui.render import bollinger, ema

TF_KEYS = {"15m": "1", "1h": "2", "4h": "3", "1d": "4"}


def chart_title(timeframe: str) -> str:
    keys = " ".join(f"[{k}]{tf}" if tf != timeframe else f"[{k}][b]{tf}[/b]" for tf, k in TF_KEYS.items())
    return f"Candles {timeframe}  {keys}"


class CandlesChart(PlotextPlot):
    """Draws from plain arrays handed over by the app; never reads the database itself."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.theme = "clear"
        self.timeframe = "1h"
        self.candles: dict[str, np.ndarray] = {}
        self.levels: dict[str, float] = {}
        self._version = 0
        self._cache_key: tuple = ()
        self._cache: Text | None = None

    def show(self, timeframe: str, candles: dict[str, np.ndarray], levels: dict[str, float]) -> None:
        self.timeframe = timeframe
        self.candles = candles
        self.levels = levels
        self._version += 1
        self._subtitle()
        self.refresh()

    def on_resize(self) -> None:
        self._subtitle()

    def _visible(self) -> dict[str, np.ndarray]:
        """One column per candle: the newest that fit the plot area (width minus the y axis)."""
        c = self.candles
        fit = max(10, self.size.width - 12) if self.size.width else 120
        if len(c.get("timestamp", ())) > fit:
            c = {k: v[-fit:] for k, v in c.items()}
        return c

    def _subtitle(self) -> None:
        ts = self._visible().get("timestamp", ())
        if not len(ts):
            self.border_subtitle = ""
            return
        fmt = "%Y-%m-%d" if self.timeframe == "1d" else "%m-%d %H:%M"
        self.border_subtitle = (f"{time.strftime(fmt, time.gmtime(int(ts[0]) / 1000))} → "
                                f"{time.strftime(fmt, time.gmtime(int(ts[-1]) / 1000))} UTC · {len(ts)} bars")

    def render(self) -> Text:
        # Building a plotext chart costs tens of ms: rebuild only when the data or the size changed,
        # not on every repaint (e.g. coming back from another screen).
        w, h = self.size.width, self.size.height
        key = (self._version, w, h)
        if key != self._cache_key or self._cache is None:
            self._draw()
            self._plot.plotsize(w, h)
            self._plot._set_size(w, h)
            self._plot.theme("clear")
            self._cache = Text.from_ansi(self._plot.build())
            self._cache_key = key
        return self._cache

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.theme("clear")
        if self.size.width and self.size.height:
            plt.plotsize(self.size.width, self.size.height)
        c = self._visible()
        n = len(c.get("timestamp", ()))
        if n == 0:
            plt.title(f"no {self.timeframe} candles in the database yet")
            return
        x = list(range(n))
        close = c["close"]
        if n >= 2:
            plt.plot(x, ema(close, 12).tolist(), color="yellow", marker="braille", label="EMA12")
            plt.plot(x, ema(close, 26).tolist(), color="magenta", marker="braille", label="EMA26")
        mid, up, lo = bollinger(close, 20, 2.0)
        ok = ~np.isnan(mid)
        if ok.any():
            xs = [i for i in x if ok[i]]
            plt.plot(xs, up[ok].tolist(), color="cyan", marker="braille", label="BB")
            plt.plot(xs, lo[ok].tolist(), color="cyan", marker="braille")
        for name, color in (("entry", "white"), ("SL", "red"), ("TP", "green")):
            v = self.levels.get(name)
            if v:
                plt.hline(float(v), color)
                plt.text(name, x=n - 1, y=float(v), color=color, alignment="right")
        # Candles last, so the overlays never hide a body.
        plt.candlestick(x, {"Open": c["open"].tolist(), "Close": close.tolist(), "High": c["high"].tolist(),
                            "Low": c["low"].tolist()}, colors=["green", "red"])
        # Time labels go in the border subtitle: plotext's x-label layout varies with the hash seed,
        # which would make snapshots flaky.
        plt.xticks([], [])
