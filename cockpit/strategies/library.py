"""The strategy library: the seed's ten strategies.

Each class docstring states its rules; ``PARAMS`` declares every parameter with its range (the
defaults are repeated in config.yaml). All are vectorised (``_generate``) and so free of look-ahead
by construction: every input at bar t is an indicator value at t, a value of bar t-1 or earlier
(``shift``), or funding/on-chain data stamped no later than bar t's close time.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from cockpit.domain.errors import ConfigError
from cockpit.domain.market import timeframe_ms
from cockpit.indicators import core as ind
from cockpit.strategies.base import Arrays, Param, SignalFrame, Strategy, finish_frame

STOP = Param(2.0, 0.1, 20.0, doc="stop-loss distance in ATRs")
ATR = Param(14, 2, 500, "int", doc="ATR period")


def _p(default: float, lo: float, hi: float, doc: str = "") -> Param:
    return Param(default, lo, hi, "float", doc=doc)


def _i(default: int, lo: int, hi: int, doc: str = "") -> Param:
    return Param(default, lo, hi, "int", doc=doc)


def latch(long_in: np.ndarray, short_in: np.ndarray, long_out: np.ndarray, short_out: np.ndarray) -> np.ndarray:
    """Position state from entry/exit events, vectorised: long from a long entry until a long exit or a
    short entry, and the mirror for shorts. Uses only events at or before each bar."""
    n = len(long_in)
    idx = np.arange(n)
    last_l = np.maximum.accumulate(np.where(long_in, idx, -1))
    last_s = np.maximum.accumulate(np.where(short_in, idx, -1))
    last_xl = np.maximum.accumulate(np.where(long_out & ~long_in, idx, -1))
    last_xs = np.maximum.accumulate(np.where(short_out & ~short_in, idx, -1))
    long_ = (last_l >= 0) & (last_l > last_s) & (last_l > last_xl)
    short = (last_s >= 0) & (last_s > last_l) & (last_s > last_xs)
    return long_.astype(np.int8) - short.astype(np.int8)


def _take(close: np.ndarray, atr: np.ndarray, take_atr: float) -> tuple[np.ndarray | None, np.ndarray | None]:
    if take_atr <= 0:
        return None, None
    return close + take_atr * atr, close - take_atr * atr


def _align_asof(bar_close_ms: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Index of the last point with timestamp <= each bar's close time (-1 if none)."""
    return np.searchsorted(ts, bar_close_ms, side="right") - 1


class EmaTrend(Strategy):
    """EMA trend following.

    Long while EMA(fast) > EMA(slow), short while EMA(fast) < EMA(slow): a plain cross, so the
    direction changes only when the EMAs cross (the close dipping through the slow EMA does not
    flip it). Strength = EMA gap / ATR (capped at 1). Stop = close -/+ stop_atr*ATR. A trend
    follower rides the trend: no take-profit by default (take_atr = 0); with take_atr > 0 the
    take-profit is close +/- take_atr*ATR.
    """

    name = "ema_trend"
    PARAMS = {
        "fast": _i(12, 2, 200),
        "slow": _i(26, 3, 500),
        "atr_period": ATR,
        "stop_atr": STOP,
        "take_atr": _p(0.0, 0.0, 50.0),
    }

    @classmethod
    def _cross_check(cls, p, base):
        if p["fast"] >= p["slow"]:
            raise ConfigError(f"{base}.fast", f"must be below slow ({p['slow']}), got {p['fast']}")

    def _generate(self, a, funding, extra):
        p = self.params
        c = a["close"]
        f, s = ind.ema(c, p["fast"]), ind.ema(c, p["slow"])
        atr = ind.atr(a["high"], a["low"], c, p["atr_period"])
        d = np.where(f > s, 1, np.where(f < s, -1, 0))
        reasons = (
            "no trend: EMAs equal (or warming up)",
            f"EMA{p['fast']} above EMA{p['slow']}",
            f"EMA{p['fast']} below EMA{p['slow']}",
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            strength = np.abs(f - s) / atr
        tl, ts = _take(c, atr, p["take_atr"])
        return finish_frame(
            d, strength, c, p["stop_atr"] * atr, tl, ts, np.where(d > 0, 1, np.where(d < 0, 2, 0)), reasons
        )


class BollingerRange(Strategy):
    """Bollinger range trading (fade band touches only in ranging markets).

    When ADX < adx_max: a close below the lower band enters long, above the upper band enters
    short; the position is held until the close reaches the middle band (the fade's target, also
    the take-profit) or the stop. With ADX >= adx_max (a trend) no new position is entered.
    Strength = |z| / (2*std), at least 0.25 while held. Stop = close -/+ stop_atr*ATR.
    """

    name = "bollinger_range"
    PARAMS = {
        "period": _i(20, 5, 500),
        "std": _p(2.0, 0.5, 5.0),
        "adx_max": _p(25.0, 5.0, 100.0),
        "adx_period": _i(14, 2, 200),
        "atr_period": ATR,
        "stop_atr": _p(1.5, 0.1, 20.0),
    }

    def _generate(self, a, funding, extra):
        p = self.params
        c = a["close"]
        up, mid, lo = ind.bollinger(c, p["period"], p["std"])
        adx, _, _ = ind.adx(a["high"], a["low"], c, p["adx_period"])
        atr = ind.atr(a["high"], a["low"], c, p["atr_period"])
        ranging = adx < p["adx_max"]
        long_in, short_in = ranging & (c < lo), ranging & (c > up)
        d = latch(long_in, short_in, c >= mid, c <= mid)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (c - mid) / ((up - mid) / p["std"])
        fresh = (d > 0) & long_in | (d < 0) & short_in
        reason = np.where(
            d == 0,
            np.where(~ranging & np.isfinite(adx), 3, 0),
            np.where(fresh, np.where(d > 0, 1, 2), np.where(d > 0, 4, 5)),
        )
        reasons = (
            "inside the bands (or warming up)",
            f"close below the lower band (ADX < {p['adx_max']:g}): fade to the middle band",
            f"close above the upper band (ADX < {p['adx_max']:g}): fade to the middle band",
            f"trending (ADX >= {p['adx_max']:g}): range rules off",
            "holding long until the middle band",
            "holding short until the middle band",
        )
        strength = np.maximum(np.abs(z) / (2 * p["std"]), 0.25)
        return finish_frame(d, strength, c, p["stop_atr"] * atr, mid, mid, reason, reasons)


class FundingRate(Strategy):
    """Funding-rate contrarian on the perpetual.

    The seed's strategy is a funding arbitrage (perp against spot); there is no spot leg here, so this
    only positions against extreme funding on the perpetual itself: when the mean of the last
    ``lookback`` funding rates settled by the bar's close is above +threshold (longs crowded, paying)
    -> short; below -threshold -> long. Strength = |mean| / (2*threshold). Stop = close -/+
    stop_atr*ATR, take-profit = close +/- take_atr*ATR. Flat with no funding data.
    """

    name = "funding_rate"
    uses_funding = True
    PARAMS = {
        "threshold": _p(0.0005, 1e-6, 0.05),
        "lookback": _i(3, 1, 90),
        "atr_period": ATR,
        "stop_atr": STOP,
        "take_atr": _p(3.0, 0.0, 50.0),
    }

    def _generate(self, a, funding, extra):
        p = self.params
        c = a["close"]
        n = len(c)
        atr = ind.atr(a["high"], a["low"], c, p["atr_period"])
        mean = np.full(n, np.nan)
        if funding is not None and len(funding.get("timestamp", ())) >= p["lookback"]:
            fts = np.asarray(funding["timestamp"], dtype=np.int64)
            fr = np.asarray(funding["funding_rate"], dtype=np.float64)
            order = np.argsort(fts, kind="stable")
            fts, fr = fts[order], fr[order]
            k = p["lookback"]
            cs = np.concatenate([[0.0], np.cumsum(fr)])
            j = _align_asof(a["timestamp"] + timeframe_ms(self.timeframe), fts)
            ok = j >= k - 1
            jj = np.where(ok, j, k - 1)
            mean = np.where(ok, (cs[jj + 1] - cs[jj + 1 - k]) / k, np.nan)
        th = p["threshold"]
        d = np.where(mean > th, -1, np.where(mean < -th, 1, 0))
        reasons = (
            "funding not extreme (or no funding data)",
            f"mean funding of the last {p['lookback']} below -{th:g}: shorts crowded, go long",
            f"mean funding of the last {p['lookback']} above +{th:g}: longs crowded, go short",
        )
        tl, ts = _take(c, atr, p["take_atr"])
        return finish_frame(
            d,
            np.abs(mean) / (2 * th),
            c,
            p["stop_atr"] * atr,
            tl,
            ts,
            np.where(d > 0, 1, np.where(d < 0, 2, 0)),
            reasons,
        )


class Breakout(Strategy):
    """Donchian channel breakout.

    Channel = highest high / lowest low of the previous ``period`` bars (the current bar excluded).
    A close above it enters long, below it enters short; the position is held until the close
    crosses back through the channel middle. Stop = close -/+ stop_atr*ATR; no take-profit by
    default (a trend follower), close +/- take_atr*ATR with take_atr > 0. Strength = 0.5 + distance
    from the middle / channel width (capped at 1).
    """

    name = "breakout"
    PARAMS = {"period": _i(20, 2, 1000), "atr_period": ATR, "stop_atr": STOP, "take_atr": _p(0.0, 0.0, 50.0)}

    def _generate(self, a, funding, extra):
        p = self.params
        c = a["close"]
        up, mid, lo = (ind.shift(x, 1) for x in ind.donchian(a["high"], a["low"], p["period"]))
        atr = ind.atr(a["high"], a["low"], c, p["atr_period"])
        d = latch(c > up, c < lo, c < mid, c > mid)
        fresh = ((d > 0) & (c > up)) | ((d < 0) & (c < lo))
        with np.errstate(invalid="ignore", divide="ignore"):
            strength = 0.5 + np.abs(c - mid) / (up - lo)
        reason = np.where(d == 0, 0, np.where(fresh, np.where(d > 0, 1, 2), np.where(d > 0, 3, 4)))
        reasons = (
            f"inside the {p['period']}-bar channel (or warming up)",
            f"close broke above the {p['period']}-bar high",
            f"close broke below the {p['period']}-bar low",
            "holding the upside breakout (close above the channel middle)",
            "holding the downside breakout (close below the channel middle)",
        )
        tl, ts = _take(c, atr, p["take_atr"])
        return finish_frame(d, strength, c, p["stop_atr"] * atr, tl, ts, reason, reasons)


class Grid(Strategy):
    """Grid trading around a moving centre.

    Centre = SMA(period); the grid spans centre +/- range_pct*centre in ``levels`` steps. Price k >= 1
    steps below the centre -> long, above -> short (buy low, sell high), strength = k / (levels/2),
    take-profit at the centre. Outside the grid's range the trend has broken it: flat. Stop =
    close -/+ stop_pct*close.
    """

    name = "grid"
    PARAMS = {
        "levels": _i(10, 2, 100),
        "range_pct": _p(0.05, 0.002, 0.5),
        "stop_pct": _p(0.03, 0.001, 0.5),
        "period": _i(48, 5, 2000),
    }

    def _generate(self, a, funding, extra):
        p = self.params
        c = a["close"]
        centre = ind.sma(c, p["period"])
        half = p["range_pct"] * centre
        step = 2 * half / p["levels"]
        dev = c - centre
        with np.errstate(invalid="ignore", divide="ignore"):
            k = np.floor(np.abs(dev) / step)
        inside = np.abs(dev) <= half
        d = np.where(inside & (k >= 1), -np.sign(dev), 0).astype(np.int8)
        reason = np.where(d > 0, 1, np.where(d < 0, 2, np.where(np.isfinite(dev) & ~inside, 3, 0)))
        reasons = (
            "near the grid centre (or warming up)",
            "below the grid centre: buy level",
            "above the grid centre: sell level",
            "price left the grid range: grid off",
        )
        return finish_frame(d, k / (p["levels"] / 2), c, p["stop_pct"] * c, centre, centre, reason, reasons)


class Momentum(Strategy):
    """RSI + rate-of-change momentum.

    Long when RSI > rsi_long and ROC(roc_period) > 0; short when RSI < rsi_short and ROC < 0.
    Strength = |RSI - 50| / 30 (capped at 1). Stop = close -/+ stop_atr*ATR; no take-profit by
    default (a trend follower), close +/- take_atr*ATR with take_atr > 0.
    """

    name = "momentum"
    PARAMS = {
        "rsi_period": _i(14, 2, 200),
        "roc_period": _i(10, 1, 500),
        "rsi_long": _p(55.0, 50.0, 100.0),
        "rsi_short": _p(45.0, 0.0, 50.0),
        "atr_period": ATR,
        "stop_atr": STOP,
        "take_atr": _p(0.0, 0.0, 50.0),
    }

    def _generate(self, a, funding, extra):
        p = self.params
        c = a["close"]
        r = ind.rsi(c, p["rsi_period"])
        roc = ind.roc(c, p["roc_period"])
        atr = ind.atr(a["high"], a["low"], c, p["atr_period"])
        d = np.where((r > p["rsi_long"]) & (roc > 0), 1, np.where((r < p["rsi_short"]) & (roc < 0), -1, 0))
        reasons = (
            "no momentum (or warming up)",
            f"RSI above {p['rsi_long']:g} and {p['roc_period']}-bar ROC positive",
            f"RSI below {p['rsi_short']:g} and {p['roc_period']}-bar ROC negative",
        )
        tl, ts = _take(c, atr, p["take_atr"])
        return finish_frame(
            d,
            np.abs(r - 50.0) / 30.0,
            c,
            p["stop_atr"] * atr,
            tl,
            ts,
            np.where(d > 0, 1, np.where(d < 0, 2, 0)),
            reasons,
        )


class MeanReversion(Strategy):
    """Z-score mean reversion.

    z = (close - SMA(period)) / std(period). z <= -z_entry enters long, z >= +z_entry enters short; the
    position is held until z crosses back through 0 (the mean is reached). Take-profit = SMA,
    stop = close -/+ stop_atr*ATR, strength = |z| / (2*z_entry).
    """

    name = "mean_reversion"
    PARAMS = {
        "period": _i(20, 5, 1000),
        "z_entry": _p(2.0, 0.5, 6.0),
        "atr_period": ATR,
        "stop_atr": _p(1.5, 0.1, 20.0),
    }

    def _generate(self, a, funding, extra):
        p = self.params
        c = a["close"]
        z = ind.zscore(c, p["period"])
        mean = ind.sma(c, p["period"])
        atr = ind.atr(a["high"], a["low"], c, p["atr_period"])
        d = latch(z <= -p["z_entry"], z >= p["z_entry"], z >= 0, z <= 0)
        fresh = np.abs(z) >= p["z_entry"]
        reason = np.where(d == 0, 0, np.where(fresh, np.where(d > 0, 1, 2), np.where(d > 0, 3, 4)))
        reasons = (
            "close near its mean (or warming up)",
            f"z-score <= -{p['z_entry']:g}: stretched below the mean",
            f"z-score >= {p['z_entry']:g}: stretched above the mean",
            "holding long until the mean is reached",
            "holding short until the mean is reached",
        )
        return finish_frame(d, np.abs(z) / (2 * p["z_entry"]), c, p["stop_atr"] * atr, mean, mean, reason, reasons)


class Volatility(Strategy):
    """Volatility squeeze / expansion.

    Bandwidth = (upper - lower) / middle of Bollinger(period, std). A squeeze is a bandwidth in the
    lowest ``squeeze_pct`` of its range over the last ``lookback`` bars. After a squeeze within the
    previous ``period`` bars, a close above the upper band enters long, below the lower band enters
    short (the expansion); the position is held while the expansion lasts, until the close crosses
    back through the middle band (or the stop). Stop = close -/+ stop_atr*ATR; no take-profit by
    default, close +/- take_atr*ATR with take_atr > 0. Strength = 0.5 + distance beyond the band /
    ATR at entry bars, 0.5 while held (capped at 1).
    """

    name = "volatility"
    PARAMS = {
        "period": _i(20, 5, 500),
        "std": _p(2.0, 0.5, 5.0),
        "lookback": _i(120, 10, 5000),
        "squeeze_pct": _p(0.2, 0.01, 0.9),
        "atr_period": ATR,
        "stop_atr": STOP,
        "take_atr": _p(0.0, 0.0, 50.0),
    }

    def _generate(self, a, funding, extra):
        p = self.params
        c = a["close"]
        up, mid, lo = ind.bollinger(c, p["period"], p["std"])
        with np.errstate(invalid="ignore", divide="ignore"):
            bw = (up - lo) / mid
        bw_f = np.nan_to_num(bw, nan=np.inf)
        hi_bw = ind.rolling_max(np.where(np.isfinite(bw), bw, -np.inf), p["lookback"])
        lo_bw = ind.rolling_min(bw_f, p["lookback"])
        ready = np.isfinite(bw) & np.isfinite(lo_bw) & np.isfinite(hi_bw)
        squeeze = ready & (bw <= lo_bw + p["squeeze_pct"] * (hi_bw - lo_bw))
        recent = ind.shift(ind.rolling_max(squeeze.astype(np.float64), p["period"]), 1) > 0
        atr = ind.atr(a["high"], a["low"], c, p["atr_period"])
        long_in, short_in = recent & (c > up), recent & (c < lo)
        d = latch(long_in, short_in, c < mid, c > mid)
        fresh = (d > 0) & long_in | (d < 0) & short_in
        with np.errstate(invalid="ignore", divide="ignore"):
            strength = 0.5 + np.where(fresh, np.where(d > 0, c - up, lo - c) / atr, 0.0)
        reason = np.where(
            d == 0, np.where(squeeze, 3, 0), np.where(fresh, np.where(d > 0, 1, 2), np.where(d > 0, 4, 5))
        )
        reasons = (
            "no squeeze breakout (or warming up)",
            "expansion after a squeeze: close above the upper band",
            "expansion after a squeeze: close below the lower band",
            "in a volatility squeeze: waiting",
            "holding the upside expansion (close above the middle band)",
            "holding the downside expansion (close below the middle band)",
        )
        tl, ts = _take(c, atr, p["take_atr"])
        return finish_frame(d, strength, c, p["stop_atr"] * atr, tl, ts, reason, reasons)


class TimeCycle(Strategy):
    """Session and weekday effects (intended for timeframes of 1h and below).

    Only inside the UTC session [session_start_hour, session_end_hour) and, unless trade_weekends,
    only Monday to Friday: follow the session's move so far — close above the session's first open
    by more than min_move_atr*ATR -> long, below by as much -> short. Flat outside the session and on
    weekends. Stop = close -/+ stop_atr*ATR, take-profit = close +/- take_atr*ATR, strength = move /
    (2*ATR) (capped at 1). A bar belongs to the session by its open time.
    """

    name = "time_cycle"
    PARAMS = {
        "session_start_hour": _i(13, 0, 23),
        "session_end_hour": _i(21, 1, 24),
        "trade_weekends": Param(False, kind="bool"),
        "min_move_atr": _p(0.5, 0.0, 10.0),
        "atr_period": ATR,
        "stop_atr": _p(1.5, 0.1, 20.0),
        "take_atr": _p(3.0, 0.0, 50.0),
    }

    @classmethod
    def _cross_check(cls, p, base):
        if p["session_start_hour"] >= p["session_end_hour"]:
            raise ConfigError(
                f"{base}.session_start_hour",
                f"must be below session_end_hour ({p['session_end_hour']}), got {p['session_start_hour']}",
            )

    def _generate(self, a, funding, extra):
        p = self.params
        c = a["close"]
        ts = a["timestamp"]
        day = ts // 86_400_000
        hour = (ts % 86_400_000) // 3_600_000
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        in_sess = (hour >= p["session_start_hour"]) & (hour < p["session_end_hour"])
        open_day = in_sess & (p["trade_weekends"] | (weekday < 5))
        idx = np.arange(len(c))
        prev_day = np.concatenate([[-1], day[:-1]])
        prev_in = np.concatenate([[False], in_sess[:-1]])
        start = in_sess & ~(prev_in & (prev_day == day))
        first = np.maximum.accumulate(np.where(start, idx, 0))
        sess_open = a["open"][first]
        atr = ind.atr(a["high"], a["low"], c, p["atr_period"])
        move = c - sess_open
        thr = p["min_move_atr"] * atr
        d = np.where(open_day & (move > thr), 1, np.where(open_day & (move < -thr), -1, 0))
        reason = np.where(d > 0, 1, np.where(d < 0, 2, np.where(~in_sess, 3, np.where(~open_day, 4, 0))))
        reasons = (
            "in session, no clear move yet (or warming up)",
            "in session, price above the session open: follow",
            "in session, price below the session open: follow",
            f"outside the {p['session_start_hour']:02d}-{p['session_end_hour']:02d} UTC session",
            "weekend: no trading",
        )
        tl, tsh = _take(c, atr, p["take_atr"])
        with np.errstate(invalid="ignore", divide="ignore"):
            strength = np.abs(move) / (2 * atr)
        return finish_frame(d, strength, c, p["stop_atr"] * atr, tl, tsh, reason, reasons)


def ewm_vol(close: np.ndarray, span: int, timeframe: str) -> np.ndarray:
    """Annualised (365 days) exponentially weighted standard deviation of log returns, ``span`` bars; NaN
    until ``span`` returns are known. The trend core's volatility, and the vol-targeted baseline's."""
    with np.errstate(invalid="ignore", divide="ignore"):
        lr = np.concatenate([[np.nan], np.diff(np.log(np.asarray(close, dtype=np.float64)))])
    per_year = 365 * 86_400_000 / timeframe_ms(timeframe)
    return pd.Series(lr).ewm(span=span, min_periods=span, ignore_na=True).std().to_numpy() * math.sqrt(per_year)


class TrendCore(Strategy):
    """Vol-targeted trend core: multi-lookback time-series momentum, long/flat by default.

    For each lookback L (in days, converted to bars of the strategy's timeframe; 0 = unused) the
    vote is +1 when the close is above the close L days ago, else -1 (long/flat: 0). The signal is
    the mean vote: long when it is above 0; with allow_short, short when it is below 0. Strength =
    |mean vote| x min(1, target_vol / realised vol), the realised volatility being the annualised
    exponentially weighted standard deviation of log returns over ``vol_days``: the position is
    scaled down when the market is wild and the trend is in doubt, so the engines resize it as
    either changes (``portfolio.rebalance_band``). Stop = close -/+ stop_atr*ATR, a wide
    disaster stop; no take-profit (a trend follower).
    """

    name = "trend_core"
    PARAMS = {
        "lookback_1": _i(20, 1, 1000, "days"),
        "lookback_2": _i(60, 0, 1000, "days (0 = unused)"),
        "lookback_3": _i(120, 0, 1000, "days (0 = unused)"),
        "lookback_4": _i(250, 0, 1000, "days (0 = unused)"),
        "vol_days": _i(30, 2, 365, "days in the EWM volatility"),
        "target_vol": _p(0.3, 0.05, 2.0, "annualised volatility the position aims at"),
        "allow_short": Param(False, kind="bool"),
        "atr_period": ATR,
        "stop_atr": _p(2.5, 0.1, 20.0),
    }

    def _bars(self, days: int) -> int:
        return max(1, int(round(days * 86_400_000 / timeframe_ms(self.timeframe))))

    @property
    def warmup_bars(self) -> int:
        p = self.params
        longest = max(p[f"lookback_{i}"] for i in range(1, 5))
        return self._bars(longest) + self._bars(p["vol_days"]) + 2

    def _generate(self, a, funding, extra):
        p = self.params
        c = a["close"]
        n = len(c)
        looks = [self._bars(p[f"lookback_{i}"]) for i in range(1, 5) if p[f"lookback_{i}"] > 0]
        votes = np.zeros(n)
        ready = np.ones(n, dtype=bool)
        for L in looks:
            past = ind.shift(c, L)
            ready &= np.isfinite(past)
            with np.errstate(invalid="ignore"):
                votes += np.where(c > past, 1.0, -1.0)
        score = votes / len(looks)
        vol = ewm_vol(c, self._bars(p["vol_days"]), self.timeframe)
        ready &= np.isfinite(vol) & (vol > 0)
        if p["allow_short"]:
            d = np.where(ready & (score > 0), 1, np.where(ready & (score < 0), -1, 0))
            level = np.abs(score)
        else:
            d = np.where(ready & (score > 0), 1, 0)
            level = np.clip(score, 0.0, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.minimum(1.0, p["target_vol"] / vol)
        atr = ind.atr(a["high"], a["low"], c, p["atr_period"])
        days = "/".join(str(p[f"lookback_{i}"]) for i in range(1, 5) if p[f"lookback_{i}"] > 0)
        reason = np.where(d > 0, 1, np.where(d < 0, 2, np.where(ready, 3, 0)))
        reasons = (
            "warming up",
            f"price above its level {days} days ago on balance: trend up",
            f"price below its level {days} days ago on balance: trend down",
            "no uptrend on balance: stay in cash" if not p["allow_short"] else "lookbacks split evenly: flat",
        )
        return finish_frame(d, level * scale, c, p["stop_atr"] * atr, None, None, reason, reasons)


def load_onchain_csv(path: str | Path, column: str = "value") -> dict[str, np.ndarray]:
    """Read an on-chain metric CSV (header with ``timestamp`` in epoch ms and the metric column)."""
    p = Path(path)
    ts: list[int] = []
    vals: list[float] = []
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "timestamp" not in reader.fieldnames or column not in reader.fieldnames:
            raise ValueError(f"{p}: expected a header with 'timestamp' and {column!r}, got {reader.fieldnames}")
        for i, row in enumerate(reader, start=2):
            try:
                t, v = int(float(row["timestamp"])), float(row[column])
            except (TypeError, ValueError):
                raise ValueError(f"{p}: line {i}: not a number: {row!r}") from None
            if not math.isfinite(v):
                raise ValueError(f"{p}: line {i}: value is not finite")
            ts.append(t)
            vals.append(v)
    order = np.argsort(np.asarray(ts, dtype=np.int64), kind="stable")
    return {"timestamp": np.asarray(ts, dtype=np.int64)[order], "value": np.asarray(vals, dtype=np.float64)[order]}


class Onchain(Strategy):
    """On-chain metric signal (optional input).

    Reads a CSV (``strategies.onchain.input_csv``; header ``timestamp,value``, epoch ms) of one on-chain
    metric, e.g. exchange net inflow. z = z-score of the metric over its last ``lookback`` observations,
    taking the newest observation stamped no later than the bar's close. With bullish_when = "low"
    (default: low exchange inflow is bullish) z <= -threshold -> long and z >= threshold -> short;
    "high" flips it. Stop = close -/+ stop_atr*ATR, take-profit = close +/- take_atr*ATR (0 = none),
    strength = |z| / (2*threshold). Without an input file the strategy is disabled and says why.
    """

    name = "onchain"
    PARAMS = {
        "threshold": _p(1.0, 0.1, 10.0),
        "lookback": _i(30, 5, 5000),
        "bullish_when": Param("low", kind="choice", options=("low", "high")),
        "atr_period": ATR,
        "stop_atr": STOP,
        "take_atr": _p(0.0, 0.0, 50.0),
    }

    def __init__(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        timeframe: str = "1h",
        series: dict[str, np.ndarray] | None = None,
    ) -> None:
        super().__init__(params, timeframe=timeframe)
        self.series = series

    def _generate(self, a, funding, extra):
        p = self.params
        c = a["close"]
        series = extra.get("onchain", self.series)
        atr = ind.atr(a["high"], a["low"], c, p["atr_period"])
        z = np.full(len(c), np.nan)
        if series is not None and len(series["timestamp"]) >= p["lookback"]:
            zs = ind.zscore(series["value"], p["lookback"])
            j = _align_asof(a["timestamp"] + timeframe_ms(self.timeframe), np.asarray(series["timestamp"]))
            z = np.where(j >= 0, zs[np.maximum(j, 0)], np.nan)
        th = p["threshold"]
        sign = 1 if p["bullish_when"] == "high" else -1
        d = np.where(sign * z >= th, 1, np.where(sign * z <= -th, -1, 0))
        word = "high" if sign > 0 else "low"
        other = "low" if sign > 0 else "high"
        reasons = (
            "on-chain metric unremarkable (or no data)",
            f"on-chain metric unusually {word} (|z| >= {th:g}): bullish",
            f"on-chain metric unusually {other} (|z| >= {th:g}): bearish",
        )
        tl, ts = _take(c, atr, p["take_atr"])
        return finish_frame(
            d, np.abs(z) / (2 * th), c, p["stop_atr"] * atr, tl, ts, np.where(d > 0, 1, np.where(d < 0, 2, 0)), reasons
        )


STRATEGY_CLASSES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        EmaTrend,
        BollingerRange,
        FundingRate,
        Breakout,
        Grid,
        Momentum,
        MeanReversion,
        Volatility,
        TimeCycle,
        Onchain,
        TrendCore,
    )
}

__all__ = ["STRATEGY_CLASSES", "latch", "load_onchain_csv", "Arrays", "SignalFrame"]
