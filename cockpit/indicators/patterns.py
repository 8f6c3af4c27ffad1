"""Candlestick and price-structure patterns, vectorised, without look-ahead.

``PatternRecognizer.detect(arrays)`` gives one boolean array per pattern (value at bar t uses bars
<= t); ``latest(arrays)`` names the patterns on the newest bar; ``levels(arrays)`` finds support and
resistance from confirmed swing points (a pivot at bar i is only known k bars later, at i + k).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from cockpit.indicators import core as ind

PATTERNS = (
    "bullish_engulfing",
    "bearish_engulfing",
    "doji",
    "hammer",
    "shooting_star",
    "inside_bar",
    "higher_highs",
    "lower_lows",
)


class PatternRecognizer:
    """Rules (o/h/l/c of the bar, p* of the previous bar; body = |c - o|, range = h - l):

    * bullish_engulfing: previous bar bearish, this bar bullish, its body covers the previous body.
    * bearish_engulfing: the mirror.
    * doji: body <= doji_frac * range.
    * hammer: lower shadow >= 2*body, upper shadow <= body (or <= 10% of range), after a decline
      (close below the close ``trend_bars`` ago). shooting_star: the mirror after a rise.
    * inside_bar: high below the previous high and low above the previous low.
    * higher_highs / lower_lows: ``swing_bars`` consecutive higher highs and higher lows (or lower
      highs and lower lows).
    """

    def __init__(
        self,
        *,
        doji_frac: float = 0.1,
        trend_bars: int = 5,
        swing_bars: int = 3,
        pivot_k: int = 3,
        level_lookback: int = 300,
        max_levels: int = 3,
    ) -> None:
        self.doji_frac = doji_frac
        self.trend_bars = trend_bars
        self.swing_bars = swing_bars
        self.pivot_k = pivot_k
        self.level_lookback = level_lookback
        self.max_levels = max_levels

    def _rules(self, o, h, lo, c, po, ph, pl, pc, past, hs, ls) -> dict[str, Any]:
        """The rules once, for whole arrays (``detect``) and for one bar's floats (``latest``): the bar, the
        previous bar (p*), the close ``trend_bars`` ago, and the highs/lows 0..swing_bars bars ago; NaN where a
        bar is before the start (every comparison with it is False)."""
        body = abs(c - o)
        rng = h - lo
        upper = h - np.maximum(o, c)
        lower = np.minimum(o, c) - lo
        pbody = abs(pc - po)
        bull_eng = (pc < po) & (c > o) & (o <= pc) & (c >= po) & (body > pbody)
        bear_eng = (pc > po) & (c < o) & (o >= pc) & (c <= po) & (body > pbody)
        doji = (rng > 0) & (body <= self.doji_frac * rng)
        small_top = upper <= np.maximum(body, 0.1 * rng)
        small_bottom = lower <= np.maximum(body, 0.1 * rng)
        hammer = (rng > 0) & (lower >= 2 * body) & small_top & (c < past) & (lower > 0.5 * rng)
        star = (rng > 0) & (upper >= 2 * body) & small_bottom & (c > past) & (upper > 0.5 * rng)
        inside = (h < ph) & (lo > pl)
        hh: Any = True
        ll: Any = True
        for k in range(self.swing_bars):
            hh = hh & (hs[k] > hs[k + 1]) & (ls[k] > ls[k + 1])
            ll = ll & (hs[k] < hs[k + 1]) & (ls[k] < ls[k + 1])
        return {
            "bullish_engulfing": bull_eng,
            "bearish_engulfing": bear_eng,
            "doji": doji,
            "hammer": hammer,
            "shooting_star": star,
            "inside_bar": inside,
            "higher_highs": hh,
            "lower_lows": ll,
        }

    def detect(self, a: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        o, h, lo, c = (np.asarray(a[k], dtype=np.float64) for k in ("open", "high", "low", "close"))
        po, ph, pl, pc = (ind.shift(x, 1) for x in (o, h, lo, c))
        hs = [ind.shift(h, k) for k in range(self.swing_bars + 1)]
        ls = [ind.shift(lo, k) for k in range(self.swing_bars + 1)]
        with np.errstate(invalid="ignore"):
            out = self._rules(o, h, lo, c, po, ph, pl, pc, ind.shift(c, self.trend_bars), hs, ls)
        n = len(c)
        return {k: (np.full(n, bool(v)) if np.ndim(v) == 0 else v) for k, v in out.items()}

    def latest(self, a: Mapping[str, np.ndarray]) -> list[str]:
        n = len(a["close"])
        if n == 0:
            return []
        o, h, lo, c = (
            np.asarray(a[k], dtype=np.float64)[-(self.swing_bars + self.trend_bars + 2) :].tolist()
            for k in ("open", "high", "low", "close")
        )

        def ago(x: list[float], k: int) -> float:
            return x[-1 - k] if k < len(x) else math.nan

        hs = [ago(h, k) for k in range(self.swing_bars + 1)]
        ls = [ago(lo, k) for k in range(self.swing_bars + 1)]
        out = self._rules(
            o[-1], h[-1], lo[-1], c[-1], ago(o, 1), ago(h, 1), ago(lo, 1), ago(c, 1), ago(c, self.trend_bars), hs, ls
        )
        return [name for name, v in out.items() if bool(v)]

    def pivots(self, a: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Indices of confirmed swing highs and lows: bar i is a pivot if it is the extreme of bars
        i-k..i+k (only usable from bar i+k on)."""
        k = self.pivot_k
        h = np.asarray(a["high"], dtype=np.float64)
        lo = np.asarray(a["low"], dtype=np.float64)
        w = 2 * k + 1
        if len(h) < w:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        # the extremes of the windows centred on i = t - k: w shifted views (w is small; rolling_max's block
        # method pays off on long windows only)
        m = len(h) - w + 1
        mx = h[:m].copy()
        mn = lo[:m].copy()
        for j in range(1, w):
            np.maximum(mx, h[j : j + m], out=mx)
            np.minimum(mn, lo[j : j + m], out=mn)
        centre = np.arange(k, len(h) - k)
        return centre[h[centre] >= mx], centre[lo[centre] <= mn]

    def levels(self, a: Mapping[str, np.ndarray], atr: float | None = None) -> dict[str, list[dict[str, Any]]]:
        """Support below and resistance above the last close: clusters of swing points (within half an
        ATR, or 0.3% of price) in the last ``level_lookback`` bars, nearest first, with touch counts."""
        n = len(a["close"])
        if n == 0:
            return {"support": [], "resistance": []}
        s = max(0, n - self.level_lookback)
        tail = {k: np.asarray(a[k])[s:] for k in ("high", "low", "close")}
        close = float(tail["close"][-1])
        tol = 0.5 * atr if atr and np.isfinite(atr) and atr > 0 else 0.003 * close
        hi_idx, lo_idx = self.pivots(tail)
        prices = np.concatenate([tail["high"][hi_idx], tail["low"][lo_idx]])
        if len(prices) == 0:
            return {"support": [], "resistance": []}
        prices.sort()
        pl = prices.tolist()  # Python floats: the loop below runs per price
        clusters: list[list[float]] = [[pl[0]]]
        for p in pl[1:]:
            if p - clusters[-1][-1] <= tol:
                clusters[-1].append(p)
            else:
                clusters.append([p])
        lv = [(math.fsum(cl) / len(cl), len(cl)) for cl in clusters]  # the mean (np.mean's, to rounding)
        sup = sorted((x for x in lv if x[0] < close), key=lambda x: close - x[0])[: self.max_levels]
        res = sorted((x for x in lv if x[0] >= close), key=lambda x: x[0] - close)[: self.max_levels]
        return {
            "support": [{"price": round(p, 2), "touches": t} for p, t in sup],
            "resistance": [{"price": round(p, 2), "touches": t} for p, t in res],
        }
