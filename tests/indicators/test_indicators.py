"""Indicators against the reference ``ta`` package (generated and real candles), and vectorised vs
incremental on 10,000 bars.

Tolerances: relative 1e-9 of the price scale for price-like outputs (EMA, SMA, bands, ATR, VWAP,
Donchian is exact), 1e-9 absolute for 0..100 oscillators (RSI, ADX, DI). Convention differences
(see cockpit/indicators/core.py) are mapped explicitly below: ``ta`` writes 0 instead of NaN during
the warm-up of ATR and ADX, its OBV counts an unchanged close as up and starts at volume[0], and its
+DI/-DI arrays are 0 at their first and last bars.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

ta = pytest.importorskip("ta")

from cockpit.indicators import core as ind  # noqa: E402
from cockpit.indicators import incremental as inc  # noqa: E402


def make_candles(n: int, seed: int = 1, start: float = 30000.0) -> dict[str, np.ndarray]:
    """A random walk with volatility regimes, fat-ish tails and some unchanged closes."""
    rng = np.random.default_rng(seed)
    vol = np.where((np.arange(n) // 500) % 3 == 0, 0.004, 0.012)
    r = rng.standard_t(4, n) * vol / 1.4
    c = start * np.exp(np.cumsum(r))
    c = np.round(c, 1)  # ticks: some closes repeat
    o = np.concatenate([[c[0]], c[:-1]])
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.002, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.002, n)))
    v = rng.gamma(2.0, 50.0, n)
    ts = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 3_600_000
    return {"timestamp": ts, "open": o, "high": h, "low": lo, "close": c, "volume": v}


def real_candles(shared_data_dir, rows: int = 20000) -> dict[str, np.ndarray]:
    df = pd.read_csv(shared_data_dir / "btc_usdt_swap_1h.csv").iloc[10 : 10 + rows]  # skip listing placeholders
    return {k: df[k].to_numpy() for k in df.columns}


def close_enough(mine, ref, *, scale: float, tol: float = 1e-9, name: str = "") -> None:
    mine, ref = np.asarray(mine, float), np.asarray(ref, float)
    assert mine.shape == ref.shape, name
    assert np.array_equal(np.isnan(mine), np.isnan(ref)), f"{name}: warm-up NaNs differ"
    m = ~np.isnan(ref)
    err = np.max(np.abs(mine[m] - ref[m])) if m.any() else 0.0
    assert err <= tol * scale, f"{name}: max abs error {err} > {tol * scale}"


def zeros_to_nan(x, first_valid: int) -> np.ndarray:
    x = np.asarray(x, float).copy()
    x[:first_valid] = np.nan
    return x


def check_against_ta(a: dict[str, np.ndarray]) -> None:
    C, H, L, V = (pd.Series(a[k]) for k in ("close", "high", "low", "volume"))
    c, h, lo, v = a["close"], a["high"], a["low"], a["volume"]
    px = float(np.nanmax(c))
    close_enough(ind.ema(c, 20), ta.trend.EMAIndicator(C, 20).ema_indicator(), scale=px, name="ema")
    close_enough(ind.ema(c, 200), ta.trend.EMAIndicator(C, 200).ema_indicator(), scale=px, name="ema200")
    close_enough(ind.sma(c, 20), ta.trend.SMAIndicator(C, 20).sma_indicator(), scale=px, name="sma")
    close_enough(ind.rsi(c, 14), ta.momentum.RSIIndicator(C, 14).rsi(), scale=100, name="rsi")
    m = ta.trend.MACD(C, 26, 12, 9)
    line, sig, hist = ind.macd(c, 12, 26, 9)
    close_enough(line, m.macd(), scale=px, name="macd")
    close_enough(sig, m.macd_signal(), scale=px, name="macd signal")
    close_enough(hist, m.macd_diff(), scale=px, name="macd hist")
    bb = ta.volatility.BollingerBands(C, 20, 2)
    up, mid, low = ind.bollinger(c, 20, 2.0)
    close_enough(up, bb.bollinger_hband(), scale=px, name="bb upper")
    close_enough(mid, bb.bollinger_mavg(), scale=px, name="bb mid")
    close_enough(low, bb.bollinger_lband(), scale=px, name="bb lower")
    close_enough(
        ind.atr(h, lo, c, 14),
        zeros_to_nan(ta.volatility.AverageTrueRange(H, L, C, 14).average_true_range(), 13),
        scale=px,
        name="atr",
    )
    adx_ref = ta.trend.ADXIndicator(H, L, C, 14)
    a_, pdi, mdi = ind.adx(h, lo, c, 14)
    close_enough(a_, zeros_to_nan(adx_ref.adx(), 27), scale=100, name="adx")
    # ta's +DI/-DI: 0 at the first valid bar (14) and garbage at the last one; compare bars 15..n-2
    close_enough(pdi[15:-1], adx_ref.adx_pos().to_numpy()[15:-1], scale=100, name="+di")
    close_enough(mdi[15:-1], adx_ref.adx_neg().to_numpy()[15:-1], scale=100, name="-di")
    dc = ta.volatility.DonchianChannel(H, L, C, 20)
    du, dm, dl = ind.donchian(h, lo, 20)
    close_enough(du, dc.donchian_channel_hband(), scale=px, tol=0, name="donchian upper")
    close_enough(dl, dc.donchian_channel_lband(), scale=px, tol=0, name="donchian lower")
    close_enough(dm, dc.donchian_channel_mband(), scale=px, name="donchian middle")
    close_enough(
        ind.vwap(h, lo, c, v, 14),
        ta.volume.VolumeWeightedAveragePrice(H, L, C, V, 14).volume_weighted_average_price(),
        scale=px,
        name="vwap",
    )
    ref_obv = ta.volume.OnBalanceVolumeIndicator(C, V).on_balance_volume().to_numpy()
    mine_obv = ind.obv(c, v)
    moved = np.diff(c) != 0
    np.testing.assert_allclose(np.diff(mine_obv)[moved], np.diff(ref_obv)[moved], rtol=1e-9, atol=1e-6)
    assert np.all(np.diff(mine_obv)[~moved] == 0)
    # realized vol and z-score: ta has none; pandas rolling is the reference
    r = np.log(C).diff()
    close_enough(ind.realized_vol(c, 24), r.rolling(24).std(ddof=0), scale=1.0, tol=1e-12, name="realized vol")
    z_ref = (C - C.rolling(20).mean()) / C.rolling(20).std(ddof=0)
    z = ind.zscore(c, 20)
    fin = np.isfinite(z_ref.to_numpy())
    np.testing.assert_allclose(z[fin], z_ref.to_numpy()[fin], atol=1e-6)


def test_indicators_match_ta_on_generated_data():
    check_against_ta(make_candles(6000, seed=7))


@pytest.mark.shared_data
def test_indicators_match_ta_on_real_candles(shared_data_dir):
    check_against_ta(real_candles(shared_data_dir))


def test_linear_filter_matches_a_plain_loop_for_all_decays():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 20000) + 100
    for decay in (0.0, 0.05, 1 / 3, 0.5, 0.9, 0.99, 0.999, 0.99999):
        y = ind.linear_filter(x, decay, 1 - decay, init=5.0)
        ref = np.empty_like(x)
        acc = 5.0
        for i, xi in enumerate(x):
            acc = (1 - decay) * xi + decay * acc
            ref[i] = acc
        np.testing.assert_allclose(y, ref, rtol=1e-11, atol=1e-9, err_msg=f"decay {decay}")


def test_rolling_windows_stay_precise_on_long_expensive_histories():
    # 300k bars at ~1e5 with tiny moves: naive cumsum variance would lose most digits
    rng = np.random.default_rng(5)
    x = 1e5 + np.cumsum(rng.normal(0, 0.01, 300_000))
    mean, var = ind.rolling_mean_var(x, 50)
    for t in (49, 1023, 1024, 1060, 150_000, 299_999):
        w = x[t - 49 : t + 1]
        assert mean[t] == pytest.approx(w.mean(), rel=1e-14)
        assert var[t] == pytest.approx(w.var(), rel=1e-6)
    s = ind.rolling_sum(x, 50)
    assert s[299_999] == pytest.approx(x[-50:].sum(), rel=1e-14)
    mx = ind.rolling_max(x, 37)
    assert mx[1000] == x[964:1001].max() and np.isnan(mx[35])


def feed(n: int, seed: int = 11):
    a = make_candles(n, seed=seed)
    return a, zip(a["high"], a["low"], a["close"], a["volume"])


def test_incremental_equals_vectorised_on_10000_bars():
    a, _ = feed(10_000)
    h, lo, c, v = a["high"], a["low"], a["close"], a["volume"]
    px = float(c.max())
    states = {
        "ema": (inc.EMA(21), ind.ema(c, 21), lambda s, b: s.update(b[2])),
        "sma": (inc.SMA(20), ind.sma(c, 20), lambda s, b: s.update(b[2])),
        "rsi": (inc.RSI(14), ind.rsi(c, 14), lambda s, b: s.update(b[2])),
        "atr": (inc.ATR(14), ind.atr(h, lo, c, 14), lambda s, b: s.update(b[0], b[1], b[2])),
        "obv": (inc.OBV(), ind.obv(c, v), lambda s, b: s.update(b[2], b[3])),
        "vwap": (inc.VWAP(14), ind.vwap(h, lo, c, v, 14), lambda s, b: s.update(*b)),
        "rvol": (inc.RealizedVol(24), ind.realized_vol(c, 24), lambda s, b: s.update(b[2])),
        "z": (inc.ZScore(20), ind.zscore(c, 20), lambda s, b: s.update(b[2])),
    }
    multi = {
        "macd": (inc.MACD(12, 26, 9), ind.macd(c, 12, 26, 9), lambda s, b: s.update(b[2])),
        "bollinger": (inc.Bollinger(20, 2.0), ind.bollinger(c, 20, 2.0), lambda s, b: s.update(b[2])),
        "adx": (inc.ADX(14), ind.adx(h, lo, c, 14), lambda s, b: s.update(b[0], b[1], b[2])),
        "donchian": (inc.Donchian(20), ind.donchian(h, lo, 20), lambda s, b: s.update(b[0], b[1])),
    }
    out = {k: np.empty(len(c)) for k in states}
    out_m = {k: np.empty((len(c), 3)) for k in multi}
    for i, bar in enumerate(zip(h, lo, c, v)):
        for k, (s, _, fn) in states.items():
            out[k][i] = fn(s, bar)
        for k, (s, _, fn) in multi.items():
            out_m[k][i] = fn(s, bar)
    scale = {"rsi": 100, "obv": float(np.abs(ind.obv(c, v)).max()), "rvol": 1.0, "z": 10.0}
    for k, (_, ref, _) in states.items():
        close_enough(out[k], ref, scale=scale.get(k, px), tol=1e-9, name=k)
    for k, (_, ref, _) in multi.items():
        for j in range(3):
            close_enough(out_m[k][:, j], ref[j], scale=100 if k == "adx" else px, tol=1e-9, name=f"{k}[{j}]")


def test_warmup_and_short_inputs_do_not_crash():
    for n in (0, 1, 2, 5):
        a = make_candles(n) if n else {k: np.empty(0) for k in ("open", "high", "low", "close", "volume")}
        c = a["close"]
        for arr in (
            ind.ema(c, 3),
            ind.sma(c, 3),
            ind.rsi(c, 3),
            ind.atr(a["high"], a["low"], c, 3),
            ind.adx(a["high"], a["low"], c, 3)[0],
            ind.zscore(c, 3),
            ind.realized_vol(c, 3),
            ind.vwap(a["high"], a["low"], c, a["volume"], 3),
            ind.donchian(a["high"], a["low"], 3)[0],
        ):
            assert len(arr) == n


def test_zscore_of_a_flat_window_is_zero_not_nan():
    z = ind.zscore(np.full(30, 100.0), 20)
    assert np.isnan(z[18]) and z[19] == 0 and z[-1] == 0


def test_report_is_plain_json(shared_data_dir=None):
    from cockpit.indicators import TechnicalAnalysis

    a = make_candles(800)
    four = {k: v[::4] for k, v in a.items()}
    rep = TechnicalAnalysis().report({"1h": a, "4h": four, "1d": {k: v[:0] for k, v in a.items()}}, primary="1h")
    text = json.dumps(rep, allow_nan=False)
    back = json.loads(text)
    tf = back["timeframes"]["1h"]
    assert back["primary_timeframe"] == "1h" and back["regime"] == tf["regime"]
    assert tf["bars"] == 800 and tf["close"] == pytest.approx(a["close"][-1])
    assert tf["rsi14"] == pytest.approx(ind.rsi(a["close"], 14)[-1], rel=1e-7)
    assert tf["regime"] in {"trending_up", "trending_down", "ranging", "high_volatility", "unknown"}
    assert back["timeframes"]["1d"] == {"bars": 0}
    for lv in tf["levels"]["support"]:
        assert lv["price"] < tf["close"]
    for lv in tf["levels"]["resistance"]:
        assert lv["price"] >= tf["close"]
    assert math.isfinite(tf["atr14"]) and isinstance(tf["patterns"], list)


def test_ema_warm_up_and_the_pandas_exact_form():
    """min_periods=1 draws from the first bar (the chart's EMA); pandas_exact is pandas bit for bit, with pandas'
    NaN rules (the backtest's reference signals); the default form equals it to rounding."""
    c = make_candles(3_000)["close"]
    c[::7] = np.round(c[::7])  # some repeated values: pandas skips the update when the average equals the value
    ref = pd.Series(c).ewm(span=12, adjust=False).mean().to_numpy()
    assert np.isnan(ind.ema(c, 12)[:11]).all() and not np.isnan(ind.ema(c, 12)[11:]).any()
    one = ind.ema(c, 12, min_periods=1)
    assert not np.isnan(one).any() and np.allclose(one, ref, rtol=1e-12, atol=0)
    assert np.array_equal(ind.ema(c, 12, min_periods=1, pandas_exact=True), ref)
    gap = np.array([1.0, 2.0, np.nan, 4.0, 5.0])
    assert np.array_equal(
        ind.ema(gap, 3, min_periods=1, pandas_exact=True),
        pd.Series(gap).ewm(span=3, adjust=False).mean().to_numpy(),
        equal_nan=True,
    )
    assert np.isnan(ind.ema(c, 12, pandas_exact=True)[:11]).all()
