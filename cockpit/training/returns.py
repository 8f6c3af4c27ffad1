"""Per-strategy sleeve returns over a history: the raw material of training and of the held-out report.

Every strategy runs once over the whole range through the backtest layer (its vectorised
``generate()`` then ``run_fast`` or the event engine ``run_engine``: fills at the next bar's open
with slippage, taker fees, funding every 8 h, stops and take-profits, and resizing inside
``portfolio.rebalance_band`` as the portfolio trades it). Its equity curve gives the
per-bar return of a *sleeve* — capital allocated to that one strategy — net of fees and funding.
Signals are generated over the warm-up bars too (indicators need them) but positions are taken only
from ``start``. Signals never look ahead (the strategy library tests that), so one run over
train + test gives, on the test bars, exactly what a run started there with the same warm-up would.

The regime of each bar comes from the configured ``RegimeClassifier`` (vectorised, bars <= t only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from cockpit.backtest.engine import EngineSettings, funding_per_bar, run_engine
from cockpit.backtest.signals import Signals, as_signals
from cockpit.domain.market import timeframe_ms
from cockpit.domain.settings import Config
from cockpit.indicators.regime import REGIME_CODES, RegimeClassifier

FEATURES = ("adx", "vol", "vol_pct", "slope")


class NoDataError(ValueError):
    """No candles for the requested range."""


@dataclass
class StrategyReturns:
    timestamps: np.ndarray  # open time of each bar (int64 ms)
    close: np.ndarray
    names: tuple[str, ...]
    returns: np.ndarray  # (bars, strategies): sleeve return of bar t (equity[t] / equity[t-1] - 1)
    exposure: np.ndarray  # (bars, strategies): signed position notional / equity after bar t
    regime: np.ndarray  # (bars,) int8 index into REGIME_CODES
    features: dict[str, np.ndarray]
    tf_ms: int
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    taker_fee: float = 0.0005
    funding_source: str = ""

    def __len__(self) -> int:
        return len(self.timestamps)

    def regime_name(self, i: int) -> str:
        return REGIME_CODES[int(self.regime[i])].value

    def index_range(self, start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
        """[i0, i1) of the bars whose open time lies in [start_ms, end_ms]."""
        ts = self.timestamps
        i0 = 0 if start_ms is None else int(np.searchsorted(ts, int(start_ms), "left"))
        i1 = len(ts) if end_ms is None else int(np.searchsorted(ts, int(end_ms), "right"))
        return i0, i1


def load_market(
    ds: Any, symbol: str, timeframe: str, start_ms: int | None, end_ms: int | None, warmup: int
) -> tuple[dict[str, np.ndarray], int]:
    """Candles from DataService for [start - warmup bars, end], and the index where ``start`` begins."""
    main = ds.candle_arrays(symbol, timeframe, start=start_ms, end=end_ms)
    if len(main["timestamp"]) == 0:
        raise NoDataError(
            f"no {symbol} {timeframe} candles stored for the range; import some first, e.g. "
            f"`cockpit ingest --csv FILE --timeframe {timeframe}`"
        )
    if warmup > 0:
        pre = ds.candle_arrays(symbol, timeframe, end=int(main["timestamp"][0]) - 1, limit=warmup)
        return {k: np.concatenate([pre[k], main[k]]) for k in main}, len(pre["timestamp"])
    return main, 0


def funding_for(cfg: Config, ds: Any, symbol: str, ts: np.ndarray, open_: np.ndarray) -> tuple[np.ndarray, str]:
    """Funding paid per unit of position per bar (rate x mark), as the backtest charges it."""
    b = cfg["backtest"]
    mode, const = b["funding_source"], float(b["funding_rate"])
    if mode == "off" or len(ts) == 0:
        return np.zeros(len(ts)), "off"
    if mode != "constant" and ds is not None:
        step = 8 * 3_600_000
        fr = ds.funding_rates(symbol, start=int(ts[0]) - step, end=int(ts[-1]))
        rates = {
            int(round(t / step) * step): float(r) for t, r in zip(fr["timestamp"], fr["funding_rate"]) if r is not None
        }
        if rates:
            return funding_per_bar(ts, open_, rates, const), f"funding_rates table ({len(rates)} settlements)"
    return funding_per_bar(ts, open_, None, const), f"constant {const:g} per 8h"


def engine_settings(cfg: Config) -> EngineSettings:
    b = cfg["backtest"]
    return EngineSettings(
        capital=float(b["capital"]),
        taker_fee=float(b["taker_fee"]),
        maker_fee=float(b["maker_fee"]),
        slippage_bps=float(b["slippage_bps"]),
        slippage_range=float(b["slippage_range"]),
        maintenance_margin=float(b["maintenance_margin"]),
        leverage=float(b["leverage"]),
        lot_size=float(b["lot_size"]),
        position_fraction=float(b["position_fraction"]),
        rebalance_band=float(cfg["portfolio"]["rebalance_band"]),
        symbol=cfg["symbol"],
    )


def sleeve(
    arrays: Mapping[str, np.ndarray],
    frame: Any,
    i0: int,
    settings: EngineSettings,
    funding: np.ndarray,
    *,
    engine: str = "fast",
    size_by_strength: bool = True,
    tf_ms: int = 3_600_000,
) -> tuple[np.ndarray, np.ndarray]:
    """(per-bar returns, exposure) of one strategy from bar i0 on."""
    n = len(arrays["timestamp"])
    sig_all = as_signals(frame, n)
    sl = slice(i0, n)
    bars = {k: np.asarray(arrays[k])[sl] for k in ("timestamp", "open", "high", "low", "close")}
    strength = sig_all.strength[sl] if size_by_strength else np.ones(n - i0)
    sig = Signals(sig_all.direction[sl].copy(), strength, sig_all.stop_loss[sl], sig_all.take_profit[sl])
    if engine == "fast":
        from cockpit.backtest.fast import run_fast

        res = run_fast(bars, sig, settings, funding=funding[sl], tf_ms=tf_ms, with_trades=False)
    else:
        res = run_engine(bars, sig, settings, funding=funding[sl], tf_ms=tf_ms)
    eq = np.asarray(res.equity, dtype=np.float64)
    prev = np.concatenate(([settings.capital], eq[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev > 0, eq / prev - 1.0, 0.0)
        x = np.where(eq > 0, np.asarray(res.position) * bars["close"] / eq, 0.0)
    return np.nan_to_num(r), np.nan_to_num(x)


def strategy_returns(
    cfg: Config,
    ds: Any,
    *,
    start_ms: int | None,
    end_ms: int | None,
    strategies: list[Any] | None = None,
    engine: str | None = None,
) -> StrategyReturns:
    """Run every strategy (default: the enabled ones in config) over [start, end] and collect sleeves."""
    from cockpit.strategies.registry import build_strategies

    strats = list(strategies) if strategies is not None else build_strategies(cfg)
    if not strats:
        raise ValueError("no strategies to train on (enable some under strategies: in config)")
    tf = cfg["decision_timeframe"]
    tf_ms = timeframe_ms(tf)
    symbol = cfg["symbol"]
    rc = RegimeClassifier(cfg.get("regime"))
    warmup = max(
        [int(getattr(s, "warmup_bars", 0) or 0) for s in strats]
        + [int(rc.cfg["vol_lookback"]) + int(rc.cfg["vol_window"]) + 2]
    )
    arrays, i0 = load_market(ds, symbol, tf, start_ms, end_ms, warmup)
    n = len(arrays["timestamp"])
    if n - i0 <= 1:
        raise NoDataError(f"fewer than 2 {symbol} {tf} candles in the range")
    funding, fsrc = funding_for(cfg, ds, symbol, arrays["timestamp"], arrays["open"])
    settings = engine_settings(cfg)
    eng = engine or cfg.get("training", {}).get("engine", "fast")
    rets, expo, params = [], [], {}
    for s in strats:
        frame = _generate(s, arrays, ds, symbol)
        r, x = sleeve(
            arrays,
            frame,
            i0,
            settings,
            funding,
            engine=eng,
            size_by_strength=bool(cfg["backtest"]["size_by_strength"]),
            tf_ms=tf_ms,
        )
        rets.append(r)
        expo.append(x)
        params[s.name] = dict(getattr(s, "params", {}) or {})
    comp = rc.components(arrays)
    codes = rc._codes(comp)[i0:]
    feats = {k: np.asarray(comp[k])[i0:] for k in FEATURES}
    return StrategyReturns(
        np.asarray(arrays["timestamp"][i0:], dtype=np.int64),
        np.asarray(arrays["close"][i0:]),
        tuple(s.name for s in strats),
        np.column_stack(rets),
        np.column_stack(expo),
        codes,
        feats,
        tf_ms,
        params,
        settings.taker_fee,
        fsrc,
    )


def _generate(strat: Any, arrays: Mapping[str, np.ndarray], ds: Any, symbol: str) -> Any:
    if getattr(strat, "uses_funding", False) and ds is not None:
        ts = arrays["timestamp"]
        fr = ds.funding_rates(symbol, start=int(ts[0]), end=int(ts[-1]))
        return strat.generate(
            arrays,
            {
                "timestamp": fr["timestamp"].to_numpy(dtype=np.int64),
                "funding_rate": fr["funding_rate"].to_numpy(dtype=np.float64),
            },
        )
    return strat.generate(arrays)
