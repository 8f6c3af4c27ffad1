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
    o = {
        "id": 1,
        "status": "pending_approval",
        "side": "buy",
        "amount": 0.01,
        "type": "market",
        "expires_at": created + 15 * 60_000 * 60,
    }
    assert render.approval_left_ms(o, created, speed=60) == 15 * 60_000
    assert "15:00" in render.banner_text([o], created, speed=60).plain
    assert "15:00" in render.order_summary(o, created, speed=60).plain
    assert render.approval_left_ms({"expires_at": None}, created, 60) is None


def test_header_shows_what_the_engine_says_about_its_inputs():
    """The engine's heartbeat says when its market data is stale or the database refuses writes: the header
    shows it first on the line (whatever the width clips at the end), and nothing when all is well."""
    from cockpit.ui.state import Snapshot

    now = 1_795_000_000_000
    ok = Snapshot(heartbeat={"ts": now, "wall_ms": now, "state": "running"}, heartbeat_ms=now)
    bad = Snapshot(
        heartbeat={
            "ts": now,
            "wall_ms": now,
            "state": "running",
            "db_write_failures": 3,
            "stale_data": "newest closed 1h bar 2026-01-01T00:00:00Z is 4 bars old",
        },
        heartbeat_ms=now,
    )
    for compact in (False, True):
        assert "STALE" not in render.header_text(ok, "BTC/USDT:USDT", now, compact=compact, initial_equity=None).plain
    wide = render.header_text(bad, "BTC/USDT:USDT", now, compact=False, initial_equity=None).plain
    narrow = render.header_text(bad, "BTC/USDT:USDT", now, compact=True, initial_equity=None).plain
    assert "STALE DATA" in wide and "DB WRITES FAILING" in wide
    assert narrow.index("STALE") < narrow.index("eq ") and "DB FAIL" in narrow


def test_header_says_when_the_streams_are_down():
    """exchange.streams: a stale or reconnecting stream shows in the header (prices follow REST meanwhile);
    a live stream, or none configured, shows nothing."""
    from cockpit.ui.state import Snapshot

    now = 1_795_000_000_000

    def header(stream, compact=False):
        snap = Snapshot(heartbeat={"ts": now, "wall_ms": now, "state": "running", "stream": stream}, heartbeat_ms=now)
        return render.header_text(snap, "BTC/USDT:USDT", now, compact=compact, initial_equity=None).plain

    assert "STREAM" not in header("live") and "STREAM" not in header(None)
    assert "STREAM STALE" in header("stale") and "STREAM RECONNECTING" in header("reconnecting")
    assert "STREAM?" in header("stale", compact=True)


def test_funding_countdown_says_settling_past_the_funding_time_not_zero():
    """At a funding boundary the stored next funding time has passed until the next funding row is read:
    the header says the funding is settling instead of counting down from 00:00:00."""
    from cockpit.ui.state import Snapshot

    now = 1_795_000_000_000

    def header(next_ms):
        snap = Snapshot(
            heartbeat={"ts": now, "wall_ms": now, "state": "running"},
            heartbeat_ms=now,
            funding={"funding_rate": 0.0001, "next_funding_time": next_ms},
        )
        return render.header_text(snap, "BTC/USDT:USDT", now, compact=False, initial_equity=None).plain

    assert "fund +0.0100% in 01:02:03" in header(now + 3_723_000)
    for passed in (now, now - 500, now - 60_000):
        assert "00:00:00" not in header(passed) and "fund +0.0100% settling" in header(passed)
