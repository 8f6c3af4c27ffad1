"""Run ``cockpit`` as a real subprocess for the engine tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Runs cockpit's own main() and then reports which Textual modules were imported.
PROBE = (
    "import sys, json; from cockpit.cli import main; rc = main(sys.argv[1:]); "
    "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext')); "
    "print(json.dumps({'textual_modules': bad}), flush=True); sys.exit(rc)"
)


def engine_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCKPIT__")}
    env.update(
        {
            "COCKPIT__ENGINE__FAST_LOOP_S": "0.2",
            "COCKPIT__ENGINE__INGEST_INTERVAL_S": "0.5",
            "COCKPIT__EXCHANGE__BACKFILL_DAYS": "3",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def spawn(db_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-c", PROBE, "--config", str(REPO / "config.yaml"), "--db", str(db_path), *args]
    return subprocess.Popen(
        cmd, cwd=REPO, env=env or engine_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def read_until(proc: subprocess.Popen, event: str, timeout: float = 30.0) -> list[dict]:
    """Read JSON log lines until one has ``event``; return every line read."""
    seen = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        seen.append(rec)
        if rec.get("event") == event:
            return seen
    raise AssertionError(f"no {event!r} line within {timeout}s; got {[r.get('event') for r in seen]}")
