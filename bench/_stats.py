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


def print_latency_table(per_round: dict[str, list[tuple[float, float, int]]]) -> None:
    """The stream benchmarks' summary: per ``event/method`` key, the median over rounds of each round's
    (p50, p99) and the events counted."""
    import statistics

    print(f"{'event':<8} {'method':<8} {'p50 ms':>9} {'p99 ms':>9} {'events':>7}")
    for k in ("fill/stream", "fill/rest", "ticker/stream", "ticker/rest"):
        rows = per_round.get(k, [])
        kind, method = k.split("/")
        p50 = statistics.median(r[0] for r in rows) if rows else float("nan")
        p99 = statistics.median(r[1] for r in rows) if rows else float("nan")
        print(f"{kind:<8} {method:<8} {p50:9.1f} {p99:9.1f} {sum(r[2] for r in rows):7d}")
