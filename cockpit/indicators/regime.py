"""Market regime classifier: trending up / trending down / ranging / high volatility.

Rules, in order, for bar t (thresholds from config ``regime:``):

1. high_volatility when the realised volatility (std of the last ``vol_window`` log returns) is at
   or above the ``vol_high_pct`` percentile of its own last ``vol_lookback`` values;
2. trending_up / trending_down when ADX(adx_period) >= adx_trend, by the sign of the least-squares
   slope of log(close) over the last ``slope_window`` bars;
3. ranging otherwise; unknown while any input is still warming up.

Only bars <= t are used.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cockpit.domain.settings import RegimeConfig
from cockpit.domain.signals import Regime
from cockpit.indicators import core as ind

REGIME_CODES: tuple[Regime, ...] = (
    Regime.UNKNOWN,
    Regime.TRENDING_UP,
    Regime.TRENDING_DOWN,
    Regime.RANGING,
    Regime.HIGH_VOLATILITY,
)

DEFAULTS: RegimeConfig = {
    "adx_period": 14,
    "adx_trend": 25.0,
    "vol_window": 24,
    "vol_lookback": 500,
    "vol_high_pct": 0.9,
    "slope_window": 20,
}


def rolling_percentile_rank(x: np.ndarray, w: int, *, last_only: bool = False) -> np.ndarray:
    """Fraction of the last ``w`` values (the current one included) that are <= the current value.
    NaN until w finite values are available."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    out = np.full(n, np.nan)
    if n < w:
        return out
    if last_only:  # the newest value alone, the same arithmetic without the window view
        win = x[n - w :]
        if np.isfinite(win).all():
            out[-1] = np.count_nonzero(win <= win[-1]) / w
        return out
    start = w - 1
    chunk = max(1, 2_000_000 // w)
    for s in range(start, n, chunk):
        e = min(n, s + chunk)
        win = sliding_window_view(x[s - w + 1 : e], w)
        cur = x[s:e, None]
        with np.errstate(invalid="ignore"):
            r = (win <= cur).sum(axis=1) / w
        r[~np.isfinite(win).all(axis=1)] = np.nan
        out[s:e] = r
    return out


class RegimeClassifier:
    def __init__(self, cfg: RegimeConfig | None = None) -> None:
        given: Mapping[str, Any] = cfg or {}
        self.cfg = cast(RegimeConfig, {**DEFAULTS, **{k: v for k, v in given.items() if k in DEFAULTS}})

    def components(
        self,
        a: Mapping[str, np.ndarray],
        *,
        last_only: bool = False,
        pre: Mapping[tuple[str, int], np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """``pre``: series the caller already computed over the same ``a``, keyed ("adx", period), ("vol", window)
        and ("slope", window); used instead of computing them again. With ``last_only`` they may be the
        trailing part of the series only (what the last bar reads: the volatility's last ``vol_lookback``
        values, the slope's last value)."""
        c = self.cfg
        pre = pre or {}
        close = np.asarray(a["close"], dtype=np.float64)
        adx = pre.get(("adx", c["adx_period"]))
        if adx is None:
            adx, _, _ = ind.adx(a["high"], a["low"], close, c["adx_period"])
        vol = pre.get(("vol", c["vol_window"]))
        if vol is None:
            vol = ind.realized_vol(close, c["vol_window"])
        pct = rolling_percentile_rank(vol, c["vol_lookback"], last_only=last_only)
        slope = pre.get(("slope", int(c["slope_window"])))
        if slope is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = ind.linreg_slope(np.log(close), c["slope_window"])
        return {"adx": adx, "vol": vol, "vol_pct": pct, "slope": slope}

    def classify_series(self, a: Mapping[str, np.ndarray]) -> np.ndarray:
        """Regime code per bar (an index into REGIME_CODES)."""
        return self._codes(self.components(a))

    def _codes(self, comp: dict[str, np.ndarray]) -> np.ndarray:
        c = self.cfg
        adx, pct, slope = comp["adx"], comp["vol_pct"], comp["slope"]
        ready = np.isfinite(adx) & np.isfinite(pct) & np.isfinite(slope)
        with np.errstate(invalid="ignore"):
            code = np.where(pct >= c["vol_high_pct"], 4, np.where(adx >= c["adx_trend"], np.where(slope >= 0, 1, 2), 3))
        return np.where(ready, code, 0).astype(np.int8)

    def classify(
        self, a: Mapping[str, np.ndarray], *, pre: Mapping[tuple[str, int], np.ndarray] | None = None
    ) -> tuple[Regime, dict[str, Any]]:
        """The regime of the newest bar and the numbers behind it (``pre``: see ``components``)."""
        if len(a["close"]) == 0:
            return Regime.UNKNOWN, {}
        comp = self.components(a, last_only=True, pre=pre)
        code = int(self._codes({k: v[-1:] for k, v in comp.items()})[0])

        def num(v: float) -> float | None:
            return float(f"{v:.6g}") if math.isfinite(v) else None

        return REGIME_CODES[code], {k: num(float(v[-1])) for k, v in comp.items()}
