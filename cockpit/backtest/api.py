"""``run_backtest``: what the CLI, the sweep and the TUI's backtest screen call.

    report = run_backtest(cfg, ds, BacktestRequest(strategy="ema_trend", timeframe="1h",
                          start="2024-01-01", end="2024-12-31"), progress=cb, cancel=event, store=db)

Candles come through DataService (or a CSV file with ``csv=``); funding from the funding_rates
table (or ``backtest.funding_rate``); 15m bars decide SL/TP order inside 1h+ bars when stored.
The call is synchronous and thread-safe to run in a worker: it knows nothing of Textual, reports
``progress(done, total)`` and stops with ``BacktestCancelled`` when ``cancel`` is set.
"""

from __future__ import annotations

import json

import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import numpy as np

from cockpit.backtest.engine import (
    BacktestCancelled,
    EngineResult,
    EngineSettings,
    SubBars,
    funding_per_bar,
    run_engine,
)
from cockpit.backtest.metrics import compute_metrics
from cockpit.backtest.signals import EmaCross, Signals, as_signals
from cockpit.config import ConfigError
from cockpit.domain.market import timeframe_ms
from cockpit.domain.settings import Config

__all__ = [
    "BacktestRequest",
    "BacktestReport",
    "NoCandlesError",
    "BacktestCancelled",
    "run_backtest",
    "parse_date",
    "build_strategy",
    "settings_from_config",
]

SUB_TIMEFRAME = "15m"


class NoCandlesError(LookupError):
    """No candles stored for the requested range (the message says how to import some)."""


def parse_date(value: str | int | None, *, end: bool = False) -> int | None:
    """'2024-01-01' (UTC; an end date includes its whole day), ISO datetime, or epoch ms -> epoch ms."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    v = str(value).strip()
    if v.isdigit():
        return int(v)
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise ValueError(f"expected a date YYYY-MM-DD, an ISO datetime or epoch ms, got {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    ms = int(dt.timestamp() * 1000)
    if end and len(v) == 10:
        ms += 86_400_000 - 1
    return ms


@dataclass
class BacktestRequest:
    strategy: str = "ema_trend"
    timeframe: str = "1h"
    start: str | int | None = None
    end: str | int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    symbol: str | None = None  # default: cfg["symbol"]
    capital: float | None = None  # None: from cfg["backtest"]
    fee: float | None = None  # taker fee per side
    maker_fee: float | None = None
    slippage_bps: float | None = None
    leverage: float | None = None
    funding_source: str | None = None  # auto | table | constant | off
    funding_rate: float | None = None
    intrabar: str | None = None  # auto | conservative
    csv: str | None = None  # candles from a CSV file instead of the database
    engine: str = "event"  # event | fast
    portfolio: bool = False  # all enabled strategies through the scorer and scheduler (offline selector)
    replay_decisions: bool = False  # portfolio: replay target exposures recorded in the decisions table
    # Resize toward the target when it moves by this fraction of the full-strength position; None: off for a
    # single strategy, portfolio.rebalance_band for --portfolio; "off": direction changes only.
    rebalance_band: float | str | None = None
    warmup: int | None = None  # bars loaded before start for indicators (default: the strategy's estimate)
    name: str | None = None
    strategy_obj: Any = None  # a ready strategy object (tests, sweeps); overrides ``strategy``
    config_id: int | None = None  # a stored backtest_configs row this run belongs to (API: create, then run)

    def describe(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("strategy_obj", None)
        return d


@dataclass
class BacktestReport:
    request: BacktestRequest
    symbol: str
    timeframe: str
    start_ms: int
    end_ms: int
    settings: EngineSettings
    metrics: dict[str, Any]
    timestamps: np.ndarray
    equity: np.ndarray
    result: EngineResult
    strategy: str
    params: dict[str, Any]
    funding_source: str
    intrabar: str
    elapsed_s: float
    engine: str
    result_id: int | None = None
    decision_reasons: list[str] = field(default_factory=list)

    @property
    def trades(self) -> list[dict[str, Any]]:
        return [t.as_dict() for t in self.result.trades]

    def to_json(self, *, equity_points: int = 500) -> dict[str, Any]:
        step = max(1, len(self.equity) // equity_points)
        idx = list(range(0, len(self.equity), step))
        if idx and idx[-1] != len(self.equity) - 1:
            idx.append(len(self.equity) - 1)
        return {
            "result_id": self.result_id,
            "strategy": self.strategy,
            "params": self.params,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "start": self.start_ms,
            "end": self.end_ms,
            "engine": self.engine,
            "settings": asdict(self.settings),
            "funding_source": self.funding_source,
            "intrabar": self.intrabar,
            "metrics": self.metrics,
            "elapsed_s": self.elapsed_s,
            "equity_curve": [[int(self.timestamps[i]), float(self.equity[i])] for i in idx],
            "trades": self.trades,
        }


def rebalance_band(cfg: Config, request: BacktestRequest) -> float | None:
    """The engines' ``rebalance_band`` for this run: the request's value ("off" = None), else
    ``portfolio.rebalance_band`` for a portfolio run (what the live engine trades by), else None: a
    single-strategy backtest acts on direction changes only unless a band is asked for."""
    band = request.rebalance_band
    if band is None:
        return float(cfg["portfolio"]["rebalance_band"]) if request.portfolio else None
    if isinstance(band, str) and band.strip().lower() == "off":
        return None
    try:
        value = float(band)
    except (TypeError, ValueError):
        raise ValueError(f"rebalance band: expected a fraction 0..1 or 'off', got {band!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"rebalance band: expected a fraction 0..1 of the full-strength position, got {value:g}")
    return value


def settings_from_config(cfg: Config, request: BacktestRequest) -> EngineSettings:
    b = cfg["backtest"]

    def pick(v, key):
        return b[key] if v is None else v

    return EngineSettings(
        capital=float(pick(request.capital, "capital")),
        taker_fee=float(pick(request.fee, "taker_fee")),
        maker_fee=float(pick(request.maker_fee, "maker_fee")),
        slippage_bps=float(pick(request.slippage_bps, "slippage_bps")),
        slippage_range=float(b["slippage_range"]),
        maintenance_margin=float(b["maintenance_margin"]),
        leverage=float(pick(request.leverage, "leverage")),
        lot_size=float(b["lot_size"]),
        position_fraction=float(b["position_fraction"]),
        rebalance_band=rebalance_band(cfg, request),
        symbol=request.symbol or cfg["symbol"],
    )


def build_strategy(cfg: Config, name: str, params: Mapping[str, Any], timeframe: str) -> tuple[Any, dict]:
    """The strategy object for ``name`` with config params overridden by ``params``.

    ``ema_cross`` is the engine's fixed reference crossover (parity tests, benchmark); every other name
    comes from the strategy library (``cockpit.strategies.get_strategy``).
    """
    if name == "ema_cross":
        p = {"fast": 12, "slow": 26, "stop_pct": None, "take_pct": None, **params}
        try:
            return EmaCross(int(p["fast"]), int(p["slow"]), p["stop_pct"], p["take_pct"]), p
        except (TypeError, ValueError) as e:
            raise ConfigError("strategy.params", str(e)) from None
    from cockpit.strategies import get_strategy

    strategies: Mapping[str, Any] = cfg.get("strategies") or {}
    base = dict((strategies.get(name) or {}).get("params") or {})
    base.update(params)
    strat = get_strategy(name, base, timeframe=timeframe)
    return strat, dict(strat.params)


def load_csv_bars(path: str, timeframe: str, start: int | None, end: int | None, warmup: int) -> dict[str, np.ndarray]:
    """Bars of a candle CSV in [start, end] plus up to ``warmup`` bars before; ``_start_index`` is where the range
    starts. Shared by run_backtest and run_sweep."""
    from cockpit.market.csv_import import read_candles_csv

    df = read_candles_csv(path, timeframe)
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    i0 = int(np.searchsorted(ts, start, "left")) if start is not None else 0
    i1 = int(np.searchsorted(ts, end, "right")) if end is not None else len(ts)
    i0w = max(0, i0 - warmup)
    out = {
        c: df[c].to_numpy(dtype=np.int64 if c == "timestamp" else np.float64)[i0w:i1]
        for c in ("timestamp", "open", "high", "low", "close", "volume")
    }
    out["_start_index"] = np.array(i0 - i0w)
    return out


def load_db_bars(
    ds, symbol: str, timeframe: str, start: int | None, end: int | None, warmup: int
) -> dict[str, np.ndarray]:
    """Stored bars in [start, end] plus up to ``warmup`` bars before, as load_csv_bars."""
    main = ds.candle_arrays(symbol, timeframe, start=start, end=end)
    if len(main["timestamp"]) and warmup > 0:
        pre = ds.candle_arrays(symbol, timeframe, end=int(main["timestamp"][0]) - 1, limit=warmup)
        main = {k: np.concatenate([pre[k], main[k]]) for k in main}
        main["_start_index"] = np.array(len(pre["timestamp"]))
    else:
        main["_start_index"] = np.array(0)
    return main


def strategy_warmup(strat: Any) -> int:
    """The bars the strategy's indicators need before the first traded bar (its ``warmup_bars``, else 0)."""
    return int(getattr(strat, "warmup_bars", 0) or 0)


def load_range(
    ds,
    symbol: str,
    timeframe: str,
    start: int | None,
    end: int | None,
    warmup: int,
    *,
    csv: str | None,
    min_bars: int,
    where: str,
) -> tuple[dict[str, np.ndarray], int]:
    """The bars of a run, from the ``csv`` file or the database: [start, end] plus up to ``warmup`` bars before,
    and the index of the first bar in the range (the warm-up bars feed the indicators, never a position).
    Fewer than ``min_bars`` in the range raise NoCandlesError ("no ... candles {where}; import some first ...").
    Shared by run_backtest and run_sweep."""
    if csv:
        arrays = load_csv_bars(csv, timeframe, start, end, warmup)
    else:
        arrays = load_db_bars(ds, symbol, timeframe, start, end, warmup)
    i0 = int(arrays.pop("_start_index"))
    if len(arrays["timestamp"]) - i0 < min_bars:
        raise NoCandlesError(
            f"no {symbol} {timeframe} candles {where}; import some first, e.g. "
            f"`cockpit ingest --csv FILE --timeframe {timeframe}` (or pass --csv FILE)"
        )
    return arrays, i0


def funding_series(
    cfg: Config, ds, request: BacktestRequest, symbol: str, ts: np.ndarray, open_: np.ndarray
) -> tuple[np.ndarray, str]:
    """Funding per bar (off, constant, or the funding_rates table) and a line saying which source was used."""
    b = cfg["backtest"]
    mode = request.funding_source or b["funding_source"]
    const = float(b["funding_rate"] if request.funding_rate is None else request.funding_rate)
    if mode == "off" or len(ts) == 0:
        return np.zeros(len(ts)), "off"
    if mode == "constant":
        return funding_per_bar(ts, open_, None, const), f"constant {const:g} per 8h"
    rates: dict[int, float] = {}
    if ds is not None:
        fr = ds.funding_rates(symbol, start=int(ts[0]) - 8 * 3_600_000, end=int(ts[-1]))
        step = 8 * 3_600_000
        rates = {
            int(round(t / step) * step): float(r) for t, r in zip(fr["timestamp"], fr["funding_rate"]) if r is not None
        }
    if not rates:
        if mode == "table":
            raise NoCandlesError(
                f"no funding rates stored for {symbol} in the range; import them or use --funding constant"
            )
        return funding_per_bar(ts, open_, None, const), f"constant {const:g} per 8h (no funding history stored)"
    return funding_per_bar(ts, open_, rates, const), f"funding_rates table ({len(rates)} settlements)"


def run_backtest(
    cfg: Config,
    ds,
    request: BacktestRequest,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    store=None,
) -> BacktestReport:
    """Run one single-strategy backtest; persist it when ``store`` (a database) is given."""
    t0 = time.perf_counter()
    tf = request.timeframe
    tf_ms = timeframe_ms(tf)
    symbol = request.symbol or cfg["symbol"]
    start = parse_date(request.start)
    end = parse_date(request.end, end=True)
    if start is not None and end is not None and end < start:
        raise ValueError(f"--to ({request.end}) is before --from ({request.start})")
    if request.strategy_obj is not None:
        strat, params = request.strategy_obj, dict(request.params)
        name = getattr(strat, "name", type(strat).__name__)
    elif request.portfolio:
        from cockpit.backtest.portfolio import PortfolioStrategy

        strat = PortfolioStrategy(cfg, ds, tf, replay=request.replay_decisions)
        params, name = dict(strat.params), "portfolio"
    else:
        strat, params = build_strategy(cfg, request.strategy, request.params, tf)
        name = request.strategy
    warmup = request.warmup if request.warmup is not None else strategy_warmup(strat)
    rng = f"{request.start or 'the beginning'} to {request.end or 'the end'}"
    arrays, i0 = load_range(
        ds,
        symbol,
        tf,
        start,
        end,
        warmup,
        csv=request.csv,
        min_bars=1,
        where=f"in {request.csv or 'the database'} for {rng}",
    )
    n_all = len(arrays["timestamp"])
    frame = _generate(strat, arrays, ds, symbol)
    if request.portfolio and request.replay_decisions:
        params["replayed_decisions"] = int(getattr(strat, "replayed", 0))
    sig_all = as_signals(frame, n_all)
    # Trade only from ``start``: the warm-up bars feed the indicators but never hold a position.
    sl = slice(i0, n_all)
    bars = {k: v[sl] for k, v in arrays.items()}
    sizing = sig_all.strength[sl] if cfg["backtest"]["size_by_strength"] else np.ones(n_all - i0)
    sig = Signals(sig_all.direction[sl].copy(), sizing, sig_all.stop_loss[sl], sig_all.take_profit[sl])
    ts = bars["timestamp"]
    settings = settings_from_config(cfg, request)
    funding, funding_src = funding_series(cfg, ds if not request.csv else None, request, symbol, ts, bars["open"])
    if request.csv and funding_src.endswith("(no funding history stored)"):
        funding_src = funding_src.replace("(no funding history stored)", "(CSV run: the funding table is not read)")
    sub = None
    intrabar_mode = request.intrabar or cfg["backtest"]["intrabar"]
    if intrabar_mode == "auto" and ds is not None and not request.csv and tf_ms > timeframe_ms(SUB_TIMEFRAME):
        s = ds.candle_arrays(symbol, SUB_TIMEFRAME, start=int(ts[0]), end=int(ts[-1]) + tf_ms - 1)
        if len(s["timestamp"]):
            sub = SubBars(s["timestamp"], s["open"], s["high"], s["low"])
    if request.engine == "fast":
        from cockpit.backtest.fast import run_fast

        res = run_fast(bars, sig, settings, funding=funding, sub=sub, tf_ms=tf_ms)
    elif request.engine == "event":
        res = run_engine(bars, sig, settings, funding=funding, sub=sub, tf_ms=tf_ms, progress=progress, cancel=cancel)
    else:
        raise ValueError(f"engine: expected event or fast, got {request.engine!r}")
    exposure = float(np.count_nonzero(res.position) / len(res.position)) if len(res.position) else None
    metrics = compute_metrics(
        res.equity,
        [t.pnl for t in res.trades],
        capital=settings.capital,
        tf_ms=tf_ms,
        start_ms=int(ts[0]),
        end_ms=int(ts[-1]),
        fees=res.fees,
        funding=res.funding,
        liquidations=res.liquidations,
        exposure=exposure,
    )
    metrics["open_position"] = res.extra.get("open_position", 0.0)
    metrics["intrabar"] = res.intrabar
    metrics["funding_source"] = funding_src
    reasons = list(_frame_attr(frame, "reasons") or ())
    report = BacktestReport(
        request,
        symbol,
        tf,
        int(ts[0]),
        int(ts[-1]),
        settings,
        metrics,
        ts,
        res.equity,
        res,
        name,
        params,
        funding_src,
        res.intrabar,
        time.perf_counter() - t0,
        request.engine,
        decision_reasons=reasons,
    )
    if reasons:
        rcodes = np.asarray(_frame_attr(frame, "reason"))[sl]
        report.result.extra["decision_reason_codes"] = rcodes
    if store is not None:
        from cockpit.data.backtest_store import save_backtest

        report.result_id = save_backtest(store, **report_rows(report), config_id=request.config_id)
    return report


def request_from_config(row: Mapping[str, Any]) -> BacktestRequest:
    """A BacktestRequest for a stored backtest_configs row (as DataService.backtest_config returns it)."""
    params = row.get("strategy_params") or {}
    if isinstance(params, str):
        params = json.loads(params) if params else {}
    params = {k: v for k, v in params.items() if not k.startswith("_")}
    strategy = row.get("strategy") or "ema_trend"
    return BacktestRequest(
        strategy=strategy,
        timeframe=row["timeframe"],
        start=int(row["start_time"]),
        end=int(row["end_time"]),
        params={} if strategy == "portfolio" else params,
        symbol=row["symbol"],
        capital=float(row["initial_capital"]),
        fee=float(row["commission_rate"]),
        slippage_bps=float(row["slippage_bps"]) if row.get("slippage_bps") is not None else None,
        leverage=float(row["leverage"]) if row.get("leverage") is not None else None,
        portfolio=strategy == "portfolio",
        name=row.get("name"),
        config_id=int(row["id"]),
    )


def run_stored_config(cfg: Config, ds, config_id: int, *, store, progress=None, cancel=None) -> BacktestReport:
    """Run the stored configuration ``config_id``; the result row references that configuration."""
    row = ds.backtest_config(config_id)
    if row is None:
        raise LookupError(f"backtest config {config_id} not found")
    return run_backtest(cfg, ds, request_from_config(row), progress=progress, cancel=cancel, store=store)


def _frame_attr(frame, name: str):
    return frame.get(name) if isinstance(frame, Mapping) else getattr(frame, name, None)


def _generate(strat, arrays: dict[str, np.ndarray], ds, symbol: str):
    if getattr(strat, "uses_funding", False) and ds is not None:
        ts = arrays["timestamp"]
        fr = ds.funding_rates(symbol, start=int(ts[0]), end=int(ts[-1]))
        funding = {
            "timestamp": fr["timestamp"].to_numpy(dtype=np.int64),
            "funding_rate": fr["funding_rate"].to_numpy(dtype=np.float64),
        }
        return strat.generate(arrays, funding)
    return strat.generate(arrays)


def report_rows(report: BacktestReport) -> dict[str, Any]:
    """Everything backtest_store.save_backtest persists, as plain Python values."""
    res = report.result
    s = report.settings
    config = {
        "name": report.request.name or f"{report.strategy} {report.timeframe}",
        "symbol": report.symbol,
        "timeframe": report.timeframe,
        "start_time": report.start_ms,
        "end_time": report.end_ms,
        "initial_capital": s.capital,
        "commission_rate": s.taker_fee,
        "strategy": report.strategy,
        "strategy_params": {
            **{k: v for k, v in report.params.items()},
            "_settings": asdict(s),
            "_engine": report.engine,
            "_funding": report.funding_source,
        },
        "slippage_bps": s.slippage_bps,
        "leverage": s.leverage,
    }
    orders = [
        {
            "timestamp": f.timestamp,
            "side": f.side,
            "price": f.price,
            "amount": f.amount,
            "fee": f.fee,
            "pnl": f.pnl,
            "reason": f.reason,
            "funding": f.funding,
        }
        for f in res.fills
    ]
    if not orders:  # the fast path keeps trades only: one entry and one exit row per trade
        for t in res.trades:
            orders.append(
                {
                    "timestamp": t.entry_time,
                    "side": "buy" if t.side == "long" else "sell",
                    "price": t.entry_price,
                    "amount": t.size,
                    "fee": 0.0,
                    "pnl": None,
                    "reason": "signal",
                    "funding": None,
                }
            )
            orders.append(
                {
                    "timestamp": t.exit_time,
                    "side": "sell" if t.side == "long" else "buy",
                    "price": t.exit_price,
                    "amount": t.size,
                    "fee": t.fees,
                    "pnl": t.pnl,
                    "reason": t.exit_reason,
                    "funding": t.funding,
                }
            )
    positions = [
        {
            "timestamp": t.exit_time,
            "side": t.side,
            "amount": t.size,
            "entry_price": t.entry_price,
            "current_price": t.exit_price,
            "unrealized_pnl": t.pnl,
            "stop_loss": t.stop_loss,
            "take_profit": t.take_profit,
        }
        for t in res.trades
    ]
    open_pos = res.extra.get("open_position", 0.0)
    if open_pos:  # still open at the end: marked to the last close
        entry = float(res.extra.get("open_entry", 0.0))
        last_close = float(res.extra.get("last_close", entry))
        positions.append(
            {
                "timestamp": report.end_ms,
                "side": "long" if open_pos > 0 else "short",
                "amount": abs(open_pos),
                "entry_price": entry,
                "current_price": last_close,
                "unrealized_pnl": open_pos * (last_close - entry),
                "stop_loss": None,
                "take_profit": None,
            }
        )
    words = {1: "buy", -1: "sell", 0: "close"}
    codes = res.extra.get("decision_reason_codes")
    tsidx = {int(t): i for i, t in enumerate(report.timestamps)} if codes is not None else {}
    decisions = []
    for ts_, d, strength in res.decisions:
        why = f"direction -> {'long' if d > 0 else 'short' if d < 0 else 'flat'}"
        if codes is not None and ts_ in tsidx:
            c = int(codes[tsidx[ts_]])
            if 0 <= c < len(report.decision_reasons):
                why += f": {report.decision_reasons[c]}"
        decisions.append({"timestamp": ts_, "action": words[int(np.sign(d))], "confidence": strength, "reasoning": why})
    eq = report.equity
    step = max(1, len(eq) // 5000)
    idx = list(range(0, len(eq), step))
    if idx and idx[-1] != len(eq) - 1:
        idx.append(len(eq) - 1)
    curve = [[int(report.timestamps[i]), round(float(eq[i]), 6)] for i in idx]
    return {
        "config": config,
        "metrics": report.metrics,
        "equity_curve": curve,
        "trade_log": [t.as_dict() for t in res.trades],
        "orders": orders,
        "positions": positions,
        "decisions": decisions,
        "status": "completed",
    }
