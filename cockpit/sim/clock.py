"""The simulator's clock: simulated UTC epoch ms that can run faster than real time.

``speed`` is simulated seconds per real second (``3600`` = one simulated hour per second;
``0`` = frozen, moved only by ``advance``). ``public/time`` reports this clock and the engine
adopts it in ``sim`` mode. The standalone simulator's wall clock is this clock started at the wall
time with speed 1 (``start_simulator(clock="wall")``). The simulator may read the wall clock (only ``sim/`` and the engine may).
"""

from __future__ import annotations

import threading
import time
from typing import Callable


class SimClock:
    def __init__(self, start_ms: int, speed: float = 1.0, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        self._mono = monotonic
        self._lock = threading.Lock()
        self._base_ms = float(start_ms)
        self._base_real = monotonic()
        self._speed = float(speed)

    def now_ms(self) -> int:
        with self._lock:
            return int(self._base_ms + (self._mono() - self._base_real) * self._speed * 1000.0)

    @property
    def speed(self) -> float:
        return self._speed

    def _rebase(self) -> None:
        real = self._mono()
        self._base_ms += (real - self._base_real) * self._speed * 1000.0
        self._base_real = real

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        with self._lock:
            self._rebase()
            self._speed = float(speed)

    def advance(self, ms: int) -> None:
        """Jump forward (never backward: the exchange's history is immutable)."""
        if ms < 0:
            raise ValueError("the simulator clock never goes backward")
        with self._lock:
            self._rebase()
            self._base_ms += ms

    def set(self, ms: int) -> None:
        with self._lock:
            self._rebase()
            if ms < self._base_ms:
                raise ValueError("the simulator clock never goes backward")
            self._base_ms = float(ms)
