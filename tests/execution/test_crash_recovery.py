"""kill -9 during order flow, 20 times, then restart: no duplicate orders on the exchange, every fill
recorded once, the database's position equals the simulator's.

The trading loop (tests/execution/crash_driver.py: the real OrderManager, OKXExecutor and SQLite file)
runs in a subprocess against the simulator running here, so the exchange outlives every crash. Half of
the kills land between submit and acknowledge: the simulator holds the placement request (a 'slow'
fault) and the process is killed as soon as the request has arrived.
"""

from __future__ import annotations

import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from cockpit.data import DataService

DRIVER = Path(__file__).with_name("crash_driver.py")
SYM = "BTC/USDT:USDT"
TRIALS = 20


def _env(sim) -> dict[str, str]:
    return {**os.environ, "SIM_KEY": sim.api_key, "SIM_SECRET": sim.secret, "SIM_PASS": sim.passphrase}


def _start(sim, db_url: str, mode: str) -> tuple[subprocess.Popen, "queue.Queue[str]"]:
    p = subprocess.Popen([sys.executable, str(DRIVER), db_url, sim.url, mode], env=_env(sim),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in p.stdout:
            lines.put(line.strip())
    threading.Thread(target=pump, daemon=True).start()
    return p, lines


def _wait_for(lines: "queue.Queue[str]", prefix: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line.startswith(prefix):
            return line
    raise AssertionError(f"driver never printed {prefix!r}")


@pytest.mark.slow
def test_kill_9_during_order_flow(sim, okx, db, db_url):
    rng = random.Random(20261124)
    in_flight_kills = 0
    for trial in range(TRIALS):
        p, lines = _start(sim, db_url, "run")
        try:
            _wait_for(lines, "ready")
            if trial % 2 == 0:
                # Between submit and acknowledge: hold the next placement and kill once it has arrived.
                fired_before = len(sim.faults.fired)
                sim.faults.add("slow", path="trade/batch-orders", delay_s=0.5)
                deadline = time.monotonic() + 30
                while len(sim.faults.fired) == fired_before and time.monotonic() < deadline and p.poll() is None:
                    time.sleep(0.005)
                in_flight_kills += len(sim.faults.fired) > fired_before
            else:
                time.sleep(rng.uniform(0.0, 1.5))  # a random moment of the order flow (~0.6 s per order)
        finally:
            p.kill()  # SIGKILL: no cleanup of any kind
            p.wait()
            sim.faults.clear()
    assert in_flight_kills >= TRIALS // 2 - 1
    time.sleep(0.6)  # let the simulator finish the last held request
    p, _ = _start(sim, db_url, "settle")
    assert p.wait(timeout=120) == 0, p.stderr.read()

    ds = DataService()
    ex = sim.exchange
    orders = ds.orders(limit=100000)
    assert len(orders) >= TRIALS, "the driver placed too few orders to test anything"
    # No duplicate orders: one exchange order per client id, and each belongs to exactly one database order.
    cl = Counter(o.cl_ord_id for o in ex.orders.values() if o.cl_ord_id)
    assert max(cl.values()) == 1
    by_cid = {o["client_order_id"]: o for o in orders}
    for o in ex.orders.values():
        if o.cl_ord_id:
            assert o.cl_ord_id in by_cid, f"exchange order {o.cl_ord_id} unknown to the database"
            assert by_cid[o.cl_ord_id]["exchange_order_id"] == o.ord_id
    # Nothing left in flight after the restart.
    assert not [o for o in orders if o["status"] in ("approved", "submitted", "partially_filled")]
    # Every fill recorded once.
    ex_fills = Counter(f.trade_id for f in ex.fills)
    db_fills = Counter(t["exchange_trade_id"] for t in ds.trades(limit=100000))
    assert db_fills == ex_fills
    # The database's position is the simulator's.
    ex_size = okx.position(SYM).signed_size
    stored = ds.positions(SYM)[0]
    db_size = stored["size"] * (1 if stored["side"] == "long" else -1 if stored["side"] == "short" else 0)
    assert db_size == pytest.approx(ex_size, abs=1e-9)
    # And the fills add up to it.
    net = sum(t["amount"] * (1 if t["side"] == "buy" else -1) for t in ds.trades(limit=100000))
    assert net == pytest.approx(ex_size, abs=1e-9)
