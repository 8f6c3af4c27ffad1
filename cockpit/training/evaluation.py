"""The held-out evaluation a trader can trust: policies run through the engine the live path trades by.

Every policy is a signal frame run by the event backtest engine (``run_backtest`` with the
``SimulatedExecutor``: fills at the next bar's open with slippage, taker fees, funding from the
``funding_rates`` table, stops, resizing inside ``portfolio.rebalance_band``), over the same bars:

* ``candidate`` / ``active``: the portfolio of enabled strategies weighted by the offline selector
  (``PortfolioStrategy``) reading the candidate's score table / the active one (published, else the
  table shipped with the package);
* ``buy_and_hold``: long the perpetual at 1x of equity from the first bar's open (taker fee and
  slippage in), kept at 1x, funding paid every 8h: per bar, equity grows by the close-to-close return
  minus the funding rates settled in the bar (computed directly: a position left alone would drift
  off 1x, and with isolated margin the funding drained from it would liquidate it); ``buy_and_hold_vol``: long, scaled to the trend core's target volatility
  (same estimator), through the engine; ``cash``: no position;
* ``equal_weights``: every enabled strategy at 1/K; ``best_single``: the strategy with the best mean
  reward on the *training* period (named), alone.

Figures (fractions: 0.12 = 12%): total return, CAGR, Sharpe of daily returns annualised with 365 and
its 90% interval from a stationary block bootstrap (mean block 10 days, 2,000 resamples, fixed seed),
Sortino, max drawdown (bar closes), turnover per year (traded notional / equity), fees and funding paid
(fractions of the starting capital), exposure (mean |position notional| / equity). The verdict compares
on Sharpe among the policies whose drawdown stays within ``training.report_max_drawdown``, and says
plainly when a policy does not beat cash or buy-and-hold, with the bootstrap interval of the Sharpe
difference (paired resamples).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from cockpit.backtest.api import BacktestRequest, run_backtest
from cockpit.backtest.portfolio import PortfolioStrategy
from cockpit.domain.market import timeframe_ms
from cockpit.domain.settings import Config

DAY_MS = 86_400_000
YEAR_DAYS = 365.0
BOOT_SAMPLES = 2000
BOOT_BLOCK_DAYS = 10
BOOT_SEED = 7


class _Fixed:
    """A baseline as a strategy object: long (``vol_target`` None: full size) from the first bar on."""

    uses_funding = False

    def __init__(
        self, name: str, *, long: bool, vol_target: float | None = None, vol_days: int = 30, timeframe: str = "1d"
    ) -> None:
        self.name = name
        self.long = long
        self.vol_target = vol_target
        self.vol_days = vol_days
        self.timeframe = timeframe
        self.params = {"vol_target": vol_target, "vol_days": vol_days} if vol_target else {}

    @property
    def warmup_bars(self) -> int:
        return self._span() + 2 if self.vol_target else 0

    def _span(self) -> int:
        return max(2, int(round(self.vol_days * DAY_MS / timeframe_ms(self.timeframe))))

    def generate(self, arrays: Mapping[str, np.ndarray], funding: Any = None) -> dict[str, Any]:
        from cockpit.strategies.library import ewm_vol

        c = np.asarray(arrays["close"], dtype=np.float64)
        n = len(c)
        strength = np.ones(n)
        if self.vol_target:
            vol = ewm_vol(c, self._span(), self.timeframe)
            with np.errstate(invalid="ignore", divide="ignore"):
                strength = np.where(np.isfinite(vol) & (vol > 0), np.minimum(1.0, self.vol_target / vol), 0.0)
        direction = np.where(strength > 0, 1, 0).astype(np.int8) if self.long else np.zeros(n, np.int8)
        nan = np.full(n, np.nan)
        return {
            "direction": direction,
            "strength": strength if self.long else np.zeros(n),
            "stop_loss": nan,
            "take_profit": nan.copy(),
        }


# ---------------------------------------------------------------- figures


def daily_returns(ts: np.ndarray, equity: np.ndarray, capital: float) -> np.ndarray:
    """Per-UTC-day simple returns of an equity curve sampled at bar closes (the first from ``capital``)."""
    ts = np.asarray(ts, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    if len(eq) == 0:
        return np.zeros(0)
    day = ts // DAY_MS
    last = np.r_[np.nonzero(np.diff(day))[0], len(day) - 1]
    closes = eq[last]
    prev = np.r_[capital, closes[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prev > 0, closes / prev - 1.0, 0.0)


def sharpe(r: np.ndarray) -> float | None:
    r = np.asarray(r, dtype=np.float64)
    if len(r) < 2:
        return None
    sd = r.std(ddof=1)
    return float(r.mean() / sd * math.sqrt(YEAR_DAYS)) if sd > 0 else None


def _sharpe_rows(r: np.ndarray) -> np.ndarray:
    """Sharpe of each row of a (resamples x days) block; NaN where the row has no variance."""
    sd = r.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, r.mean(axis=1) / sd * math.sqrt(YEAR_DAYS), np.nan)


def bootstrap_index(
    n: int, *, samples: int = BOOT_SAMPLES, block: int = BOOT_BLOCK_DAYS, seed: int = BOOT_SEED
) -> np.ndarray:
    """Stationary block bootstrap (Politis & Romano): (samples x n) day indices, geometric blocks of mean
    ``block`` days wrapping around the end. The same indices serve every policy (paired comparisons)."""
    rng = np.random.default_rng(seed)
    if n == 0:
        return np.zeros((samples, 0), dtype=np.int64)
    start = rng.integers(0, n, size=(samples, n))
    new_block = rng.random((samples, n)) < 1.0 / max(1, block)
    new_block[:, 0] = True
    # Within a block each day follows the previous one; a new block jumps to its own random start.
    pos = np.arange(n)[None, :]
    block_start_pos = np.maximum.accumulate(np.where(new_block, pos, 0), axis=1)
    first = np.take_along_axis(start, block_start_pos, axis=1)
    return (first + (pos - block_start_pos)) % n


def interval(values: np.ndarray) -> list[float] | None:
    v = values[np.isfinite(values)]
    if len(v) < 10:
        return None
    return [round(float(np.percentile(v, 5)), 4), round(float(np.percentile(v, 95)), 4)]


def figures(report: Any, capital: float, boot: np.ndarray | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """The figures of one backtest report, and its daily returns."""
    ts = np.asarray(report.timestamps, dtype=np.int64)
    eq = np.asarray(report.equity, dtype=np.float64)
    res = report.result
    pos = np.asarray(res.position, dtype=np.float64)
    close = np.asarray(report.result.extra.get("close", []), dtype=np.float64)
    m = report.metrics
    r = daily_returns(ts, eq, capital)
    years = max(len(r) / YEAR_DAYS, 1e-9)
    down = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) if len(r) else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        notional = np.abs(pos * close) if len(close) == len(pos) else np.zeros(len(pos))
        expo = np.where(eq > 0, notional / eq, 0.0)
        traded = np.abs(np.diff(np.r_[0.0, pos])) * (close if len(close) == len(pos) else 0.0)
        turnover = float(np.sum(np.where(eq > 0, traded / eq, 0.0))) / years
    final = float(eq[-1]) if len(eq) else capital
    out = {
        "label": "",
        "total_return": round(final / capital - 1.0, 6),
        "cagr": None if final <= 0 else round((final / capital) ** (1.0 / years) - 1.0, 6),
        "sharpe": None if (sh := sharpe(r)) is None else round(sh, 4),
        "sharpe_ci90": interval(_sharpe_rows(r[boot])) if boot is not None and len(r) == boot.shape[1] else None,
        "sortino": None if down <= 0 else round(float(r.mean() / down * math.sqrt(YEAR_DAYS)), 4),
        "max_drawdown": round(float(m["max_drawdown"]), 6),
        "turnover_per_year": round(turnover, 4),
        "fees": round(float(res.fees) / capital, 6),
        "funding": round(float(res.funding) / capital, 6),
        "exposure": round(float(expo.mean()) if len(expo) else 0.0, 4),
        "trades": int(m.get("trades") or 0),
        "final_equity": round(final, 2),
        "days": int(len(r)),
    }
    return out, r


# ---------------------------------------------------------------- running the policies


class _Held:
    """A report-like result of buy-and-hold computed directly (see the module docstring)."""

    def __init__(self, cfg: Config, ds: Any, like: Any) -> None:
        from types import SimpleNamespace

        from cockpit.training.returns import funding_for

        tf = like.timeframe
        a = ds.candle_arrays(cfg["symbol"], tf, start=int(like.timestamps[0]), end=int(like.timestamps[-1]))
        ts, o, c = a["timestamp"], a["open"], a["close"]
        b = cfg["backtest"]
        capital, fee, slip = float(b["capital"]), float(b["taker_fee"]), float(b["slippage_bps"]) / 1e4
        entry = float(o[0]) * (1 + slip)
        fund_unit, _ = funding_for(cfg, ds, cfg["symbol"], ts, o)  # rate x mark per unit, per bar
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(o > 0, fund_unit / o, 0.0)
        prev = np.r_[entry, c[:-1]]
        growth = np.cumprod(1.0 + c / prev - 1.0 - rate)
        start = capital * (1.0 - fee)
        self.timeframe = tf
        self.timestamps = ts
        self.equity = start * growth
        paid = float(np.sum(np.r_[start, self.equity[:-1]] * rate))
        peak = np.maximum.accumulate(self.equity)
        self.metrics = {"max_drawdown": float((self.equity / peak - 1.0).min()), "trades": 0}
        self.result = SimpleNamespace(position=self.equity / c, fees=capital * fee, funding=paid, extra={"close": c})


def _run(cfg: Config, ds: Any, strat: Any, tf: str, start_ms: int, end_ms: int) -> Any:
    req = BacktestRequest(
        strategy=getattr(strat, "name", "policy"),
        timeframe=tf,
        start=int(start_ms),
        end=int(end_ms),
        engine="event",
        strategy_obj=strat,
        rebalance_band=float(cfg["portfolio"]["rebalance_band"]),
    )
    rep = run_backtest(cfg, ds, req)
    # The close of every bar, to value positions for exposure and turnover.
    closes = ds.candle_arrays(cfg["symbol"], tf, start=int(rep.timestamps[0]), end=int(rep.timestamps[-1]))["close"]
    rep.result.extra["close"] = np.asarray(closes, dtype=np.float64)
    return rep


def trend_vol(cfg: Config) -> tuple[float, int]:
    strategies: Mapping[str, Any] = cfg.get("strategies") or {}
    p = (strategies.get("trend_core") or {}).get("params") or {}
    return float(p.get("target_vol", 0.25)), int(p.get("vol_days", 30))


def run_policies(
    cfg: Config,
    ds: Any,
    *,
    start_ms: int,
    end_ms: int,
    strategies: list[Any],
    candidate_rows: list[dict[str, Any]] | None,
    active_rows: list[dict[str, Any]] | None,
    active_label: str,
    best_single: str | None,
    include: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Run every policy over [start_ms, end_ms] at the decision timeframe; figures and daily returns."""
    tf = cfg["decision_timeframe"]
    capital = float(cfg["backtest"]["capital"])
    tv, vd = trend_vol(cfg)
    names = [s.name for s in strategies]
    policies: dict[str, tuple[str, Any]] = {}
    if candidate_rows is not None:
        policies["candidate"] = (
            "the candidate's score table through the offline selector",
            PortfolioStrategy(cfg, ds, tf, table=candidate_rows, strategies=strategies),
        )
    policies["active"] = (active_label, PortfolioStrategy(cfg, ds, tf, table=active_rows, strategies=strategies))
    policies["buy_and_hold"] = (
        "long the perpetual at 1x of equity the whole period, funding paid",
        _Fixed("buy_and_hold", long=True, timeframe=tf),
    )
    policies["buy_and_hold_vol"] = (
        f"long, scaled to {tv:.0%} annualised volatility ({vd}-day EWM)",
        _Fixed("buy_and_hold_vol", long=True, vol_target=tv, vol_days=vd, timeframe=tf),
    )
    policies["cash"] = ("no position", _Fixed("cash", long=False, timeframe=tf))
    policies["equal_weights"] = (
        f"{len(names)} enabled strategies at 1/{len(names)} each",
        PortfolioStrategy(cfg, ds, tf, weights={n: 1.0 / len(names) for n in names}, strategies=strategies),
    )
    if best_single:
        policies["best_single"] = (
            f"{best_single} alone (best mean reward in training)",
            PortfolioStrategy(cfg, ds, tf, weights={best_single: 1.0}, strategies=strategies),
        )
    if include is not None:
        policies = {k: v for k, v in policies.items() if k in include}
    runs = {k: _run(cfg, ds, strat, tf, start_ms, end_ms) for k, (_, strat) in policies.items()}
    if "buy_and_hold" in runs:
        runs["buy_and_hold"] = _Held(cfg, ds, runs["buy_and_hold"])
    days = {k: len(daily_returns(r.timestamps, r.equity, capital)) for k, r in runs.items()}
    boot = bootstrap_index(min(days.values())) if days else None
    out: dict[str, Any] = {}
    daily: dict[str, np.ndarray] = {}
    for k, rep in runs.items():
        f, r = figures(rep, capital, boot)
        f["label"] = policies[k][0]
        out[k] = f
        daily[k] = r
    first = next(iter(runs.values()))
    period = {
        "from_ms": int(first.timestamps[0]),
        "to_ms": int(first.timestamps[-1]),
        "bars": len(first.timestamps),
        "timeframe": tf,
    }
    return {"policies": out, "daily": daily, "boot": boot, "period": period}


def verdict(
    policies: Mapping[str, Mapping[str, Any]],
    daily: Mapping[str, np.ndarray],
    boot: np.ndarray | None,
    *,
    max_drawdown: float,
    subject: str = "candidate",
) -> dict[str, Any]:
    """Compare ``subject`` with cash and buy-and-hold: Sharpe under the drawdown constraint, said plainly."""
    s = policies.get(subject)
    if s is None:
        return {"summary": f"no {subject} policy in this report"}
    lines: list[str] = []
    within = {k: p for k, p in policies.items() if p["max_drawdown"] >= -max_drawdown}
    ranked = sorted(within, key=lambda k: -(within[k]["sharpe"] if within[k]["sharpe"] is not None else -1e9))
    best = ranked[0] if ranked else None

    def diff_ci(a: str, b: str) -> list[float] | None:
        if (
            boot is None
            or a not in daily
            or b not in daily
            or len(daily[a]) != boot.shape[1]
            or len(daily[b]) != boot.shape[1]
        ):
            return None
        return interval(_sharpe_rows(daily[a][boot]) - _sharpe_rows(daily[b][boot]))

    sh = s["sharpe"] if s["sharpe"] is not None else float("-inf")
    beats_cash = bool(s["total_return"] > 0 and sh > 0)
    bh = policies.get("buy_and_hold")
    bh_sh = bh["sharpe"] if bh and bh["sharpe"] is not None else float("-inf")
    beats_bh = bool(bh is not None and sh >= bh_sh)
    dd_ok = bool(s["max_drawdown"] >= -max_drawdown)
    ci_bh = diff_ci(subject, "buy_and_hold")
    lines.append(
        f"{subject}: return {s['total_return']:+.1%}, Sharpe {sh:.2f}"
        + (f" (90% {s['sharpe_ci90'][0]:.2f}..{s['sharpe_ci90'][1]:.2f})" if s.get("sharpe_ci90") else "")
        + f", max drawdown {s['max_drawdown']:.1%}"
    )
    lines.append(
        "beats cash (positive return and Sharpe)"
        if beats_cash
        else "does NOT beat cash: holding no position would have done better"
    )
    if bh is not None:
        txt = (
            f"Sharpe {'at least' if beats_bh else 'BELOW'} buy-and-hold's ({bh_sh:.2f}, return "
            f"{bh['total_return']:+.1%}, max drawdown {bh['max_drawdown']:.1%})"
        )
        if ci_bh:
            sure = ci_bh[0] > 0 or ci_bh[1] < 0
            txt += f"; the Sharpe difference's 90% interval is {ci_bh[0]:+.2f}..{ci_bh[1]:+.2f}" + (
                "" if sure else ", so the difference is within the uncertainty"
            )
        lines.append(txt)
    lines.append(f"max drawdown {'within' if dd_ok else 'BEYOND'} the {max_drawdown:.0%} limit")
    # Equal weights and the best single strategy are baselines, not the bar: being ahead of a baseline
    # that lost money is no win when cash (no position) kept the capital.
    beats_equal = None
    eqw = policies.get("equal_weights")
    if eqw is not None and subject != "equal_weights":
        eq_sh = eqw["sharpe"] if eqw["sharpe"] is not None else float("-inf")
        ahead = bool(s["total_return"] > eqw["total_return"] and sh > eq_sh)
        beats_equal = bool(ahead and beats_cash)
        figs = f"return {eqw['total_return']:+.1%}, Sharpe {eq_sh:.2f}"
        lines.append(
            f"beats equal weights ({figs})"
            if beats_equal
            else f"ahead of equal weights ({figs}) but NOT a win: it lost to cash (0%)"
            if ahead
            else f"does NOT beat equal weights ({figs})"
        )
    bs = policies.get("best_single")
    if bs is not None and not bs.get("trades"):
        lines.append("the best single strategy of training made no trade in this period: no baseline here")
    if best:
        b = policies[best]
        if b["total_return"] < 0 and best != "cash" and "cash" in policies:
            lines.append(
                f"best Sharpe within the drawdown limit: {best}, yet it lost {b['total_return']:.1%}: cash did better"
            )
        else:
            lines.append(f"best Sharpe within the drawdown limit: {best}")
    return {
        "beats_cash": beats_cash,
        "beats_buy_and_hold_sharpe": beats_bh,
        "within_drawdown_limit": dd_ok,
        "max_drawdown_limit": max_drawdown,
        "best_within_drawdown": best,
        "beats_equal_weights": beats_equal,
        "sharpe_minus_buy_and_hold_ci90": ci_bh,
        "passes": bool(beats_cash and beats_bh and dd_ok),
        "summary": "; ".join(lines),
    }
