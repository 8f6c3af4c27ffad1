"""Fixtures for execution tests: the built-in OKX simulator on loopback, ccxt okx pointed at it, and an
OrderManager over a fresh database."""

from __future__ import annotations

import pytest


@pytest.fixture
def sim(cfg):
    from cockpit.sim.server import start_simulator

    h = start_simulator(cfg["sim"], port=0, speed=0)  # time only moves when a test advances it
    yield h
    h.stop()


@pytest.fixture
def okx(sim, cfg):
    from cockpit.execution.okx import OKXExecutor
    from cockpit.market.exchange import make_exchange

    ex = make_exchange(cfg, mode="sim", rest_url=sim.url, credentials=sim.credentials, for_tests=True)
    return OKXExecutor(ex, cfg, symbol=cfg["symbol"], clock=sim.clock)


@pytest.fixture
def make_manager(db, cfg, okx, sim):
    """make_manager(approval='manual', **risk_overrides) -> OrderManager (a new one = a restart)."""
    from cockpit.data.order_store import OrderStore
    from cockpit.data.risk_store import RiskStore
    from cockpit.execution.manager import OrderManager
    from cockpit.risk import RiskLimits, RiskManager

    def make(approval: str = "manual", **risk):
        c = {**cfg, "execution": {**cfg["execution"], "approval": approval}, "risk": {**cfg["risk"], **risk}}
        rm = RiskManager(RiskLimits.from_config(c), clock=sim.clock, state=RiskStore())
        return OrderManager(c, okx, OrderStore(), rm, sim.clock)

    return make


@pytest.fixture
def decision_id(db):
    """make a decisions row (orders.decision_id references it)."""
    from cockpit.db.models import DecisionRow

    def make() -> int:
        return DecisionRow.insert(symbol="BTC/USDT:USDT", timeframe="1h", timestamp=0, action="buy").execute()

    return make
