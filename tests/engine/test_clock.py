"""Engine clocks: the exchange clock follows public/time, estimates an accelerated simulator's rate,
never goes backwards and survives a failing exchange."""

from __future__ import annotations

import pytest

from cockpit.domain.clock import WallClock
from cockpit.engine.clock import ExchangeClock


class FakeMono:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_wall_clock_is_epoch_ms():
    assert WallClock().now_ms() > 1_600_000_000_000


def test_follows_exchange_offset_and_resyncs():
    mono = FakeMono()
    server = {"t": 5_000_000}
    clock = ExchangeClock(lambda: server["t"], resync_s=10, monotonic=mono)
    assert clock.now_ms() == 5_000_000
    mono.t += 2.0
    assert clock.now_ms() == 5_002_000  # extrapolated at rate 1 between syncs
    server["t"] = 9_000_000  # the exchange corrected its time
    mono.t += 9.0  # 11 s since the last sync: re-sync on this read
    assert clock.now_ms() == 9_000_000


def test_estimates_accelerated_rate():
    mono = FakeMono()
    start = 1_700_000_000_000
    speed = 3600.0
    base = mono.t
    clock = ExchangeClock(
        lambda: int(start + (mono.t - base) * 1000 * speed), resync_s=1, estimate_rate=True, monotonic=mono
    )
    clock.now_ms()
    mono.t += 2.0
    clock.now_ms()  # second sync: the rate is measured
    assert clock.rate == pytest.approx(speed, rel=1e-6)
    mono.t += 0.5  # between syncs the clock runs at the simulator's speed
    assert clock.now_ms() == pytest.approx(start + 2.5 * 1000 * speed, abs=2)


def test_never_goes_backwards_and_survives_failures():
    mono = FakeMono()
    answers = [10_000, RuntimeError("boom"), 5_000]

    def fetch():
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    clock = ExchangeClock(fetch, resync_s=1, monotonic=mono)
    assert clock.now_ms() == 10_000
    mono.t += 1.5
    assert clock.now_ms() == 11_500  # failed sync: keeps extrapolating
    assert clock.failures == 1 and "boom" in clock.last_error
    mono.t += 1.5
    assert clock.now_ms() >= 11_500  # the exchange answered an earlier time: reads stay monotonic


def test_never_synced_raises_clearly():
    clock = ExchangeClock(lambda: (_ for _ in ()).throw(ConnectionError("down")), monotonic=FakeMono())
    with pytest.raises(RuntimeError, match="never synced"):
        clock.now_ms()
