"""Indicator speed: cockpit.indicators (numpy) against the reference ``ta`` package, same run, same data.

    python bench/indicators.py [--bars 1000000] [--repeat 3] [--loop-ref-bars 100000]

Prints bars/s per indicator for ours and for ``ta`` and the ratio (ours / ta; > 1 = faster). ``ta``'s
ATR and ADX are plain Python loops; to keep the run short they are timed on ``--loop-ref-bars``
bars and reported as bars/s (their cost is linear in bars). Also times the incremental (O(1) per bar)
forms on 100,000 bars and every strategy's vectorised ``generate`` over the full history.

With TA-Lib importable (pip package ``TA-Lib``, for the benchmark only; not a project dependency) it also
times TA-Lib on the same bars for EMA, RSI, MACD, Bollinger, ATR and ADX, alternated with ours, and
prints ours/TA-Lib (issue #22 target: >= 1, at least as fast) with the largest difference between the
two on the last 10,000 values (relative to the value).

The compiled (numba) indicators are warmed up before any timing: the one-off compile (or, with numba's
on-disk cache, the load) is printed on its own line and never counted in the figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.indicators import core as ind  # noqa: E402
from cockpit.indicators import incremental as inc  # noqa: E402
from cockpit.indicators import kernels  # noqa: E402


def candles(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = 30000 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    o = np.concatenate([[c[0]], c[:-1]])
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.002, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.002, n)))
    return {
        "timestamp": 1_600_000_000_000 + np.arange(n, dtype=np.int64) * 60_000,
        "open": o,
        "high": h,
        "low": lo,
        "close": c,
        "volume": rng.gamma(2, 10, n),
    }


def best(fn, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def talib_section(h, lo, c, n: int, repeat: int) -> None:
    try:
        import talib
    except ImportError:
        print("TA-Lib: not installed in this environment (pip install TA-Lib; benchmark only), not compared")
        return
    cases = [
        ("EMA(20)", lambda: ind.ema(c, 20), lambda: talib.EMA(c, 20), lambda r: r, lambda r: r),
        ("RSI(14)", lambda: ind.rsi(c, 14), lambda: talib.RSI(c, 14), lambda r: r, lambda r: r),
        ("MACD(12,26,9)", lambda: ind.macd(c), lambda: talib.MACD(c, 12, 26, 9), lambda r: r[0], lambda r: r[0]),
        (
            "Bollinger(20,2)",
            lambda: ind.bollinger(c, 20, 2.0),
            lambda: talib.BBANDS(c, 20, 2.0, 2.0),
            lambda r: r[0],
            lambda r: r[0],
        ),
        ("ATR(14)", lambda: ind.atr(h, lo, c, 14), lambda: talib.ATR(h, lo, c, 14), lambda r: r, lambda r: r),
        ("ADX(14)", lambda: ind.adx(h, lo, c, 14), lambda: talib.ADX(h, lo, c, 14), lambda r: r[0], lambda r: r),
    ]
    print(f"\nTA-Lib {talib.__version__}, {n:,} bars, median of {repeat} alternated rounds")
    print(f"{'indicator':<18}{'ours ms':>10}{'TA-Lib ms':>11}{'ours/TA-Lib':>13}{'max rel diff':>14}")
    worst = float("inf")
    for name, ours, ref, pick_o, pick_r in cases:
        to, tr = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            ro = ours()
            to.append(time.perf_counter() - t)
            t = time.perf_counter()
            rr = ref()
            tr.append(time.perf_counter() - t)
        a, b = np.asarray(pick_o(ro))[-10_000:], np.asarray(pick_r(rr))[-10_000:]
        ok = np.isfinite(a) & np.isfinite(b)
        diff = float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-12))) if ok.any() else float("nan")
        mo, mr = float(np.median(to)), float(np.median(tr))
        worst = min(worst, mr / mo)
        print(f"{name:<18}{mo * 1e3:>10.2f}{mr * 1e3:>11.2f}{mr / mo:>12.2f}x{diff:>14.1e}")
    print(
        f"slowest ours/TA-Lib speed: {worst:.2f}x ({'meets' if worst >= 1 else 'MISSES'} the issue #22 target: "
        "at least as fast as TA-Lib)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--loop-ref-bars", type=int, default=100_000)
    args = ap.parse_args()
    try:
        import ta
    except ImportError:
        print("the reference package `ta` is not installed (pip install ta)", file=sys.stderr)
        return 1
    t = time.perf_counter()
    kernels.warm_up()
    print(
        f"compiled indicators: {'numba' if kernels.HAVE_NUMBA else 'numba not importable, numpy forms'}; "
        f"warm-up (compile, or load from numba's cache) {time.perf_counter() - t:.2f} s, not timed below"
    )
    n = args.bars
    a = candles(n)
    h, lo, c, v = a["high"], a["low"], a["close"], a["volume"]
    H, L, C, V = (pd.Series(x) for x in (h, lo, c, v))
    m = min(args.loop_ref_bars, n)
    Hm, Lm, Cm = H.iloc[:m].reset_index(drop=True), L.iloc[:m].reset_index(drop=True), C.iloc[:m].reset_index(drop=True)

    cases = [
        ("EMA(20)", lambda: ind.ema(c, 20), lambda: ta.trend.EMAIndicator(C, 20).ema_indicator(), n),
        ("SMA(20)", lambda: ind.sma(c, 20), lambda: ta.trend.SMAIndicator(C, 20).sma_indicator(), n),
        ("RSI(14)", lambda: ind.rsi(c, 14), lambda: ta.momentum.RSIIndicator(C, 14).rsi(), n),
        ("MACD(12,26,9)", lambda: ind.macd(c), lambda: ta.trend.MACD(C).macd_diff(), n),
        (
            "Bollinger(20,2)",
            lambda: ind.bollinger(c, 20, 2.0),
            lambda: (lambda b: (b.bollinger_hband(), b.bollinger_mavg(), b.bollinger_lband()))(
                ta.volatility.BollingerBands(C, 20, 2)
            ),
            n,
        ),
        (
            "ATR(14)",
            lambda: ind.atr(h, lo, c, 14),
            lambda: ta.volatility.AverageTrueRange(Hm, Lm, Cm, 14).average_true_range(),
            m,
        ),
        (
            "ADX(14)",
            lambda: ind.adx(h, lo, c, 14),
            lambda: (lambda x: (x.adx(), x.adx_pos(), x.adx_neg()))(ta.trend.ADXIndicator(Hm, Lm, Cm, 14)),
            m,
        ),
        (
            "Donchian(20)",
            lambda: ind.donchian(h, lo, 20),
            lambda: (lambda d: (d.donchian_channel_hband(), d.donchian_channel_mband(), d.donchian_channel_lband()))(
                ta.volatility.DonchianChannel(H, L, C, 20)
            ),
            n,
        ),
        ("OBV", lambda: ind.obv(c, v), lambda: ta.volume.OnBalanceVolumeIndicator(C, V).on_balance_volume(), n),
        (
            "VWAP(14)",
            lambda: ind.vwap(h, lo, c, v, 14),
            lambda: ta.volume.VolumeWeightedAveragePrice(H, L, C, V, 14).volume_weighted_average_price(),
            n,
        ),
        # no ta equivalent: pandas rolling is the reference for these two
        ("RealizedVol(24)*", lambda: ind.realized_vol(c, 24), lambda: np.log(C).diff().rolling(24).std(ddof=0), n),
        ("ZScore(20)*", lambda: ind.zscore(c, 20), lambda: (C - C.rolling(20).mean()) / C.rolling(20).std(ddof=0), n),
    ]
    print(
        f"{n:,} bars, best of {args.repeat}; ta's loop-based ATR/ADX timed on {m:,} bars "
        f"(* = pandas reference, ta has none)"
    )
    print(f"{'indicator':<18}{'ours bars/s':>16}{'ref bars/s':>16}{'ratio':>9}")
    worst = float("inf")
    for name, ours, ref, ref_n in cases:
        # alternate ours and the reference so both see the same machine load (this box is shared)
        t_ours = t_ref = float("inf")
        for i in range(args.repeat):
            t_ours = min(t_ours, best(ours, 1))
            if i == 0 or ref_n == n:
                t_ref = min(t_ref, best(ref, 1))
        r_ours, r_ref = n / t_ours, ref_n / t_ref
        worst = min(worst, r_ours / r_ref)
        print(f"{name:<18}{r_ours:>16,.0f}{r_ref:>16,.0f}{r_ours / r_ref:>8.1f}x")
    print(f"slowest ratio: {worst:.2f}x ({'meets' if worst >= 1 else 'MISSES'} the target: no slower than ta)")
    talib_section(h, lo, c, n, args.repeat)

    k = min(100_000, n)
    t = time.perf_counter()
    states = [inc.EMA(20), inc.RSI(14), inc.ATR(14), inc.ADX(14), inc.Bollinger(20), inc.Donchian(20), inc.VWAP(14)]
    for i in range(k):
        hi, lw, cl, vo = h[i], lo[i], c[i], v[i]
        states[0].update(cl)
        states[1].update(cl)
        states[2].update(hi, lw, cl)
        states[3].update(hi, lw, cl)
        states[4].update(cl)
        states[5].update(hi, lw)
        states[6].update(hi, lw, cl, vo)
    dt = time.perf_counter() - t
    print(f"incremental (7 indicators together): {k / dt:,.0f} bars/s, {dt / k * 1e6:.1f} us per bar")

    from cockpit.strategies.library import STRATEGY_CLASSES

    fts = a["timestamp"][::480]  # 8h funding on 1m bars
    f = {"timestamp": fts, "funding_rate": np.random.default_rng(1).normal(1e-4, 5e-4, len(fts))}
    print("strategy generate() over the full history:")
    for name, cls in STRATEGY_CLASSES.items():
        s = cls(timeframe="1m")
        dt = best(lambda: s.generate(a, f), 1)
        print(f"  {name:<16}{n / dt:>14,.0f} bars/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
