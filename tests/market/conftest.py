"""A frozen-clock simulator (speed 0: time moves only when a test advances it) and a ccxt client on it."""

from __future__ import annotations

import pytest


@pytest.fixture
def sim(cfg):
    from cockpit.sim import start_simulator

    handle = start_simulator({**cfg["sim"], "history_days": 20}, speed=0)
    yield handle
    handle.stop()


@pytest.fixture
def okx(cfg, sim):
    from cockpit.market.exchange import make_exchange

    x = make_exchange(cfg, mode="sim", rest_url=sim.url, credentials=sim.credentials, for_tests=True)
    x.load_markets()
    return x
