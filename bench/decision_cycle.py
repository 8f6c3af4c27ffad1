"""The live decision cycle, stage by stage: what one decision costs at the default history.

    python bench/decision_cycle.py [--cycles 30] [--rounds 3] [--bars 1000] [--mode both|full|incremental]

Builds a migrated temporary SQLite database with generated candles for every configured timeframe (the
default config: 15m, 1h, 4h, 1d at ``engine.history_bars`` bars each) and funding, then runs N decision
cycles. Before each cycle one more decision bar closes: its candles (and the lower timeframes' candles
inside it) are inserted, untimed, as the ingestor would. Each cycle runs the engine's own stages:

    build_context   the candles per timeframe and the funding the decision reads (DataService)
    signals         every enabled strategy's on_bar
    analyze         TechnicalAnalysis.report over all timeframes (the issue #22 target: CPU <= 2 ms)
    decide          scorer + selector (the offline selector, llm.provider none) and the decisions row
    sizing          plan_intents

``full`` recomputes everything each cycle (build_context + a fresh report); ``incremental`` is what the
engine runs (ContextCache: only newer rows read; TechnicalAnalysis reusing its per-timeframe state). Per
stage it prints p50 and p99 of wall time and of CPU time (time.process_time) over the cycles, each the
median of ``--rounds`` rounds (each round on a fresh database). No assertions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.config import load_config  # noqa: E402
from cockpit.db import close_database, migrate, open_database  # noqa: E402
from cockpit.domain.market import timeframe_ms  # noqa: E402
from _stats import pct  # noqa: E402  (bench/ is on sys.path when a benchmark runs)

STAGES = ("build_context", "signals", "analyze", "decide", "sizing", "cycle")


def gen_candles(tf: str, start_ms: int, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    c = 30000 * np.exp(np.cumsum(rng.normal(0, 0.01 * (timeframe_ms(tf) / 86_400_000) ** 0.5, n)))
    o = np.concatenate([[c[0]], c[:-1]])
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.002, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.002, n)))
    ts = start_ms + np.arange(n, dtype=np.int64) * timeframe_ms(tf)
    return pd.DataFrame({"timestamp": ts, "open": o, "high": h, "low": lo, "close": c, "volume": rng.gamma(2, 10, n)})


def one_round(cfg: dict, mode: str, cycles: int, bars: int, seed: int) -> dict[str, dict[str, list[float]]]:
    from cockpit.data.data_service import DataService
    from cockpit.data.decision_store import DecisionStore
    from cockpit.db.models import FundingRate
    from cockpit.decision.engine import PortfolioDecisionEngine
    from cockpit.domain.clock import ManualClock
    from cockpit.engine.sizing import plan_intents
    from cockpit.indicators.analysis import TechnicalAnalysis
    from cockpit.market.csv_import import insert_candles
    from cockpit.strategies.base import build_context
    from cockpit.strategies.registry import build_strategies

    symbol, dtf, tfs = cfg["symbol"], cfg["decision_timeframe"], list(cfg["timeframes"])
    dms = timeframe_ms(dtf)
    with tempfile.TemporaryDirectory() as d:
        db = open_database(f"sqlite:///{d}/bench.db")
        migrate(db)
        t0 = 1_600_000_000_000 // dms * dms
        first_bar = t0 + bars * dms  # the first decision bar: `bars` decision bars of history before it
        series = {}
        for i, tf in enumerate(tfs):
            n_hist = (first_bar - t0) // timeframe_ms(tf)
            n_all = (first_bar + cycles * dms - t0) // timeframe_ms(tf)
            start = first_bar - max(bars, 1) * timeframe_ms(tf) if n_hist > bars + 50 else t0
            n_all = (first_bar + cycles * dms - start) // timeframe_ms(tf)
            series[tf] = gen_candles(tf, start, int(n_all), seed * 10 + i)
        with db.atomic():
            for tf, df in series.items():
                insert_candles(db, symbol, tf, df[df.timestamp < first_bar])
            fts = np.arange(t0, first_bar + cycles * dms, 8 * 3_600_000, dtype=np.int64)
            FundingRate.insert_many(
                [{"symbol": symbol, "timestamp": int(t), "funding_rate": 0.0001} for t in fts]
            ).execute()
        clock = ManualClock(first_bar)
        ds = DataService()
        strategies = build_strategies(cfg)
        engine = PortfolioDecisionEngine(cfg, ds, DecisionStore(), clock)
        ta = TechnicalAnalysis(cfg["regime"])
        cache = None
        if mode == "incremental":
            from cockpit.strategies.base import ContextCache

            cache = ContextCache()
        out: dict[str, dict[str, list[float]]] = {s: {"wall": [], "cpu": []} for s in STAGES}

        def timed(name, fn):
            w, c = time.perf_counter(), time.process_time()
            r = fn()
            out[name]["wall"].append((time.perf_counter() - w) * 1000)
            out[name]["cpu"].append((time.process_time() - c) * 1000)
            return r

        for k in range(cycles):
            bar = first_bar + k * dms
            now = bar + dms
            with db.atomic():  # the bar that just closed, and the lower timeframes' bars inside it (untimed)
                for tf, df in series.items():
                    insert_candles(db, symbol, tf, df[(df.timestamp >= bar) & (df.timestamp < now)])
            clock.set(now)
            w0, c0 = time.perf_counter(), time.process_time()
            if cache is None:
                ctx = timed("build_context", lambda: build_context(ds, symbol, tfs, now, bars))
                rep_ta = TechnicalAnalysis(cfg["regime"])  # nothing kept between cycles
            else:
                ctx = timed("build_context", lambda: cache.build(ds, symbol, tfs, now, bars))
                rep_ta = ta
            signals = timed("signals", lambda: [s.on_bar(ctx) for s in strategies])
            report = timed("analyze", lambda: rep_ta.report(ctx.candles_by_tf, primary=dtf))
            candles = ctx.candles(dtf)
            price = float(candles["close"][-1])
            decision = timed(
                "decide",
                lambda: engine.decide(
                    signals,
                    report,
                    str(report.get("regime")),
                    account={"equity": 10_000.0, "free": 10_000.0},
                    position={"side": "flat", "size": 0.0},
                    price=price,
                ),
            )
            timed(
                "sizing",
                lambda: plan_intents(
                    decision,
                    decision_id=decision.id,
                    price=price,
                    signals=signals,
                    equity=10_000.0,
                    position_signed=0.0,
                    cfg=cfg,
                ),
            )
            out["cycle"]["wall"].append((time.perf_counter() - w0) * 1000)
            out["cycle"]["cpu"].append((time.process_time() - c0) * 1000)
        close_database()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cycles", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--bars", type=int, default=None, help="history per timeframe (default: engine.history_bars)")
    p.add_argument("--mode", choices=("both", "full", "incremental"), default="both")
    args = p.parse_args()
    cfg = load_config(None, environ={})
    bars = int(args.bars or cfg["engine"]["history_bars"])
    modes = ("full", "incremental") if args.mode == "both" else (args.mode,)
    print(
        f"decision cycle: {', '.join(cfg['timeframes'])} x {bars} bars, decision timeframe "
        f"{cfg['decision_timeframe']}, {args.cycles} cycles, median of {args.rounds} rounds (ms)"
    )
    res: dict[str, list] = {m: [] for m in modes}
    for r in range(args.rounds):
        for m in modes:  # alternated, so both see the same machine load
            res[m].append(one_round(cfg, m, args.cycles, bars, seed=r))
    for m in modes:
        print(f"\n[{m}]")
        print(f"{'stage':<14}{'wall p50':>10}{'wall p99':>10}{'cpu p50':>10}{'cpu p99':>10}")
        for s in STAGES:
            vals = [
                statistics.median(pct(rr[s][k], q) for rr in res[m])
                for k, q in (("wall", 0.5), ("wall", 0.99), ("cpu", 0.5), ("cpu", 0.99))
            ]
            print(f"{s:<14}" + "".join(f"{v:>10.2f}" for v in vals))
    if "incremental" in res:
        cpu = statistics.median(pct(rr["analyze"]["cpu"], 0.5) for rr in res["incremental"])
        print(
            f"\nanalyze CPU p50 (incremental) {cpu:.2f} ms; issue #22 target <= 2 ms: "
            f"{'met' if cpu <= 2 else 'not met'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
