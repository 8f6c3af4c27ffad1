"""TechnicalAnalysis.report: one plain, JSON-able dict per decision.

The prompt builder, the UI's technical pane and ``decisions.technical_analysis`` all use this dict,
so they show the same numbers. Shape::

    {"primary_timeframe": "1h", "regime": "ranging", "summary": "1h: ranging, close 64210.5 ...",
     "timeframes": {"1h": {"bars": 500, "timestamp": ..., "close": ..., "change_pct": ...,
        "ema": {"ema12": .., "ema26": .., "ema50": .., "ema200": ..}, "sma20": .., "rsi14": ..,
        "macd": {"macd": .., "signal": .., "hist": ..},
        "bollinger": {"upper": .., "middle": .., "lower": .., "percent_b": .., "bandwidth": ..},
        "atr14": .., "atr_pct": .., "adx": {"adx": .., "plus_di": .., "minus_di": ..},
        "donchian20": {"upper": .., "middle": .., "lower": ..}, "obv": .., "obv_change_20": ..,
        "vwap14": .., "realized_vol24": .., "zscore20": .., "trend": "up|down|flat",
        "patterns": [...], "levels": {"support": [...], "resistance": [...]},
        "regime": "...", "regime_inputs": {...}}, ...}}

Values are floats rounded to 8 significant digits, or None while an indicator is warming up.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from cockpit.domain.market import TIMEFRAME_MS
from cockpit.domain.settings import RegimeConfig
from cockpit.indicators import core as ind
from cockpit.indicators.patterns import PatternRecognizer
from cockpit.indicators.regime import RegimeClassifier


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    return float(f"{f:.8g}")


def _copy(x: Any) -> Any:
    """A copy of a report (dicts, lists and scalars only): copy.deepcopy's result, several times faster."""
    if isinstance(x, dict):
        return {k: _copy(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_copy(v) for v in x]
    return x


def _last(x: np.ndarray) -> float | None:
    return _num(x[-1]) if len(x) else None


class TechnicalAnalysis:
    def __init__(self, regime_cfg: RegimeConfig | None = None, *, tail: int = 2000) -> None:
        self.regime = RegimeClassifier(regime_cfg)
        self.patterns = PatternRecognizer()
        self.tail = tail  # bars used per timeframe (EMA200 converges well within 2000)
        # Per timeframe: the (tail) arrays the last report was computed from, and that report. A timeframe
        # whose candles have not changed since the previous decision (a higher timeframe between its
        # closes) is not recomputed; any difference at all recomputes it.
        self._last: dict[str, tuple[int, dict[str, np.ndarray], dict[str, Any]]] = {}

    def timeframe_report(self, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
        n = len(arrays["close"])
        if n == 0:
            return {"bars": 0}
        a = {k: np.asarray(v)[-self.tail :] for k, v in arrays.items()}
        h, lo, c, v = (np.asarray(a[k], dtype=np.float64) for k in ("high", "low", "close", "volume"))
        up, mid, lw = ind.bollinger(c, 20, 2.0)
        # Each shared indicator once: ADX and realized volatility feed the regime classifier. MACD is its one
        # fused pass (the EMA of the line through ind.ema would take the numpy form: the line starts with NaNs).
        emas = {p: ind.ema(c, p) for p in (12, 26, 50, 200)}
        m_line, m_sig, m_hist = ind.macd(c, 12, 26, 9)
        adx, pdi, mdi = ind.adx(h, lo, c, 14)
        # Indicators over a fixed window are computed over the bars their last value (or, for the volatility,
        # the regime's percentile lookback of it) reads, not the whole history: the same values to rounding
        # (tests/indicators/test_analysis_fast.py), at a fraction of the cost. The recursive ones (EMA, RSI,
        # ATR, ADX) and OBV depend on every bar and take the whole history.
        rc = self.regime.cfg
        vol24 = ind.realized_vol(c[-(max(int(rc["vol_lookback"]), 1) + 24) :], 24)
        sw = int(rc["slope_window"])
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.array([ind.linreg_slope_last(np.log(c[-sw:]), sw)])
        atr = ind.atr(h, lo, c, 14)
        dc_u, dc_l = (float(h[-20:].max()), float(lo[-20:].min())) if len(h) >= 20 else (math.nan, math.nan)
        dc_m = (dc_u + dc_l) / 2.0
        obv = ind.obv(c, v)
        ema_fast, ema_slow = emas[12], emas[26]
        close = float(c[-1])
        bw = (up[-1] - lw[-1]) / mid[-1] if np.isfinite(mid[-1]) and mid[-1] else float("nan")
        pb = (close - lw[-1]) / (up[-1] - lw[-1]) if np.isfinite(up[-1]) and up[-1] > lw[-1] else float("nan")
        ef, es = ema_fast[-1], ema_slow[-1]
        trend = "flat"
        if np.isfinite(ef) and np.isfinite(es):
            trend = "up" if ef > es and close > es else "down" if ef < es and close < es else "flat"
        regime, inputs = self.regime.classify(a, pre={("adx", 14): adx, ("vol", 24): vol24, ("slope", sw): slope})
        atr_last = float(atr[-1]) if np.isfinite(atr[-1]) else None
        return {
            "bars": int(n),
            "timestamp": int(a["timestamp"][-1]) if "timestamp" in a else None,
            "close": _num(close),
            "change_pct": _num((close / c[-2] - 1) * 100) if len(c) > 1 and c[-2] else None,
            "ema": {f"ema{p}": _last(e) for p, e in emas.items()},
            "sma20": _last(mid),
            "rsi14": _last(ind.rsi(c, 14)),
            "macd": {"macd": _last(m_line), "signal": _last(m_sig), "hist": _last(m_hist)},
            "bollinger": {
                "upper": _last(up),
                "middle": _last(mid),
                "lower": _last(lw),
                "percent_b": _num(pb),
                "bandwidth": _num(bw),
            },
            "atr14": _num(atr_last),
            "atr_pct": _num(atr_last / close * 100) if atr_last and close else None,
            "adx": {"adx": _last(adx), "plus_di": _last(pdi), "minus_di": _last(mdi)},
            "donchian20": {"upper": _num(dc_u), "middle": _num(dc_m), "lower": _num(dc_l)},
            "obv": _last(obv),
            "obv_change_20": _num(obv[-1] - obv[-21]) if len(obv) > 20 else None,
            "vwap14": _num(ind.vwap_last(h, lo, c, v, 14)),
            "realized_vol24": _last(vol24),
            "zscore20": _num(ind.zscore_last(c, 20)),
            "trend": trend,
            "patterns": self.patterns.latest(a),
            "levels": self.patterns.levels(a, atr_last),
            "regime": regime.value,
            "regime_inputs": inputs,
        }

    def _timeframe_report_reusing(self, tf: str, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """timeframe_report, reused when this timeframe's candles equal (every column, bit for bit) the
        ones of the previous report; a copy, so a caller changing the dict cannot change the next one."""
        n = len(arrays["close"])
        a = {k: np.asarray(v)[-self.tail :] for k, v in arrays.items()}
        prev = self._last.get(tf)
        if (
            prev is not None
            and prev[0] == n
            and prev[1].keys() == a.keys()
            and all(prev[1][k].dtype == a[k].dtype and np.array_equal(prev[1][k], a[k]) for k in a)
        ):
            return _copy(prev[2])
        rep = self.timeframe_report(arrays)
        self._last[tf] = (n, {k: v.copy() for k, v in a.items()}, _copy(rep))
        return rep

    def report(
        self, arrays_by_tf: Mapping[str, Mapping[str, np.ndarray]], primary: str | None = None
    ) -> dict[str, Any]:
        tfs = sorted(arrays_by_tf, key=lambda t: TIMEFRAME_MS.get(t, 0))
        per = {tf: self._timeframe_report_reusing(tf, arrays_by_tf[tf]) for tf in tfs}
        if primary is None or primary not in per:
            primary = next((tf for tf in tfs if per[tf].get("bars")), tfs[0] if tfs else None)
        p = per.get(primary, {}) if primary else {}
        parts = []
        for tf in tfs:
            r = per[tf]
            if r.get("bars"):
                parts.append(f"{tf}: {r['regime']}, trend {r['trend']}, close {r['close']}, RSI {r['rsi14']}")
        return {
            "primary_timeframe": primary,
            "regime": p.get("regime", "unknown"),
            "summary": "; ".join(parts) or "no candles",
            "timeframes": per,
        }
