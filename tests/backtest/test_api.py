"""run_backtest / run_sweep over a real SQLite file, persistence, and the CLI."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest

from cockpit.backtest.api import BacktestRequest, NoCandlesError, run_backtest
from cockpit.backtest.engine import BacktestCancelled
from cockpit.backtest.sweep import SweepRequest, parse_grid, run_sweep
from cockpit.market.csv_import import insert_candles

from .helpers import H, T0, random_walk

SYMBOL = "BTC/USDT:USDT"
Q = 900_000


def _store_walk(db, n_hours: int = 1500, seed: int = 3) -> dict[str, np.ndarray]:
    """15m random-walk bars and their exact 1h aggregation, both stored."""
    q = random_walk(4 * n_hours, seed=seed, vol=0.003)
    q["timestamp"] = T0 + Q * np.arange(4 * n_hours, dtype=np.int64)
    df15 = pd.DataFrame(q)
    g = df15.groupby(np.arange(len(df15)) // 4)
    df1h = pd.DataFrame(
        {
            "timestamp": g["timestamp"].first(),
            "open": g["open"].first(),
            "high": g["high"].max(),
            "low": g["low"].min(),
            "close": g["close"].last(),
            "volume": g["volume"].sum(),
        }
    )
    with db.atomic():
        insert_candles(db, SYMBOL, "15m", df15)
        insert_candles(db, SYMBOL, "1h", df1h)
    return {c: df1h[c].to_numpy() for c in df1h.columns}


def _store_funding(db, n_hours: int, rate: float) -> None:
    with db.atomic():
        for k in range(0, n_hours, 8):
            db.execute_sql(
                "INSERT INTO funding_rates (symbol, timestamp, funding_rate) VALUES (?, ?, ?)",
                (SYMBOL, T0 + k * H, rate),
            )


def test_run_backtest_from_the_database_persists_everything(db, ds, cfg):
    _store_walk(db)
    _store_funding(db, 1500, 0.0002)
    req = BacktestRequest(
        strategy="ema_trend", timeframe="1h", start="2024-01-10", end="2024-02-20", params={"fast": 8, "slow": 21}
    )
    rep = run_backtest(cfg, ds, req, store=db)
    m = rep.metrics
    assert m["trades"] > 5 and rep.result_id
    assert "funding_rates table" in rep.funding_source and m["funding"] != 0
    assert "lower timeframe bars decided" in rep.intrabar
    assert rep.start_ms == T0 + 9 * 24 * H  # trading starts at --from; earlier bars only warm indicators up
    for k in (
        "total_return",
        "cagr",
        "max_drawdown",
        "sharpe",
        "sortino",
        "calmar",
        "profit_factor",
        "win_rate",
        "avg_win",
        "avg_loss",
        "exposure",
        "trades",
        "fees",
        "funding",
        "liquidations",
    ):
        assert k in m
    row = ds.backtest_result(rep.result_id)
    assert row["strategy"] == "ema_trend" and row["total_trades"] == m["trades"] and row["status"] == "completed"
    assert row["metrics"]["final_equity"] == pytest.approx(m["final_equity"])
    assert len(row["trade_log"]) == m["trades"] and row["equity_curve"][-1][1] == pytest.approx(m["final_equity"])
    orders = ds.backtest_orders(rep.result_id)
    assert {o["reason"] for o in orders} <= {"signal", "stop", "take_profit", "liquidation"}
    closing = [o for o in orders if o["pnl"] is not None]
    assert len(closing) == m["trades"]
    assert sum(o["pnl"] for o in closing) == pytest.approx(sum(t["pnl"] for t in rep.trades))
    assert sum(o["funding"] or 0 for o in closing) == pytest.approx(sum(t["funding"] for t in rep.trades))
    n_pos = db.execute_sql("SELECT COUNT(*) FROM backtest_positions WHERE backtest_id=?", (rep.result_id,)).fetchone()[
        0
    ]
    n_dec = db.execute_sql(
        "SELECT COUNT(*), MIN(action) FROM backtest_decisions WHERE backtest_id=?", (rep.result_id,)
    ).fetchone()
    assert n_pos >= m["trades"] and n_dec[0] > 0
    reasoning = db.execute_sql(
        "SELECT reasoning FROM backtest_decisions WHERE backtest_id=? LIMIT 1", (rep.result_id,)
    ).fetchone()[0]
    assert reasoning.startswith("direction -> ")
    # the fast path gives the same run
    fast = run_backtest(cfg, ds, BacktestRequest(**{**req.describe(), "engine": "fast"}))
    assert fast.metrics["final_equity"] == pytest.approx(m["final_equity"], rel=1e-9)
    assert fast.metrics["trades"] == m["trades"]


def test_no_candles_error_says_how_to_import(ds, cfg):
    with pytest.raises(NoCandlesError, match="cockpit ingest --csv"):
        run_backtest(cfg, ds, BacktestRequest(strategy="ema_trend", start="2024-01-01", end="2024-01-31"))


def test_a_one_bar_range_runs_a_backtest_but_not_a_sweep(db, ds, cfg):
    """Both load the range with its warm-up bars through one function; a sweep needs two bars in the range."""
    _store_walk(db, 300)
    t = T0 + 100 * H
    rep = run_backtest(cfg, ds, BacktestRequest(strategy="ema_cross", params={"fast": 5, "slow": 12}, start=t, end=t))
    assert rep.start_ms == rep.end_ms == t and len(rep.equity) == 1
    with pytest.raises(NoCandlesError, match="candles for the sweep range; import some first"):
        run_sweep(
            cfg,
            ds,
            SweepRequest(
                strategy="ema_cross", grid={"slow": [12]}, params={"fast": 5}, start=t, end=t, workers=1, save=False
            ),
        )
    sweep = run_sweep(
        cfg,
        ds,
        SweepRequest(
            strategy="ema_cross", grid={"slow": [12]}, params={"fast": 5}, start=t, end=t + H, workers=1, save=False
        ),
    )
    assert (sweep["start"], sweep["end"], sweep["bars"]) == (t, t + H, 2)


def test_progress_and_cancel_through_run_backtest(db, ds, cfg):
    _store_walk(db, 800)
    seen = []
    run_backtest(
        cfg,
        ds,
        BacktestRequest(strategy="ema_cross", params={"fast": 5, "slow": 12}),
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[-1][0] == seen[-1][1]
    ev = threading.Event()
    ev.set()
    with pytest.raises(BacktestCancelled):
        run_backtest(cfg, ds, BacktestRequest(strategy="ema_cross", params={"fast": 5, "slow": 12}), cancel=ev)


def test_cli_backtest_json_and_text(db, db_url, capsys, monkeypatch):
    from cockpit.cli import main

    _store_walk(db, 1000)
    monkeypatch.setenv("COCKPIT_CONFIG", "")
    rc = main(
        [
            "--db",
            db_url,
            "backtest",
            "--strategy",
            "ema_cross",
            "--timeframe",
            "1h",
            "--from",
            "2024-01-05",
            "--to",
            "2024-02-10",
            "--param",
            "fast=8",
            "--param",
            "slow=30",
            "--capital",
            "5000",
            "--fee",
            "0.001",
            "--slippage-bps",
            "1",
            "--json",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    data = json.loads(out)
    assert (
        data["params"]["fast"] == 8 and data["settings"]["capital"] == 5000 and data["settings"]["taker_fee"] == 0.001
    )
    assert data["metrics"]["trades"] > 0 and data["result_id"]
    rc = main(["--db", db_url, "backtest", "--strategy", "ema_trend", "--from", "2024-01-05", "--to", "2024-02-10"])
    text = capsys.readouterr().out
    assert rc == 0
    for word in (
        "Total return",
        "Max drawdown",
        "Sharpe",
        "Funding paid",
        "Liquidations",
        "drawdown",
        "SL/TP inside a bar",
    ):
        assert word in text
    rc = main(["--db", db_url, "backtest", "--from", "2019-01-01", "--to", "2019-01-31"])
    err = capsys.readouterr().err
    assert rc == 1 and "cockpit ingest --csv" in err


def test_cli_backtest_from_csv_file(tmp_path, db_url, capsys):
    from cockpit.cli import main

    arr = random_walk(600)
    path = tmp_path / "bars.csv"
    pd.DataFrame(arr).to_csv(path, index=False)
    rc = main(["--db", db_url, "backtest", "--strategy", "ema_cross", "--csv", str(path), "--json", "--no-save"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metrics"]["bars"] == 600 and data["result_id"] is None


def test_rebalance_band_follows_the_portfolio_config_and_is_off_for_a_single_strategy(tmp_path, db_url, capsys, cfg):
    from cockpit.backtest.api import rebalance_band
    from cockpit.cli import main

    assert rebalance_band(cfg, BacktestRequest()) is None  # single strategy: direction changes only
    assert rebalance_band(cfg, BacktestRequest(portfolio=True)) == cfg["portfolio"]["rebalance_band"]
    assert rebalance_band(cfg, BacktestRequest(portfolio=True, rebalance_band="off")) is None
    assert rebalance_band(cfg, BacktestRequest(rebalance_band=0.1)) == 0.1
    with pytest.raises(ValueError, match="rebalance band"):
        rebalance_band(cfg, BacktestRequest(rebalance_band=1.5))
    arr = random_walk(600)
    path = tmp_path / "bars.csv"
    pd.DataFrame(arr).to_csv(path, index=False)
    runs = {}
    for band in (None, "0.05"):
        rc = main(
            ["--db", db_url, "backtest", "--strategy", "ema_cross", "--csv", str(path), "--json", "--no-save"]
            + (["--rebalance-band", band] if band else [])
        )
        assert rc == 0
        runs[band] = json.loads(capsys.readouterr().out)
    assert runs[None]["settings"]["rebalance_band"] is None
    assert runs["0.05"]["settings"]["rebalance_band"] == 0.05
    # ema_cross holds full strength: with a band the position follows equity (a short grows as price falls)
    assert runs["0.05"]["metrics"]["trades"] > runs[None]["metrics"]["trades"]
    rc = main(
        [
            "--db",
            db_url,
            "backtest",
            "--strategy",
            "ema_cross",
            "--csv",
            str(path),
            "--no-save",
            "--rebalance-band",
            "lots",
        ]
    )
    assert rc == 2 and "rebalance band" in capsys.readouterr().err


def test_sweep_grid_and_walk_forward_in_process(db, ds, cfg):
    _store_walk(db, 1500)
    req = SweepRequest(
        strategy="ema_cross", grid=parse_grid(["fast=5,8", "slow=20,40"]), walk_forward=3, workers=1, metric="sharpe"
    )
    out = run_sweep(cfg, ds, req, store=db)
    assert out["points"] == 4 and len(out["ranked"]) == 4
    sharpe = [r["metrics"]["sharpe"] for r in out["ranked"]]
    assert sharpe == sorted(sharpe, reverse=True)
    assert len(out["walk_forward"]) == 3
    for w in out["walk_forward"]:
        assert w["oos_start"] < w["oos_end"]
    assert len(out["result_ids"]) == 4
    # the best grid point equals a plain single run (no --from: both start at the first stored bar)
    best = out["ranked"][0]
    rep = run_backtest(cfg, ds, BacktestRequest(strategy="ema_cross", params=best["params"], warmup=0))
    assert rep.metrics["trades"] == best["metrics"]["trades"]
    assert rep.metrics["final_equity"] == pytest.approx(best["metrics"]["final_equity"], rel=1e-9)


def test_sweep_on_a_process_pool(db, ds, cfg):
    _store_walk(db, 600)
    req = SweepRequest(strategy="ema_cross", grid={"fast": [5, 8], "slow": [20, 8]}, workers=2, metric="total_return")
    out = run_sweep(cfg, ds, req)
    assert out["workers"] == 2 and len(out["ranked"]) == 3
    assert len(out["errors"]) == 1 and "fast" in out["errors"][0]["error"]


def test_sweep_default_workers_stay_in_process_when_a_pool_costs_more(db, ds, cfg, monkeypatch):
    import cockpit.backtest.sweep as sweep_mod

    assert cfg["backtest"]["workers"] == 0  # the default: auto
    _store_walk(db, 600)
    grid = {"fast": [5, 8, 12], "slow": [20, 30]}
    one = run_sweep(cfg, ds, SweepRequest(strategy="ema_cross", grid=grid, workers=1, metric="total_return"))
    auto = run_sweep(cfg, ds, SweepRequest(strategy="ema_cross", grid=grid, metric="total_return"))
    assert auto["workers"] == 1 and auto["executor"] == "in process"  # ms of work against seconds of start-up
    monkeypatch.setattr(sweep_mod, "POOL_STARTUP_S", 0.0)  # a pool that costs nothing: it takes over after the probe
    pooled = run_sweep(cfg, ds, SweepRequest(strategy="ema_cross", grid=grid, metric="total_return"))
    assert pooled["workers"] == 2 and pooled["executor"].endswith("then a local process pool")
    for r in (auto, pooled):
        assert [x["params"] for x in r["ranked"]] == [x["params"] for x in one["ranked"]]
        assert [x["metrics"] for x in r["ranked"]] == [x["metrics"] for x in one["ranked"]]


def test_parse_grid_errors():
    assert parse_grid(["fast=8,12", "stop_pct=0.01,0.02"]) == {"fast": [8, 12], "stop_pct": [0.01, 0.02]}
    with pytest.raises(ValueError, match="NAME=V1"):
        parse_grid(["fast"])


# a published score table (expected reward relative to cash per regime) under which several strategies
# earn weight, the weight moves with the regime, and some strategies never beat cash
PLANTED_SCORES = {
    #                  trending_up, trending_down, ranging, high_volatility, unknown
    "ema_trend": (0.04, 0.04, -0.03, 0.01, 0.02),
    "trend_core": (0.05, 0.01, -0.02, 0.02, 0.03),
    "breakout": (0.02, 0.02, -0.02, 0.03, 0.01),
    "momentum": (0.03, 0.03, -0.02, 0.01, 0.01),
    "bollinger_range": (-0.03, -0.03, 0.04, -0.02, 0.02),
    "mean_reversion": (-0.03, -0.03, 0.04, -0.01, 0.01),
    "funding_rate": (-0.01, -0.01, -0.01, -0.01, -0.01),
    "volatility": (-0.01, -0.01, -0.02, -0.01, -0.01),
}


def test_portfolio_run_uses_scorer_scheduler_and_net_exposure(db, ds, cfg):
    from cockpit.backtest.portfolio import PortfolioStrategy
    from cockpit.decision.scoring import PortfolioScheduler, StrategyScorer, net_exposure
    from cockpit.indicators import REGIME_CODES, RegimeClassifier

    regimes = ("trending_up", "trending_down", "ranging", "high_volatility", "unknown")
    for name, ers in PLANTED_SCORES.items():
        for regime, er in zip(regimes, ers):
            db.execute_sql(
                "INSERT INTO strategy_scores (version, strategy, regime, expected_reward, samples, status)"
                " VALUES ('planted', ?, ?, ?, 200, 'published')",
                (name, regime, er),
            )
    # several strategies share the capital and the regime evidence counts (the defaults are top-1, pooled)
    cfg["portfolio"].update(top_n=3, max_weight=0.6, regime_shrink=20.0)
    arr = _store_walk(db, 1200)
    ps = PortfolioStrategy(cfg, ds, "1h")
    frame = ps.generate(arr)
    codes = RegimeClassifier(cfg["regime"]).classify_series(arr)
    # the live engine's scorer and scheduler (PortfolioDecisionEngine builds them from the config)
    scorer, scheduler = StrategyScorer.from_config(cfg, ds), PortfolioScheduler.from_config(cfg)
    assert scorer.table() and {r["version"] for r in scorer.table()} == {"planted"}
    frames = {s.name: s.generate(arr) for s in ps.members}
    held, exposed = set(), 0
    for i in range(200, 1200):  # bar by bar, as the live engine would decide at each close
        sigs = {nm: f.signal_at(i, nm) for nm, f in frames.items()}
        scores = scorer.score(list(sigs), REGIME_CODES[codes[i]])
        w = scheduler.allocate({n: sc.score for n, sc in scores.items()})
        assert frame["strength"][i] == pytest.approx(abs(net_exposure(w, sigs)), abs=1e-9), i
        held |= {n for n, x in w.items() if x > 0}
        exposed += frame["strength"][i] > 0
    # the table is what decides: several strategies earn weight, the ones that never beat cash none
    assert len(held) >= 3 and {"funding_rate", "volatility"}.isdisjoint(held)
    assert exposed > 100
    rep = run_backtest(cfg, ds, BacktestRequest(portfolio=True, timeframe="1h"), store=db)
    assert rep.strategy == "portfolio" and rep.metrics["trades"] > 0
    assert "ema_trend" in rep.params["strategies"] and "trend_core" in rep.params["strategies"]
    reasoning = db.execute_sql(
        "SELECT reasoning FROM backtest_decisions WHERE backtest_id=? LIMIT 1", (rep.result_id,)
    ).fetchone()[0]
    assert "offline selector weights" in reasoning


def test_sweep_on_a_dask_local_cluster(db, ds, cfg):
    distributed = pytest.importorskip("distributed")
    _store_walk(db, 600)
    grid = {"fast": [5, 8], "slow": [20, 30]}
    local = run_sweep(cfg, ds, SweepRequest(strategy="ema_cross", grid=grid, workers=1, walk_forward=2))
    with distributed.LocalCluster(
        n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None, protocol="tcp", host="127.0.0.1"
    ) as lc:
        out = run_sweep(
            cfg, ds, SweepRequest(strategy="ema_cross", grid=grid, walk_forward=2, dask=lc.scheduler_address)
        )
    assert out["executor"].startswith("dask tcp://") and out["workers"] == 2
    assert [r["params"] for r in out["ranked"]] == [r["params"] for r in local["ranked"]]
    assert [r["metrics"]["final_equity"] for r in out["ranked"]] == pytest.approx(
        [r["metrics"]["final_equity"] for r in local["ranked"]]
    )
    assert [w["params"] for w in out["walk_forward"]] == [w["params"] for w in local["walk_forward"]]


def test_portfolio_replays_recorded_decisions(db, ds, cfg):
    from cockpit.data.decision_store import DecisionStore
    from cockpit.domain.signals import Decision

    arr = _store_walk(db, 400)
    store = DecisionStore(db)
    # decisions taken just after the close of bars 100 (go long), 200 (go short) and 300 (go flat)
    for bar, exposure in ((100, 1.0), (200, -1.0), (300, 0.0)):
        t = int(arr["timestamp"][bar]) + H + 5_000
        store.insert_decision(
            Decision(
                symbol=SYMBOL,
                timeframe="1h",
                timestamp=t,
                action="hold",
                confidence=0.5,
                reasoning="recorded",
                target_exposure=exposure,
            )
        )
    rep = run_backtest(
        cfg,
        ds,
        BacktestRequest(
            portfolio=True, replay_decisions=True, timeframe="1h", start=int(arr["timestamp"][0]) + 150 * H
        ),
    )
    assert rep.params["replayed_decisions"] == 3
    sides = [(t.side, t.entry_time, t.exit_time) for t in rep.result.trades]
    # the engine was long from the start (decision of bar 100 still in force), reversed at bar 201's open,
    # and went flat at bar 301's open (stops of the leading strategy may cut a leg short)
    assert rep.result.decisions[0][1] == 1
    dirs = [d for _, d, _ in rep.result.decisions]
    assert dirs == [1, -1, 0]
    assert all(t.entry_time >= int(arr["timestamp"][150]) for t in rep.result.trades)
    assert sides and sides[-1][2] <= int(arr["timestamp"][301])
