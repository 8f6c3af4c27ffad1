"""Exchange event to the cockpit's SCREEN, streams against REST polling (``stream_latency.py --to screen``).

See ``stream_latency.py``'s docstring for what is measured. Each round runs both methods one after
the other (which goes first alternates), each on its own engine, simulator, database and app.
"""

from __future__ import annotations

import asyncio
import io
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stats import now_ms, pct, print_latency_table  # noqa: E402

SYM = "BTC/USDT:USDT"
# A fill is priced where the market will be this long after it is written: random, so that the fill
# lands at a random phase of the engine's fast loop (woken when the order is written, then periodic).
LEAD_MS = (2_000, 4_000)


def _plain(widget: Any) -> str:
    c = widget.content
    return c.plain if hasattr(c, "plain") else str(c)


class ScreenRun:
    """One method (stream or REST) for one round: engine + simulator + app, ``fills`` fills and ``probes``
    ticker probes at random instants, every screen update checked for what it shows."""

    def __init__(self, method: str, fills: int, probes: int, seed: int) -> None:
        self.method, self.n_fills, self.n_probes = method, fills, probes
        self.rng = random.Random(seed)
        self.filled_at: dict[str, float] = {}  # client order id -> wall ms the simulator filled it
        self.shown_filled: dict[int, float] = {}  # database order id -> wall ms the screen first drew FILLED
        self.watch: dict[int, str] = {}  # database order id -> client order id (placed, not yet shown)
        self.cids: dict[int, str] = {}  # database order id -> client order id (every one placed)
        self.prices: list[tuple[float, int]] = []  # (wall ms drawn, exchange ms of the price snapshot drawn)
        self.probes: list[tuple[float, int]] = []  # (wall ms, exchange ms)
        self.unfilled = 0
        self.cfg: dict[str, Any] = {}

    # ------------------------------------------------------------ the screen (event-loop thread)

    def on_display(self, app: Any) -> None:
        from textual.widgets import DataTable, Static

        from cockpit.ui.render import num

        t = now_ms()
        snap = app.snapshot
        ms = app.main_screen
        if snap is not None and snap.price and ms.is_mounted:
            ts = int(snap.price.get("timestamp") or 0)
            if (not self.prices or ts > self.prices[-1][1]) and num(snap.price.get("last_price")) in _plain(
                ms.query_one("#header-info", Static)
            ):
                self.prices.append((t, ts))
        if self.watch and ms.is_mounted:
            table = ms.query_one("#orders-table", DataTable)
            for oid in list(self.watch):
                try:
                    cell = table.get_cell(str(oid), "order")
                except Exception:  # noqa: BLE001 - not listed yet
                    continue
                if "FILLED" in getattr(cell, "plain", str(cell)):
                    self.shown_filled[oid] = t
                    del self.watch[oid]

    # ------------------------------------------------------------ the run

    async def run(self) -> dict[str, list[float]]:
        from cockpit.config import load_config
        from cockpit.db import migrate, open_database
        from cockpit.engine.eventlog import EventLog, route_stdlib_logging
        from cockpit.engine.handle import EngineHandle
        from cockpit.ui.app import create_app

        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/bench.db"
        cfg = load_config(
            None,
            environ={},
            overrides={
                "database.url": url,
                "exchange.streams": self.method == "stream",
                "exchange.backfill_days": 3,
                "sim.speed": 1.0,
                "sim.history_days": 3,
            },
        )
        self.cfg = cfg
        db = open_database(url)
        migrate(db)
        log = EventLog(fmt="json", stream=io.StringIO())
        route_stdlib_logging(log, "ERROR")
        handle = EngineHandle(cfg, log=log, db=db)
        handle.start()
        engine = handle.engine
        assert engine is not None
        sim = engine.stages.simulator
        stop = threading.Event()

        def on_exchange(kind: str, obj: Any, fill: Any) -> None:  # under the simulator's exchange lock
            if kind == "order" and fill is not None and getattr(obj, "state", "") == "filled":
                self.filled_at.setdefault(obj.cl_ord_id, now_ms())

        sim.exchange.listeners.append(on_exchange)

        def drive() -> None:  # the exchange follows its clock whether or not anybody asks
            while not stop.is_set():
                try:
                    sim.exchange.advance(sim.clock.now_ms())
                except Exception:  # noqa: BLE001
                    pass
                stop.wait(0.02)

        driver = threading.Thread(target=drive, name="bench-drive", daemon=True)
        driver.start()
        app = create_app(cfg, engine=handle, db=db, operator="bench")
        try:
            async with app.run_test(size=(160, 48)) as pilot:
                orig = app._display

                def hooked(screen: Any, renderable: Any) -> Any:
                    r = orig(screen, renderable)
                    if renderable is not None and not app._batch_count:
                        self.on_display(app)
                    return r

                app._display = hooked  # type: ignore[method-assign]
                deadline = time.monotonic() + 90
                while not self.prices or (self.method == "stream" and engine.status.stream != "live"):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{self.method}: no price on the screen within 90 s")
                    await pilot.pause(0.2)
                await asyncio.to_thread(self.events, engine, sim)
                # the slowest path (REST fills: the fast loop's period, then the UI's poll) shows the last event
                end = time.monotonic() + 20
                while (self.watch and time.monotonic() < end) or time.monotonic() < end - 12:
                    await pilot.pause(0.1)
                self.unfilled = len(self.watch)
        finally:
            stop.set()
            driver.join(2)
            handle.stop()
            tmp.cleanup()
        return self.latencies()

    def events(self, engine: Any, sim: Any) -> None:
        """Fills and ticker probes in random order, 0.5-1.5 s apart (a fill waits for its own crossing)."""
        from cockpit.data.order_store import OrderStore
        from cockpit.domain.orders import Order, OrderStatus
        from cockpit.execution.ids import system_client_id

        om = engine.stages.orders
        store = OrderStore()
        fills_left, probes_left, k = self.n_fills, self.n_probes, 0
        try:
            while fills_left or probes_left:
                if fills_left and (not probes_left or self.rng.random() < fills_left / (fills_left + probes_left)):
                    now = sim.clock.now_ms()
                    p0, p1 = sim.market.price_at(now), sim.market.price_at(now + self.rng.randint(*LEAD_MS))
                    if abs(p1 - p0) < 0.3:  # a flat stretch: nothing crosses a resting price soon
                        time.sleep(0.3)
                        continue
                    side = "buy" if p1 < p0 else "sell"
                    k += 1
                    cid = system_client_id(om.namespace, "m", now, k)
                    oid, _ = store.create(
                        Order(SYM, side, "limit", 0.01, price=round(p1, 1), client_order_id=cid),
                        now_ms=now,
                        status=OrderStatus.APPROVED,
                        message="bench",
                    )
                    self.watch[oid] = self.cids[oid] = cid
                    engine.wake_fast()
                    fills_left -= 1
                    end = time.monotonic() + 10
                    while cid not in self.filled_at and time.monotonic() < end:
                        time.sleep(0.02)
                else:
                    self.probes.append((now_ms(), sim.clock.now_ms()))
                    probes_left -= 1
                time.sleep(self.rng.uniform(0.5, 1.5))
        finally:
            from cockpit.db.connection import database_proxy

            database_proxy.close()

    def latencies(self) -> dict[str, list[float]]:
        fills = [
            shown - self.filled_at[self.cids[oid]]
            for oid, shown in self.shown_filled.items()
            if self.cids[oid] in self.filled_at
        ]
        ticks = []
        for wall, ts in self.probes:
            later = [w for w, t in self.prices if t >= ts and w >= wall]
            if later:
                ticks.append(min(later) - wall)
        return {"fill": fills, "ticker": ticks}


def main(args: Any) -> None:
    per_round: dict[str, list[tuple[float, float, int]]] = {}
    cfg: dict[str, Any] = {}
    for r in range(args.rounds):
        for method in ("stream", "rest") if r % 2 == 0 else ("rest", "stream"):
            run = ScreenRun(method, args.fills, args.probes, seed=7 + r)
            lat = asyncio.run(run.run())
            cfg = run.cfg
            for kind, xs in lat.items():
                per_round.setdefault(f"{kind}/{method}", []).append((pct(xs, 0.5), pct(xs, 0.99), len(xs)))
                print(
                    f"round {r + 1}: {kind:<6} {method:<6} n={len(xs):>3}  p50 {pct(xs, 0.5):8.1f} ms  "
                    f"p99 {pct(xs, 0.99):8.1f} ms"
                    + (f"  ({run.unfilled} placed, never shown filled)" if kind == "fill" and run.unfilled else ""),
                    flush=True,
                )
    print(
        f"\nexchange event -> the cockpit's screen, median of {args.rounds} rounds (engine.fast_loop_s="
        f"{cfg['engine']['fast_loop_s']:g} s, engine.ingest_interval_s={cfg['engine']['ingest_interval_s']:g} s, "
        f"exchange.stream_snapshot_s={cfg['exchange']['stream_snapshot_s']:g} s, ui.refresh_ms="
        f"{cfg['ui']['refresh_ms']})"
    )
    print_latency_table(per_round)
