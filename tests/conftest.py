"""Shared fixtures: a fresh migrated SQLite file per test, and the optional real data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("COCKPIT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data_dir() -> Path:
    """../shared/data (real BTC/USDT candles); the test is skipped when it is absent."""
    if not (SHARED_DATA / "btc_usdt_swap_1h.csv").is_file():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cockpit.db'}"


@pytest.fixture
def db(db_url: str):
    """A fresh database file, migrated, bound to the models' proxy."""
    from cockpit.db import close_database, migrate, open_database

    database = open_database(db_url)
    migrate(database)
    yield database
    close_database()


@pytest.fixture
def ds(db):
    from cockpit.data import DataService

    return DataService(db)


@pytest.fixture
def cfg(tmp_path: Path, db_url: str):
    """The default configuration with the database pointed at the test's file."""
    from cockpit.config import load_config

    return load_config(None, environ={}, overrides={"database.url": db_url})


@pytest.fixture
def sim(cfg):
    """A frozen-clock simulator (speed 0: time moves only when a test advances it); 20 days of history."""
    from cockpit.sim import start_simulator

    handle = start_simulator({**cfg["sim"], "history_days": 20}, speed=0)
    yield handle
    handle.stop()


@pytest.fixture
def okx(cfg, sim):
    """ccxt's okx class pointed at ``sim``, markets loaded. (tests/execution has its own, an OKXExecutor.)"""
    from cockpit.market.exchange import make_exchange

    x = make_exchange(cfg, mode="sim", rest_url=sim.url, credentials=sim.credentials, for_tests=True)
    x.load_markets()
    return x
