"""Building the candles chart as Rich Text, away from the widget so the poll worker can do it.

A plotext build of a 160-column chart costs tens of milliseconds of pure Python; done in the poll
worker thread, the event loop only swaps in the finished Text. Touches no widget.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from rich.text import Text
from textual_plotext.plot import Plot

from cockpit.ui.render import bollinger, ema, position_parts

Y_AXIS = 12  # columns plotext uses for the y axis and frame


def visible(candles: dict[str, np.ndarray], width: int) -> dict[str, np.ndarray]:
    """One column per candle: the newest that fit the plot area."""
    fit = max(10, width - Y_AXIS) if width else 120
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


def build(candles: dict[str, np.ndarray], lv: dict[str, Any], timeframe: str, width: int, height: int) -> Text:
    plt = Plot()
    plt.theme("clear")
    plt.plotsize(width, height)
    c = visible(candles, width)
    n = len(c.get("timestamp", ()))
    if n == 0:
        plt.title(f"no {timeframe} candles in the database yet")
    else:
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
            v = lv.get(name)
            if v:
                plt.hline(float(v), color)
                plt.text(name, x=n - 1, y=float(v), color=color, alignment="right")
        # Candles last, so the overlays never hide a body.
        plt.candlestick(x, {"Open": c["open"].tolist(), "Close": close.tolist(), "High": c["high"].tolist(),
                            "Low": c["low"].tolist()}, colors=["green", "red"])
        # Time labels go in the border subtitle: plotext's x-label layout varies with the hash seed,
        # which would make snapshots flaky.
        plt.xticks([], [])
    plt._set_size(width, height)
    return Text.from_ansi(plt.build())
