"""TechnicalAnalysis kept between decisions (the live loop) gives the same report as a fresh one computing
everything, over a sequence of appended bars, a repeated decision and a rewritten history; a timeframe
whose candles did not change is not recomputed."""

from __future__ import annotations

import math

import numpy as np

from cockpit.indicators.analysis import TechnicalAnalysis

HOUR = 3_600_000


def candles(n: int, seed: int, step: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = 30000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = np.concatenate([[c[0]], c[:-1]])
    return {
        "timestamp": 1_700_000_000_000 + np.arange(n, dtype=np.int64) * step,
        "open": o,
        "high": np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.002, n))),
        "low": np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.002, n))),
        "close": c,
        "volume": rng.gamma(2, 10, n),
    }


def assert_same(a, b, path="report") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, (path, a, b)


class Counting(TechnicalAnalysis):
    computed: list[int]

    def timeframe_report(self, arrays):
        self.computed.append(len(arrays["close"]))
        return super().timeframe_report(arrays)


def test_kept_analysis_equals_a_fresh_one_over_appended_bars():
    one_h, four_h = candles(1400, 1, HOUR), candles(400, 2, 4 * HOUR)
    live = Counting()
    live.computed = []
    window = 300
    for end in range(1000, 1060):  # one more closed 1h bar each decision; a 4h bar every fourth
        by_tf = {
            "1h": {k: v[end - window : end] for k, v in one_h.items()},
            "4h": {k: v[end // 4 + 50 - window : end // 4 + 50] for k, v in four_h.items()},
        }
        got = live.report(by_tf, primary="1h")
        assert_same(got, TechnicalAnalysis().report(by_tf, primary="1h"))
        got["timeframes"]["4h"]["ema"]["ema12"] = -1.0  # a caller changing the dict does not reach the next one
        got["timeframes"]["4h"]["levels"]["support"].clear()
    # the 1h report every decision, the 4h one only when a 4h bar closed
    assert len(live.computed) == 60 + 15


def test_a_repeated_decision_reuses_and_a_rewritten_history_recomputes():
    a = {"1d": candles(500, 3, 24 * HOUR), "4h": candles(500, 4, 4 * HOUR)}
    live = Counting()
    live.computed = []
    first = live.report(a, primary="1d")
    assert_same(live.report({tf: {k: v.copy() for k, v in x.items()} for tf, x in a.items()}, primary="1d"), first)
    assert len(live.computed) == 2
    rewritten = {tf: {k: v.copy() for k, v in x.items()} for tf, x in a.items()}
    rewritten["1d"]["close"][250] *= 1.01  # one old close rewritten; the newest bar unchanged
    got = live.report(rewritten, primary="1d")
    assert len(live.computed) == 3
    assert_same(got, TechnicalAnalysis().report(rewritten, primary="1d"))
    gap = {tf: {k: np.delete(v, 100) for k, v in x.items()} for tf, x in a.items()}  # a bar gone
    assert_same(live.report(gap, primary="1d"), TechnicalAnalysis().report(gap, primary="1d"))
    assert len(live.computed) == 5
