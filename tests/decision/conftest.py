"""Fixtures of the decision-layer tests: the loopback OpenAI server, a store, a clock, signals."""

from __future__ import annotations

import pytest

from support.fake_openai import FakeOpenAIServer, Reply, fake_openai  # noqa: F401 (fixture)

from decision_helpers import SECRET, T0, default_signals

from cockpit.domain.clock import ManualClock
from cockpit.domain.signals import StrategySignal


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
        args = dict(provider="openai-compatible", base_url=fake_openai.base_url, model="fake-model", api_key=SECRET,
                    timeout_s=5.0, max_retries=2, temperature=0.2, max_tokens=500)
        args.update(kw)
        return LLMClient(**args)

    return make

