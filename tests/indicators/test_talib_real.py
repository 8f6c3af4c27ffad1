"""The indicators against TA-Lib on the real BTC/USDT 1h history (issue #22: "still checked against ta and
TA-Lib on real data"). TA-Lib is not a project dependency (it is installed for bench/indicators.py only), so
this runs where it is importable and is skipped elsewhere, as the real data is.

TA-Lib seeds its averages differently (EMA from an SMA, ATR from the true ranges of bars 1..n); the seeds'
weight decays geometrically, so the values are compared after the first 1,000 bars, where both have forgotten
them (EMA(200) after 5,000)."""

from __future__ import annotations

import numpy as np
import pytest

from cockpit.indicators import core as ind

from test_indicators import real_candles

talib = pytest.importorskip("talib")

SKIP = 1000


def _close(name: str, ours, theirs, scale=None, tol: float = 1e-9, skip: int = SKIP) -> None:
    a, b = np.asarray(ours, float)[skip:], np.asarray(theirs, float)[skip:]
    assert np.isfinite(a).all() and np.isfinite(b).all(), name
    ref = np.abs(b) if scale is None else scale if np.isscalar(scale) else scale[skip:]
    err = np.abs(a - b) / np.maximum(ref, 1e-12)
    assert err.max() <= tol, f"{name}: {err.max():.2e} relative at bar {skip + int(err.argmax())}"


def test_indicators_match_talib_on_real_candles(shared_data_dir):
    a = real_candles(shared_data_dir, rows=60_000)
    h, lo, c = (np.asarray(a[k], dtype=float) for k in ("high", "low", "close"))
    assert len(c) > 50_000
    _close("EMA(20)", ind.ema(c, 20), talib.EMA(c, 20))
    _close("EMA(200)", ind.ema(c, 200), talib.EMA(c, 200), skip=5000)  # the seed's weight: (1 - 2/201)^k
    _close("RSI(14)", ind.rsi(c, 14), talib.RSI(c, 14))
    m_ours, m_theirs = ind.macd(c, 12, 26, 9), talib.MACD(c, 12, 26, 9)
    for i, part in enumerate(("line", "signal", "hist")):  # differences of EMAs: relative to the price
        _close(f"MACD {part}", m_ours[i], m_theirs[i], scale=np.abs(c))
    for i, (x, y) in enumerate(zip(ind.bollinger(c, 20, 2.0), talib.BBANDS(c, 20, 2.0, 2.0))):
        _close(f"Bollinger[{i}]", x, y)
    _close("ATR(14)", ind.atr(h, lo, c, 14), talib.ATR(h, lo, c, 14))
    adx, pdi, mdi = ind.adx(h, lo, c, 14)
    _close("ADX(14)", adx, talib.ADX(h, lo, c, 14), scale=100.0)
    _close("+DI(14)", pdi, talib.PLUS_DI(h, lo, c, 14), scale=100.0)
    _close("-DI(14)", mdi, talib.MINUS_DI(h, lo, c, 14), scale=100.0)
