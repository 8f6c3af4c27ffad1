"""A minimal trading loop for the kill -9 test: the real OrderManager + OKXExecutor + SQLite file,
submitting alternating auto-approved market orders to the simulator as fast as it can.

    python crash_driver.py DB_URL SIM_URL      (credentials in SIM_KEY / SIM_SECRET / SIM_PASS)

The process imports everything once and forks one child per command (tests/support/killpoints.py:
fork_server), so a trial costs no interpreter start-up; each child is a process of its own, killed with SIGKILL
at its kill point or from outside. A child's args:

    run      prints "ready" after the start-up reconcile, then "order <id>" per order, forever
    settle   reconciles (start-up sync and a full reconcile) and exits 0
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for support.killpoints


def trade(db_url: str, url: str, mode: str) -> int:
    from cockpit.config import load_config
    from cockpit.db import migrate, open_database
    from cockpit.db.models import DecisionRow
    from cockpit.domain.orders import OrderIntent
    from cockpit.engine.clock import ExchangeClock
    from cockpit.execution.manager import OrderManager
    from cockpit.execution.okx import OKXExecutor
    from cockpit.market.exchange import make_exchange

    cfg = load_config(
        None,
        environ={},
        overrides={
            "database.url": db_url,
            "execution.approval": "auto",
            "risk.max_orders_per_hour": 10000,
            "risk.daily_loss_limit_pct": 1.0,
            "risk.max_drawdown_pct": 1.0,
        },
    )
    migrate(open_database(db_url))
    creds = {"apiKey": os.environ["SIM_KEY"], "secret": os.environ["SIM_SECRET"], "password": os.environ["SIM_PASS"]}
    ex = make_exchange(cfg, mode="sim", rest_url=url, credentials=creds, for_tests=True)
    clock = ExchangeClock(lambda: int(ex.fetch_time()), rate=1.0)
    clock.sync()
    sym = cfg["symbol"]
    okx = OKXExecutor(ex, cfg, symbol=sym, clock=clock)
    om = OrderManager(cfg, okx, clock=clock, symbol=sym)
    om.sync()
    if mode == "settle":
        om.reconcile()
        return 0
    print("ready", flush=True)
    while True:
        did = DecisionRow.insert(symbol=sym, timeframe="1h", timestamp=clock.now_ms(), action="trade").execute()
        m = okx.mark_price(sym)
        buy = okx.position(sym).signed_size <= 0
        intent = OrderIntent(
            sym,
            "buy" if buy else "sell",
            0.01,
            stop_loss=round(m * (0.98 if buy else 1.02), 1),
            leverage=2.0,
            decision_id=did,
        )
        oid = om.submit_intent(intent)
        om.sync()
        print(f"order {oid}", flush=True)


def main() -> int:
    from support.killpoints import fork_server

    db_url, url = sys.argv[1:3]
    return fork_server(
        lambda args: trade(db_url, url, args[0]),
        preload=(
            "cockpit.config",
            "cockpit.db",
            "cockpit.db.models",
            "cockpit.engine.clock",
            "cockpit.execution.manager",
            "cockpit.execution.okx",
            "cockpit.market.exchange",
        ),
    )


if __name__ == "__main__":
    raise SystemExit(main())
