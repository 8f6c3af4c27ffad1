"""Parameter sweeps and anchored walk-forward on the fast path, over a local process pool.

``run_sweep(cfg, ds, SweepRequest(...))`` evaluates every grid point on the whole range and ranks
them by ``metric``. With ``walk_forward=K`` the range is cut into K+1 equal parts; fold i optimises
on parts 0..i (in-sample, anchored at the start) and reports the chosen parameters on part i+1
(out-of-sample). Signals are generated once per grid point over the whole history — strategies
are causal, so bar t's signal only uses data up to t — and each window starts flat.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from cockpit.backtest.engine import EngineSettings
from cockpit.backtest.metrics import compute_metrics
from cockpit.backtest.signals import Signals, as_signals
from cockpit.domain.settings import Config

HIGHER_IS_BETTER = {
    "sharpe",
    "sortino",
    "calmar",
    "total_return",
    "cagr",
    "profit_factor",
    "win_rate",
    "max_drawdown",
    "final_equity",
}


class SweepCancelled(Exception):
    pass


@dataclass
class SweepRequest:
    strategy: str = "ema_trend"
    timeframe: str = "1h"
    grid: dict[str, list[Any]] = field(default_factory=dict)
    start: str | int | None = None
    end: str | int | None = None
    params: dict[str, Any] = field(default_factory=dict)  # fixed parameters besides the grid
    metric: str = "sharpe"
    walk_forward: int = 0
    workers: int | None = None  # None: cfg backtest.workers (0 = one per CPU); 1 = in this process
    csv: str | None = None
    capital: float | None = None
    fee: float | None = None
    slippage_bps: float | None = None
    leverage: float | None = None
    save: bool = True
    dask: str | None = None  # tcp://HOST:PORT of a dask.distributed scheduler (or a Client object)


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """['fast=8,12,16', 'slow=26,50'] -> {'fast': [8, 12, 16], 'slow': [26, 50]}."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--grid: expected NAME=V1,V2,..., got {item!r}")
        k, vs = item.split("=", 1)
        vals = [parse_scalar(v.strip()) for v in vs.split(",") if v.strip()]
        if not k.strip() or not vals:
            raise ValueError(f"--grid: expected NAME=V1,V2,..., got {item!r}")
        grid[k.strip()] = vals
    return grid


def parse_scalar(v: str) -> Any:
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(v.lower(), v)


# ------------------------------------------------------------------ worker side

_W: dict[str, Any] = {}


def _init_worker(payload: dict[str, Any]) -> None:
    _W.clear()
    _W.update(payload)


def _score(metrics: Mapping[str, Any], metric: str) -> float:
    v = metrics.get(metric)
    if v is None or not np.isfinite(v):
        return -np.inf
    return float(v) if metric in HIGHER_IS_BETTER else -float(v)


def _evaluate_on(payload: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Dask task: the payload travels once per worker (scattered), the grid point per task."""
    if not _W or _W.get("_token") != payload.get("_token"):
        _init_worker(payload)
    return _evaluate(params)


def _evaluate(params: dict[str, Any]) -> dict[str, Any]:
    """Run one grid point on the whole range and on every walk-forward window (in a worker)."""
    from cockpit.backtest.api import build_strategy

    w = _W
    try:
        strat, full_params = build_strategy(w["cfg"], w["strategy"], params, w["timeframe"])
    except ValueError as e:  # e.g. fast >= slow: an invalid grid point, reported, not fatal
        return {"params": params, "error": str(e)}
    arrays = w["arrays"]
    n_all = len(arrays["timestamp"])
    frame = strat.generate(arrays)
    sig = as_signals(frame, n_all)
    if not w["size_by_strength"]:
        sig = Signals(sig.direction, np.ones(n_all), sig.stop_loss, sig.take_profit)
    out = {"params": params, "full_params": full_params, "windows": {}}
    for key, (a, b) in w["windows"].items():
        res = _run_window(arrays, sig, a, b, w)
        out["windows"][key] = res
    return out


def _run_window(arrays, sig: Signals, a: int, b: int, w) -> dict[str, Any]:
    from cockpit.backtest.fast import run_fast

    sl = slice(a, b)
    bars = {k: v[sl] for k, v in arrays.items()}
    s = Signals(sig.direction[sl], sig.strength[sl], sig.stop_loss[sl], sig.take_profit[sl])
    res = run_fast(bars, s, w["settings"], funding=w["funding"][sl], tf_ms=w["tf_ms"], with_trades=False)
    pnl = res.extra["pnl"]
    exposure = float(np.count_nonzero(res.position) / len(res.position)) if len(res.position) else None
    ts = bars["timestamp"]
    m = compute_metrics(
        res.equity,
        pnl,
        capital=w["settings"].capital,
        tf_ms=w["tf_ms"],
        start_ms=int(ts[0]),
        end_ms=int(ts[-1]),
        fees=res.fees,
        funding=res.funding,
        liquidations=res.liquidations,
        exposure=exposure,
    )
    return m


# ------------------------------------------------------------------ driver


def _windows(i0: int, n: int, k: int) -> tuple[dict[str, tuple[int, int]], list[tuple[str, str]]]:
    wins = {"full": (i0, n)}
    folds = []
    if k > 0:
        edges = np.linspace(i0, n, k + 2).astype(int)
        for f in range(k):
            is_key, oos_key = f"is{f}", f"oos{f}"
            wins[is_key] = (i0, int(edges[f + 1]))
            wins[oos_key] = (int(edges[f + 1]), int(edges[f + 2]))
            folds.append((is_key, oos_key))
    return wins, folds


def run_sweep(
    cfg: Config,
    ds,
    req: SweepRequest,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    store=None,
) -> dict[str, Any]:
    from cockpit.backtest.api import (
        BacktestRequest,
        build_strategy,
        funding_series,
        load_range,
        parse_date,
        settings_from_config,
        strategy_warmup,
    )
    from cockpit.domain.market import timeframe_ms

    t0 = time.perf_counter()
    if not req.grid:
        raise ValueError("sweep: give at least one --grid NAME=V1,V2,...")
    if req.metric not in HIGHER_IS_BETTER | {"max_drawdown"}:
        raise ValueError(f"--metric: expected one of {', '.join(sorted(HIGHER_IS_BETTER))}, got {req.metric!r}")
    tf_ms = timeframe_ms(req.timeframe)
    symbol = cfg["symbol"]
    breq = BacktestRequest(
        strategy=req.strategy,
        timeframe=req.timeframe,
        start=req.start,
        end=req.end,
        capital=req.capital,
        fee=req.fee,
        slippage_bps=req.slippage_bps,
        leverage=req.leverage,
        csv=req.csv,
    )
    probe, _ = build_strategy(cfg, req.strategy, {**req.params}, req.timeframe)
    # Warm-up for the longest period in the grid too, not only the probe's parameters.
    warm = max(
        strategy_warmup(probe), 3 * max([v for vs in req.grid.values() for v in vs if isinstance(v, int)] or [0])
    )
    start, end = parse_date(req.start), parse_date(req.end, end=True)
    arrays, i0 = load_range(
        ds, symbol, req.timeframe, start, end, warm, csv=req.csv, min_bars=2, where="for the sweep range"
    )
    n = len(arrays["timestamp"])
    funding, funding_src = funding_series(
        cfg, ds if not req.csv else None, breq, symbol, arrays["timestamp"], arrays["open"]
    )
    settings = settings_from_config(cfg, breq)
    wins, folds = _windows(i0, n, req.walk_forward)
    keys = list(req.grid)
    points = [dict(req.params, **dict(zip(keys, combo))) for combo in itertools.product(*(req.grid[k] for k in keys))]
    payload = {
        "cfg": {k: v for k, v in cfg.items()},
        "strategy": req.strategy,
        "timeframe": req.timeframe,
        "arrays": arrays,
        "windows": wins,
        "settings": settings,
        "funding": funding,
        "tf_ms": tf_ms,
        "size_by_strength": cfg["backtest"]["size_by_strength"],
    }
    auto = req.workers is None and not cfg["backtest"]["workers"]
    workers = req.workers if req.workers is not None else (cfg["backtest"]["workers"] or os.cpu_count() or 1)
    workers = max(1, min(int(workers), len(points)))
    results: list[dict[str, Any]] = []
    if req.dask is None and (workers == 1 or auto):
        # In process; in auto mode (workers 0, the default) a pool takes over the remaining points
        # only when their measured cost beats the pool's start-up (choose_workers).
        _init_worker(payload)
        timings: list[float] = []
        for i, p in enumerate(points):
            if cancel is not None and cancel.is_set():
                raise SweepCancelled(f"cancelled after {i} of {len(points)} grid points")
            t = time.perf_counter()
            results.append(_evaluate(p))
            timings.append(time.perf_counter() - t)
            if progress:
                progress(i + 1, len(points))
            if auto and workers > 1 and len(timings) == AUTO_PROBE_POINTS:
                if choose_workers(min(timings), len(points) - len(timings), workers) > 1:
                    break
        if len(results) == len(points):
            workers, executor = 1, "in process"
        else:
            done = len(results)
            executor = f"in process for {done} points, then a local process pool"
            results += _pool_map(
                payload,
                points[done:],
                workers,
                cancel,
                (lambda k, m: progress(done + k, len(points))) if progress else None,
            )
    elif req.dask is not None:
        results, workers = _run_dask(req.dask, payload, points, progress, cancel)
        executor = f"dask {req.dask if isinstance(req.dask, str) else 'client'}"
    else:
        executor = "local process pool"
        results = _pool_map(payload, points, workers, cancel, progress)
    ok = [r for r in results if "error" not in r]
    ranked = sorted(ok, key=lambda r: _score(r["windows"]["full"], req.metric), reverse=True)
    wf = []
    for f, (is_key, oos_key) in enumerate(folds):
        best = max(ok, key=lambda r: _score(r["windows"][is_key], req.metric)) if ok else None
        if best is None:
            continue
        a, b = wins[oos_key]
        wf.append(
            {
                "fold": f + 1,
                "params": best["params"],
                "in_sample": best["windows"][is_key],
                "out_of_sample": best["windows"][oos_key],
                "oos_start": int(arrays["timestamp"][a]),
                "oos_end": int(arrays["timestamp"][b - 1]),
            }
        )
    oos_growth = float(np.prod([1 + w["out_of_sample"]["total_return"] for w in wf])) - 1 if wf else None
    out = {
        "strategy": req.strategy,
        "timeframe": req.timeframe,
        "metric": req.metric,
        "symbol": symbol,
        "start": int(arrays["timestamp"][i0]),
        "end": int(arrays["timestamp"][-1]),
        "bars": n - i0,
        "grid": req.grid,
        "points": len(points),
        "workers": workers,
        "executor": executor,
        "funding_source": funding_src,
        "ranked": [{"params": r["params"], "metrics": r["windows"]["full"]} for r in ranked],
        "errors": [r for r in results if "error" in r],
        "walk_forward": wf,
        "walk_forward_oos_return": oos_growth,
        "elapsed_s": time.perf_counter() - t0,
        "result_ids": [],
    }
    if store is not None and req.save:
        out["result_ids"] = _save(store, out, settings)
    return out


# What starting a spawn-context pool costs before its first result: a fresh interpreter per worker importing
# numpy, numba and cockpit, loading the compiled kernels, and receiving the payload. Measured by
# bench/backtest.py (the sweep section prints it): 2-4 s on the 2-core development machine.
POOL_STARTUP_S = 3.0
AUTO_PROBE_POINTS = 2  # grid points timed in process before deciding (the first one also loads the kernels)


def choose_workers(point_s: float, remaining: int, cpus: int, startup_s: float | None = None) -> int:
    """Workers for the ``remaining`` points, each measured at ``point_s`` in process: a pool of ``cpus`` only
    when the time it saves, remaining x point_s x (1 - 1/cpus), exceeds its start-up; else 1. So the
    default (backtest.workers 0) is never slower than one worker by more than the probe."""
    if startup_s is None:
        startup_s = POOL_STARTUP_S
    if cpus <= 1 or remaining <= 1:
        return 1
    saved = remaining * point_s * (1.0 - 1.0 / min(cpus, remaining))
    return min(cpus, remaining) if saved > startup_s else 1


def _pool_map(payload, points, workers, cancel, progress) -> list[dict[str, Any]]:
    import multiprocessing as mp

    results: list[dict[str, Any]] = []
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_init_worker, initargs=(payload,)
    ) as pool:
        futs = [pool.submit(_evaluate, p) for p in points]
        for i, f in enumerate(futs):
            if cancel is not None and cancel.is_set():
                for g in futs:
                    g.cancel()
                raise SweepCancelled(f"cancelled after {i} of {len(points)} grid points")
            results.append(f.result())
            if progress:
                progress(i + 1, len(points))
    return results


def _run_dask(address, payload, points, progress, cancel) -> tuple[list[dict[str, Any]], int]:
    """The same evaluation on a dask.distributed cluster (``pip install "dask[distributed]"``)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ValueError("--dask needs dask.distributed: pip install 'dask[distributed]'") from None
    import uuid

    client = address if not isinstance(address, str) else Client(address, timeout="20s")
    try:
        payload = dict(payload, _token=uuid.uuid4().hex)
        handle = client.scatter(payload, broadcast=True)
        futs = [client.submit(_evaluate_on, handle, p, pure=False) for p in points]
        index = {f.key: i for i, f in enumerate(futs)}
        results: list[Any] = [None] * len(points)
        for done, f in enumerate(as_completed(futs), 1):
            if cancel is not None and cancel.is_set():
                client.cancel(futs)
                raise SweepCancelled(f"cancelled after {done - 1} of {len(points)} grid points")
            results[index[f.key]] = f.result()
            if progress:
                progress(done, len(points))
        return results, len(client.scheduler_info().get("workers", {}))
    finally:
        if isinstance(address, str):
            client.close()


def _save(db, out: dict[str, Any], settings: EngineSettings) -> list[int]:
    from dataclasses import asdict

    from cockpit.data.backtest_store import save_backtest

    ids = []
    for rank, r in enumerate(out["ranked"], 1):
        ptxt = ",".join(f"{k}={v}" for k, v in r["params"].items())
        config = {
            "name": f"sweep {out['strategy']} {out['timeframe']} #{rank} ({ptxt})",
            "symbol": out["symbol"],
            "timeframe": out["timeframe"],
            "start_time": out["start"],
            "end_time": out["end"],
            "initial_capital": settings.capital,
            "commission_rate": settings.taker_fee,
            "strategy": out["strategy"],
            "strategy_params": {
                **r["params"],
                "_settings": asdict(settings),
                "_engine": "fast",
                "_sweep_rank": rank,
                "_sweep_metric": out["metric"],
            },
            "slippage_bps": settings.slippage_bps,
            "leverage": settings.leverage,
        }
        metrics = dict(r["metrics"], sweep_rank=rank, walk_forward=out["walk_forward"] if rank == 1 else None)
        ids.append(
            save_backtest(
                db,
                config=config,
                metrics=metrics,
                equity_curve=[],
                trade_log=[],
                orders=[],
                positions=[],
                decisions=[],
                status="sweep",
            )
        )
    return ids
