"""Key-press-to-repaint latency of the cockpit, idle and under load.

    /tmp/venv/bin/python bench/ui_latency.py [--presses 60] [--bars 1000000]

Drives the real app headlessly (Textual's test driver) over a temp SQLite file (the UI tests' demo
data plus ``--bars`` 1m candles). A typist thread sends keys through the driver, as a terminal's
input thread does, with random 20-150 ms gaps; each press is timed from the moment it is sent to the
first screen update that shows its effect, so any stall of the event loop counts:
  tf    `1`/`2` switch the chart timeframe: a poll worker reads the candles, the main thread redraws;
  help  `?` opens the help screen (pure UI), `escape` closes it.
"Loaded" runs the same presses while (1) a backtest over all ``--bars`` candles runs in a child
process from a thread worker, as the backtest screen runs it (restarted whenever it finishes), and
(2) the real engine runs in this process, as `cockpit` runs it under the UI, on the built-in
simulator at ``--speed`` (default 3600x: an hour of market per second), ingesting, deciding and
trading into the database the UI reads. ``--writer`` adds a synthetic thread inserting rows every
10 ms. Figures are printed with the loaded/idle ratio; the target is loaded p99 <= 2x idle p99 and
< 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "ui"))
from _stats import pct  # noqa: E402  (bench/ is on sys.path when a benchmark runs)


def insert_minute_candles(n: int, end_ms: int) -> float:
    from cockpit.db.connection import database_proxy

    t0 = time.perf_counter()
    rng = np.random.default_rng(11)
    close = 40_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    opens = np.concatenate([[close[0]], close[:-1]])
    wick = np.abs(rng.normal(0, 0.0004, (2, n))) * close
    hi, lo = np.maximum(opens, close) + wick[0], np.minimum(opens, close) - wick[1]
    start = end_ms - n * 60_000
    con = database_proxy.connection()  # raw executemany: a million rows in seconds, not minutes
    with database_proxy.atomic():
        con.executemany(
            "INSERT INTO market_data (symbol, timeframe, timestamp, open, high, low, close, volume) "
            "VALUES ('BTC/USDT:USDT', '1m', ?, ?, ?, ?, ?, 1.0)",
            zip(range(start, start + n * 60_000, 60_000), opens.tolist(), hi.tolist(), lo.tolist(), close.tolist()),
        )
    return time.perf_counter() - t0


class Writer(threading.Thread):
    """Inserts engine-like rows until stopped; counts them."""

    def __init__(self, db, now_ms: int) -> None:
        super().__init__(daemon=True)
        self.db, self.now, self.rows, self.stop_event = db, now_ms, 0, threading.Event()

    def run(self) -> None:
        from cockpit.db import models as m

        ts = self.now
        try:
            while not self.stop_event.is_set():
                ts += 60_000
                with self.db.atomic():
                    m.PriceSnapshot.create(
                        symbol="BTC/USDT:USDT",
                        timestamp=ts,
                        last_price=67000 + ts % 997,
                        mark_price=67000,
                        index_price=67000,
                    )
                    m.PositionSnapshot.create(
                        symbol="BTC/USDT:USDT",
                        timestamp=ts,
                        side="long",
                        size=0.1,
                        entry_price=66000,
                        unrealized_pnl=float(ts % 100),
                    )
                    m.Balance.create(currency="USDT", timestamp=ts, total=10000 + ts % 50)
                    m.RiskEventRow.create(
                        symbol="BTC/USDT:USDT", timestamp=ts, level="INFO", rule="bench", details=f"row {self.rows}"
                    )
                    m.MarketData.insert(
                        symbol="BTC/USDT:USDT",
                        timeframe="15m",
                        timestamp=ts * 15,
                        open=1,
                        high=2,
                        low=0.5,
                        close=1.5,
                        volume=1,
                    ).on_conflict_ignore().execute()
                self.rows += 5
                time.sleep(0.01)
        finally:
            self.db.close()


def start_engine(cfg: dict, args) -> tuple:
    """The real engine in this process, as `cockpit` runs it under the UI: its threads ingest from the
    built-in simulator (ccxt over loopback) at ``--speed``, decide, check risk and trade
    (auto-approval, so orders flow) into the same database the UI reads."""
    import io

    from cockpit.engine.eventlog import EventLog, route_stdlib_logging
    from cockpit.engine.handle import EngineHandle

    ecfg = dict(cfg)
    for section, values in (
        ("sim", {"speed": args.speed}),
        ("exchange", {"backfill_days": 3}),
        ("execution", {"approval": "auto_within_limits"}),
        ("engine", {"fast_loop_s": 0.25, "ingest_interval_s": 0.5}),
    ):
        ecfg[section] = {**cfg[section], **values}
    log = EventLog(fmt="json", stream=io.StringIO())
    route_stdlib_logging(log, "WARNING")  # into the engine's log, as `cockpit` does, not onto the figures
    handle = EngineHandle(ecfg, log=log)
    handle.start()
    from cockpit.db.connection import database_proxy

    return handle, engine_rows_written(database_proxy.obj)


def engine_rows_written(db) -> int:
    return sum(
        db.execute_sql(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in (
            "market_data",
            "price_snapshots",
            "position_snapshots",
            "balances",
            "orders",
            "order_lifecycle_events",
            "decisions",
            "risk_events",
        )
    )


class Typist:
    """Types from its own thread, the way a terminal driver delivers keys: each press is stamped when
    it is sent, so a stalled event loop (a long handler, a garbage-collection pause) counts against
    the latency instead of hiding it, as timing from inside the loop would."""

    CHARS = {"1": "1", "2": "2", "question_mark": "?", "escape": "\x1b"}

    def __init__(self, app, seed: int = 7) -> None:
        self.app = app
        self.pred = lambda: False
        self.hit: float | None = None
        self.seen = threading.Event()
        self.rng = random.Random(seed)
        self.help_open = False

    def on_display(self) -> None:  # event-loop thread: after each screen update
        if self.hit is None and self.pred():
            self.hit = time.perf_counter()
            self.seen.set()

    def press(self, key: str, pred) -> float:  # typist thread
        from textual import events

        ev = events.Key(key, self.CHARS[key])
        ev.set_sender(self.app)
        self.hit = None
        self.seen.clear()
        self.pred = pred
        t0 = time.perf_counter()
        self.app._driver.send_message(ev)
        if not self.seen.wait(10):
            raise RuntimeError(f"no repaint within 10 s after {key!r}")
        self.pred = lambda: False
        time.sleep(self.rng.uniform(0.02, 0.15))  # a person's gap between keys, at random phases
        return (self.hit - t0) * 1000

    def tf(self, i: int) -> float:
        from cockpit.ui.widgets.candles import CandlesChart

        chart = self.app.main_screen.query_one("#candles", CandlesChart)
        tf = ("15m", "1h")[i % 2]
        return self.press({"15m": "1", "1h": "2"}[tf], lambda: chart.timeframe == tf)

    def help(self) -> float:
        from cockpit.ui.screens.help import HelpScreen

        want = not self.help_open
        self.help_open = want
        return self.press(
            "question_mark" if want else "escape", lambda: isinstance(self.app.screen, HelpScreen) == want
        )


async def run(args) -> int:
    from demo_data import NOW, fill_demo

    from cockpit.backtest.api import BacktestRequest, run_backtest
    from cockpit.config import load_config
    from cockpit.data import DataService
    from cockpit.db import migrate, open_database
    from cockpit.ui.app import create_app
    from cockpit.ui.backtest_proc import BacktestCancelledError, run_in_process

    tmp = tempfile.TemporaryDirectory()
    url = f"sqlite:///{tmp.name}/bench.db"
    db = open_database(url)
    migrate(db)
    fill_demo()
    ins_s = insert_minute_candles(args.bars, NOW)
    print(f"setup: {args.bars:,} 1m candles inserted in {ins_s:.1f}s")
    cfg = load_config(None, environ={}, overrides={"database.url": url, "ui.refresh_ms": args.refresh_ms})
    app = create_app(cfg, db=db, operator="bench")

    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()
        typist = Typist(app)
        orig = app._display

        def hooked(screen, renderable):
            r = orig(screen, renderable)
            if renderable is not None and not app._batch_count:
                typist.on_display()
            return r

        app._display = hooked

        def presses() -> dict[str, list[float]]:
            res: dict[str, list[float]] = {"tf": [], "help": []}
            for i in range(args.presses):
                res["tf"].append(typist.tf(i))
                res["help"].append(typist.help())  # opens the help screen
                res["help"].append(typist.help())  # and closes it again
            return res

        async def both(label: str) -> dict[str, list[float]]:
            return await asyncio.to_thread(presses)

        def gc_mark() -> tuple[int, int, int]:
            g = app.gc_idle
            return len(g.minor_ms), len(g.major_ms), g.forced

        g0 = gc_mark()
        idle = await both("idle")
        g_idle = gc_mark()

        ds = DataService(db)
        stop = threading.Event()
        bt = {"runs": 0, "bars": 0, "s": 0.0, "error": None}

        def backtest_loop() -> None:
            try:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    total = [0]
                    req = BacktestRequest(strategy="ema_trend", timeframe="1m")
                    if args.thread:
                        run_backtest(cfg, ds, req, progress=lambda d, n: total.__setitem__(0, n), cancel=stop)
                    else:  # what the backtest screen does
                        run_in_process(cfg, req, progress=lambda d, n: total.__setitem__(0, n), cancel=stop)
                    bt["runs"] += 1
                    bt["bars"] += total[0]
                    bt["s"] += time.perf_counter() - t0
            except BacktestCancelledError:
                pass
            except Exception as e:  # noqa: BLE001
                if not stop.is_set():
                    bt["error"] = f"{type(e).__name__}: {e}"
            finally:
                db.close()

        if not args.no_backtest:
            app.run_worker(backtest_loop, thread=True, group="backtest", exit_on_error=False)
        writer = Writer(db, NOW)
        if args.writer:
            writer.start()
        engine = start_engine(cfg, args) if not args.no_engine else None
        await asyncio.sleep(3.0)  # let the backtest start, load its candles and enter the bar loop
        w0, t_load = writer.rows, time.perf_counter()
        g1 = gc_mark()
        loaded = await both("loaded")
        g_loaded = gc_mark()
        rows_s = (writer.rows - w0) / (time.perf_counter() - t_load)
        engine_rows = engine_rows_written(db) - engine[1] if engine else 0
        engine_status = engine[0].engine.status_dict() if engine else {}
        stop.set()
        writer.stop_event.set()
        if writer.is_alive():
            writer.join()
        if engine:
            engine[0].stop()
        await app.workers.wait_for_complete()

    print(f"\nkey-press-to-repaint latency over {args.presses} presses each (ms):")
    print(f"{'':14}{'p50':>8}{'p99':>8}{'max':>8}")
    ratios = []
    for kind in ("tf", "help"):
        for label, res in (("idle", idle), ("loaded", loaded)):
            xs = res[kind]
            print(f"{kind + ' ' + label:14}{statistics.median(xs):8.1f}{pct(xs, 0.99):8.1f}{max(xs):8.1f}")
        ratios.append(
            (
                kind,
                pct(loaded[kind], 0.50) / max(pct(idle[kind], 0.50), 1e-9),
                pct(loaded[kind], 0.99) / max(pct(idle[kind], 0.99), 1e-9),
            )
        )
    for kind, r50, r99 in ratios:
        print(f"{kind}: loaded/idle p50 x{r50:.2f}, p99 x{r99:.2f}")
    rate = bt["bars"] / bt["s"] if bt["s"] else 0.0
    print(
        f"load: backtest {bt['runs']} full run(s) finished, {rate:,.0f} bars/s when finished"
        f"{' (error: ' + bt['error'] + ')' if bt['error'] else ''}"
    )
    if engine:
        print(
            f"load: in-process engine on the built-in simulator at {args.speed:,.0f}x "
            f"(state {engine_status.get('state')}, {engine_status.get('cycles', '?')} cycles), "
            f"{engine_rows:,} rows written during the loaded presses"
        )
    if args.writer:
        print(f"load: writer thread {rows_s:,.0f} rows/s")
    g = app.gc_idle

    def pauses(xs: list[float]) -> str:
        return f"pause p50 {statistics.median(xs):.1f} ms, max {max(xs):.1f} ms" if xs else "none"

    print(
        f"garbage collection (cockpit.ui.gc_idle): during the idle presses {g_idle[0] - g0[0]} minor, "
        f"{g_idle[1] - g0[1]} major ({g_idle[2] - g0[2]} forced); during the loaded ones {g_loaded[0] - g1[0]} minor, "
        f"{g_loaded[1] - g1[1]} major ({g_loaded[2] - g1[2]} forced); whole run: minor {pauses(g.minor_ms)}; "
        f"major {pauses(g.major_ms)}"
    )
    worst = max(pct(loaded[k], 0.99) for k in loaded)
    print(f"target: loaded p99 < 100 ms -> {'met' if worst < 100 else 'NOT met'} ({worst:.1f} ms)")
    tmp.cleanup()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presses", type=int, default=60)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--refresh-ms", type=int, default=500)
    ap.add_argument("--no-backtest", action="store_true", help="no backtest in the loaded phase")
    ap.add_argument("--no-engine", action="store_true", help="no engine on the simulator in the loaded phase")
    ap.add_argument("--speed", type=float, default=3600.0, help="simulator speed of the loaded phase's engine")
    ap.add_argument(
        "--writer",
        action="store_true",
        help="also a thread inserting engine-like rows every 10 ms (a synthetic extra load)",
    )
    ap.add_argument(
        "--thread",
        action="store_true",
        help="run the backtest in a thread of the UI process (the screen uses a child process)",
    )
    return asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
