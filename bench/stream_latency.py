"""Exchange-event-to-engine latency: WebSocket streams (ccxt.pro) against REST polling (ccxt), measured
in the same run against the built-in simulator on loopback (wall clock speed 1).

    python bench/stream_latency.py [--rounds 3] [--fills 12] [--probes 40]

Two kinds of event, each observed at the same time by a stream consumer and by a REST poller polling
at the engine's own periods (``engine.fast_loop_s`` for orders/fills, ``engine.ingest_interval_s`` for
the price snapshot the header shows):

* a fill: a market order placed by an outside client; latency = from just before the placement until
  the consumer first holds the filled order (stream: ``watch_orders``; REST: ``fetch_closed_orders``);
* a ticker: at a random instant t, latency = until the consumer first holds a ticker stamped at or after
  t (stream: ``watch_ticker``; REST: ``fetch_ticker``) - how long after the market moved the engine knows.

"To engine": what the engine's stream callbacks and REST loops receive. Prints p50/p99 per method and
kind as the median over ``--rounds`` rounds. No assertions: a measurement, not a test.

``--to screen``: exchange event to what the trader SEES. Per round and per method, the real engine
(``EngineHandle``, its embedded simulator at speed 1, engine periods as configured) runs in this
process with ``exchange.streams`` on (stream) or off (REST polling only), over a fresh SQLite file,
and the real cockpit app runs headless on it (Textual's ``App.run_test``, polling the database every
``ui.refresh_ms``), as ``cockpit`` runs them. A bench thread keeps the simulator's exchange moving
to its clock every 20 ms (so a fill happens when the market crosses the price, not when somebody
next asks). Every screen update is hooked (``App._display``):

* a fill: the engine's own resting limit order (written approved into the database, as an approval
  does; the engine submits it), priced where the simulated market will cross it 2-4 s later (at random);
  latency = from the moment the simulator fills it (its exchange listener) until the Orders pane's
  row for that order, as drawn, says FILLED;
* a ticker: at a random instant t, latency = until the header, as drawn, shows a last price from a
  price snapshot stamped at or after t.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stats import now_ms, pct, print_latency_table  # noqa: E402

from cockpit.config import load_config  # noqa: E402
from cockpit.market.exchange import make_exchange, make_stream_exchange  # noqa: E402
from cockpit.sim import start_simulator  # noqa: E402

SYM = "BTC/USDT:USDT"


class Round:
    def __init__(self, cfg, sim, fills: int, probes: int) -> None:
        self.cfg, self.sim, self.n_fills, self.n_probes = cfg, sim, fills, probes
        self.fill_poll_s = float(cfg["engine"]["fast_loop_s"])
        self.ticker_poll_s = float(cfg["engine"]["ingest_interval_s"])
        self.stream_tickers: list[tuple[float, int]] = []  # (wall ms seen, ticker ts)
        self.rest_tickers: list[tuple[float, int]] = []
        self.stream_fills: dict[str, float] = {}  # order id -> wall ms first seen filled
        self.rest_fills: dict[str, float] = {}
        self.placed: dict[str, float] = {}  # order id -> wall ms just before placing
        self.probes: list[tuple[float, int]] = []  # (wall ms, exchange ms)
        self.stop = threading.Event()
        self.ready = threading.Event()

    def client(self):
        return make_exchange(
            self.cfg, mode="sim", rest_url=self.sim.url, credentials=self.sim.credentials, for_tests=True
        )

    # ------------------------------------------------------------ stream side (its own thread and loop)

    def streams(self) -> None:
        async def main() -> None:
            x = make_stream_exchange(
                self.cfg, mode="sim", rest_url=self.sim.url, credentials=self.sim.credentials, for_tests=True
            )

            async def tickers() -> None:
                while not self.stop.is_set():
                    t = await x.watch_ticker(SYM)
                    self.stream_tickers.append((now_ms(), int(t["timestamp"])))

            async def orders() -> None:
                while not self.stop.is_set():
                    for o in await x.watch_orders(SYM):
                        if o.get("filled") and o["id"] not in self.stream_fills:
                            self.stream_fills[o["id"]] = now_ms()

            tasks = [asyncio.ensure_future(tickers()), asyncio.ensure_future(orders())]
            await x.watch_ticker(SYM)
            await asyncio.sleep(0.5)  # orders subscribed and logged in
            self.ready.set()
            while not self.stop.is_set():
                await asyncio.sleep(0.05)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await x.close()

        asyncio.run(main())

    # ------------------------------------------------------------ REST side (the engine's polling periods)

    def rest_ticker_poller(self) -> None:
        x = self.client()
        while not self.stop.is_set():
            t = x.fetch_ticker(SYM)
            self.rest_tickers.append((now_ms(), int(t["timestamp"])))
            self.stop.wait(self.ticker_poll_s)

    def rest_fill_poller(self) -> None:
        x = self.client()
        x.load_markets()
        while not self.stop.is_set():
            for o in x.fetch_closed_orders(SYM, limit=50):
                if o.get("filled") and o["id"] not in self.rest_fills:
                    self.rest_fills[o["id"]] = now_ms()
            self.stop.wait(self.fill_poll_s)

    # ------------------------------------------------------------ events

    def run(self) -> dict[str, list[float]]:
        threads = [
            threading.Thread(target=f, daemon=True)
            for f in (self.streams, self.rest_ticker_poller, self.rest_fill_poller)
        ]
        for t in threads:
            t.start()
        self.ready.wait(15)
        trader = self.client()
        trader.load_markets()
        rng = random.Random(7)
        side = "buy"
        fills_left, probes_left = self.n_fills, self.n_probes
        while fills_left or probes_left:
            if fills_left and (not probes_left or rng.random() < self.n_fills / (self.n_fills + self.n_probes)):
                t0 = now_ms()
                o = trader.create_order(SYM, "market", side, 1)
                self.placed[o["id"]] = t0
                side = "sell" if side == "buy" else "buy"
                fills_left -= 1
            else:
                self.probes.append((now_ms(), self.sim.clock.now_ms()))
                probes_left -= 1
            time.sleep(rng.uniform(0.2, 1.2))
        time.sleep(max(self.fill_poll_s, self.ticker_poll_s) + 1.0)  # the slowest poller sees the last event
        self.stop.set()
        for t in threads:
            t.join(15)
        return self.latencies()

    def latencies(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for name, seen in (("stream", self.stream_fills), ("rest", self.rest_fills)):
            out[f"fill/{name}"] = [seen[i] - t0 for i, t0 in self.placed.items() if i in seen]
        for name, recs in (("stream", self.stream_tickers), ("rest", self.rest_tickers)):
            lat = []
            for wall, ts in self.probes:
                later = [w for w, t in recs if t >= ts and w >= wall]
                if later:
                    lat.append(min(later) - wall)
            out[f"ticker/{name}"] = lat
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fills", type=int, default=12)
    ap.add_argument("--probes", type=int, default=40)
    ap.add_argument(
        "--to",
        choices=("engine", "screen"),
        default="engine",
        help="engine: event -> what the engine receives; screen: event -> the cockpit's screen",
    )
    args = ap.parse_args()
    if args.to == "screen":
        from stream_screen import main as screen_main

        screen_main(args)
        return
    cfg = load_config(None, environ={})
    sim = start_simulator({**cfg["sim"], "history_days": 3}, speed=1.0)
    try:
        sim.exchange.set_leverage(10, "isolated", sim.clock.now_ms())
        per_round: dict[str, list[tuple[float, float, int]]] = {}
        for r in range(args.rounds):
            lat = Round(cfg, sim, args.fills, args.probes).run()
            for k, xs in lat.items():
                per_round.setdefault(k, []).append((pct(xs, 0.5), pct(xs, 0.99), len(xs)))
                print(
                    f"round {r + 1}: {k:<14} n={len(xs):>3}  p50 {pct(xs, 0.5):8.1f} ms  p99 {pct(xs, 0.99):8.1f} ms",
                    flush=True,
                )
    finally:
        sim.stop()
    print(
        f"\nexchange event -> engine, median of {args.rounds} rounds (REST polls: fills every "
        f"engine.fast_loop_s={cfg['engine']['fast_loop_s']:g} s, prices every "
        f"engine.ingest_interval_s={cfg['engine']['ingest_interval_s']:g} s)"
    )
    print_latency_table(per_round)
    print("(to what the trader sees: --to screen)")


if __name__ == "__main__":
    main()
