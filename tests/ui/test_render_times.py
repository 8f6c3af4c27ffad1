"""Countdowns in operator time: the exchange's clock (from the heartbeat) may run faster than the wall."""

from __future__ import annotations

from types import SimpleNamespace

from cockpit.ui import render


def test_exchange_now_follows_the_heartbeat_at_its_speed():
    snap = SimpleNamespace(heartbeat={"ts": 1_767_225_600_000, "wall_ms": 1_795_000_000_000, "speed": 60})
    assert render.exchange_now(snap, 1_795_000_010_000) == 1_767_225_600_000 + 10_000 * 60
    assert render.exchange_now(SimpleNamespace(heartbeat=None), 5) == 5


def test_approval_countdown_is_wall_time_on_an_accelerated_exchange():
    # TTL 15 min of operator time at 60x = 15 exchange hours after creation.
    created = 1_767_225_600_000
    o = {"id": 1, "status": "pending_approval", "side": "buy", "amount": 0.01, "type": "market",
         "expires_at": created + 15 * 60_000 * 60}
    assert render.approval_left_ms(o, created, speed=60) == 15 * 60_000
    assert "15:00" in render.banner_text([o], created, speed=60).plain
    assert "15:00" in render.order_summary(o, created, speed=60).plain
    assert render.approval_left_ms({"expires_at": None}, created, 60) is None
