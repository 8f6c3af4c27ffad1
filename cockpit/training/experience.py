"""ExperienceBuffer: what happened after each decision, per regime.

A sample is one decision time with its context and outcome:

* ``time`` (the decision, at a bar's close), ``regime`` and market ``features`` (ADX, realised
  volatility and its percentile, log-price slope) known at that time;
* ``selected``: the strategies that were given weight and their weights (live decisions), or every
  strategy with weight 1 / K for backtests, where each strategy's own sleeve was simulated so every
  strategy's outcome is observed (full information);
* ``outcomes``: per strategy, the reward (``RewardCalculator``) of the next ``horizon`` bars, and
  ``returns`` the plain compounded return of those bars — both net of fees and funding;
* ``portfolio_return``: what the selected weights earned over the window.

Sources: backtests run here over ``market_data`` (``from_strategy_returns``), stored backtest runs
(``from_backtest_results``: one strategy per run, from its equity curve), and live/demo decisions
(``from_decisions``: the weights the engine used, each strategy's signal held over the window
against the market move, fees from the recorded trades, funding from ``funding_rates``).
A sample is kept only when its whole outcome window lies inside the requested period, so a
training period never leaks into the held-out one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from cockpit.domain.settings import RegimeConfig
from cockpit.domain.signals import Regime
from cockpit.training.returns import FEATURES, StrategyReturns
from cockpit.training.reward import RewardCalculator

REGIMES = tuple(r.value for r in Regime)


@dataclass(frozen=True)
class Sample:
    time: int
    regime: str
    features: dict[str, float | None]  # None where the feature is not finite (too few bars)
    selected: dict[str, float]
    outcomes: dict[str, float]
    returns: dict[str, float]
    portfolio_return: float | None
    horizon: int
    source: str = "backtest"
    full_information: bool = True
    ref: str | None = None  # decision id / backtest result id

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ExperienceBuffer:
    samples: list[Sample] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def add(self, samples: Iterable[Sample]) -> "ExperienceBuffer":
        self.samples.extend(samples)
        self.samples.sort(key=lambda s: (s.time, s.source))
        return self

    def slice(
        self, *, start: int | None = None, end: int | None = None, regime: str | None = None, source: str | None = None
    ) -> "ExperienceBuffer":
        """Samples with start <= time <= end (ms), in ``regime``, from ``source``."""
        return ExperienceBuffer(
            [
                s
                for s in self.samples
                if (start is None or s.time >= start)
                and (end is None or s.time <= end)
                and (regime is None or s.regime == regime)
                and (source is None or s.source == source)
            ]
        )

    def by_regime(self) -> dict[str, "ExperienceBuffer"]:
        out: dict[str, ExperienceBuffer] = {}
        for s in self.samples:
            out.setdefault(s.regime, ExperienceBuffer()).samples.append(s)
        return out

    def strategies(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.samples:
            for k in s.outcomes:
                seen.setdefault(k, None)
        return list(seen)

    def mean_reward(self) -> dict[str, dict[str, tuple[float, int]]]:
        """regime -> strategy -> (mean reward, samples)."""
        acc: dict[str, dict[str, list[float]]] = {}
        for s in self.samples:
            for k, v in s.outcomes.items():
                acc.setdefault(s.regime, {}).setdefault(k, []).append(v)
        return {r: {k: (float(np.mean(v)), len(v)) for k, v in d.items()} for r, d in acc.items()}

    def folds(self, k: int) -> list["ExperienceBuffer"]:
        """``k`` consecutive walk-forward windows of (about) equal sample counts, oldest first."""
        if not self.samples:
            return []
        k = max(1, min(int(k), len(self.samples)))
        idx = np.array_split(np.arange(len(self.samples)), k)
        return [ExperienceBuffer([self.samples[i] for i in part]) for part in idx if len(part)]

    # ------------------------------------------------------------------ sources

    @classmethod
    def from_strategy_returns(
        cls,
        sr: StrategyReturns,
        reward: RewardCalculator,
        *,
        horizon: int,
        step: int,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> "ExperienceBuffer":
        """Backtest samples: a decision at the close of every ``step``-th bar, outcome over the next ``horizon``."""
        i0, i1 = sr.index_range(start_ms, end_ms)
        h = int(horizon)
        # Decision at the close of bar t; the window is bars t+1 .. t+h, all inside [i0, i1).
        ts_idx = np.arange(i0, i1 - h, max(1, int(step)))
        # A bar whose regime is not known yet (the classifier's warm-up) is still a decision with an
        # outcome: it is learned under the "unknown" context, as the live engine would meet it.
        if len(ts_idx) == 0:
            return cls()
        win = ts_idx[:, None] + 1 + np.arange(h)[None, :]
        block = sr.returns[win]  # (samples, h, strategies)
        block = np.moveaxis(block, 2, 1)  # (samples, strategies, h)
        rew = np.asarray(reward.reward(block))
        tot, _ = RewardCalculator.window_stats(block)
        eq_w = 1.0 / len(sr.names)
        port = RewardCalculator.window_stats(block.mean(axis=1))[0]
        out = []
        for j, t in enumerate(ts_idx.tolist()):
            feats = {k: _num(sr.features[k][t]) for k in FEATURES if k in sr.features}
            out.append(
                Sample(
                    int(sr.timestamps[t]) + sr.tf_ms,
                    sr.regime_name(t),
                    feats,
                    {n: eq_w for n in sr.names},
                    {n: float(rew[j, i]) for i, n in enumerate(sr.names)},
                    {n: float(tot[j, i]) for i, n in enumerate(sr.names)},
                    float(port[j]),
                    h,
                    "backtest",
                    True,
                )
            )
        return cls(out)

    @classmethod
    def from_decisions(
        cls,
        ds: Any,
        reward: RewardCalculator,
        *,
        symbol: str,
        timeframe: str,
        tf_ms: int,
        horizon: int,
        start_ms: int | None,
        end_ms: int | None,
        taker_fee: float,
        regime_cfg: RegimeConfig | None = None,
    ) -> "ExperienceBuffer":
        """Live/demo decisions: the engine's weights and each strategy's signal, outcome over the next bars.

        Only the strategies that were given weight count as observed (bandit feedback), each with the
        return of its own signal held over the window (direction x strength x market move, one taker
        fee in and out, funding); ``portfolio_return`` is the decision's target exposure held the same
        way minus the fees of the trades actually recorded in the window.
        """
        decisions = ds.decisions_between(start=start_ms, end=end_ms, symbol=symbol)
        if not decisions:
            return cls()
        lo = min(d["timestamp"] for d in decisions)
        a = ds.candle_arrays(symbol, timeframe, start=lo - tf_ms, end=(end_ms if end_ms is not None else None))
        ts, close = a["timestamp"], a["close"]
        if len(ts) < 2:
            return cls()
        fr = ds.funding_rates(symbol, start=lo, end=end_ms)
        f_ts = fr["timestamp"].to_numpy(dtype=np.int64) if len(fr) else np.empty(0, np.int64)
        f_rate = fr["funding_rate"].to_numpy(dtype=np.float64) if len(fr) else np.empty(0)
        bar_ret = np.concatenate(([0.0], close[1:] / close[:-1] - 1.0))
        h = int(horizon)
        out = []
        for d in decisions:
            # The decision at time T acts from the bar opening at T: the window is the next h bars.
            k = int(np.searchsorted(ts, int(d["timestamp"]), "left"))
            if k + h > len(ts) or k < 1:
                continue
            if end_ms is not None and int(ts[k + h - 1]) > end_ms:
                continue
            window = bar_ret[k : k + h]
            w0, w1 = int(ts[k]), int(ts[k + h - 1]) + tf_ms
            fund = float(f_rate[(f_ts >= w0) & (f_ts < w1)].sum()) if len(f_ts) else 0.0
            detail = d.get("weights") or {}
            selected, outcomes, rets = {}, {}, {}
            for name, v in detail.items() if isinstance(detail, Mapping) else ():
                if isinstance(v, Mapping):
                    w = float(v.get("final") or 0.0)
                    sig = str(v.get("signal") or "flat").lower()
                    strength = float(v.get("strength") or 0.0)
                else:
                    w, sig, strength = float(v or 0.0), "flat", 0.0
                if w <= 0:
                    continue
                x = {"long": 1.0, "short": -1.0}.get(sig, 0.0) * strength
                r = _held(window, x, taker_fee, fund)
                selected[name] = w
                outcomes[name] = float(reward.reward(r))
                rets[name] = float(RewardCalculator.window_stats(r)[0])
            te = d.get("target_exposure")
            port = None
            if te is not None:
                fees = sum(float(t.get("fee") or 0.0) for t in ds.trades_between(start=w0, end=w1, symbol=symbol))
                bal = ds.latest_balance()
                fee_frac = fees / float(bal["total"]) if bal and bal.get("total") else 0.0
                port = float(RewardCalculator.window_stats(_held(window, float(te), 0.0, fund))[0]) - fee_frac
            feats: dict[str, float | None] = {}
            ta = d.get("technical_analysis") or {}
            if isinstance(ta, Mapping):
                for key in FEATURES:
                    v = ta.get(
                        key,
                        (ta.get("regime_detail") or {}).get(key)
                        if isinstance(ta.get("regime_detail"), Mapping)
                        else None,
                    )
                    if isinstance(v, (int, float)):
                        feats[key] = float(v)
            regime = d.get("regime") if d.get("regime") in REGIMES else Regime.UNKNOWN.value
            if not selected and port is None:
                continue
            out.append(
                Sample(
                    int(d["timestamp"]), regime, feats, selected, outcomes, rets, port, h, "live", False, str(d["id"])
                )
            )
        return cls(out)

    @classmethod
    def from_backtest_results(
        cls,
        ds: Any,
        reward: RewardCalculator,
        regime_at: Any,
        *,
        names: Iterable[str],
        horizon_ms: int,
        start_ms: int | None,
        end_ms: int | None,
        limit: int = 200,
    ) -> "ExperienceBuffer":
        """Stored single-strategy backtests (``cockpit backtest``): windows of their equity curves.

        ``regime_at(ts) -> str`` gives the regime at a time. The stored curve is thinned to at most
        5,000 points, so a window is the stretch of curve points within ``horizon_ms``.
        """
        wanted = set(names)
        out = []
        for row in ds.backtest_results(limit=limit):
            if row.get("strategy") not in wanted or row.get("status") not in (None, "completed"):
                continue
            full = ds.backtest_result(int(row["id"]))
            curve = (full or {}).get("equity_curve") or []
            if not isinstance(curve, list) or len(curve) < 3:
                continue
            ts = np.array([int(p[0]) for p in curve], dtype=np.int64)
            eq = np.array([float(p[1]) for p in curve])
            t = 0
            while t < len(ts) - 1:
                u = int(np.searchsorted(ts, ts[t] + horizon_ms, "right")) - 1
                if u <= t:
                    t += 1
                    continue
                if (start_ms is not None and ts[t] < start_ms) or (end_ms is not None and ts[u] > end_ms):
                    t = u
                    continue
                r = eq[t + 1 : u + 1] / eq[t:u] - 1.0
                name = row["strategy"]
                out.append(
                    Sample(
                        int(ts[t]),
                        regime_at(int(ts[t])),
                        {},
                        {name: 1.0},
                        {name: float(reward.reward(r))},
                        {name: float(eq[u] / eq[t] - 1.0)},
                        float(eq[u] / eq[t] - 1.0),
                        len(r),
                        "backtest_result",
                        False,
                        str(row["id"]),
                    )
                )
                t = u
        return cls(out)


def _held(window: np.ndarray, x: float, fee: float, funding_rate_sum: float) -> np.ndarray:
    """Per-bar returns of exposure ``x`` held over ``window`` with a fee in and out and the funding paid."""
    r = x * np.asarray(window, dtype=np.float64)
    if len(r):
        r = r.copy()
        r[0] -= abs(x) * fee + x * funding_rate_sum
        r[-1] -= abs(x) * fee
    return r


def _num(v: Any) -> float | None:
    v = float(v)
    return round(v, 6) if np.isfinite(v) else None
