"""Run a backtest in a child process so the UI's event loop never competes with it for the GIL.

The backtest screen's thread worker calls ``run_in_process``; the worker itself only waits on a
queue (progress, result id), so a million-bar run costs the UI nothing but a few messages. The
child opens the same SQLite file and stores the result through the backtest engine's own store.
Nothing here imports Textual (the child process must not pay for it).
"""

from __future__ import annotations

import importlib
import multiprocessing
import queue
import threading
import time
from typing import Any, Callable

from cockpit.domain.settings import Config

RUNNER_MODULES = ("cockpit.backtest.api", "cockpit.backtest.runner", "cockpit.backtest")


class BacktestCancelledError(Exception):
    pass


def find_backtest_runner() -> Callable[..., Any] | None:
    """``run_backtest(cfg, ds, request, progress=, cancel=, store=)`` of the backtest engine, if present."""
    for name in RUNNER_MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        fn = getattr(mod, "run_backtest", None)
        if callable(fn):
            return fn
    return None


def result_id(report: Any) -> int | None:
    for k in ("result_id", "id", "backtest_id"):
        v = report.get(k) if isinstance(report, dict) else getattr(report, k, None)
        if isinstance(v, int):
            return v
    return None


def _child(cfg: Config, request: Any, q: Any, cancel: Any) -> None:
    from cockpit.data import DataService
    from cockpit.db import open_database

    try:
        db = open_database(cfg["database"]["url"])
        runner = find_backtest_runner()
        if runner is None:
            q.put(("error", "the backtest engine is not available in this build"))
            return
        last = [0.0]
        stop = threading.Event()

        def watch() -> None:  # mirror the cross-process cancel flag into the thread Event the engine checks
            while not stop.is_set() and not cancel.value:
                time.sleep(0.05)
            stop.set()

        threading.Thread(target=watch, daemon=True).start()

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= 0.05 or done >= total:
                last[0] = now
                q.put(("progress", int(done), int(total)))

        report = runner(cfg, DataService(db), request, progress=progress, cancel=stop, store=db)
        q.put(("done", result_id(report)))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, never a silent death
        if cancel.value or type(e).__name__ in ("BacktestCancelled", "CancelledError"):
            q.put(("cancelled",))
        else:
            q.put(("error", f"{type(e).__name__}: {e}"))


def run_in_process(
    cfg: Config, request: Any, *, progress: Callable[[int, int], None], cancel: threading.Event, stall_s: float = 300.0
) -> int | None:
    """Run ``request`` in a spawned child; return the stored result id. Raises BacktestCancelledError
    when ``cancel`` was set, RuntimeError with the child's error otherwise."""
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    # A lock-free shared byte, not an Event: a multiprocessing Event is a semaphore-guarded condition,
    # and a child that exits while its watcher thread holds that semaphore (inside wait()) leaves it
    # taken for good; the next set() here then blocked this worker forever (seen in bench/ui_latency.py).
    child_cancel = ctx.RawValue("b", 0)
    proc = ctx.Process(target=_child, args=(cfg, request, q, child_cancel), daemon=True, name="cockpit-backtest")
    proc.start()
    heard = time.monotonic()
    try:
        while True:
            if cancel.is_set():
                child_cancel.value = 1
            try:
                msg = q.get(timeout=0.1)
                heard = time.monotonic()
            except queue.Empty:
                if time.monotonic() - heard > stall_s:
                    raise RuntimeError(f"backtest process silent for {stall_s:.0f}s; stopped it") from None
                if not proc.is_alive():
                    # Its last message may have reached the pipe after the get above timed out.
                    try:
                        msg = q.get(timeout=1.0)
                    except queue.Empty:
                        if cancel.is_set():
                            raise BacktestCancelledError() from None
                        raise RuntimeError(
                            f"backtest process exited with code {proc.exitcode} without reporting a result"
                        ) from None
                else:
                    continue
            if msg[0] == "progress":
                progress(msg[1], msg[2])
            elif msg[0] == "done":
                return msg[1]
            elif msg[0] == "cancelled":
                raise BacktestCancelledError()
            else:
                raise RuntimeError(msg[1])
    finally:
        child_cancel.value = 1
        proc.join(timeout=2 if cancel.is_set() else 10)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
