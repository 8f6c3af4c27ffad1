"""Generated market with a planted regime-dependent edge, and two strategies that exploit it.

Segments alternate: a trend (steady drift of +/-0.12% a bar under 0.3% noise), then a range (the
log price pulled back to its level by 20% a bar). ``TrendFollow`` (sign of the 10-bar change) earns
in trends and loses in ranges; ``RangeRevert`` (against the distance from a 20-bar mean) the reverse.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

H = 3_600_000
START = 1_577_836_800_000  # 2020-01-01


def planted_candles(n_seg: int = 60, seg: int = 400, seed: int = 7, start: int = START) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    logp = [np.log(30000.0)]
    for k in range(n_seg):
        trend = k % 2 == 0
        drift = rng.choice([-1, 1]) * 0.0012 if trend else 0.0
        level = logp[-1]
        for _ in range(seg):
            step = drift + rng.normal(0, 0.003) if trend else -0.2 * (logp[-1] - level) + rng.normal(0, 0.003)
            logp.append(logp[-1] + step)
    c = np.exp(np.array(logp[1:]))
    o = np.exp(np.array(logp[:-1]))
    wick = np.abs(rng.normal(0, 0.001, len(c)))
    return pd.DataFrame(
        {
            "timestamp": start + np.arange(len(c), dtype=np.int64) * H,
            "open": o,
            "high": np.maximum(o, c) * (1 + wick),
            "low": np.minimum(o, c) * (1 - wick),
            "close": c,
            "volume": np.ones(len(c)),
        }
    )


class TrendFollow:
    name = "trend_follow"
    params = {"lookback": 10}
    warmup_bars = 30

    def generate(self, a):
        c = np.asarray(a["close"])
        d = np.zeros(len(c), np.int8)
        d[10:] = np.sign(c[10:] - c[:-10])
        return {"direction": d}


class RangeRevert:
    name = "range_revert"
    params = {"period": 20}
    warmup_bars = 30

    def generate(self, a):
        c = np.asarray(a["close"])
        m = np.convolve(c, np.ones(20) / 20, "full")[: len(c)]
        d = np.zeros(len(c), np.int8)
        d[20:] = -np.sign(c[20:] - m[20:])
        return {"direction": d}
