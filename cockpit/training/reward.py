"""RewardCalculator: one number per outcome window, risk-adjusted, net of fees and funding.

The input is a window of per-bar simple returns that already include fees and funding (the
backtest engine charges both into the strategy's equity; live outcomes subtract them explicitly).
Kinds (``training.reward``); every one is relative to cash, which scores 0:

* ``sharpe`` (default): mean / std x sqrt(bars) of the per-bar returns of the window (a per-window
  t-statistic, not annualised; std floored at ``std_floor``). Risk-adjusted, and it keeps the sign of
  the window's return: a compounded gain means a positive arithmetic mean (AM >= GM), so buy-and-hold
  never scores negative over a window in which it made money. With ``training.horizon_bars`` = 30
  daily bars it measures a month, not hours;
* ``log_return``: log(1 + R), the log growth of the window (Kelly's utility): also sign-keeping,
  but not risk-adjusted beyond its concavity, so it favours the most exposed strategies;
* ``return_dd_penalty``: R - penalty * |MDD|, where R is the compounded return of the window and MDD
  its deepest fall from a running peak (starting at the window's first equity); it can score a
  profitable window below cash;
* ``return_over_drawdown``: R / max(|MDD|, dd_floor) (a Calmar-like ratio; the floor keeps a
  smooth window from dividing by almost zero).

How the default was chosen (training period 2019-09-10 .. 2023-12-31 only): README, "How the defaults
were chosen".

Everything works on the last axis, so a whole (samples x strategies x bars) block is one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cockpit.domain.settings import Config

KINDS = ("log_return", "return_dd_penalty", "return_over_drawdown", "sharpe")


@dataclass(frozen=True)
class RewardCalculator:
    kind: str = "sharpe"
    dd_penalty: float = 0.5
    dd_floor: float = 0.01
    std_floor: float = 1e-4

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"reward kind: expected one of {', '.join(KINDS)}, got {self.kind!r}")

    @classmethod
    def from_config(cls, cfg: Config) -> "RewardCalculator":
        t = cfg["training"]
        return cls(str(t["reward"]), float(t["dd_penalty"]))

    def describe(self) -> str:
        if self.kind == "log_return":
            return "log(1 + net return), relative to cash (net of fees and funding)"
        if self.kind == "return_dd_penalty":
            return f"return - {self.dd_penalty:g} x |max drawdown| over the window"
        if self.kind == "return_over_drawdown":
            return f"return / max(|max drawdown|, {self.dd_floor:g}) over the window"
        return "Sharpe of the per-bar returns (mean / std x sqrt(bars)), net of fees and funding, relative to cash"

    @staticmethod
    def window_stats(returns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(compounded return, max drawdown <= 0) along the last axis."""
        r = np.asarray(returns, dtype=np.float64)
        growth = np.cumprod(1.0 + r, axis=-1)
        shape = growth.shape[:-1] + (1,)
        peak = np.maximum.accumulate(np.concatenate([np.ones(shape), growth], axis=-1), axis=-1)[..., 1:]
        dd = (growth / peak - 1.0).min(axis=-1) if r.shape[-1] else np.zeros(shape[:-1])
        total = growth[..., -1] - 1.0 if r.shape[-1] else np.zeros(shape[:-1])
        return total, np.minimum(dd, 0.0)

    def reward(self, returns: np.ndarray) -> np.ndarray | float:
        r = np.asarray(returns, dtype=np.float64)
        if self.kind == "sharpe":
            n = r.shape[-1]
            sd = np.maximum(r.std(axis=-1, ddof=1) if n > 1 else np.zeros(r.shape[:-1]), self.std_floor)
            out = r.mean(axis=-1) / sd * np.sqrt(n)
        elif self.kind == "log_return":
            total, _ = self.window_stats(r)
            out = np.log(np.maximum(1.0 + total, 1e-9))
        else:
            total, dd = self.window_stats(r)
            if self.kind == "return_dd_penalty":
                out = total - self.dd_penalty * np.abs(dd)
            else:
                out = total / np.maximum(np.abs(dd), self.dd_floor)
        return float(out) if np.ndim(out) == 0 else out
