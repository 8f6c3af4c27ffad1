"""The backtest child process: result ids back, cancel, and no stuck cross-process lock afterwards."""

from __future__ import annotations

import threading

import pytest
from demo_data import fill_demo

from cockpit.backtest.api import BacktestRequest
from cockpit.db import models as m
from cockpit.ui.backtest_proc import BacktestCancelledError, run_in_process


def test_run_cancel_and_run_again(cfg, db):
    fill_demo(bars=2300)
    req = BacktestRequest(strategy="ema_trend", timeframe="1h")
    seen: list[tuple[int, int]] = []
    rid = run_in_process(cfg, req, progress=lambda d, n: seen.append((d, n)), cancel=threading.Event())
    assert rid == m.BacktestResult.get().id
    assert seen and seen[-1][0] == seen[-1][1]

    cancel = threading.Event()
    cancel.set()  # cancelled before the child gets anywhere
    with pytest.raises(BacktestCancelledError):
        run_in_process(cfg, req, progress=lambda d, n: None, cancel=cancel)

    # A cancelled child must not leave anything locked that the next run needs.
    done = threading.Event()
    out: list = []

    def again() -> None:
        out.append(run_in_process(cfg, req, progress=lambda d, n: None, cancel=threading.Event()))
        done.set()

    threading.Thread(target=again, daemon=True).start()
    assert done.wait(120), "the run after a cancel never returned"
    assert m.BacktestResult.select().count() == 2 and out[0] == max(r.id for r in m.BacktestResult.select())
