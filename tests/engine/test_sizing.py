"""Target exposure -> order intents: tabular cases (position now, target, expected legs)."""

from __future__ import annotations

import pytest

from cockpit.config import load_config
from cockpit.domain.signals import Decision, Direction, StrategySignal
from cockpit.engine.sizing import plan_intents

PRICE = 50_000.0


@pytest.fixture(scope="module")
def config():
    return load_config(None, environ={})


def decision(target: float) -> Decision:
    return Decision(
        symbol="BTC/USDT:USDT",
        timeframe="1h",
        timestamp=0,
        action="buy" if target > 0 else "sell",
        confidence=0.6,
        reasoning="test",
        target_exposure=target,
        weights={"ema_trend": 1.0},
    )


SIGNALS = [
    StrategySignal("ema_trend", Direction.LONG, 0.8, PRICE, PRICE * 0.98, PRICE * 1.04, "up"),
    StrategySignal("momentum", Direction.SHORT, 0.3, PRICE, PRICE * 1.01, None, "down"),
]


@pytest.mark.parametrize(
    "position, target, legs",
    [
        (0.0, 0.0, []),  # flat and flat: nothing
        (0.0, 1.0, [("buy", False)]),  # open long
        (0.0, -1.0, [("sell", False)]),  # open short
        (0.03, 0.0, [("sell", True)]),  # close long
        (0.03, -1.0, [("sell", True), ("sell", False)]),  # flip: close, then open short
        (-0.03, 1.0, [("buy", True), ("buy", False)]),  # flip the other way
    ],
)
def test_legs(config, position, target, legs):
    intents = plan_intents(
        decision(target),
        decision_id=7,
        price=PRICE,
        signals=SIGNALS,
        equity=10_000.0,
        position_signed=position,
        cfg=config,
    )
    assert [(i.side, i.reduce_only) for i in intents] == legs
    for i in intents:
        assert i.decision_id == 7 and i.amount > 0
        if not i.reduce_only:
            assert i.stop_loss is not None and i.take_profit is not None
            sign = 1 if i.side == "buy" else -1
            assert (PRICE - i.stop_loss) * sign > 0 and (i.take_profit - PRICE) * sign > 0


def test_entry_respects_per_trade_risk_and_position_cap(config):
    equity = 10_000.0
    (entry,) = plan_intents(
        decision(1.0), decision_id=1, price=PRICE, signals=SIGNALS, equity=equity, position_signed=0.0, cfg=config
    )
    risk = config["risk"]
    assert entry.amount * (PRICE - entry.stop_loss) <= risk["max_risk_per_trade_pct"] * equity + 1e-6
    assert entry.amount * PRICE <= min(risk["max_position_notional"], risk["max_position_pct_equity"] * equity)
    # The stop comes from the agreeing signal (2% below), not the disagreeing short one.
    assert entry.stop_loss == pytest.approx(PRICE * 0.98, rel=1e-3)


def test_small_changes_do_not_churn(config):
    (entry,) = plan_intents(
        decision(1.0), decision_id=1, price=PRICE, signals=SIGNALS, equity=10_000.0, position_signed=0.0, cfg=config
    )
    again = plan_intents(
        decision(1.0),
        decision_id=2,
        price=PRICE,
        signals=SIGNALS,
        equity=10_000.0,
        position_signed=entry.amount,
        cfg=config,
    )
    assert again == []


def test_no_price_or_equity_no_orders(config):
    assert (
        plan_intents(
            decision(1.0), decision_id=1, price=0.0, signals=SIGNALS, equity=10_000.0, position_signed=0.0, cfg=config
        )
        == []
    )
    assert (
        plan_intents(
            decision(1.0), decision_id=1, price=PRICE, signals=SIGNALS, equity=0.0, position_signed=0.0, cfg=config
        )
        == []
    )


@pytest.mark.parametrize(
    "position, target, legs",
    [
        # full-strength size: 100% of 10,000 equity / 50,000 = 0.2 BTC; the stop risk caps it at 0.09 BTC
        # (1% of equity over a 2% stop, less 10% headroom); the band: 5% of 0.2 = 0.01 BTC.
        (0.09, 0.25, [("sell", True, 0.04)]),  # long, target cut to 0.05: reduce-only sell of the difference
        (0.05, 1.0, [("buy", False, 0.04)]),  # long, target up to 0.09: add on the same side, with a bracket
        (-0.09, -0.25, [("buy", True, 0.04)]),  # the short side likewise
        (0.05, 0.27, []),  # 0.054 vs 0.05: inside the band, nothing
        (0.05, 0.32, [("buy", False, 0.014)]),  # 0.064 vs 0.05: beyond the band, the difference added
        (0.005, 0.0, [("sell", True, 0.005)]),  # a flat target closes even a position smaller than the band
        (0.05, -0.02, [("sell", True, 0.05)]),  # the other side under the band (0.004): close, open nothing
        (0.0, 0.04, []),  # from flat, a target under the band (0.008): nothing
    ],
)
def test_target_changes_trade_by_the_band(config, position, target, legs):
    cfg = {
        **config,
        "portfolio": {**config["portfolio"], "rebalance_band": 0.05},
        "risk": {
            **config["risk"],
            "max_position_notional": 50_000.0,
            "max_position_pct_equity": 1.0,
            "max_risk_per_trade_pct": 0.01,
            "min_stop_distance_pct": 0.002,
            "max_stop_distance_pct": 0.1,
        },
    }
    intents = plan_intents(
        decision(target),
        decision_id=3,
        price=PRICE,
        signals=SIGNALS,
        equity=10_000.0,
        position_signed=position,
        cfg=cfg,
    )
    assert [(i.side, i.reduce_only, pytest.approx(i.amount, abs=1e-8)) for i in intents] == legs
    for i in intents:
        assert (i.stop_loss is None) == i.reduce_only


def test_the_order_says_which_cap_sized_it(config):
    """Issue #20: target +0.68 gave 0.0745 BTC and +0.52 gave 0.0757 BTC because the per-trade risk cap
    sized both; the order's reason (shown under a pending order as `size:`) says so and by how much."""
    import copy

    config = copy.deepcopy(config)
    config["risk"]["max_risk_per_trade_pct"] = 0.01  # 1% of equity at a 2% stop: 0.1 BTC, less the headroom
    equity, risk = 10_000.0, config["risk"]
    max_size = min(risk["max_position_notional"], risk["max_position_pct_equity"] * equity) / PRICE
    (capped,) = plan_intents(
        decision(1.0), decision_id=3, price=PRICE, signals=SIGNALS, equity=equity, position_signed=0.0, cfg=config
    )
    assert capped.amount < max_size - 1e-9  # the cap, not the exposure, sized it
    assert f"target exposure +1.00 x max position {max_size:.4f} BTC" in capped.reason
    cut = f"cut {max_size:.4f} to {capped.amount:.4f} BTC (-{(1 - capped.amount / max_size) * 100:.0f}%)"
    assert (
        f"per-trade risk cap ({risk['max_risk_per_trade_pct'] * 100:g}% of equity at a 2.00% stop) {cut}"
        in capped.reason
    )
    (small,) = plan_intents(
        decision(0.1), decision_id=4, price=PRICE, signals=SIGNALS, equity=equity, position_signed=0.0, cfg=config
    )
    assert small.amount == pytest.approx(0.1 * max_size) and "cap" not in small.reason.replace("max position", "")
