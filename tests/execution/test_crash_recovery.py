"""kill -9 during order flow, at aimed points, then restart: no duplicate orders on the exchange, every fill
recorded once, the database's position equals the simulator's.

The trading loop (tests/execution/crash_driver.py: the real OrderManager, OKXExecutor and SQLite file)
runs in a subprocess against the simulator running here, so the exchange outlives every crash. Each trial
kills the process at one seam of the order path (tests/support/killpoints.py: the order stored but not
sent, sent but not acknowledged, a fill stored before its status, one status step stored, the position
snapshot), the later ones landing after a few orders or in the start-up recovery of the previous crash;
one trial kills between submit and acknowledge from outside: the simulator holds the placement request
(a 'slow' fault) and the process is killed as soon as the request has arrived.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cockpit.data import DataService
from support.killpoints import ForkServer

DRIVER = Path(__file__).with_name("crash_driver.py")
SYM = "BTC/USDT:USDT"
# Where each trial dies ("in_flight": held by the simulator, killed from outside). N counts the seam's calls in
# the child, start-up recovery included: a small N lands in the recovery of the crash before (the order the first
# trial stored is sent by the second trial's recovery), a larger one after a few orders of the run.
KILLS = [
    "order_stored:1",
    "order_sent:1",
    "in_flight",
    "status_recorded:1",
    "fill_recorded:3",
    "status_recorded:5",
    "position_recorded:3",
    "order_sent:4",
    "fill_recorded:4",
    "order_stored:3",
]
TRIALS = len(KILLS)


def _env(sim) -> dict[str, str]:
    return {**os.environ, "SIM_KEY": sim.api_key, "SIM_SECRET": sim.secret, "SIM_PASS": sim.passphrase}


@pytest.mark.slow
def test_kill_9_during_order_flow(sim, okx, db, db_url):
    drv = ForkServer([sys.executable, str(DRIVER), db_url, sim.url], env=_env(sim))
    in_flight_kills = 0
    try:
        for kill_at in KILLS:
            if kill_at != "in_flight":
                drv.run(["run"], kill_at)
                code = drv.exit_code()
                assert code == -9 and drv.killed_at(kill_at), (kill_at, code, drv.err[-20:])
                continue
            pid = drv.run(["run"])
            try:
                drv.wait_for("ready")
                # Between submit and acknowledge: hold the next placement and kill once it has arrived.
                fired_before = len(sim.faults.fired)
                sim.faults.add("slow", path="trade/batch-orders", delay_s=0.5)
                deadline = time.monotonic() + 30
                while len(sim.faults.fired) == fired_before and time.monotonic() < deadline:
                    time.sleep(0.005)
                in_flight_kills += len(sim.faults.fired) > fired_before
            finally:
                os.kill(pid, signal.SIGKILL)  # no cleanup of any kind
                assert drv.exit_code() == -9
                sim.faults.clear()
        assert in_flight_kills == 1
        time.sleep(0.6)  # let the simulator finish the last held request
        drv.run(["settle"])
        assert drv.exit_code(timeout=120) == 0, drv.err[-40:]
    finally:
        drv.close()

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
