"""Fixtures of the decision-layer tests: the loopback OpenAI server, a store, a clock, signals."""

from __future__ import annotations

import pytest

from support.fake_openai import FakeOpenAIServer, Reply, fake_openai  # noqa: F401 (fixture)

from decision_helpers import SECRET, T0, default_signals

from cockpit.domain.clock import ManualClock
from cockpit.domain.signals import StrategySignal


# A published score table planted in every decision test's database: expected reward relative to cash per
# (strategy, regime), thick evidence (1,000 samples), trend followers ahead in trends, range strategies in
# ranges, and funding_rate / volatility never better than cash.
PLANTED = {
    #                  trending_up trending_down ranging high_volatility unknown
    "ema_trend": (0.04, 0.04, -0.03, 0.00, 0.01),
    "bollinger_range": (-0.03, -0.03, 0.04, -0.02, 0.00),
    "funding_rate": (-0.01, -0.01, -0.01, -0.01, -0.01),
    "breakout": (0.02, 0.02, -0.02, 0.03, 0.00),
    "grid": (-0.04, -0.04, 0.04, -0.03, 0.00),
    "momentum": (0.03, 0.03, -0.02, 0.01, 0.00),
    "mean_reversion": (-0.03, -0.03, 0.04, -0.01, 0.00),
    "volatility": (-0.01, -0.01, -0.02, -0.01, -0.01),
}
REGIMES = ("trending_up", "trending_down", "ranging", "high_volatility", "unknown")


@pytest.fixture(autouse=True)
def planted_scores(db):
    rows = [("planted", name, regime, er, 1000) for name, ers in PLANTED.items() for regime, er in zip(REGIMES, ers)]
    for r in rows:
        db.execute_sql(
            "INSERT INTO strategy_scores (version, strategy, regime, expected_reward, samples, status) "
            "VALUES (?, ?, ?, ?, ?, 'published')",
            r,
        )
    return PLANTED


@pytest.fixture
def cfg(cfg):
    """The default configuration with regime evidence weighed (20 pseudo-samples) and the weights spread over up
    to three strategies capped at 0.6, as these tests of the scorer and scheduler expect."""
    cfg["portfolio"].update(regime_shrink=20.0, top_n=3, max_weight=0.6)
    return cfg


@pytest.fixture
def signals() -> dict[str, StrategySignal]:
    return default_signals()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(db):
    from cockpit.data.decision_store import DecisionStore

    return DecisionStore(db, secrets=[SECRET])


@pytest.fixture
def client_for(fake_openai):  # noqa: F811
    """Build a real LLMClient pointed at the loopback server."""
    from cockpit.decision.llm import LLMClient

    def make(**kw):
        args = dict(
            provider="openai-compatible",
            base_url=fake_openai.base_url,
            model="fake-model",
            api_key=SECRET,
            timeout_s=5.0,
            max_retries=2,
            temperature=0.2,
            max_tokens=500,
        )
        args.update(kw)
        return LLMClient(**args)

    return make
