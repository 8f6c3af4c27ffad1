"""The notifier through the real Apprise library against a JSON webhook receiver on loopback.

Rows are written the way the engine writes them (DecisionStore, OrderStore, RiskStore,
engine_store); the receiver sees what a trader's phone would.
"""

from __future__ import annotations

import json

import pytest

from cockpit.config import load_config
from cockpit.data import engine_store
from cockpit.data.decision_store import DecisionStore
from cockpit.data.order_store import OrderStore
from cockpit.data.risk_store import RiskStore
from cockpit.domain.clock import ManualClock
from cockpit.domain.orders import Fill, Order, OrderStatus
from cockpit.domain.signals import Decision
from cockpit.notify import Notifier

T0 = 1_767_268_800_000  # 2026-01-01 12:00 UTC
SECRETS = {
    "OKX_API_KEY": "okx-key-7f3a9c",
    "OKX_API_SECRET": "okx-secret-b81d",
    "OKX_API_PASSPHRASE": "okx-pass-55",
    "HOOK_TOKEN": "hooktok-2c4e6a",
}


def make_cfg(db_url: str, urls: list[str], **notify) -> dict:
    # Rate limits off the way (tested on the bucket itself); fast retries.
    over = {
        "database.url": db_url,
        "notify.urls": urls,
        "notify.backoff_s": 0.01,
        "notify.poll_s": 0.05,
        "notify.rate_per_minute": 600,
        "notify.burst": 100,
        **{f"notify.{k}": v for k, v in notify.items()},
    }
    return load_config(None, environ={}, overrides=over)


def write_pending_order(clock: ManualClock, *, amount: float = 0.015, reasoning: str | None = None) -> int:
    """A decision, then an order waiting for approval with its risk assessment and expiry: what the
    engine's order manager stores for a manual-approval entry."""
    did = DecisionStore().insert_decision(
        Decision(
            symbol="BTC/USDT:USDT",
            timeframe="1h",
            timestamp=clock.now_ms(),
            action="buy",
            confidence=0.72,
            reasoning=reasoning
            or "EMA trend up with rising volume; funding neutral\nweights: ema_trend 0.6, breakout 0.4",
            target_exposure=0.4,
            weights={"ema_trend": 0.6, "breakout": 0.4},
            regime="trending_up",
            selector="offline",
        )
    )
    assessment = {
        "status": "reduced",
        "checked_at": clock.now_ms(),
        "requested_amount": 0.02,
        "approved_amount": amount,
        "reasons": [],
        "inputs": {"equity": 10000.0, "mark_price": 65000.0, "entry_price": None, "position": 0.0, "open_risk": 0.0},
        "rules": {
            "max_position": {
                "status": "reduced",
                "detail": "position cap",
                "amount_before": 0.02,
                "amount_after": amount,
            },
            "stop_loss": {"status": "pass", "detail": "", "distance": 0.023},
        },
    }
    n = OrderStore().client_id_namespace(now_ms=clock.now_ms())
    order = Order(
        symbol="BTC/USDT:USDT",
        side="buy",
        type="market",
        amount=amount,
        stop_loss=63500.0,
        take_profit=68000.0,
        leverage=2.0,
        client_order_id=f"ck{n}d{did}l0",
        decision_id=did,
    )
    oid, created = OrderStore().create(
        order,
        now_ms=clock.now_ms(),
        mode="sim",
        status=OrderStatus.PENDING_APPROVAL,
        message="waiting for approval (manual, risk reduced)",
        expires_at=clock.now_ms() + 900_000,
        reason="ema_trend 0.6, breakout 0.4",
        risk_assessment=assessment,
    )
    assert created
    return oid


def bodies(receiver, path: str) -> list[dict]:
    return receiver.messages.get(path, [])


def test_pending_order_gives_exactly_one_message_with_its_fields(db, db_url, receiver):
    clock = ManualClock(T0)
    cfg = make_cfg(db_url, [receiver.url("ok/${HOOK_TOKEN}")])
    oid = write_pending_order(clock)
    n = Notifier(cfg, None, clock, start_from_id=0, environ=SECRETS).start(follow=False)
    try:
        assert n.poll_once() == 1
        assert n.flush(10)
        assert n.poll_once() == 0  # nothing new: nothing sent again
        assert n.flush(10)
    finally:
        n.stop()
    # A restarted notifier resumes from the stored cursor: still exactly one message.
    n2 = Notifier(cfg, None, clock, environ=SECRETS).start(follow=False)
    n2.poll_once()
    n2.stop()

    msgs = bodies(receiver, f"/ok/{SECRETS['HOOK_TOKEN']}")
    assert len(msgs) == 1, msgs
    m = msgs[0]
    assert m["type"] == "warning"
    assert m["title"] == f"[SIM] Approval needed: BUY 0.015 BTC at market (#{oid})"
    body = m["message"]
    assert f"BUY 0.015 BTC at market BTC/USDT:USDT (order #{oid}, market, 2x)" in body
    assert "Notional: ≈ 975.00 USDT (reference 65,000.00 USDT)" in body
    assert "Stop: 63,500.00 USDT · Take profit: 68,000.00 USDT" in body
    assert "Why: EMA trend up with rising volume; funding neutral" in body
    assert "weights: ema_trend" not in body  # only the rationale's first line
    assert "Risk check: reduced from 0.02 BTC to 0.015 BTC by max_position" in body
    assert "Loss if stopped: 22.50 USDT (0.22% of equity 10,000.00 USDT)" in body
    assert "TTL: expires in 15m (at 2026-01-01 12:15 UTC exchange time)" in body
    assert f"cockpit orders approve {oid}" in body


def test_failing_destination_is_retried_recorded_and_others_still_receive(db, db_url, receiver, ds):
    clock = ManualClock(T0)
    cfg = make_cfg(db_url, [receiver.url("fail/hook"), receiver.url("ok/phone")], retries=2)
    oid = write_pending_order(clock)
    n = Notifier(cfg, ds, clock, start_from_id=0, environ=SECRETS).start(follow=False)
    try:
        n.poll_once()
        assert n.flush(15)
        # The notifier does not notify about its own failure row.
        assert n.poll_once() == 0
    finally:
        n.stop()
    assert receiver.hits["/fail/hook"] == 3  # first attempt + 2 retries
    assert len(bodies(receiver, "/ok/phone")) == 1
    assert f"(#{oid})" in bodies(receiver, "/ok/phone")[0]["title"]
    rows = ds.risk_events(rule="notify")
    assert len(rows) == 1
    row = rows[0]
    assert row["level"] == "WARN" and row["timestamp"] == T0
    details = json.loads(row["details"])
    assert details["destination"] == f"json://127.0.0.1:{receiver.port}/fail/hook"
    assert details["attempts"] == 3 and details["kind"] == "pending_approval"
    assert "500" in details["error"]


def test_no_secret_reaches_any_message(db, db_url, receiver):
    clock = ManualClock(T0)
    cfg = make_cfg(db_url, [receiver.url("ok/${HOOK_TOKEN}")], min_risk_level="WARN")
    leak = f"exchange said: invalid key {SECRETS['OKX_API_KEY']} (secret {SECRETS['OKX_API_SECRET']})"
    write_pending_order(clock, reasoning=f"LLM echoed {SECRETS['OKX_API_PASSPHRASE']} and {SECRETS['HOOK_TOKEN']}")
    engine_store.record_risk_event("BTC/USDT:USDT", now_ms=T0, level="ERROR", rule="submit", details={"error": leak})
    n = Notifier(cfg, None, clock, start_from_id=0, environ=SECRETS).start(follow=False)
    n.poll_once()
    n.stop()
    msgs = bodies(receiver, f"/ok/{SECRETS['HOOK_TOKEN']}")
    assert len(msgs) == 2
    text = json.dumps(msgs)
    for value in SECRETS.values():
        assert value not in text
    assert "invalid key ***" in text


def test_event_kinds_follow_the_database(db, db_url, receiver, ds):
    clock = ManualClock(T0)
    cfg = make_cfg(db_url, [receiver.url("ok/all")], min_risk_level="ERROR", risk_repeat_s=600)
    path = "/ok/all"
    n = Notifier(cfg, ds, clock, environ=SECRETS)  # follows from "now": older rows are not replayed
    write_pending_order(clock)
    n.start(follow=False)
    n.poll_once()
    assert n.flush(10) and bodies(receiver, path) == []

    def titles_after(step) -> list[str]:
        before = len(bodies(receiver, path))
        step()
        n.poll_once()
        assert n.flush(10)
        return [m["title"] for m in bodies(receiver, path)[before:]]

    store = OrderStore()

    # Fills: two partial fills seen in one poll make one message with the average price.
    def fill():
        oid = write_pending_order(clock, amount=0.02)
        store.transition(
            oid, OrderStatus.APPROVED, now_ms=clock.now_ms(), decided_by="alice", decided_at=clock.now_ms()
        )
        store.transition(oid, OrderStatus.SUBMITTED, now_ms=clock.now_ms())
        store.record_fill(oid, "BTC/USDT:USDT", Fill("", "buy", 65000.0, 0.01, 0.325, "USDT", T0, trade_id="t1"))
        store.record_fill(oid, "BTC/USDT:USDT", Fill("", "buy", 65100.0, 0.01, 0.3255, "USDT", T0, trade_id="t2"))
        store.transition(oid, OrderStatus.FILLED, now_ms=clock.now_ms(), filled=0.02, average_price=65050.0)

    t = titles_after(fill)
    assert len(t) == 2 and t[0].startswith("[SIM] Approval needed")
    assert t[1].startswith("[SIM] Filled: BUY 0.02 BTC @ 65,050.00 USDT")
    assert "Fee: 0.65 USDT" in bodies(receiver, path)[-1]["message"]

    # Rejected and expired pending orders.
    def close_two():
        a, b = write_pending_order(clock), write_pending_order(clock)
        store.transition(
            a,
            OrderStatus.REJECTED,
            now_ms=clock.now_ms(),
            message="rejected by bob: too late in the day",
            decided_by="bob",
            decided_at=clock.now_ms(),
        )
        store.transition(b, OrderStatus.EXPIRED, now_ms=clock.now_ms(), message="approval TTL elapsed")

    t = titles_after(close_two)
    assert [x.split(":")[0] for x in t] == [
        "[SIM] Approval needed",
        "[SIM] Approval needed",
        "[SIM] Rejected",
        "[SIM] Expired",
    ]
    assert "By: bob" in bodies(receiver, path)[-2]["message"]

    # Risk events: below the level are not sent; the same rule again within risk_repeat_s is not sent.
    def risks():
        engine_store.record_risk_event("BTC/USDT:USDT", now_ms=T0, level="WARN", rule="per_trade_risk", details="x")
        # A rule rejecting an order: the order_rejected message carries it, not a second "risk" message.
        engine_store.record_risk_event(
            "BTC/USDT:USDT",
            now_ms=T0,
            level="ERROR",
            rule="stop_loss",
            details={"status": "rejected", "detail": "too far", "intent": {"side": "buy"}},
        )
        engine_store.record_risk_event(
            "BTC/USDT:USDT",
            now_ms=T0,
            level="ERROR",
            rule="ingest",
            details={"error": "exchange unreachable after 4 retries"},
        )
        engine_store.record_risk_event(
            "BTC/USDT:USDT", now_ms=T0 + 60_000, level="ERROR", rule="ingest", details={"error": "again"}
        )
        engine_store.record_risk_event(
            "BTC/USDT:USDT",
            now_ms=T0 + 700_000,
            level="CRITICAL",
            rule="reconcile",
            details={"detail": "position mismatch"},
        )

    t = titles_after(risks)
    assert t == [
        "[SIM] Risk ERROR: ingest — exchange unreachable after 4 retries",
        "[SIM] Risk CRITICAL: reconcile — position mismatch",
    ]

    # Kill switch: engaged, then cleared; its own risk rows are not sent twice.
    rs = RiskStore()
    t = titles_after(lambda: rs.set_kill_switch(True, now_ms=T0, by="alice", reason="news spike"))
    assert t == ["[SIM] Kill switch ENGAGED"]
    assert "Reason: news spike" in bodies(receiver, path)[-1]["message"]
    assert titles_after(lambda: None) == []
    assert titles_after(lambda: rs.set_kill_switch(False, now_ms=T0)) == ["[SIM] Kill switch cleared"]

    # Engine: started, stopped, and restarted after a crash (counting cycles from zero again).
    beat = {"ts": T0, "state": "running", "cycles": 1, "mode": "sim", "equity": 10000.0, "position": None}
    assert titles_after(lambda: engine_store.set_state("heartbeat", beat, now_ms=T0)) == ["[SIM] Engine started"]
    assert titles_after(lambda: engine_store.set_state("heartbeat", {**beat, "cycles": 40}, now_ms=T0 + 1)) == []
    assert titles_after(lambda: engine_store.set_state("heartbeat", {**beat, "cycles": 2}, now_ms=T0 + 2)) == [
        "[SIM] Engine restarted after a crash"
    ]
    assert titles_after(
        lambda: engine_store.set_state("heartbeat", {**beat, "state": "stopped", "cycles": 9}, now_ms=T0 + 3)
    ) == ["[SIM] Engine stopped"]
    n.stop()


def test_daily_summary_once_a_day_at_the_configured_time(db, db_url, receiver, ds):
    clock = ManualClock(T0)  # 12:00 UTC; the summary is at 00:00
    cfg = make_cfg(db_url, [receiver.url("ok/sum")])
    store = OrderStore()
    store.record_balance("USDT", 10000.0, 10000.0, 0.0, now_ms=T0 + 1000)
    oid = write_pending_order(clock)
    store.transition(oid, OrderStatus.APPROVED, now_ms=T0 + 2000, decided_by="alice", decided_at=T0 + 2000)
    store.transition(oid, OrderStatus.SUBMITTED, now_ms=T0 + 2000)
    store.record_fill(
        oid, "BTC/USDT:USDT", Fill("", "buy", 65000.0, 0.015, 0.49, "USDT", T0 + 3000, trade_id="f1", realized_pnl=0.0)
    )
    store.record_balance("USDT", 10123.45, 9000.0, 1123.45, now_ms=T0 + 11 * 3600_000)
    n = Notifier(cfg, ds, clock, start_from_id=10**9, environ=SECRETS).start(follow=False)
    n.poll_once()
    clock.set(T0 + 11 * 3600_000)  # 23:00: not yet
    n.poll_once()
    assert n.flush(10) and bodies(receiver, "/ok/sum") == []
    clock.set(T0 + 12 * 3600_000 + 5000)  # 00:00:05 the next day
    n.poll_once()
    n.poll_once()
    clock.set(T0 + 20 * 3600_000)
    n.poll_once()
    n.stop()
    msgs = bodies(receiver, "/ok/sum")
    assert len(msgs) == 1
    assert msgs[0]["title"] == "[SIM] Daily summary 2026-01-02: PnL +123.45 USDT"
    body = msgs[0]["message"]
    assert "2026-01-01 00:00 UTC → 2026-01-02 00:00 UTC" in body
    assert "Equity: 10,123.45 USDT (start 10,000.00 USDT)" in body
    assert "Fees: 0.49 USDT" in body
    assert "Decisions: 1 · Approvals: 1 · Rejected: 0 · Expired: 0 · Fills: 1" in body


def test_unset_variable_disables_one_destination_and_is_recorded(db, db_url, receiver, ds):
    clock = ManualClock(T0)
    cfg = make_cfg(db_url, [receiver.url("ok/${MISSING_TOKEN}"), receiver.url("ok/b")])
    write_pending_order(clock)
    n = Notifier(cfg, ds, clock, start_from_id=0, environ=SECRETS).start(follow=False)
    n.poll_once()
    n.stop()
    assert len(bodies(receiver, "/ok/b")) == 1
    assert n.problems == ["json://…: environment variable MISSING_TOKEN is not set"]
    assert [r["rule"] for r in ds.risk_events(level="WARN")] == ["notify"]


def test_events_setting_chooses_what_is_sent(db, db_url, receiver):
    clock = ManualClock(T0)
    cfg = make_cfg(db_url, [receiver.url("ok/x")], events=["fill"])
    write_pending_order(clock)
    n = Notifier(cfg, None, clock, start_from_id=0, environ=SECRETS).start(follow=False)
    assert n.poll_once() == 0
    n.stop()
    assert receiver.hits == {}


def test_full_queue_drops_the_oldest_and_records_it(db, db_url, receiver, ds):
    from cockpit.notify import Message

    clock = ManualClock(T0)
    cfg = make_cfg(db_url, [receiver.url("ok/q")], queue_size=10)
    n = Notifier(cfg, ds, clock, start_from_id=0, environ=SECRETS)  # workers not started: the queue fills
    for i in range(13):
        n.send(Message("risk", f"m{i}", "body"))
    n.poll_once()
    rows = ds.risk_events(rule="notify")
    assert len(rows) == 1 and json.loads(rows[0]["details"])["dropped"] == 3
    n.start(follow=False)
    n.stop()
    assert [m["title"] for m in bodies(receiver, "/ok/q")] == [f"m{i}" for i in range(3, 13)]


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("notify.events", ["fill", "tweets"], "notify.events[1]: expected one of pending_approval"),
        ("notify.urls", ["not a url"], "notify.urls[0]: expected an Apprise URL"),
        ("notify.urls", ["tgram://${TG TOKEN}/1"], "notify.urls[0]: malformed ${VAR} reference"),
        ("notify.daily_summary_utc", "25:00", "notify.daily_summary_utc: expected a UTC time HH:MM"),
        ("notify.min_risk_level", "LOUD", "notify.min_risk_level: expected one of INFO, WARN, ERROR, CRITICAL"),
    ],
)
def test_config_errors_name_the_key(key, value, message):
    from cockpit.config import ConfigError

    with pytest.raises(ConfigError) as e:
        load_config(None, environ={}, overrides={key: value})
    assert str(e.value).startswith(message)


def test_token_bucket_limits_the_rate_per_destination():
    from cockpit.notify.senders import TokenBucket

    now = [100.0]
    b = TokenBucket(rate_per_minute=6, burst=2, monotonic=lambda: now[0])  # one every 10 s, two back to back
    for _ in range(2):
        assert b.wait_s() == 0
        b.take()
    assert b.wait_s() == pytest.approx(10.0)
    now[0] += 4
    assert b.wait_s() == pytest.approx(6.0)
    now[0] += 6
    assert b.wait_s() == 0
    b.take()
    now[0] += 1000
    assert b.wait_s() == 0 and b.tokens == 2  # never more than the burst


def test_cli_notify_test_reports_each_destination(tmp_path, receiver):
    import os
    import subprocess
    import sys

    import yaml

    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(
        yaml.safe_dump(
            {
                "database": {"url": f"sqlite:///{tmp_path / 'c.db'}"},
                "notify": {
                    "urls": [receiver.url("ok/${HOOK_TOKEN}"), receiver.url("fail/x"), "json://127.0.0.1:1/${NOPE}"],
                    "retries": 1,
                    "backoff_s": 0.01,
                },
            }
        )
    )
    env = {**os.environ, **SECRETS, "COCKPIT_CONFIG": str(cfg_path)}
    env.pop("NOPE", None)
    r = subprocess.run(
        [sys.executable, "-m", "cockpit", "notify", "test"], capture_output=True, text=True, env=env, timeout=60
    )
    out = r.stdout
    assert r.returncode == 1, r.stderr
    assert f"ok      json://127.0.0.1:{receiver.port}/ok/***" in out
    assert f"FAILED  json://127.0.0.1:{receiver.port}/fail/x: " in out and "(after 2 attempts)" in out
    assert "FAILED  json://…: environment variable NOPE is not set" in out
    assert "1 of 3 destinations succeeded" in out
    assert SECRETS["HOOK_TOKEN"] not in out + r.stderr
    assert receiver.hits["/fail/x"] == 2
    [m] = bodies(receiver, f"/ok/{SECRETS['HOOK_TOKEN']}")
    assert m["title"] == "[SIM] Notification test"


def test_engine_restart_after_a_crash_is_told_apart_from_a_clean_start(db, db_url, receiver):
    clock = ManualClock(T0)
    cfg = make_cfg(db_url, [receiver.url("ok/e")], events=["engine"])
    beat = {"ts": T0, "state": "running", "cycles": 57, "mode": "sim", "equity": 10000.0, "position": None}
    engine_store.set_state("heartbeat", beat, now_ms=T0)  # the last beat of a run that was killed
    n = Notifier(cfg, None, clock, environ=SECRETS).start(follow=False)
    engine_store.set_state("heartbeat", {**beat, "cycles": 1, "ts": T0 + 5000}, now_ms=T0 + 5000)
    n.poll_once()
    engine_store.set_state("heartbeat", {**beat, "state": "stopped", "cycles": 3}, now_ms=T0 + 9000)
    n.stop()
    titles = [m["title"] for m in bodies(receiver, "/ok/e")]
    assert titles == ["[SIM] Engine restarted after a crash", "[SIM] Engine stopped"]
    assert "unclean stop" in bodies(receiver, "/ok/e")[0]["message"]
