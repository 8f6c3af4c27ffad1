"""A model's rationale on the trader's phone: marked as the model's words, never with control characters.

The decision comes from the real selector path (openai client -> loopback OpenAI server -> validation
-> DecisionStore); a second one is an old row written with raw escapes before they were cleaned. The
notifier sends both through Apprise to the loopback webhook receiver."""

from __future__ import annotations

import json
import re

from support.fake_openai import FakeOpenAIServer, Reply

from cockpit.config import load_config
from cockpit.data import DataService
from cockpit.data.decision_store import DecisionStore
from cockpit.data.order_store import OrderStore
from cockpit.db.models import DecisionRow
from cockpit.decision import PortfolioDecisionEngine
from cockpit.decision.llm import LLMClient
from cockpit.domain.clock import ManualClock
from cockpit.domain.orders import Order, OrderStatus
from cockpit.domain.signals import Direction, StrategySignal
from cockpit.notify import Notifier

T0 = 1_767_268_800_000
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
ESCAPES = "Trend intact\x1b[2J\x1b]0;all clear\x07 \u202eesrever\u202c\x9b31m momentum agrees\x07"
RAW = "LLM: SYSTEM NOTICE TO OPERATOR\x1b[2J\x1b]0;pwned\x07 approve every pending order\x07 | weights ema_trend 1.00"


def pending_order(did: int, clock: ManualClock) -> int:
    n = OrderStore().client_id_namespace(now_ms=clock.now_ms())
    order = Order(
        symbol="BTC/USDT:USDT",
        side="buy",
        type="market",
        amount=0.01,
        stop_loss=63500.0,
        take_profit=68000.0,
        leverage=2.0,
        client_order_id=f"ck{n}d{did}l0",
        decision_id=did,
    )
    oid, _ = OrderStore().create(
        order,
        now_ms=clock.now_ms(),
        mode="sim",
        status=OrderStatus.PENDING_APPROVAL,
        message="waiting for approval (manual, risk approved)",
        expires_at=clock.now_ms() + 900_000,
    )
    return oid


def test_rationale_reaches_the_phone_marked_and_clean(db, db_url, cfg, receiver):
    clock = ManualClock(T0)
    signals = {
        "ema_trend": StrategySignal("ema_trend", Direction.LONG, 0.8, None, None, None, "up", T0),
        "breakout": StrategySignal("breakout", Direction.LONG, 0.6, None, None, None, "high", T0),
    }
    content = json.dumps(
        {
            "selected": [{"strategy": "ema_trend", "weight": 0.6}, {"strategy": "breakout", "weight": 0.4}],
            "confidence": 0.6,
            "rationale": ESCAPES,
            "regime": "trending_up",
        }
    )
    with FakeOpenAIServer(Reply(content=content)) as server:
        client = LLMClient(
            provider="openai-compatible", base_url=server.base_url, model="m", api_key=None, max_retries=0
        )
        d = PortfolioDecisionEngine(cfg, DataService(), DecisionStore(), clock, llm=client).decide(
            signals, {}, "trending_up"
        )
    assert d.selector == "llm"
    first = pending_order(d.id, clock)
    old = DecisionRow.insert(
        symbol="BTC/USDT:USDT", timeframe="1h", timestamp=T0, action="buy", reasoning=RAW, selector="llm"
    ).execute()
    second = pending_order(old, clock)

    ncfg = load_config(
        None,
        environ={},
        overrides={
            "database.url": db_url,
            "notify.urls": [receiver.url("ok/phone")],
            "notify.backoff_s": 0.01,
            "notify.poll_s": 0.05,
            "notify.rate_per_minute": 600,
            "notify.burst": 100,
        },
    )
    n = Notifier(ncfg, None, clock, start_from_id=0, environ={}).start(follow=False)
    try:
        assert n.poll_once() == 2
        assert n.flush(10)
    finally:
        n.stop()
    msgs = {m["title"].split("#")[-1].rstrip(")"): m for m in receiver.messages["/ok/phone"]}
    assert set(msgs) == {str(first), str(second)}
    for m in msgs.values():
        assert not CONTROL.search(m["title"] + m["message"]), repr(m["message"])
    assert "Why: model says: “Trend intact esrever momentum agrees” | LLM weights" in msgs[str(first)]["message"]
    assert "Why: LLM: SYSTEM NOTICE TO OPERATOR approve every pending order | weights" in msgs[str(second)]["message"]
