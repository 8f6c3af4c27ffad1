"""Backtest throughput: the event-driven engine and the fast path against backtesting.py and vectorbt,
measured in the same run on the same EMA(12)/EMA(26) always-in-market crossover (0.05% fee per side, 1x).

    python bench/backtest.py [--bars 1000000] [--data ../shared/data/btc_usdt_swap_1h.csv] [--repeat 3]
                             [--skip-backtesting-py] [--skip-scaling] [--skip-memory] [--skip-sweep]

Datasets: the real 1h file (when present) and N generated 1h bars. Ours are timed including signal
generation (EMAs), as backtesting.py/vectorbt runs include their indicator step. backtesting.py is
given the same precomputed direction array (its time is its event loop). vectorbt runs only when
importable (it is not a project dependency: install it in a separate environment for the benchmark).
Prints bars/s per engine and the ratios: targets are engine >= 5x backtesting.py, fast path >= vectorbt.
The generated bars are a driftless random walk: the crossover pays its fees into the ground there
(final equity near 0); that run is about speed, the real file about realistic trade density.

The limits (issue #22), measured in the same run on the same bars, every figure the median of
``--repeat`` rounds with ours and the reference alternated (the machine is shared):
* a bare Python loop of the same strategy (EMAs, flips at the next open, fees, lot rounding; its final
  equity equals the engine's): target event engine <= 1.5x its time;
* the same loop compiled with numba: target fast path (signals included) <= 3x its time;
* per-bar cost from 10k to 1M bars on bars where the crossover keeps trading to the end (a 240-bar cycle
  under a t(4) walk; on the random walk it stops once the equity is below one lot): target flat within
  20% (max/min of ns/bar), with the bare loop's figures beside it; peak traced memory of a 1M-bar run;
* a sweep, 100 EMA grid points x 100k bars: the default worker count against one worker (target: never
  slower) and the hand numba loop per point; vectorbt's sweep when importable (target: >= 20x vectorbt).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
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


def cyclical(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    """A 240-bar cycle (1% amplitude) under a t(4) walk: the crossover keeps trading through 1M bars."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    close = 30_000 * np.exp(np.cumsum(rng.standard_t(4, n) * 0.002) + 0.01 * np.sin(2 * np.pi * i / 240))
    open_ = np.concatenate(([close[0]], close[:-1]))
    hi = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.001, n)))
    lo = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.001, n)))
    ts = 1_577_836_800_000 + 3_600_000 * i.astype(np.int64)
    return {"timestamp": ts, "open": open_, "high": hi, "low": lo, "close": close, "volume": np.ones(n)}


def timed(fn, inner: int = 1):
    t = time.perf_counter()
    for _ in range(inner):
        out = fn()
    return (time.perf_counter() - t) / inner, out


def medians(fns: dict, rounds: int, inner: int = 1) -> dict:
    """{name: (median seconds, last result)}, the functions alternated round by round."""
    ts: dict = {k: [] for k in fns}
    outs: dict = {}
    for _ in range(rounds):
        for k, fn in fns.items():
            t, outs[k] = timed(fn, inner)
            ts[k].append(t)
    return {k: (statistics.median(v), outs[k]) for k, v in ts.items()}


def bare_loop(
    arr,
    fast: int = 12,
    slow: int = 26,
    fee: float = SETTINGS.taker_fee,
    capital: float = SETTINGS.capital,
    lot: float = SETTINGS.lot_size,
) -> float:
    """The same strategy as one plain Python loop: pandas-style EMAs, the direction decided at a close is
    taken at the next open (close the old side, enter the new one with the whole equity), taker fee per
    side, lot rounding; the equity marked at every close. Returns the final equity."""
    o = arr["open"].tolist()
    c = arr["close"].tolist()
    n = len(c)
    af, asl = 2.0 / (fast + 1), 2.0 / (slow + 1)
    bf, bs = 1.0 - af, 1.0 - asl
    ef = es = c[0]
    cash, side, size, entry = capital, 0, 0.0, 0.0
    prev = want = 0
    equity = [0.0] * n
    for i in range(n):
        if want != prev:
            px = o[i]
            if side != 0:
                cash += side * size * (px - entry) - size * px * fee
                side, size = 0, 0.0
            if want != 0:
                sz = math.floor(cash / (px * (1.0 + fee)) / lot + 1e-9) * lot
                if sz > 0:
                    side, size, entry = want, sz, px
                    cash -= sz * px * fee
            prev = want
        x = c[i]
        ef = bf * ef + af * x
        es = bs * es + asl * x
        want = (ef > es) - (ef < es) if i >= slow else 0
        equity[i] = cash + side * size * (x - entry) if side else cash
    return equity[-1]


def _hand_numba_kernel():
    from numba import njit

    @njit(cache=True)
    def hand(o, c, fast, slow, fee, capital, lot):
        n = len(c)
        af, asl = 2.0 / (fast + 1), 2.0 / (slow + 1)
        bf, bs = 1.0 - af, 1.0 - asl
        ef = es = c[0]
        cash, side, size, entry = capital, 0, 0.0, 0.0
        prev = want = 0
        equity = np.empty(n)
        for i in range(n):
            if want != prev:
                px = o[i]
                if side != 0:
                    cash += side * size * (px - entry) - size * px * fee
                    side, size = 0, 0.0
                if want != 0:
                    sz = math.floor(cash / (px * (1.0 + fee)) / lot + 1e-9) * lot
                    if sz > 0:
                        side, size, entry = want, sz, px
                        cash -= sz * px * fee
                prev = want
            x = c[i]
            ef = bf * ef + af * x
            es = bs * es + asl * x
            want = ((ef > es) - (ef < es)) if i >= slow else 0
            equity[i] = cash + side * size * (x - entry) if side != 0 else cash
        return equity

    return hand


_HAND = None


def hand_numba(arr, fast: int = 12, slow: int = 26) -> float:
    """bare_loop compiled with numba (the hand-written limit for the fast path)."""
    global _HAND
    if _HAND is None:
        _HAND = _hand_numba_kernel()
    eq = _HAND(
        np.ascontiguousarray(arr["open"]),
        np.ascontiguousarray(arr["close"]),
        fast,
        slow,
        SETTINGS.taker_fee,
        SETTINGS.capital,
        SETTINGS.lot_size,
    )
    return float(eq[-1])


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

    df = pd.DataFrame(
        {"Open": arr["open"], "High": arr["high"], "Low": arr["low"], "Close": arr["close"], "Volume": arr["volume"]},
        index=pd.to_datetime(arr["timestamp"], unit="ms"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(
            df, Follow, cash=10_000, commission=0.0005, exclusive_orders=True, finalize_trades=False
        )
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
    pf = vbt.Portfolio.from_signals(
        pd.Series(arr["close"]),
        entries=le,
        exits=se,
        short_entries=se,
        short_exits=le,
        price=pd.Series(arr["open"]),
        fees=0.0005,
        init_cash=10_000.0,
        freq="1h",
    )
    final = float(pf.final_value())
    return time.perf_counter() - t, final, int(pf.trades.count())


def scaling(rounds: int, sizes=(10_000, 100_000, 1_000_000)) -> None:
    print(
        "\n== per-bar cost by history length (cyclical bars: the crossover trades to the end), "
        f"median of {rounds} rounds"
    )
    print(f"  {'bars':>10} {'engine ns/bar':>14} {'bare loop ns/bar':>17} {'engine/bare':>12} {'trades':>8}")
    per, rel, bare = [], [], []
    for n in sizes:
        arr = cyclical(n)
        inner = max(1, 200_000 // n)
        m = medians({"ev": lambda: ours_event(arr), "bare": lambda: bare_loop(arr)}, rounds, inner)
        (t_ev, r), (t_b, eq) = m["ev"], m["bare"]
        assert r.final_equity == eq, (r.final_equity, eq)
        per.append(t_ev / n * 1e9)
        bare.append(t_b / n * 1e9)
        rel.append(t_ev / t_b)
        print(f"  {n:>10,} {t_ev / n * 1e9:>14.0f} {t_b / n * 1e9:>17.0f} {t_ev / t_b:>11.2f}x {len(r.trades):>8}")
    print(
        f"  engine per-bar cost max/min over {sizes[0]:,}..{sizes[-1]:,} bars: {max(per) / min(per):.2f} "
        f"(target <= 1.20: flat within 20%); the bare loop's own max/min in this run: {max(bare) / min(bare):.2f} "
        f"(machine noise); engine/bare max/min: {max(rel) / min(rel):.2f}"
    )


def memory(n: int) -> None:
    arr = cyclical(n)
    sig = EmaCross(12, 26).generate(arr)
    tracemalloc.start()
    r = run_engine(arr, sig, SETTINGS)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"\n== peak traced memory of the event engine, {n:,} cyclical bars (signals precomputed): "
        f"{peak / 2**20:.1f} MiB ({len(r.trades):,} trades)"
    )


def sweep(rounds: int, n: int = 100_000) -> None:
    from cockpit.backtest.sweep import SweepRequest, run_sweep
    from cockpit.config import load_config

    cfg = load_config(ROOT / "config.yaml")
    grid = {"fast": list(range(5, 15)), "slow": list(range(20, 70, 5))}
    arr = generated(n, seed=3)
    arr["timestamp"] = arr["timestamp"] - 3_600_000 * n  # all in the past (the CSV reader refuses future candles)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bars.csv")
        pd.DataFrame(arr).to_csv(path, index=False)

        def run(workers):
            return run_sweep(
                cfg, None, SweepRequest(strategy="ema_cross", grid=grid, csv=path, workers=workers, save=False)
            )

        def hand_all():
            for f in grid["fast"]:
                for s_ in grid["slow"]:
                    hand_numba(arr, f, s_)

        run(1)  # warm-up: kernels loaded in this process
        fns = {"default": lambda: run(None), "one": lambda: run(1), "hand": hand_all}
        try:
            import vectorbt

            vectorbt_sweep(arr, grid)  # warm-up: its numba functions
            fns["vbt"] = lambda: vectorbt_sweep(arr, grid)
        except ImportError:
            vectorbt = None
        m = medians(fns, rounds)  # alternated round by round
        # what a pool costs before its first result: spawn, imports, kernels, payload
        t_pool, _ = timed(lambda: _pool_startup(cfg))
    pts = len(grid["fast"]) * len(grid["slow"])
    (t_def, out_def), (t_one, _), (t_hand, _) = m["default"], m["one"], m["hand"]
    print(f"\n== sweep: {pts} EMA grid points x {n:,} bars (ema_cross, full window), median of {rounds} rounds")
    print(
        f"  default workers ({out_def['workers']}, {out_def['executor']}): {t_def:.2f} s; one worker: {t_one:.2f} s "
        f"-> default/one {t_def / t_one:.2f} (target <= 1: never slower than one worker)"
    )
    print(
        f"  hand numba loop, same points: {t_hand:.3f} s -> sweep/hand {t_one / t_hand:.1f}x "
        f"(the sweep also computes metrics and walk-forward windows per point)"
    )
    print(
        f"  process pool start-up (2 spawned workers, first result): {t_pool:.2f} s "
        f"(cockpit.backtest.sweep.POOL_STARTUP_S is the estimate the default uses)"
    )
    if vectorbt is None:
        print("  vectorbt: not installed in this environment, sweep vs vectorbt not measured")
        return
    t_vbt, metrics = m["vbt"]
    print(
        f"  vectorbt {vectorbt.__version__} sweep, same {pts} points in one from_signals over {pts} columns (its EMAs, "
        f"next-open fills, fees; total return, Sharpe and max drawdown per point): {t_vbt:.2f} s -> default sweep "
        f"{t_vbt / t_def:.1f}x faster (target >= 20x); best total return {max(metrics):+.1%}"
    )


def vectorbt_sweep(arr, grid) -> list[float]:
    """The same EMA-cross grid in vectorbt, as its users run a sweep: the moving averages of every point as
    columns, one ``Portfolio.from_signals`` over all of them (entries and exits decided at a close, filled at the
    next open, 0.05% fees, long and short), then a metric per column."""
    import vectorbt as vbt

    close, open_ = pd.Series(arr["close"]), pd.Series(arr["open"])
    fw = [f for f in grid["fast"] for _ in grid["slow"]]
    sw = [s_ for _ in grid["fast"] for s_ in grid["slow"]]
    fast = vbt.MA.run(close, fw, ewm=True).ma.to_numpy()
    slow = vbt.MA.run(close, sw, ewm=True).ma.to_numpy()
    d = np.sign(fast - slow)
    d[np.arange(len(close))[:, None] < np.asarray(sw)[None, :]] = 0  # each point's slow warm-up
    prev = np.vstack([np.zeros((1, d.shape[1])), d[:-1]])
    change = d != prev
    nxt = np.vstack([np.zeros((1, d.shape[1]), bool), (change & (d > 0))[:-1]])
    nxt_s = np.vstack([np.zeros((1, d.shape[1]), bool), (change & (d < 0))[:-1]])
    pf = vbt.Portfolio.from_signals(
        close,
        entries=nxt,
        exits=nxt_s,
        short_entries=nxt_s,
        short_exits=nxt,
        price=open_,
        fees=0.0005,
        init_cash=10_000.0,
        freq="1h",
    )
    tr = pf.total_return()
    pf.sharpe_ratio()
    pf.max_drawdown()
    return [float(x) for x in np.asarray(tr)]


def _pool_startup(cfg) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from cockpit.backtest.sweep import _init_worker

    payload = {"cfg": dict(cfg)}
    with ProcessPoolExecutor(
        max_workers=2, mp_context=mp.get_context("spawn"), initializer=_init_worker, initargs=(payload,)
    ) as pool:
        list(pool.map(_warm_kernels, range(2)))


def _warm_kernels(_):
    small = generated(1000, seed=2)
    ours_fast(small)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "btc_usdt_swap_1h.csv"))
    ap.add_argument("--repeat", type=int, default=3, help="rounds; every figure is the median over them")
    ap.add_argument("--skip-backtesting-py", action="store_true")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-sweep", action="store_true")
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
    hand_numba(small)
    vectorbt_run(small)
    print(f"numba: {'yes' if HAVE_NUMBA else 'NO (pure-Python fallback)'}; figures are medians of {args.repeat} rounds")
    for name, arr in sets:
        n = len(arr["close"])
        print(f"\n== {name}: {n:,} bars, EMA(12)/EMA(26) crossover, 0.05%/side, 1x")
        # short runs repeated inside each round so a time slice lost to another process does not dominate
        m = medians({"ev": lambda: ours_event(arr), "bare": lambda: bare_loop(arr)}, args.repeat, max(1, 200_000 // n))
        m.update(
            medians(
                {"fast": lambda: ours_fast(arr), "hand": lambda: hand_numba(arr)}, args.repeat, max(1, 5_000_000 // n)
            )
        )
        (t_ev, r_ev), (t_bare, eq_bare), (t_fa, r_fa), (t_hand, eq_hand) = m["ev"], m["bare"], m["fast"], m["hand"]
        rows = [
            ("event-driven engine", t_ev, r_ev.final_equity, len(r_ev.trades)),
            ("fast path (numba)", t_fa, r_fa.final_equity, r_fa.extra["trade_count"]),
            ("bare Python loop", t_bare, eq_bare, None),
            ("hand numba loop", t_hand, eq_hand, None),
        ]
        bp = None if args.skip_backtesting_py else backtesting_py(arr)
        if bp is not None:
            rows.append(("backtesting.py", bp[0], float(bp[1]["Equity Final [$]"]), int(bp[1]["# Trades"])))
        else:
            print("  backtesting.py: not run (not installed or skipped)")
        vb = vectorbt_run(arr)
        if vb is not None:
            vb = (
                min((vectorbt_run(arr) for _ in range(args.repeat - 1)), default=vb, key=lambda x: x[0])
                if args.repeat > 1
                else vb
            )
            rows.append(("vectorbt", vb[0], vb[1], vb[2]))
        else:
            print("  vectorbt: not installed in this environment (not a project dependency)")
        print(f"  {'engine':<22} {'seconds':>9} {'M bars/s':>9} {'final equity':>14} {'trades':>7}")
        for label, t, eq, nt in rows:
            print(f"  {label:<22} {t:>9.3f} {n / t / 1e6:>9.2f} {eq:>14,.2f} {'' if nt is None else nt:>7}")
        ref = {label: t for label, t, *_ in rows}
        print(f"  event-driven engine / bare Python loop: {t_ev / t_bare:.2f}x the time (target <= 1.5x)")
        print(f"  fast path / hand numba loop: {t_fa / t_hand:.2f}x the time (target <= 3x)")
        if "backtesting.py" in ref:
            print(f"  event-driven engine vs backtesting.py: {ref['backtesting.py'] / t_ev:.1f}x (target >= 5x)")
            print(f"  fast path vs backtesting.py: {ref['backtesting.py'] / t_fa:.1f}x")
        if "vectorbt" in ref:
            print(
                f"  fast path vs vectorbt: {ref['vectorbt'] / t_fa:.2f}x (target >= 1x; vectorbt's own fill and "
                "sizing conventions, so its equity/trade count differ slightly)"
            )
    if not args.skip_scaling:
        scaling(args.repeat)
    if not args.skip_memory:
        memory(args.bars)
    if not args.skip_sweep:
        sweep(args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
