"""Risk state in the database: the kill switch, the drawdown halt and the daily-loss window survive a
restart (a new connection to the same file); config of the rules."""

from __future__ import annotations

import json

import pytest

from cockpit.config import RISK_RULES, ConfigError, load_config
from cockpit.data import DataService
from cockpit.data.risk_store import RiskStore
from cockpit.domain.clock import ManualClock
from cockpit.domain.orders import OrderIntent, Position
from cockpit.execution.base import AccountState
from cockpit.risk import RULES, MarketState, RiskLimits, RiskManager

SYM = "BTC/USDT:USDT"
DAY = 86_400_000
T0 = 20_000 * DAY
MKT = MarketState(SYM, 50_000.0)


def acct(eq=10_000.0, position=None):
    return AccountState(eq, eq, 0.0, position=position)


def buy():
    return OrderIntent(SYM, "buy", 0.01, stop_loss=49_000.0, decision_id=None)


def restart(db_url):
    from cockpit.db import close_database, open_database

    close_database()
    open_database(db_url)
    return RiskManager(RiskLimits(), clock=ManualClock(T0 + 1000), state=RiskStore())


def test_kill_switch_survives_restart_until_cleared(db, db_url):
    m = RiskManager(RiskLimits(), clock=ManualClock(T0), state=RiskStore())
    m.engage_kill_switch(SYM, by="alice", reason="drill")
    m2 = restart(db_url)
    assert m2.kill_switch_active and m2.state.kill_switch()["by"] == "alice"
    r = m2.check(buy(), acct(), MKT)
    assert r.rejected and r.assessment["rules"]["kill_switch"]["status"] == "rejected"
    # Closing stays possible while halted.
    close = OrderIntent(SYM, "sell", 0.01, reduce_only=True)
    assert m2.check(close, acct(position=Position(SYM, "long", 0.01, 50_000.0)), MKT).approved
    m2.clear_kill_switch(SYM, by="alice", equity=10_000.0)
    m3 = restart(db_url)
    assert not m3.kill_switch_active and m3.check(buy(), acct(), MKT).approved
    actions = [json.loads(e["details"]).get("action") for e in DataService().risk_events(rule="kill_switch")]
    assert "engaged" in actions and "cleared" in actions


def test_daily_loss_window_and_drawdown_halt_survive_restart(db, db_url):
    m = RiskManager(
        RiskLimits(daily_loss_limit_pct=0.03, max_drawdown_pct=0.15), clock=ManualClock(T0), state=RiskStore()
    )
    assert m.check(buy(), acct(10_000), MKT).approved  # day start 10_000, peak 10_000
    m2 = restart(db_url)
    assert m2.check(buy(), acct(9_600), MKT).assessment["rules"]["daily_loss"]["status"] == "rejected"
    m2.clock.advance(DAY)
    r = m2.check(buy(), acct(8_400), MKT)  # a new day, but 16% below the peak: halt
    assert r.assessment["rules"]["max_drawdown"]["status"] == "rejected"
    m3 = restart(db_url)
    m3.clock.advance(2 * DAY)
    assert m3.check(buy(), acct(9_990), MKT).assessment["rules"]["max_drawdown"]["status"] == "rejected"
    rows = DataService().risk_events(rule="max_drawdown")
    assert rows and rows[0]["level"] == "CRITICAL"


def test_order_rate_counts_submissions_in_the_database(db):
    from cockpit.data.order_store import OrderStore
    from cockpit.domain.orders import Order, OrderStatus

    store = OrderStore()
    for i in range(3):
        oid, _ = store.create(
            Order(SYM, "buy", "market", 0.01, client_order_id=f"ckrate0m{i}l0"), now_ms=T0, status=OrderStatus.APPROVED
        )
        store.transition(oid, OrderStatus.SUBMITTED, now_ms=T0 + i)
    m = RiskManager(RiskLimits(max_orders_per_hour=3), clock=ManualClock(T0 + 10), state=RiskStore())
    assert m.check(buy(), acct(), MKT).assessment["rules"]["order_rate"]["status"] == "rejected"
    m.clock.advance(3_600_000)
    assert m.check(buy(), acct(), MKT).approved


def test_every_configurable_rule_exists():
    assert set(RISK_RULES) <= set(RULES)


def test_disabled_rules_config():
    cfg = load_config(None, environ={}, overrides={"risk.disabled_rules": ["order_rate"]})
    assert RiskLimits.from_config(cfg).disabled_rules == ("order_rate",)
    with pytest.raises(ConfigError, match=r"risk\.disabled_rules\[0\].*kill_switch"):
        load_config(None, environ={}, overrides={"risk.disabled_rules": ["kill_switch"]})
