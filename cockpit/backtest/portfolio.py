"""Portfolio backtests: all enabled strategies combined as the live decision layer combines them.

At every bar (the decision timeframe is the run's timeframe): the regime is classified
(``RegimeClassifier``), the ``StrategyScorer`` scores every enabled strategy for that regime (the
published score table's expected reward relative to cash, or the shipped table), the
``PortfolioScheduler`` turns the scores into top-N capped weights (what no strategy earns stays in
cash), and the target exposure is ``net_exposure`` = sum(weight x direction x strength), clipped to
[-1, 1] — the offline selector, exactly as ``PortfolioDecisionEngine`` does with no LLM.
``table=`` scores a given table instead (a training candidate); ``weights=`` holds fixed weights
(the equal-weights and best-single baselines of the held-out report).
A backtest never calls an LLM. With ``replay=True`` the target exposures recorded in the
``decisions`` table (by the live or paper engine, LLM or not) are replayed instead from the first
recorded decision on: each applies from the bar whose close it followed until the next one.

The engine then trades the sign of the exposure (flat inside ``portfolio.rebalance_band``), sized by
its magnitude, with the stop-loss/take-profit of the strategy contributing most in that direction;
``run_backtest`` passes ``portfolio.rebalance_band`` to the engine, which resizes the position when the
target moves by more than the band without a change of direction (cockpit/backtest/engine.py).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from cockpit.backtest.signals import as_signals
from cockpit.domain.settings import Config


class PortfolioStrategy:
    """Looks like one strategy to the engine: ``generate(arrays, funding)`` -> a signal frame."""

    name = "portfolio"

    def __init__(
        self,
        cfg: Config,
        ds,
        timeframe: str,
        *,
        replay: bool = False,
        table: list[dict[str, Any]] | None = None,
        weights: Mapping[str, float] | None = None,
        strategies: list[Any] | None = None,
    ) -> None:
        from cockpit.strategies import all_strategies, get_strategy

        self.cfg = cfg
        self.ds = ds
        self.timeframe = timeframe
        self.replay = replay
        self.replayed = 0
        self.table = None if table is None else list(table)
        self.fixed = None if weights is None else dict(weights)
        self.members = []
        if strategies is not None:
            self.members = [
                s
                if getattr(s, "timeframe", timeframe) == timeframe
                else get_strategy(s.name, s.params, timeframe=timeframe)
                for s in strategies
            ]
        else:
            for e in all_strategies(cfg):
                if e.enabled and e.strategy is not None:
                    s = (
                        e.strategy
                        if e.strategy.timeframe == timeframe
                        else get_strategy(e.name, e.params, timeframe=timeframe)
                    )
                    self.members.append(s)
        if self.fixed is not None:
            self.members = [s for s in self.members if self.fixed.get(s.name, 0.0) > 0]
        if not self.members:
            raise ValueError("--portfolio: no strategy is enabled in the config (strategies.<name>.enabled)")
        self.uses_funding = any(getattr(s, "uses_funding", False) for s in self.members)
        self.params = {
            "strategies": [s.name for s in self.members],
            **dict(cfg["portfolio"]),
            "selector": "recorded decisions, else offline" if replay else "offline",
        }

    @property
    def warmup_bars(self) -> int:
        """The members' warm-up, and the regime classifier's (so regimes are known from the first bar)."""
        from cockpit.indicators import RegimeClassifier

        rc = RegimeClassifier(self.cfg.get("regime")).cfg
        regime = int(rc["vol_lookback"]) + int(rc["vol_window"]) + 2
        return max([int(getattr(s, "warmup_bars", 0) or 0) for s in self.members] + [regime])

    def generate(self, arrays: Mapping[str, np.ndarray], funding=None):
        from cockpit.decision.scoring import PortfolioScheduler, StrategyScorer
        from cockpit.indicators import REGIME_CODES, RegimeClassifier

        n = len(arrays["close"])
        names = [s.name for s in self.members]
        frames = []
        for s in self.members:
            f = s.generate(arrays, funding) if getattr(s, "uses_funding", False) else s.generate(arrays)
            frames.append(as_signals(f, n))
        codes = RegimeClassifier(self.cfg.get("regime")).classify_series(arrays)
        scorer = StrategyScorer.from_config(self.cfg, self.ds)
        table = scorer.table() if self.table is None else self.table
        scheduler = PortfolioScheduler.from_config(self.cfg)
        k = len(names)
        w = np.zeros((len(REGIME_CODES), k))
        reasons: list[str] = []
        for code, regime in enumerate(REGIME_CODES):
            if self.fixed is not None:
                alloc = {nm: float(self.fixed.get(nm, 0.0)) for nm in names}
            else:
                scores = scorer.score(names, regime, table)
                alloc = scheduler.allocate({nm: sc.score for nm, sc in scores.items()})
            w[code] = [alloc.get(nm, 0.0) for nm in names]
            txt = ", ".join(f"{nm} {alloc[nm]:.2f}" for nm in names if alloc.get(nm)) or "none (all cash)"
            reasons.append(
                f"regime {regime.value}, {'fixed' if self.fixed is not None else 'offline selector'} weights {txt}"
            )
        D = np.stack([f.direction.astype(np.float64) for f in frames], axis=1)
        S = np.stack([f.strength for f in frames], axis=1)
        W = w[codes]
        contrib = W * D * S
        exposure = np.clip(contrib.sum(axis=1), -1.0, 1.0)
        reason = codes.astype(np.int16)
        if self.replay and self.ds is not None and n:
            exposure, reason = self._replay(arrays, exposure, reason, len(reasons))
            reasons.append("replayed recorded decision")
        band = float(self.cfg["portfolio"].get("rebalance_band", 0.05))
        direction = np.where(np.abs(exposure) >= max(band, 1e-12), np.sign(exposure), 0).astype(np.int8)
        # brackets from the strongest contributor in the chosen direction
        agree = contrib * direction[:, None]
        lead = np.argmax(agree, axis=1)
        rows = np.arange(n)
        ok = (direction != 0) & (agree[rows, lead] > 0)  # a replayed direction no member shares: no bracket
        stop = np.where(ok, np.stack([f.stop_loss for f in frames], axis=1)[rows, lead], np.nan)
        take = np.where(ok, np.stack([f.take_profit for f in frames], axis=1)[rows, lead], np.nan)
        return {
            "direction": direction,
            "strength": np.abs(exposure),
            "stop_loss": stop,
            "take_profit": take,
            "reason": reason,
            "reasons": tuple(reasons),
        }

    def _replay(self, arrays, exposure: np.ndarray, reason: np.ndarray, code: int) -> tuple[np.ndarray, np.ndarray]:
        from cockpit.domain.market import timeframe_ms

        ts = np.asarray(arrays["timestamp"], dtype=np.int64)
        tf = timeframe_ms(self.timeframe)
        rows = [
            r
            for r in self.ds.decisions_between(start=int(ts[0]) + tf, end=int(ts[-1]) + tf, symbol=self.cfg["symbol"])
            if r.get("timeframe") == self.timeframe and r.get("target_exposure") is not None
        ]
        self.replayed = len(rows)
        if not rows:
            return exposure, reason
        dts = np.array([int(r["timestamp"]) for r in rows], dtype=np.int64)
        val = np.array([float(r["target_exposure"]) for r in rows])
        # a decision taken at time t follows the close of the last bar with open + tf <= t
        bar = np.searchsorted(ts + tf, dts, side="right") - 1
        out, why = exposure.copy(), reason.copy()
        last = np.full(len(ts), -1)
        keep = bar >= 0
        last[bar[keep]] = np.arange(len(rows))[keep]  # the newest decision per bar wins
        last = np.maximum.accumulate(last)
        use = last >= 0
        out[use] = np.clip(val[last[use]], -1.0, 1.0)
        why[use] = code
        return out, why
