"""Scenario tests for every risk rule: a few hand-written situations and the expected verdict."""

from __future__ import annotations

import json

import pytest

from cockpit.domain.clock import ManualClock
from cockpit.domain.orders import OrderIntent, Position
from cockpit.execution.base import AccountState
from cockpit.risk import RULES, MarketState, MemoryRiskState, RiskLimits, RiskManager
from cockpit.risk.rules import ENTRY_RULES

SYM = "BTC/USDT:USDT"
DAY = 86_400_000
T0 = 20_000 * DAY + 3_600_000  # 01:00 UTC on some day


def rm(**limits) -> RiskManager:
    return RiskManager(RiskLimits(**limits), clock=ManualClock(T0), state=MemoryRiskState())


def acct(equity=10_000.0, position: Position | None = None, open_risk=0.0) -> AccountState:
    return AccountState(equity=equity, free=equity, used=0.0, position=position, open_risk=open_risk)


MKT = MarketState(SYM, mark_price=50_000.0)


def buy(amount=0.01, stop=49_000.0, **kw) -> OrderIntent:
    return OrderIntent(SYM, "buy", amount, stop_loss=stop, decision_id=1, **kw)


def sell(amount=0.01, stop=51_000.0, **kw) -> OrderIntent:
    return OrderIntent(SYM, "sell", amount, stop_loss=stop, decision_id=1, **kw)


def test_small_entry_with_stop_is_approved_and_every_rule_reported():
    r = rm().check(buy(0.01), acct(), MKT)
    assert r.status == "approved" and r.intent.amount == pytest.approx(0.01)
    rules = r.assessment["rules"]
    for rule in (
        "kill_switch",
        "max_drawdown",
        "daily_loss",
        "order_rate",
        "max_leverage",
        "price_sanity",
        "stop_loss",
        "max_position",
        "effective_leverage",
        "per_trade_risk",
        "total_risk",
        "precision",
    ):
        assert rules[rule]["status"] == "pass", rule
    json.dumps(r.assessment)  # JSON-able
    assert r.events == []


# (name, limits, intent, account kwargs, market, expected status, rule, rule status)
SCENARIOS = [
    ("leverage above max", {}, buy(0.01, leverage=5.0), {}, MKT, "rejected", "max_leverage", "rejected"),
    (
        "position notional capped",
        {"max_position_notional": 1000.0, "max_risk_per_trade_pct": 1.0, "max_total_risk_pct": 1.0},
        buy(0.1),
        {},
        MKT,
        "reduced",
        "max_position",
        "reduced",
    ),
    (
        "position share of equity",
        {"max_position_pct_equity": 0.1, "max_risk_per_trade_pct": 1.0, "max_total_risk_pct": 1.0},
        buy(0.1),
        {},
        MKT,
        "reduced",
        "max_position",
        "reduced",
    ),
    (
        "already at the position cap",
        {"max_position_notional": 1000.0},
        buy(0.01),
        {"position": Position(SYM, "long", 0.02, 50_000.0)},
        MKT,
        "rejected",
        "max_position",
        "rejected",
    ),
    (
        "effective leverage",
        {"max_leverage": 1.0, "max_position_pct_equity": 5.0, "max_risk_per_trade_pct": 1.0, "max_total_risk_pct": 1.0},
        buy(0.5),
        {},
        MKT,
        "reduced",
        "effective_leverage",
        "reduced",
    ),
    ("missing stop", {}, buy(0.01, stop=None), {}, MKT, "rejected", "stop_loss", "rejected"),
    ("stop on the wrong side (long)", {}, buy(0.01, stop=50_500.0), {}, MKT, "rejected", "stop_loss", "rejected"),
    ("stop on the wrong side (short)", {}, sell(0.01, stop=49_500.0), {}, MKT, "rejected", "stop_loss", "rejected"),
    ("stop too tight", {}, buy(0.01, stop=49_990.0), {}, MKT, "rejected", "stop_loss", "rejected"),
    ("stop too wide", {}, buy(0.01, stop=40_000.0), {}, MKT, "rejected", "stop_loss", "rejected"),
    (
        "no stop allowed when not required",
        {"require_stop_loss": False},
        buy(0.01, stop=None),
        {},
        MKT,
        "approved",
        "stop_loss",
        "warn",
    ),
    ("take-profit wrong side", {}, buy(0.01, take_profit=49_800.0), {}, MKT, "rejected", "take_profit", "rejected"),
    # 1% of 10k = 100 USDT; 1000 USDT stop distance -> 0.1 BTC max
    ("per-trade risk reduces", {"max_total_risk_pct": 1.0}, buy(0.15), {}, MKT, "reduced", "per_trade_risk", "reduced"),
    ("total open risk reduces", {}, buy(0.1), {"open_risk": 250.0}, MKT, "reduced", "total_risk", "reduced"),
    ("total open risk full", {}, buy(0.01), {"open_risk": 300.0}, MKT, "rejected", "total_risk", "rejected"),
    (
        "limit price far from mark",
        {},
        buy(0.01, type="limit", price=45_000.0, stop=44_000.0),
        {},
        MKT,
        "rejected",
        "price_sanity",
        "rejected",
    ),
    (
        "limit price near mark",
        {},
        buy(0.01, type="limit", price=49_900.0, stop=49_000.0),
        {},
        MKT,
        "approved",
        "price_sanity",
        "pass",
    ),
    ("no mark price", {}, buy(0.01), {}, MarketState(SYM, None), "rejected", "price_sanity", "rejected"),
    ("below min size", {}, buy(0.00005, stop=49_000.0), {}, MKT, "rejected", "precision", "rejected"),
    ("rounded to the step", {}, buy(0.012345), {}, MKT, "approved", "precision", "adjusted"),
    (
        "disabled rule skipped",
        {"disabled_rules": ("max_leverage",)},
        buy(0.01, leverage=50.0),
        {},
        MKT,
        "approved",
        "max_leverage",
        "skipped",
    ),
    ("take-profit on the right side", {}, buy(0.01, take_profit=52_000.0), {}, MKT, "approved", "take_profit", "pass"),
    ("no take-profit to check", {}, buy(0.01), {}, MKT, "approved", "take_profit", "skipped"),
    (
        "limit price not positive",
        {},
        buy(0.01, type="limit", price=-1.0),
        {},
        MKT,
        "rejected",
        "price_sanity",
        "rejected",
    ),
    ("equity not positive", {}, buy(0.01), {"equity": 0.0}, MKT, "rejected", "max_position", "rejected"),
    (
        "no stop: risk not measured",
        {"require_stop_loss": False},
        buy(0.01, stop=None),
        {},
        MKT,
        "approved",
        "per_trade_risk",
        "skipped",
    ),
]


@pytest.mark.parametrize(
    "name,limits,intent,acct_kw,market,status,rule,rule_status", SCENARIOS, ids=[s[0] for s in SCENARIOS]
)
def test_rule_scenarios(name, limits, intent, acct_kw, market, status, rule, rule_status):
    r = rm(**limits).check(intent, acct(**acct_kw), market)
    assert r.status == status, (r.reasons, r.assessment["rules"])
    assert r.assessment["rules"][rule]["status"] == rule_status
    if rule_status in ("rejected", "reduced", "warn"):
        assert any(e.rule == rule for e in r.events), "every reject/reduce/warn writes a risk event"
    if status == "rejected":
        assert r.reasons and any(rule in x for x in r.reasons)
    if status == "reduced":
        assert r.intent.amount < intent.amount and r.intent.amount > 0


def test_per_trade_risk_reduces_to_exactly_the_budget():
    r = rm(max_total_risk_pct=1.0).check(buy(0.15), acct(), MKT)
    # 1% of 10_000 = 100 USDT at risk, 1000 USDT per BTC -> 0.1 BTC
    assert r.intent.amount == pytest.approx(0.1)
    assert r.events[0].level.value == "WARN"


def test_daily_loss_blocks_entries_until_next_utc_day():
    m = rm()
    assert m.check(buy(), acct(10_000), MKT).approved  # day start equity = 10_000
    r = m.check(buy(), acct(9_650), MKT)  # -3.5% > 3% limit
    assert r.rejected and r.assessment["rules"]["daily_loss"]["status"] == "rejected"
    m.clock.advance(DAY)  # next UTC day: the new day starts at the current equity
    assert m.check(buy(), acct(9_650), MKT).approved


def test_max_drawdown_halts_until_cleared():
    m = rm(daily_loss_limit_pct=1.0)
    assert m.check(buy(), acct(10_000), MKT).approved
    m.clock.advance(DAY)
    assert m.check(buy(), acct(8_400), MKT).rejected  # 16% below the peak
    m.clock.advance(DAY)
    r = m.check(buy(), acct(9_900), MKT)  # recovered, but the halt is sticky
    assert r.rejected and r.assessment["rules"]["max_drawdown"]["status"] == "rejected"
    m.clear_kill_switch(SYM, by="test", equity=9_900)
    assert m.check(buy(), acct(9_900), MKT).approved


def test_order_rate_limit():
    m = rm(max_orders_per_hour=3)
    for _ in range(3):
        m.state.note_submission(m.clock.now_ms())
    assert m.check(buy(), acct(), MKT).assessment["rules"]["order_rate"]["status"] == "rejected"
    m.clock.advance(3_600_001)
    assert m.check(buy(), acct(), MKT).approved


def test_kill_switch_blocks_entries_but_never_closing_orders():
    m = rm()
    m.engage_kill_switch(SYM, by="test", reason="drill")
    r = m.check(buy(), acct(), MKT)
    assert r.rejected and r.assessment["rules"]["kill_switch"]["status"] == "rejected"
    assert any(e.level.value == "CRITICAL" for e in m.state.events)
    long = Position(SYM, "long", 0.05, 50_000.0)
    close = OrderIntent(SYM, "sell", 0.05, reduce_only=True)
    r = m.check(close, acct(5_000, position=long, open_risk=10_000), MKT)  # even deep in loss, halted
    assert r.approved and r.intent.amount == pytest.approx(0.05)


def test_reduce_only_is_clipped_to_the_position_and_rejected_when_nothing_to_close():
    m = rm()
    long = Position(SYM, "long", 0.03, 50_000.0)
    r = m.check(OrderIntent(SYM, "sell", 0.05, reduce_only=True), acct(position=long), MKT)
    assert r.approved and r.intent.amount == pytest.approx(0.03)
    r = m.check(OrderIntent(SYM, "buy", 0.05, reduce_only=True), acct(position=long), MKT)
    assert r.rejected and "reduce_only" in r.reasons[0]


def test_reducing_an_existing_long_with_a_plain_sell_is_not_capped_by_position_limits():
    m = rm(max_position_notional=1000.0)
    long = Position(SYM, "long", 0.1, 50_000.0)  # far above the cap already
    r = m.check(sell(0.05), acct(position=long), MKT)
    assert r.assessment["rules"]["max_position"]["status"] == "pass"


def test_limits_from_config(cfg):
    lim = RiskLimits.from_config(cfg)
    assert lim.max_leverage == cfg["risk"]["max_leverage"]
    assert lim.max_orders_per_hour == cfg["risk"]["max_orders_per_hour"]


def test_observe_engages_the_drawdown_halt_between_checks():
    m = rm()
    assert m.observe(SYM, 10_000) is False
    assert m.observe(SYM, 12_000) is False  # a new peak
    assert m.observe(SYM, 10_100) is True  # 15.8% below 12_000
    assert any(e.rule == "max_drawdown" and e.level.value == "CRITICAL" for e in m.state.events)
    assert m.check(buy(), acct(10_100), MKT).assessment["rules"]["max_drawdown"]["status"] == "rejected"


def test_observe_sets_the_day_start_before_any_check():
    m = rm()
    m.observe(SYM, 10_000)  # first balance of the day
    r = m.check(buy(), acct(9_600), MKT)  # the first check of the day comes after a 4% loss
    assert r.assessment["rules"]["daily_loss"]["status"] == "rejected"


# ---------------------------------------------------------------- what the account figures are worth


def test_unconfirmed_position_blocks_entries_but_never_closes():
    """An empty positions reply the ledger does not back: entries refused with the reason; a reduce-only
    close passes, clipped to nothing but left to the exchange (which enforces reduce-only)."""
    from dataclasses import replace

    a = replace(
        acct(position=Position(SYM, "flat", 0.0)),
        position_confirmed=False,
        ledger_position=0.05,
        position_note="the exchange reports no position (empty reply) but our recorded fills hold +0.05 BTC",
    )
    r = rm().check(buy(0.01), a, MKT)
    assert r.rejected and r.reasons[0].startswith("position_unconfirmed: position not confirmed: the exchange")
    assert r.assessment["inputs"]["ledger_position"] == 0.05
    assert [e.rule for e in r.events] == ["position_unconfirmed"] and r.events[0].level.value == "ERROR"
    close = rm().check(OrderIntent(SYM, "sell", 0.05, reduce_only=True), a, MKT)
    assert close.approved and close.intent.amount == pytest.approx(0.05)


def test_exposure_cap_starts_from_the_larger_of_exchange_and_ledger():
    from dataclasses import replace

    limits = {"max_position_notional": 5000.0, "max_risk_per_trade_pct": 1.0, "max_total_risk_pct": 1.0}
    exch = Position(SYM, "long", 0.02, 50_000.0)  # the exchange lists less than we recorded
    r = rm(**limits).check(buy(0.1), replace(acct(position=exch), ledger_position=0.08), MKT)
    assert r.reduced and r.intent.amount == pytest.approx(0.1 - 0.08)  # cap 0.1 BTC minus the ledger's 0.08
    # The ledger does not shrink the room of an order that reduces what it holds.
    r = rm(**limits).check(sell(0.05), replace(acct(position=exch), ledger_position=0.08), MKT)
    assert r.approved


def test_stale_account_data_refuses_entries_and_states_its_age():
    from dataclasses import replace

    m = rm(max_snapshot_age_s=15.0)
    old = m.check(buy(0.01), replace(acct(), as_of_ms=T0 - 20_000), MKT)
    assert old.rejected and "stale_data" in old.reasons[0] and "20.0 s ago" in old.reasons[0]
    assert old.assessment["inputs"]["data_age_s"] == pytest.approx(20.0)
    fresh = m.check(buy(0.01), replace(acct(), as_of_ms=T0 - 2_000), MKT)
    assert fresh.approved and fresh.assessment["rules"]["stale_data"]["age_s"] == pytest.approx(2.0)
    # Closing is never refused for old data.
    close = m.check(
        OrderIntent(SYM, "sell", 0.01, reduce_only=True),
        replace(acct(position=Position(SYM, "long", 0.01, 50_000.0)), as_of_ms=T0 - 60_000),
        MKT,
    )
    assert close.approved


def test_closing_an_already_flat_position_is_refused_as_info_not_error():
    """Issue #20: a reduce-only close that meets a position already closed (stop hit, kill switch) is an
    expected race: refused, recorded as INFO; a close on the wrong side of a real position stays ERROR."""
    m = rm()
    flat = Position(SYM, "flat", 0.0, 0.0)
    r = m.check(OrderIntent(SYM, "sell", 0.05, reduce_only=True), acct(position=flat), MKT)
    assert r.rejected and "already flat" in r.reasons[0]
    assert [(e.level.value, e.rule) for e in m.state.events] == [("INFO", "reduce_only")]
    m = rm()
    r = m.check(
        OrderIntent(SYM, "buy", 0.05, reduce_only=True), acct(position=Position(SYM, "long", 0.03, 50_000.0)), MKT
    )
    assert r.rejected and [(e.level.value, e.rule) for e in m.state.events] == [("ERROR", "reduce_only")]


# ---------------------------------------------------------------- the order of the rules and their gates


def test_entry_rules_run_in_the_order_of_RULES_and_the_switchable_ones_are_the_config_names():
    from cockpit.config import RISK_RULES

    r = rm().check(buy(0.01, take_profit=52_000.0), acct(), MKT)
    assert r.approved
    assert list(r.assessment["rules"]) == ["intent", "reduce_only", *(x for x in RULES if x != "reduce_only")]
    assert [x.name for x in ENTRY_RULES if x.switchable] == list(RISK_RULES)


def test_no_mark_price_ends_the_entry_check_even_with_price_sanity_disabled():
    r = rm(disabled_rules=("price_sanity",)).check(buy(0.01), acct(), MarketState(SYM, None))
    rules = r.assessment["rules"]
    assert r.rejected and r.reasons == ["price_sanity: no mark price: cannot value the order"]
    assert "stop_loss" not in rules and "max_position" not in rules  # nothing below could be valued


def test_equity_not_positive_ends_the_entry_check_even_with_max_position_disabled():
    r = rm(disabled_rules=("max_position",)).check(buy(0.01), acct(equity=-5.0), MKT)
    rules = r.assessment["rules"]
    assert r.rejected and r.reasons == ["max_position: equity -5 is not positive"]
    assert rules["stop_loss"]["status"] == "pass"  # the rules above still ran
    assert not {"effective_leverage", "per_trade_risk", "total_risk"} & set(rules)
    assert [(e.level.value, e.rule) for e in r.events] == [("ERROR", "max_position")]


def test_a_disabled_stop_loss_rule_still_lets_a_stop_on_the_right_side_measure_the_risk():
    m = rm(disabled_rules=("stop_loss",), max_total_risk_pct=1.0)
    r = m.check(buy(0.15, stop=49_000.0), acct(), MKT)
    assert r.assessment["rules"]["stop_loss"]["status"] == "skipped"
    assert r.reduced and r.intent.amount == pytest.approx(0.1)  # per_trade_risk: 100 USDT at 1000 per BTC
    wrong_side = m.check(buy(0.15, stop=51_000.0), acct(), MKT)
    for rule in ("per_trade_risk", "total_risk"):
        assert wrong_side.assessment["rules"][rule] == {
            "status": "skipped",
            "detail": "no valid stop-loss to measure risk",
        }
