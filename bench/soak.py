"""Soak: the engine on the built-in simulator at one simulated hour per second, with faults injected
every few seconds (429, 5xx, slow answers past the client timeout, malformed JSON, garbage values,
empty answers, dropped connections, rejected orders). Not part of CI.

    python bench/soak.py                 # 30 minutes
    python bench/soak.py --minutes 2     # a quick look

Prints: worker crashes (target 0), resident memory after warm-up and at the end (target: growth
under 10%), decision-loop lag p50/p99 (wall ms from a bar's close to its stored decision), decision
bars lost or decided twice, fills recorded twice or missing, whether the database's position equals
the simulator's at the end, and whether the ledger (Σ signed fills in ``trades``) equals the simulator's
position with every simulator fill recorded (targets 0 and yes).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from cockpit.config import load_config
from cockpit.data import DataService
from cockpit.domain.market import timeframe_ms
from cockpit.engine.eventlog import EventLog, route_stdlib_logging
from cockpit.engine.handle import EngineHandle
from _stats import pct  # noqa: E402  (bench/ is on sys.path when a benchmark runs)

# Same as tests/support/trading.py: the engine's order flow under stress, not the default policy.
ACTIVE = {
    "decision_timeframe": "1h",
    "strategies.trend_core.params.lookback_1": 1,
    "strategies.trend_core.params.lookback_2": 2,
    "strategies.trend_core.params.lookback_3": 4,
    "strategies.trend_core.params.lookback_4": 0,
    "strategies.trend_core.params.vol_days": 2,
    "strategies.trend_core.params.allow_short": True,
}
FAULTS = ("rate_limit", "server_error", "slow", "malformed", "garbage", "empty", "drop", "reject_order")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class Collector(io.TextIOBase):
    """Keeps the engine's JSON lines in memory (counted) instead of printing them."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self._lock = threading.Lock()

    def write(self, s: str) -> int:
        for line in s.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            ev = rec.get("event")
            if ev in ("decision", "decision_skipped", "worker_crashed", "stage_error"):
                # Keep only what the report needs, so the bench itself does not grow the RSS it measures.
                with self._lock:
                    self.events.append({"event": ev, "bar": rec.get("bar"), "stage": rec.get("stage")})
        return len(s)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--speed", type=float, default=3600.0, help="simulated seconds per second")
    ap.add_argument("--fault-every", type=float, default=3.0, help="seconds between injected faults")
    ap.add_argument("--warmup", type=float, default=30.0, help="seconds before the first RSS sample")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--db", help="keep the database here (default: a temporary file)")
    ap.add_argument(
        "--profile",
        choices=("active", "default"),
        default="active",
        help="active (default): hourly decisions and a fast two-sided trend core, so orders flow "
        "all the time (the tests' active-trader profile); default: the shipped configuration "
        "(daily decisions, mostly flat on the simulator)",
    )
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="cockpit-soak-")
    db_path = Path(args.db) if args.db else Path(tmp) / "soak.db"
    cfg = load_config(
        None,
        environ={},
        overrides={
            "database.url": f"sqlite:///{db_path}",
            "sim.speed": args.speed,
            "sim.seed": args.seed,
            "execution.approval": "auto_within_limits",
            "engine.fast_loop_s": 0.25,
            "engine.ingest_interval_s": 0.5,
            "exchange.timeout_ms": 1500,
            "exchange.max_retries": 2,
            "exchange.backfill_days": 20,
            "log.format": "json",
            **(ACTIVE if args.profile == "active" else {}),
        },
    )
    sink = Collector()
    log = EventLog(fmt="json", stream=sink)
    route_stdlib_logging(log, "WARNING")
    handle = EngineHandle(cfg, log=log)
    t_start = time.monotonic()
    handle.start()
    engine = handle.engine
    assert engine is not None
    sim = engine.stages.simulator
    if sim is None:
        print("the built-in simulator is not available:", engine.stages.availability, file=sys.stderr)
        handle.stop()
        return 1
    rng = random.Random(args.seed)
    injected: dict[str, int] = {}
    rss_start = None
    rss_peak = 0.0
    end = t_start + args.minutes * 60
    next_fault = time.monotonic() + args.fault_every
    try:
        while time.monotonic() < end:
            time.sleep(0.25)
            now = time.monotonic()
            if rss_start is None and now - t_start >= min(args.warmup, args.minutes * 60 / 4):
                rss_start = rss_mb()
            rss_peak = max(rss_peak, rss_mb())
            if now >= next_fault:
                kind = rng.choice(FAULTS)
                sim.faults.add(kind, count=rng.randint(1, 3), delay_s=2.0)
                injected[kind] = injected.get(kind, 0) + 1
                next_fault = now + args.fault_every
    except KeyboardInterrupt:
        pass
    sim.faults.clear()
    time.sleep(max(1.0, 2 * cfg["engine"]["fast_loop_s"]))  # one clean fast cycle to catch up
    rss_end = rss_mb()
    lags = engine.lag_samples()
    status = engine.status_dict()
    threads_alive = [t.name for t in engine._threads if t.is_alive()]
    # Position: the exchange's (through the executor) against the latest stored snapshot.
    om = engine.stages.orders
    exch_pos = db_pos = None
    if om is not None:
        try:
            exch_pos = om.executor.position(cfg["symbol"]).signed_size
        except Exception as e:  # noqa: BLE001
            exch_pos = f"error: {e}"
    handle.stop()
    elapsed = time.monotonic() - t_start
    with sim.exchange.lock:  # the simulator's own books as the engine last saw them: what the ledger must match
        true_pos = round(sum(p.pos for p in sim.exchange.positions.values()) * 0.01, 8)
        sim_fills = {f.trade_id for f in sim.exchange.fills}

    ds = DataService()
    snap = ds.latest_position_snapshot(cfg["symbol"])
    if snap:
        db_pos = float(snap["size"] or 0) * (1 if snap["side"] == "long" else -1 if snap["side"] == "short" else 0)
    decided = [e["bar"] for e in sink.events if e.get("event") == "decision"]
    skipped = [e["bar"] for e in sink.events if e.get("event") == "decision_skipped"]
    dup_bars = len(decided) - len(set(decided))
    lost = 0
    if decided:
        from datetime import datetime, timezone

        def ms(iso: str) -> int:
            return int(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp() * 1000)

        step = timeframe_ms(cfg["decision_timeframe"])
        seen = {ms(b) for b in decided} | {ms(b) for b in skipped}
        lo, hi = min(seen), max(seen)
        lost = sum(1 for t in range(lo, hi + step, step) if t not in seen)
    orders = ds.orders(limit=100000)
    missing_fills = dup_fills = 0
    for o in orders:
        trades = ds.trades(order_id=o["id"], limit=100000)
        total = sum(float(t["amount"]) for t in trades)
        ids = [t.get("exchange_trade_id") for t in trades if t.get("exchange_trade_id")]
        dup_fills += len(ids) - len(set(ids))
        if abs(total - float(o["filled"] or 0)) > 1e-9:
            missing_fills += 1
    all_trades = ds.trades(limit=1_000_000)
    ledger = round(sum(float(t["amount"]) * (1 if t["side"] == "buy" else -1) for t in all_trades), 8)
    lost_fills = len(sim_fills - {t.get("exchange_trade_id") for t in all_trades})
    crashes = sum(1 for e in sink.events if e.get("event") == "worker_crashed")
    print(
        f"soak: {elapsed / 60:.1f} min wall at {args.speed:g}x ({elapsed * args.speed / 3600:.0f} simulated hours), "
        f"faults injected every {args.fault_every:g}s: {json.dumps(injected, sort_keys=True)}"
    )
    print(
        f"  crashes (worker loops that died)       {crashes}   threads still alive before stop: {len(threads_alive)}/{len(engine._threads)}"
    )
    by_stage: dict[str, int] = {}
    for e in sink.events:
        if e.get("event") == "stage_error":
            by_stage[e.get("stage", "?")] = by_stage.get(e.get("stage", "?"), 0) + 1
    print(
        f"  stage errors recorded (retried, then recorded as risk events; never fatal)  {status['errors']} "
        f"{json.dumps(by_stage, sort_keys=True)}"
    )
    rs = rss_start or float("nan")
    print(
        f"  RSS after warm-up / end / peak (MB)    {rs:.1f} / {rss_end:.1f} / {rss_peak:.1f}   "
        f"growth {100 * (rss_end - rs) / rs:+.1f}%"
    )
    print(
        f"  decision-loop lag p50 / p99 (ms)       {pct(lags, 0.50):.0f} / {pct(lags, 0.99):.0f}   "
        f"({len(lags)} decisions, mean {statistics.fmean(lags) if lags else float('nan'):.0f})"
    )
    print(
        f"  decision bars decided / lost / decided twice   {len(decided)} / {lost} / {dup_bars}   "
        f"(coalesced when behind: {len(skipped)}, profile {args.profile}, {cfg['decision_timeframe']} bars)"
    )
    print(f"  orders {len(orders)}; fills missing / duplicated  {missing_fills} / {dup_fills}")
    print(f"  position exchange / database           {exch_pos} / {db_pos}")
    print(
        f"  ledger Σ fills / simulator position    {ledger} / {true_pos}   simulator fills not in trades: {lost_fills}"
    )
    print(f"  database: {db_path}")
    ok = (
        crashes == 0
        and lost == 0
        and dup_bars == 0
        and dup_fills == 0
        and lost_fills == 0
        and abs(ledger - true_pos) < 1e-9
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
