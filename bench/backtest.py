"""Backtest throughput: the event-driven engine and the fast path against backtesting.py and vectorbt,
measured in the same run on the same EMA(12)/EMA(26) always-in-market crossover (0.05% fee per side, 1x).

    python bench/backtest.py [--bars 1000000] [--data ../shared/data/btc_usdt_swap_1h.csv] [--repeat 3]

Datasets: the real 1h file (when present) and N generated 1h bars. Ours are timed including signal
generation (EMAs), as backtesting.py/vectorbt runs include their indicator step. backtesting.py is
given the same precomputed direction array (its time is its event loop). vectorbt runs only when
importable (it is not a project dependency: install it in a separate environment for the benchmark).
Prints bars/s per engine and the ratios: targets are engine >= 5x backtesting.py, fast path >= vectorbt.
The generated bars are a driftless random walk: the crossover pays its fees into the ground there
(final equity near 0); that run is about speed, the real file about realistic trade density.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar would garble the table
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cockpit.backtest.engine import EngineSettings, run_engine  # noqa: E402
from cockpit.backtest.fast import HAVE_NUMBA, run_fast  # noqa: E402
from cockpit.backtest.signals import EmaCross  # noqa: E402

SETTINGS = EngineSettings(capital=10_000.0, taker_fee=0.0005, slippage_bps=0.0, leverage=1.0, lot_size=1e-8)


def generated(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    r = rng.standard_t(4, n) * 0.006
    close = 30_000 * np.exp(np.cumsum(r))
    open_ = np.concatenate(([30_000.0], close[:-1]))
    hi = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.003, n)))
    lo = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.003, n)))
    ts = 1_577_836_800_000 + 3_600_000 * np.arange(n, dtype=np.int64)
    return {"timestamp": ts, "open": open_, "high": hi, "low": lo, "close": close, "volume": np.ones(n)}


def best_of(k: int, fn):
    best, out = float("inf"), None
    for _ in range(k):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def ours_event(arr):
    sig = EmaCross(12, 26).generate(arr)
    return run_engine(arr, sig, SETTINGS)


def ours_fast(arr):
    sig = EmaCross(12, 26).generate(arr)
    return run_fast(arr, sig, SETTINGS, with_trades=False)


def backtesting_py(arr):
    try:
        import backtesting
        from backtesting.lib import FractionalBacktest
    except ImportError:
        return None
    D = EmaCross(12, 26).generate(arr).direction.astype(float)

    class Follow(backtesting.Strategy):
        def init(self):
            self.d = self.I(lambda: D, name="direction")

        def next(self):
            i = len(self.data) - 1
            if D[i] == D[i - 1]:
                return
            if D[i] > 0:
                self.buy()
            elif D[i] < 0:
                self.sell()
            else:
                self.position.close()

    df = pd.DataFrame({"Open": arr["open"], "High": arr["high"], "Low": arr["low"], "Close": arr["close"],
                       "Volume": arr["volume"]}, index=pd.to_datetime(arr["timestamp"], unit="ms"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(df, Follow, cash=10_000, commission=0.0005, exclusive_orders=True,
                                finalize_trades=False)
        t = time.perf_counter()
        stats = bt.run()
        return time.perf_counter() - t, stats


def vectorbt_run(arr):
    try:
        import vectorbt as vbt
    except ImportError:
        return None
    t = time.perf_counter()
    sig = EmaCross(12, 26).generate(arr)
    d = sig.direction
    prev = np.concatenate(([0], d[:-1]))
    change = d != prev
    # decided at the close, executed at the next open
    le = np.concatenate(([False], (change & (d > 0))[:-1]))
    se = np.concatenate(([False], (change & (d < 0))[:-1]))
    pf = vbt.Portfolio.from_signals(pd.Series(arr["close"]), entries=le, exits=se, short_entries=se, short_exits=le,
                                    price=pd.Series(arr["open"]), fees=0.0005, init_cash=10_000.0, freq="1h")
    final = float(pf.final_value())
    return time.perf_counter() - t, final, int(pf.trades.count())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "btc_usdt_swap_1h.csv"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-backtesting-py", action="store_true")
    args = ap.parse_args()

    sets = []
    if Path(args.data).is_file():
        df = pd.read_csv(args.data)
        sets.append(("real 1h file", {c: df[c].to_numpy() for c in df.columns}))
    else:
        print(f"(real data not found at {args.data}; generated bars only)")
    sets.append((f"generated {args.bars:,} bars", generated(args.bars)))

    # warm-ups: numba compile / load, vectorbt's numba functions
    small = generated(2000, seed=2)
    ours_fast(small)
    vectorbt_run(small)
    print(f"numba: {'yes' if HAVE_NUMBA else 'NO (pure-Python fallback)'}")
    for name, arr in sets:
        n = len(arr["close"])
        print(f"\n== {name}: {n:,} bars, EMA(12)/EMA(26) crossover, 0.05%/side, 1x")
        rows = []
        t_ev, r_ev = best_of(args.repeat, lambda: ours_event(arr))
        rows.append(("event-driven engine", t_ev, r_ev.final_equity, len(r_ev.trades)))
        t_fa, r_fa = best_of(args.repeat, lambda: ours_fast(arr))
        rows.append(("fast path (numba)", t_fa, r_fa.final_equity, r_fa.extra["trade_count"]))
        bp = None if args.skip_backtesting_py else backtesting_py(arr)
        if bp is not None:
            rows.append(("backtesting.py", bp[0], float(bp[1]["Equity Final [$]"]), int(bp[1]["# Trades"])))
        else:
            print("  backtesting.py: not run (not installed or skipped)")
        vb = vectorbt_run(arr)
        if vb is not None:
            vb = min((vectorbt_run(arr) for _ in range(args.repeat - 1)), default=vb, key=lambda x: x[0]) \
                if args.repeat > 1 else vb
            rows.append(("vectorbt", vb[0], vb[1], vb[2]))
        else:
            print("  vectorbt: not installed in this environment (not a project dependency)")
        print(f"  {'engine':<22} {'seconds':>9} {'M bars/s':>9} {'final equity':>14} {'trades':>7}")
        for label, t, eq, nt in rows:
            print(f"  {label:<22} {t:>9.3f} {n / t / 1e6:>9.2f} {eq:>14,.2f} {nt:>7}")
        ref = {label: t for label, t, *_ in rows}
        if "backtesting.py" in ref:
            print(f"  event-driven engine vs backtesting.py: {ref['backtesting.py'] / t_ev:.1f}x (target >= 5x)")
            print(f"  fast path vs backtesting.py: {ref['backtesting.py'] / t_fa:.1f}x")
        if "vectorbt" in ref:
            print(f"  fast path vs vectorbt: {ref['vectorbt'] / t_fa:.2f}x (target >= 1x; vectorbt's own fill and "
                  "sizing conventions, so its equity/trade count differ slightly)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
