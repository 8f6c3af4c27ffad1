"""kill -9 at a chosen point of the order path, from inside the process that trades.

The crash tests used to kill at random wall-clock moments and needed many trials to land in the narrow
windows that matter. Here the process kills itself (SIGKILL: no clean-up, no atexit, no flush) right after
one of the order path's own seams has run, so each trial lands where it is aimed:

    order_stored       OrderStore.create        the order row exists (approved), nothing was sent
    order_sent         OKXExecutor.place        the exchange has the order, the database does not know it
    fill_recorded      OrderStore.record_fill   a fill is stored, the order's status is not yet updated
    status_recorded    OrderStore.transition    one status step is stored (e.g. submitted, before filled)
    position_recorded  OrderStore.record_position  the position snapshot after a fill
    decision_stored    DecisionStore.insert_decision  a decision row, before its order intents

``arm("order_sent:2")`` kills after the second call of that seam in this process (calls made by the
start-up reconcile of a restart count too, so a kill can land in the recovery of the previous crash).
Before dying the process writes ``kill-point NAME:N`` to stderr, so the test can check where it died.

``fork_server(run)`` keeps the trials cheap: one process imports everything once, then forks a child per JSON
line read from stdin (``{"kill_at": "order_sent:1" or null, "args": [...]}``): the child prints ``child PID``,
arms the kill point and calls ``run(args)``; the parent prints ``exit CODE`` when it is gone (-9: SIGKILL).
``ForkServer`` is the test's side of it.
"""

from __future__ import annotations

import importlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from typing import Any, Callable, Iterable

POINTS = {
    "order_stored": ("cockpit.data.order_store", "OrderStore", "create"),
    "order_sent": ("cockpit.execution.okx", "OKXExecutor", "place"),
    "fill_recorded": ("cockpit.data.order_store", "OrderStore", "record_fill"),
    "status_recorded": ("cockpit.data.order_store", "OrderStore", "transition"),
    "position_recorded": ("cockpit.data.order_store", "OrderStore", "record_position"),
    "decision_stored": ("cockpit.data.decision_store", "DecisionStore", "insert_decision"),
}
ENV = "COCKPIT_TEST_KILL_AT"


def arm(spec: str | None) -> None:
    """Install the kill point ``NAME[:N]`` (N defaults to 1); nothing when ``spec`` is empty."""
    if not spec:
        return
    name, _, nth = spec.partition(":")
    n = int(nth or 1)
    module, cls_name, meth = POINTS[name]
    cls = getattr(importlib.import_module(module), cls_name)
    real = getattr(cls, meth)
    lock = threading.Lock()
    calls = [0]

    def wrapped(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        with lock:
            calls[0] += 1
            hit = calls[0] == n
        if hit:
            sys.stderr.write(f"kill-point {name}:{n}\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(cls, meth, wrapped)


def arm_from_env() -> None:
    arm(os.environ.get(ENV))


def fork_server(run: Callable[[list[str]], Any], preload: Iterable[str] = ()) -> int:
    """Import ``preload`` once (no thread, no connection, no database opened before a fork), then serve forks."""
    for name in preload:
        importlib.import_module(name)
    print("zygote", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                print(f"child {os.getpid()}", flush=True)
                arm(cmd.get("kill_at"))
                code = int(run(list(cmd.get("args", []))) or 0)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:  # noqa: BLE001 - report, and exit non-zero
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)
    return 0


class ForkServer:
    """The test's side of fork_server: ``run(args, kill_at)`` starts a child, ``exit_code()`` waits for it."""

    def __init__(self, argv: list[str], **popen: Any) -> None:
        self.p = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._pump, args=(self.p.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.p.stderr, self.err.append), daemon=True).start()
        self.wait_for("zygote")

    @staticmethod
    def _pump(stream, put) -> None:
        for line in stream:
            put(line.rstrip("\n"))

    def run(self, args: list[str], kill_at: str | None = None) -> int:
        """Start a child; return its pid."""
        self.p.stdin.write(json.dumps({"kill_at": kill_at, "args": args}) + "\n")
        self.p.stdin.flush()
        return int(self.wait_for("child ").split()[1])

    def wait_for(self, prefix: str, timeout: float = 60.0, *, seen: list[str] | None = None) -> str:
        """The next stdout line starting with ``prefix`` (lines read on the way are added to ``seen``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.p.poll() is not None:
                    break
                continue
            if line.startswith(prefix):
                return line
            if seen is not None:
                seen.append(line)
        raise AssertionError(f"no {prefix!r} line within {timeout}s; stderr: {self.err[-30:]}")

    def exit_code(self, timeout: float = 60.0) -> int:
        return int(self.wait_for("exit ", timeout).split()[1])

    def killed_at(self, kill_at: str) -> bool:
        return f"kill-point {kill_at}" in self.err

    def close(self) -> None:
        self.p.stdin.close()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
