"""The fast forms behind issue #22 give the same results as the forms they replace.

* the compiled EWM / crossover kernels equal pandas ``ewm(span, adjust=False)`` bit for bit (real data and
  generated walks), and fall back to pandas on NaN input;
* the engine's compiled trigger scan finds the same bar as the numpy scan;
* ``SimulatedExecutor.market_at_open`` fills exactly as ``place()`` of an approved market order at the open,
  and ``retain_orders=False`` forgets terminal orders (their fills stay in ``records``/``trades``);
* a backtest pauses automatic garbage collection while it runs and restores it afterwards, also on error;
* a sweep with the default worker count (0 = auto) stays in process when a pool's start-up would cost
  more than it saves, and ``choose_workers`` picks a pool when the work outweighs it.
"""

from __future__ import annotations

import gc
import threading

import numpy as np
import pandas as pd
import pytest

from cockpit.backtest.engine import BacktestCancelled, EngineSettings, run_engine
from cockpit.backtest.kernels import HAVE_NUMBA, cross_direction, ewm_mean, first_cross_fn
from cockpit.backtest.signals import EmaCross, ema
from cockpit.backtest.sweep import choose_workers
from cockpit.domain.clock import ManualClock
from cockpit.domain.orders import IllegalTransition, Order, OrderStatus
from cockpit.execution.simulated import SimulatedExecutor

from .helpers import T0, random_walk

needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba not importable")


def _closes(shared_data_dir):
    df = pd.read_csv(shared_data_dir / "btc_usdt_swap_1h.csv")
    rng = np.random.default_rng(3)
    return [
        df["close"].to_numpy(),
        random_walk(20_000, seed=11)["close"],
        np.round(rng.normal(100, 1, 5_000), 1),
    ]  # repeated values: pandas skips the update when w == x


@needs_numba
def test_ewm_kernel_equals_pandas_bit_for_bit(shared_data_dir):
    for x in _closes(shared_data_dir):
        for span in (2, 5, 9, 12, 20, 26, 50, 200):
            ref = pd.Series(x).ewm(span=span, adjust=False).mean().to_numpy()
            assert np.array_equal(ewm_mean(x, span), ref), span
            assert np.array_equal(ema(x, span), ref), span


@needs_numba
def test_cross_direction_equals_the_pandas_form(shared_data_dir):
    for x in _closes(shared_data_dir):
        for fast, slow in ((12, 26), (5, 30), (9, 21)):
            diff = pd.Series(x).ewm(span=fast, adjust=False).mean() - pd.Series(x).ewm(span=slow, adjust=False).mean()
            ref = np.sign(diff.to_numpy()).astype(np.int8)
            ref[:slow] = 0
            assert np.array_equal(cross_direction(x, fast, slow, slow), ref)
            assert np.array_equal(EmaCross(fast, slow).generate({"close": x}).direction, ref)


def test_nan_input_falls_back_to_pandas():
    x = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 3.0])
    assert ewm_mean(x, 3) is None and cross_direction(x, 2, 3, 3) is None
    ref = pd.Series(x).ewm(span=3, adjust=False).mean().to_numpy()
    assert np.array_equal(ema(x, 3), ref, equal_nan=True)


@needs_numba
def test_compiled_trigger_scan_equals_numpy():
    a = random_walk(3_000, seed=5)
    lo, hi = a["low"], a["high"]
    scan = first_cross_fn()
    rng = np.random.default_rng(1)
    for _ in range(200):
        i, j = sorted(int(v) for v in rng.integers(0, len(lo), 2))
        blo = float(rng.choice([-np.inf, rng.uniform(lo.min(), lo.max())]))
        bhi = float(rng.choice([np.inf, rng.uniform(hi.min(), hi.max())]))
        hit = (lo[i:j] <= blo) | (hi[i:j] >= bhi)
        want = i + int(hit.argmax()) if hit.any() else j
        assert scan(lo, hi, i, j, blo, bhi) == want


def _executor(**kw):
    ex = SimulatedExecutor(
        ManualClock(T0),
        cash=10_000.0,
        taker_fee=0.0005,
        slippage_bps=3.0,
        slippage_range=0.1,
        leverage=3.0,
        lot_size=1e-6,
        **kw,
    )
    return ex


def _script(ex, via_place: bool):
    """Open long, add, reduce, flip short, close: at five bar opens."""
    steps = [
        ("buy", 0.10, False, 29_000.0, 33_000.0),
        ("buy", 0.05, False, 28_000.0, 34_000.0),
        ("sell", 0.07, True, None, None),
        ("sell", 0.30, False, 32_000.0, 28_000.0),
        ("buy", 0.22, True, None, None),
    ]
    for k, (side, amount, ro, sl, tp) in enumerate(steps):
        px = 30_000.0 + 150.0 * k
        ex.clock.set(T0 + k * 3_600_000)
        ex.begin_bar(T0 + k * 3_600_000, px, px + 80.0, px - 90.0)
        if via_place:
            ex.place(
                Order(
                    "BTC/USDT:USDT",
                    side,
                    "market",
                    amount,
                    OrderStatus.APPROVED,
                    stop_loss=sl,
                    take_profit=tp,
                    reduce_only=ro,
                )
            )
        else:
            assert ex.market_at_open(side, amount, reduce_only=ro, stop_loss=sl, take_profit=tp)
        ex.end_bar(px + 10.0)
    return ex


def test_market_at_open_fills_exactly_as_place():
    a, b = _script(_executor(), True), _script(_executor(retain_orders=False), False)
    assert a.records == b.records and a.trades == b.trades
    assert (a.cash, a.side, a.size, a.entry, a.margin, a.liq, a.fees_paid) == (
        b.cash,
        b.side,
        b.size,
        b.entry,
        b.margin,
        b.liq,
        b.fees_paid,
    )
    with pytest.raises(RuntimeError, match="begin_bar"):
        b.market_at_open("buy", 0.1)  # between bars: not at an open


def test_retain_orders_false_forgets_terminal_orders():
    ex = _executor(retain_orders=False)
    ex.begin_bar(T0, 30_000.0, 30_100.0, 29_900.0)
    o = Order("BTC/USDT:USDT", "buy", "market", 0.1, OrderStatus.APPROVED)
    rep = ex.place(o)
    assert rep.status == OrderStatus.FILLED and rep.filled == 0.1 and o.status == OrderStatus.FILLED
    assert ex.fetch(o).message == "unknown order"  # forgotten once filled
    assert ex._orders == {} and ex._reasons == {}
    assert len(ex.records) == 1 and ex.records[0].client_order_id == rep.client_order_id
    ex.end_bar(30_000.0)
    lim = Order("BTC/USDT:USDT", "sell", "limit", 0.1, OrderStatus.APPROVED, price=31_000.0)
    ex.place(lim)
    assert lim.client_order_id in ex._orders  # resting: still known
    ex.begin_bar(T0 + 3_600_000, 30_500.0, 31_200.0, 30_400.0)
    ex.end_bar(31_100.0)
    assert lim.status == OrderStatus.FILLED and ex._orders == {} and ex.side == 0
    assert _executor().retain_orders is True  # paper trading keeps every order


def test_transition_accepts_members_and_strings():
    o = Order("BTC/USDT:USDT", "buy", "market", 1.0)
    o.transition(OrderStatus.APPROVED)
    o.transition("submitted")
    assert o.status is OrderStatus.SUBMITTED and [s for s, _ in o.history] == [
        OrderStatus.APPROVED,
        OrderStatus.SUBMITTED,
    ]
    with pytest.raises(IllegalTransition):
        o.transition(OrderStatus.APPROVED)
    with pytest.raises(ValueError):
        o.transition("nonsense")


@pytest.mark.parametrize("enabled", [True, False])
def test_backtest_pauses_gc_and_restores_it(enabled):
    a = random_walk(3_000, seed=2)
    sig = EmaCross(5, 20).generate(a)
    seen = []
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        run_engine(a, sig, EngineSettings(), progress=lambda i, n: seen.append(gc.isenabled()))
        assert seen and not any(seen)  # paused inside the run
        assert gc.isenabled() is enabled
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(BacktestCancelled):
            run_engine(a, sig, EngineSettings(), cancel=cancel)
        assert gc.isenabled() is enabled  # restored on error too
    finally:
        gc.enable() if was else gc.disable()


def test_choose_workers_weighs_work_against_pool_start_up():
    assert choose_workers(0.01, 99, 2, startup_s=3.0) == 1  # 0.5 s saved < 3 s start-up
    assert choose_workers(1.0, 99, 2, startup_s=3.0) == 2
    assert choose_workers(1.0, 99, 1, startup_s=3.0) == 1
    assert choose_workers(10.0, 1, 4, startup_s=3.0) == 1  # one point left: nothing to share
    assert choose_workers(1.0, 3, 8, startup_s=0.5) == 3  # never more workers than points


def _metrics_both(eq, capital, monkeypatch):
    from cockpit.backtest import kernels, metrics

    kw = dict(capital=capital, tf_ms=3_600_000, start_ms=0, end_ms=3_600_000 * (len(eq) - 1))
    fast = metrics.compute_metrics(eq, [1.0, -2.0], **kw)
    with monkeypatch.context() as m:
        m.setattr(kernels, "HAVE_NUMBA", False)
        slow = metrics.compute_metrics(eq, [1.0, -2.0], **kw)
    return fast, slow


@pytest.mark.parametrize("seed", range(6))
def test_compiled_equity_statistics_equal_the_numpy_form(monkeypatch, seed):
    """compute_metrics' drawdown, Sharpe and Sortino come from one compiled pass (a sweep computes them per
    grid point); the numpy form gives the same figures: random curves, one that goes through zero and below
    (a liquidated account), a flat one."""
    rng = np.random.default_rng(seed)
    curves = [
        10_000 * np.exp(np.cumsum(rng.normal(0, 0.01, 5_000))),
        np.concatenate([np.linspace(10_000, 0, 50), np.full(20, 0.0), np.linspace(-5, 100, 30)]),
        np.full(300, 10_000.0),
        np.array([10_000.0, 9_000.0]),
        np.concatenate([[0.0, -10.0], np.linspace(1, 500, 100), np.linspace(500, 100, 50), [100.0, 500.0, 99.0]]),
        np.round(10_000 * np.exp(np.cumsum(rng.normal(0, 0.002, 2_000))), 0),  # repeated values, equal lows
    ]
    for eq in curves:
        fast, slow = _metrics_both(eq, 10_000.0, monkeypatch)
        assert fast.keys() == slow.keys()
        for k in slow:
            if isinstance(slow[k], float) and fast[k] is not None:
                assert fast[k] == pytest.approx(slow[k], rel=1e-12, abs=1e-15), k
            else:
                assert fast[k] == slow[k], k


def test_equity_statistics_with_a_nan_use_the_numpy_form(monkeypatch):
    eq = np.array([10_000.0, 10_100.0, np.nan, 10_200.0, 9_000.0])
    fast, slow = _metrics_both(eq, 10_000.0, monkeypatch)
    assert str(fast) == str(slow)  # NaN-safe comparison: the same dict, NaN and None where the numpy form has them
