"""Long work (collect, backtest run) runs in the background and is polled by id."""

from __future__ import annotations

import itertools
import threading
import traceback
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

MAX_KEPT = 200


class Jobs:
    def __init__(self, workers: int = 2, *, now_ms: Callable[[], int]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="api-job")
        self._ids = itertools.count(1)
        self._jobs: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._now = now_ms

    def submit(self, kind: str, fn: Callable[[dict[str, Any]], Any], **meta: Any) -> dict[str, Any]:
        with self._lock:
            jid = next(self._ids)
            job = {
                "job_id": jid,
                "kind": kind,
                "status": "queued",
                "created_at": self._now(),
                "finished_at": None,
                "progress": None,
                "result": None,
                "error": None,
                **meta,
            }
            self._jobs[jid] = job
            while len(self._jobs) > MAX_KEPT:
                self._jobs.popitem(last=False)
        self._pool.submit(self._run, job, fn)
        return dict(job)

    def _run(self, job: dict[str, Any], fn: Callable[[dict[str, Any]], Any]) -> None:
        job["status"] = "running"
        try:
            job["result"] = fn(job)
            job["status"] = "done"
        except Exception as e:  # noqa: BLE001 - a failed job is reported through its status
            job["status"] = "failed"
            job["error"] = f"{type(e).__name__}: {e}"
            job["trace"] = traceback.format_exc(limit=5)
        finally:
            job["finished_at"] = self._now()

    def get(self, job_id: int) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return {k: v for k, v in job.items() if k != "trace"} if job else None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
