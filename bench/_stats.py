"""What the benchmarks share: a nearest-rank percentile and a monotonic millisecond clock."""

from __future__ import annotations

import time


def pct(xs: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``xs`` by nearest rank; NaN for no samples."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def now_ms() -> float:
    return time.monotonic() * 1000.0
