"""Parity with backtesting.py, and the fast path against the event-driven engine.

The shared fill convention (documented in cockpit/backtest/engine.py):
* a decision is taken at bar k's close from data up to k; its market orders fill at bar k+1's open;
* commission 0.05% of notional per side, no spread/slippage, 1x;
* the whole equity goes into each new position (backtesting.py's default size, 1 - eps), with sizes in
  whole satoshis (``FractionalBacktest``; our ``lot_size=1e-8``), the fee included in the sizing;
* a reversal closes the old position at the open before the new one opens (backtesting.py:
  ``exclusive_orders=True``); the old position's stop is dropped when its exit is decided, so the
  exit at the next open happens before any intrabar stop (in backtesting.py: ``trade.sl = None``);
* a stop is a stop-market order: it fills at the stop, or at the open when the bar gaps through it,
  and can trigger in the entry bar;
* positions still open at the end are marked to the last close, not closed (``finalize_trades=False``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cockpit.backtest.engine import EngineSettings, SubBars, funding_per_bar, run_engine
from cockpit.backtest.fast import run_fast
from cockpit.backtest.signals import EmaCross, Signals, ema

from .helpers import random_walk

PARITY = EngineSettings(
    capital=10_000.0, taker_fee=0.0005, slippage_bps=0.0, leverage=1.0, lot_size=1e-8, position_fraction=1.0
)


def _real(shared_data_dir, start="2023-01-01", end="2025-01-01", tf="1h"):
    df = pd.read_csv(shared_data_dir / f"btc_usdt_swap_{tf}.csv")
    a, b = (int(pd.Timestamp(x, tz="UTC").value // 1_000_000) for x in (start, end))
    df = df[(df.timestamp >= a) & (df.timestamp < b)].reset_index(drop=True)
    return {c: df[c].to_numpy() for c in df.columns}


def _backtesting_py(arrays, sig, stop: bool):
    bt_mod = pytest.importorskip("backtesting")
    from backtesting.lib import FractionalBacktest

    D = sig.direction.astype(float)
    SL = sig.stop_loss
    unit = 1e-8

    class Follow(bt_mod.Strategy):
        def init(self):
            self.d = self.I(lambda: D, name="direction")

        def next(self):
            i = len(self.data) - 1
            if D[i] == D[i - 1]:
                return
            for t in self.trades:
                t.sl = None  # the exit at the next open comes before any intrabar stop
            if D[i] > 0:
                self.buy(sl=SL[i] * unit if stop else None)
            elif D[i] < 0:
                self.sell(sl=SL[i] * unit if stop else None)
            else:
                self.position.close()

    df = pd.DataFrame(
        {
            "Open": arrays["open"],
            "High": arrays["high"],
            "Low": arrays["low"],
            "Close": arrays["close"],
            "Volume": arrays["volume"],
        },
        index=pd.to_datetime(arrays["timestamp"], unit="ms"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(
            df,
            Follow,
            cash=10_000,
            commission=0.0005,
            exclusive_orders=True,
            finalize_trades=False,
            fractional_unit=unit,
        )
        return bt.run()


def _check_parity(arrays, stop_pct):
    sig = EmaCross(12, 26, stop_pct=stop_pct).generate(arrays)
    ours = run_engine(arrays, sig, PARITY)
    stats = _backtesting_py(arrays, sig, stop=bool(stop_pct))
    assert len(ours.trades) == int(stats["# Trades"])
    assert ours.final_equity == pytest.approx(float(stats["Equity Final [$]"]), rel=1e-6)
    theirs = stats["_trades"]
    np.testing.assert_allclose([t.exit_price for t in ours.trades], theirs["ExitPrice"].to_numpy(), rtol=1e-9)
    if stop_pct:
        assert any(t.exit_reason == "stop" for t in ours.trades)
    return ours


@pytest.mark.shared_data
@pytest.mark.parametrize("stop_pct", [None, 0.02])
def test_parity_with_backtesting_py_on_real_data(shared_data_dir, stop_pct):
    _check_parity(_real(shared_data_dir), stop_pct)


@pytest.mark.parametrize("stop_pct", [None, 0.02])
def test_parity_with_backtesting_py_on_generated_bars(stop_pct):
    _check_parity(random_walk(20_000, seed=11), stop_pct)


def _same(a, b):
    assert [(t.side, t.entry_time, t.exit_time, t.exit_reason) for t in a.trades] == [
        (t.side, t.entry_time, t.exit_time, t.exit_reason) for t in b.trades
    ]
    np.testing.assert_allclose([t.pnl for t in a.trades], [t.pnl for t in b.trades], rtol=1e-9, atol=1e-9)
    assert a.final_equity == pytest.approx(b.final_equity, rel=1e-9)
    assert a.liquidations == b.liquidations


CASES = [  # (leverage, stop, take, slippage bps, range slippage, with funding)
    (1.0, None, None, 0.0, 0.0, False),
    (1.0, 0.02, None, 2.0, 0.0, True),
    (3.0, 0.03, 0.05, 2.0, 0.05, True),
    (25.0, None, 0.03, 1.0, 0.0, True),  # liquidations
]


def _both_on_generated(case, seed: int):
    """(event engine, fast path) results of one CASES row on a generated random walk."""
    lev, stop, take, bps, rng, with_funding = case
    arr = random_walk(30_000, seed=seed)
    sig = EmaCross(12, 26, stop, take).generate(arr)
    st = EngineSettings(
        capital=10_000.0,
        taker_fee=0.0005,
        slippage_bps=bps,
        slippage_range=rng,
        leverage=lev,
        lot_size=0.0001,
        position_fraction=0.1 if lev > 5 else 1.0,
    )
    fund = funding_per_bar(arr["timestamp"], arr["open"], None, 0.0003) if with_funding else None
    return run_engine(arr, sig, st, funding=fund), run_fast(arr, sig, st, funding=fund)


@pytest.mark.parametrize("case", CASES)
def test_fast_path_matches_engine_on_generated_bars(case):
    lev = case[0]
    a, b = _both_on_generated(case, seed=5)
    _same(a, b)
    if lev > 5:
        assert a.liquidations >= 2 and len(a.trades) > 100


@pytest.mark.shared_data
@pytest.mark.parametrize("case", CASES)
def test_fast_path_matches_engine_on_real_data_with_15m_and_funding(shared_data_dir, case):
    lev, stop, take, bps, rng, _ = case
    arr = _real(shared_data_dir, "2023-06-01", "2024-06-01")
    q = _real(shared_data_dir, "2023-06-01", "2024-06-01", tf="15m")
    sub = SubBars(q["timestamp"], q["open"], q["high"], q["low"])
    fr = pd.read_csv(shared_data_dir / "btc_usdt_swap_funding_8h.csv")
    fund = funding_per_bar(
        arr["timestamp"], arr["open"], dict(zip(fr.timestamp.tolist(), fr.funding_rate.tolist())), 0.0001
    )
    sig = EmaCross(12, 26, stop, take).generate(arr)
    st = EngineSettings(
        capital=10_000.0, taker_fee=0.0005, slippage_bps=bps, slippage_range=rng, leverage=lev, lot_size=0.0001
    )
    a = run_engine(arr, sig, st, funding=fund, sub=sub)
    _same(a, run_fast(arr, sig, st, funding=fund, sub=sub))
    assert "lower timeframe" in a.intrabar


def _graded(arrays, stop=None, take=None):
    """EmaCross directions with a strength that moves while the direction holds (EMA gap / average range),
    so that a rebalance band has something to act on."""
    sig = EmaCross(12, 26, stop, take).generate(arrays)
    close = np.asarray(arrays["close"], dtype=np.float64)
    gap = np.abs(ema(close, 12) - ema(close, 26))
    rng = ema(np.asarray(arrays["high"], dtype=np.float64) - np.asarray(arrays["low"], dtype=np.float64), 14)
    strength = np.clip(np.divide(gap, rng, out=np.zeros_like(gap), where=rng > 0), 0.0, 1.0)
    return Signals(sig.direction, strength, sig.stop_loss, sig.take_profit)


def _same_resized(a, b):
    _same(a, b)
    assert len(a.trades) == len(b.trades)
    assert a.final_equity == pytest.approx(b.final_equity, rel=1e-9, abs=0.01)
    assert a.extra["rebalances"] == b.extra["rebalances"]
    np.testing.assert_allclose(a.position, b.position, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("band", [0.05, 0.2])
@pytest.mark.parametrize("case", CASES)
def test_fast_path_matches_engine_with_resizing_on_generated_bars(case, band):
    lev, stop, take, bps, rng, with_funding = case
    arr = random_walk(30_000, seed=5)
    sig = _graded(arr, stop, take)
    st = EngineSettings(
        capital=10_000.0,
        taker_fee=0.0005,
        slippage_bps=bps,
        slippage_range=rng,
        leverage=lev,
        lot_size=0.0001,
        position_fraction=0.1 if lev > 5 else 1.0,
        rebalance_band=band,
    )
    fund = funding_per_bar(arr["timestamp"], arr["open"], None, 0.0003) if with_funding else None
    a = run_engine(arr, sig, st, funding=fund)
    _same_resized(a, run_fast(arr, sig, st, funding=fund))
    assert a.extra["rebalances"] > 100
    assert any(t.exit_reason == "rebalance" for t in a.trades)
    assert sum(f.reason == "rebalance" and f.pnl is None for f in a.fills) > 20  # adds, not only cuts


@pytest.mark.shared_data
@pytest.mark.parametrize("tf", ["1d", "4h"])
def test_fast_path_matches_engine_with_resizing_on_real_data(shared_data_dir, tf):
    if not (shared_data_dir / f"btc_usdt_swap_{tf}.csv").is_file():
        pytest.skip(f"btc_usdt_swap_{tf}.csv not present")
    arr = _real(shared_data_dir, "2019-01-01", "2027-01-01", tf=tf)
    q = _real(shared_data_dir, "2019-01-01", "2027-01-01", tf="15m")
    sub = SubBars(q["timestamp"], q["open"], q["high"], q["low"])
    fr = pd.read_csv(shared_data_dir / "btc_usdt_swap_funding_8h.csv")
    fund = funding_per_bar(
        arr["timestamp"], arr["open"], dict(zip(fr.timestamp.tolist(), fr.funding_rate.tolist())), 0.0001
    )
    tf_ms = {"1d": 86_400_000, "4h": 14_400_000}[tf]
    for stop, lev in ((None, 1.0), (0.05, 3.0)):
        sig = _graded(arr, stop)
        st = EngineSettings(
            capital=10_000.0, taker_fee=0.0005, slippage_bps=2.0, leverage=lev, lot_size=0.0001, rebalance_band=0.05
        )
        a = run_engine(arr, sig, st, funding=fund, sub=sub, tf_ms=tf_ms)
        _same_resized(a, run_fast(arr, sig, st, funding=fund, sub=sub, tf_ms=tf_ms))
        assert a.extra["rebalances"] > 20


@pytest.mark.shared_data
@pytest.mark.parametrize("tf", ["1d", "4h"])
def test_portfolio_backtest_fast_path_matches_engine_on_real_data(shared_data_dir, tf):
    """The portfolio path as the CLI runs it (``backtest --portfolio``: the band from portfolio.rebalance_band)."""
    from cockpit.backtest.api import BacktestRequest, run_backtest
    from cockpit.config import load_config

    csv = shared_data_dir / f"btc_usdt_swap_{tf}.csv"
    if not csv.is_file():
        pytest.skip(f"{csv.name} not present")
    cfg = load_config(None, environ={})
    reps = [
        run_backtest(
            cfg, None, BacktestRequest(portfolio=True, timeframe=tf, csv=str(csv), engine=engine, start="2020-01-01")
        )
        for engine in ("event", "fast")
    ]
    assert reps[0].settings.rebalance_band == cfg["portfolio"]["rebalance_band"]
    _same_resized(reps[0].result, reps[1].result)
    assert reps[0].result.extra["rebalances"] > 0


def test_live_sizing_and_both_engines_resize_alike():
    """The three follow one sequence of target exposures to the same positions: the live engine's
    plan_intents (applied to the position as filled) and the event engine and fast path (direction =
    sign, strength = size of the exposure), with one band definition: a fraction of the full-strength size.
    Flat prices and no costs make the full-strength size the same for all three (equity / price)."""
    from cockpit.config import load_config
    from cockpit.domain.signals import Decision
    from cockpit.engine.sizing import plan_intents

    from .helpers import bars

    band, capital, price = 0.05, 1000.0, 100.0
    #          enter  within  add  cut  flip  within  grow  flat  dust  back  under-band flip
    targets = [0.5, 0.52, 1.0, 0.3, -0.4, -0.42, -1.0, 0.0, 0.03, 0.6, -0.03, -0.03, 0.2, 0.0]
    cfg = load_config(None, environ={})
    cfg = {
        **cfg,
        "portfolio": {**cfg["portfolio"], "rebalance_band": band},
        "execution": {**cfg["execution"], "leverage": 1.0},
        "risk": {
            **cfg["risk"],
            "max_position_notional": 1e12,
            "max_position_pct_equity": 1.0,
            "max_risk_per_trade_pct": 1.0,
        },
    }
    live, pos = [], 0.0
    for x in targets:
        d = Decision(
            symbol=cfg["symbol"],
            timeframe="1h",
            timestamp=0,
            action="hold",
            confidence=0.5,
            reasoning="test",
            target_exposure=x,
        )
        for i in plan_intents(d, decision_id=1, price=price, signals=[], equity=capital, position_signed=pos, cfg=cfg):
            pos += i.amount if i.side == "buy" else -i.amount
        live.append(round(pos, 6))
    n = len(targets) + 1
    arr = bars([(price, price + 1, price - 1, price)] * n)
    x = np.array(targets + [targets[-1]])
    sig = Signals(np.sign(x).astype(np.int8), np.abs(x), np.full(n, np.nan), np.full(n, np.nan))
    st = EngineSettings(capital=capital, taker_fee=0.0, slippage_bps=0.0, lot_size=1e-8, rebalance_band=band)
    a, b = run_engine(arr, sig, st), run_fast(arr, sig, st)
    _same_resized(a, b)
    # the decision at bar k's close is filled at bar k+1's open
    assert [round(p, 6) for p in a.position[1:]] == live
    assert live == [5.0, 5.0, 10.0, 3.0, -4.0, -4.0, -10.0, 0.0, 0.0, 6.0, 0.0, 0.0, 2.0, 0.0]


def test_fast_path_matches_engine_on_random_signals_and_settings():
    """Property check beyond the EMA strategy: random directions, strengths, brackets, leverage,
    slippage, funding and 15m sub-bars (some bars without them)."""
    hyp = pytest.importorskip("hypothesis")
    st_ = hyp.strategies

    @hyp.settings(max_examples=60, deadline=None, derandomize=True)
    @hyp.given(
        seed=st_.integers(0, 10_000),
        lev=st_.sampled_from([1.0, 2.0, 10.0, 50.0]),
        stop=st_.sampled_from([None, 0.005, 0.02]),
        take=st_.sampled_from([None, 0.01, 0.04]),
        bps=st_.sampled_from([0.0, 3.0]),
        with_sub=st_.booleans(),
        fraction=st_.sampled_from([0.3, 1.0]),
        band=st_.sampled_from([None, None, 0.0, 0.05, 0.3]),
    )
    def check(seed, lev, stop, take, bps, with_sub, fraction, band):
        rng = np.random.default_rng(seed)
        n = 300
        q = random_walk(4 * n, seed=seed, vol=0.004)
        q["timestamp"] = q["timestamp"][0] + 900_000 * np.arange(4 * n, dtype=np.int64)
        g = lambda a, f: f(a.reshape(n, 4), axis=1)  # noqa: E731
        arr = {
            "timestamp": q["timestamp"][::4],
            "open": q["open"][::4],
            "high": g(q["high"], np.max),
            "low": g(q["low"], np.min),
            "close": q["close"][3::4],
            "volume": np.ones(n),
        }
        d = np.repeat(rng.integers(-1, 2, n // 10), 10).astype(np.int8)
        c = arr["close"]
        sl = np.where(d > 0, c * (1 - stop), c * (1 + stop)) if stop else np.full(n, np.nan)
        tp = np.where(d > 0, c * (1 + take), c * (1 - take)) if take else np.full(n, np.nan)
        sig = Signals(d, rng.uniform(0.2, 1.0, n), sl, tp)
        keep = rng.random(4 * n) > 0.1  # some hours lose their 15m bars -> conservative there
        keep = np.repeat(keep.reshape(n, 4).all(axis=1), 4)
        sub = SubBars(q["timestamp"][keep], q["open"][keep], q["high"][keep], q["low"][keep]) if with_sub else None
        fund = funding_per_bar(arr["timestamp"], arr["open"], None, float(rng.uniform(-0.002, 0.002)))
        st = EngineSettings(
            capital=10_000.0,
            taker_fee=0.0005,
            slippage_bps=bps,
            leverage=lev,
            lot_size=0.0001,
            position_fraction=fraction,
            slippage_range=0.02,
            rebalance_band=band,
        )
        a, b = run_engine(arr, sig, st, funding=fund, sub=sub), run_fast(arr, sig, st, funding=fund, sub=sub)
        _same(a, b)
        assert a.extra["rebalances"] == b.extra["rebalances"]

    check()


@pytest.mark.parametrize("case", CASES)
def test_fast_path_equity_and_position_curves_equal_the_engine_bar_by_bar(case):
    """Not only the trades and the final equity: every bar's marked equity and position (the metrics are
    computed from these curves). The fast path marks quiet bars (nothing to act on, nothing reaching the
    trigger band) in a loop of their own."""
    a, b = _both_on_generated(case, seed=8)
    assert len(a.trades) > 50
    np.testing.assert_allclose(b.equity, a.equity, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(b.position, a.position, rtol=1e-12, atol=1e-12)
