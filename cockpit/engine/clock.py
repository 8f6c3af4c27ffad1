"""The runtime's clock that follows the exchange's own clock (the wall clock is ``cockpit.domain.clock.WallClock``).

``ExchangeClock`` keeps an anchor (exchange time, local monotonic time) and a rate. On OKX the
rate is 1 and periodic re-syncs only correct the offset (``public/time``). On a simulator the
exchange clock runs ``sim.speed`` times faster than ours; the clock estimates that rate from two
syncs (or takes it from the caller), so a standalone ``cockpit sim`` works like the built-in one.
Reads never go backwards, even when a re-sync lands slightly behind the extrapolated time.
"""

from __future__ import annotations

import threading
import time
from typing import Callable


class ExchangeClock:
    """Follows ``fetch_time()`` (the exchange's epoch ms), re-synced every ``resync_s`` wall seconds.

    ``rate`` is how many exchange milliseconds pass per local millisecond (1 on a real exchange,
    ``sim.speed`` on an accelerated simulator); ``estimate_rate=True`` measures it from successive
    syncs instead. A failing ``fetch_time`` keeps the last estimate and is retried at the next read
    after ``resync_s``; ``failures`` counts them for the heartbeat.
    """

    def __init__(
        self,
        fetch_time: Callable[[], int],
        *,
        resync_s: float = 60.0,
        rate: float = 1.0,
        estimate_rate: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch_time
        self._resync_s = float(resync_s)
        self._rate = float(rate)
        self._estimate = estimate_rate
        self._mono = monotonic
        self._lock = threading.Lock()
        self._anchor_ex: int | None = None
        self._anchor_mono = 0.0
        self._first: tuple[int, float] | None = None
        self._last_sync_mono = float("-inf")
        self._last_read = 0
        self.failures = 0
        self.last_error: str | None = None

    @property
    def rate(self) -> float:
        return self._rate

    def sync(self) -> bool:
        """Ask the exchange for its time now; return whether it answered."""
        t0 = self._mono()
        try:
            ex = int(self._fetch())
        except Exception as e:  # noqa: BLE001 - any exchange failure keeps the old estimate
            with self._lock:
                self.failures += 1
                self.last_error = f"{type(e).__name__}: {e}"
                self._last_sync_mono = t0
            return False
        t1 = self._mono()
        mid = (t0 + t1) / 2  # the answer was produced somewhere in the round trip
        with self._lock:
            if self._first is None:
                self._first = (ex, mid)
            elif self._estimate and mid - self._first[1] > 0.05:
                span = mid - self._first[1]
                self._rate = max(0.0, (ex - self._first[0]) / (span * 1000.0))
            self._anchor_ex, self._anchor_mono = ex, mid
            self._last_sync_mono = t1
        return True

    def now_ms(self) -> int:
        if self._anchor_ex is None or self._mono() - self._last_sync_mono >= self._resync_s:
            self.sync()
        with self._lock:
            if self._anchor_ex is None:
                raise RuntimeError(f"exchange clock has never synced: {self.last_error}")
            now = self._anchor_ex + int((self._mono() - self._anchor_mono) * 1000.0 * self._rate)
            now = max(now, self._last_read)
            self._last_read = now
            return now
