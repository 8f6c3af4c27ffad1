"""The order pane's risk line, from an assessment the real RiskManager wrote."""

from __future__ import annotations

import json

from cockpit.domain.clock import ManualClock
from cockpit.domain.orders import OrderIntent
from cockpit.execution.base import AccountState
from cockpit.risk import MarketState, MemoryRiskState, RiskLimits, RiskManager
from cockpit.ui import render

SYM = "BTC/USDT:USDT"


def assessment(amount: float, **limits) -> dict:
    rm = RiskManager(RiskLimits(**limits), clock=ManualClock(1_768_485_600_000), state=MemoryRiskState())
    r = rm.check(
        OrderIntent(SYM, "buy", amount, stop_loss=49_000.0, decision_id=1),
        AccountState(equity=10_000.0, free=10_000.0, used=0.0, position=None, open_risk=0.0),
        MarketState(SYM, mark_price=50_000.0),
    )
    return json.loads(json.dumps(r.assessment))  # as stored in orders.risk_assessment


def test_a_reduced_order_shows_the_verdict_size_loss_at_stop_and_the_rule_that_cut_it():
    # 1% of 10,000 = 100 USDT at risk; 1,000 USDT to the stop -> at most 0.1 BTC of the 0.15 asked.
    text = render.risk_assessment_text(assessment(0.15, max_total_risk_pct=1.0))
    assert text.startswith("REDUCED · 0.1 BTC (asked 0.15) · notional 5,000 · ")
    assert "loss at stop 100.00 = 1.00% of equity 10,000" in text
    assert "mark 50,000.0" in text
    assert "per_trade_risk reduced: " in text
    assert "max_leverage" not in text  # rules that passed are counted, not listed
    assert "rules passed" in text and "checked_at" not in text and "{" not in text


def test_an_approved_order_lists_no_rule_and_the_order_line_shows_its_share_of_equity():
    ra = assessment(0.01)
    text = render.risk_assessment_text(ra)
    assert text.startswith("APPROVED · 0.01 BTC · notional 500 · loss at stop 10.00 = 0.10% of equity 10,000")
    n = len(ra["rules"])
    assert f"{n}/{n} rules passed" in text
    o = {"id": 7, "status": "pending_approval", "side": "buy", "amount": 0.01, "type": "market", "risk_assessment": ra}
    assert "risk 0.1% eq" in render.order_summary(o, 0).plain


def test_unknown_keys_are_shown_as_they_are():
    assert (
        render.risk_assessment_text({"status": "approved", "note": "manual", "x": 0.123456})
        == "APPROVED · note=manual · x=0.1235"
    )
    assert render.risk_assessment_text("legacy text") == "legacy text"
    assert render.risk_assessment_text(None) == ""
