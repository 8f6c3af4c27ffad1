"""`cockpit --headless --api HOST:PORT`: the API served from the engine's own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCKPIT__") and k != "COCKPIT_API_KEYS"}
    env.update({"COCKPIT__ENGINE__FAST_LOOP_S": "0.2", "COCKPIT__ENGINE__INGEST_INTERVAL_S": "0.5",
                "COCKPIT__EXCHANGE__BACKFILL_DAYS": "3", "COCKPIT__SIM__SPEED": "3600", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "cockpit", "--config", str(REPO / "config.yaml"), "--db", str(tmp_path / "e.db"),
           "--headless", "--log-format", "json", *args]
    return subprocess.Popen(cmd, cwd=tmp_path, env=env or _env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _api_url(proc: subprocess.Popen, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "api":
            return rec["url"]
    raise AssertionError("no 'api' log line")


def test_headless_engine_serves_the_api_and_stops_cleanly(tmp_path):
    proc = _run(tmp_path, "--api", "127.0.0.1:0")
    try:
        base = _api_url(proc)
        c = httpx.Client(base_url=base.removesuffix("/api"), timeout=10)
        health = c.get("/api/health").json()["data"]
        assert health["mode"] == "sim"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the engine ingests; the API reads what it wrote
            tables = c.get("/api/market/stats").json()["data"]["tables"]
            decisions = c.get("/api/decision/history").json()["data"]
            if tables and decisions and c.get("/api/health").json()["data"]["engine_heartbeat"]:
                break
            time.sleep(0.3)
        assert {t["timeframe"] for t in tables} >= {"1h"}
        assert decisions and decisions[0]["action"] in ("buy", "sell", "hold")
        # collect through the engine's own exchange connection (the in-process simulator)
        r = c.post("/api/market/collect", json={"symbol": "BTC/USDT:USDT", "timeframe": "4h"})
        job = r.json()["data"]["job_id"]
        for _ in range(200):
            j = c.get(f"/api/jobs/{job}").json()["data"]
            if j["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert j["status"] == "done", j
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err


def test_public_bind_without_keys_is_refused_before_the_engine_starts(tmp_path):
    proc = _run(tmp_path, "--api", "0.0.0.0:0", "--for", "5s")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "not a loopback address" in err and "COCKPIT_API_KEYS" in err
    assert "engine_start" not in out


def test_api_needs_headless(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cockpit", "--db", str(tmp_path / "x.db"), "--api", "127.0.0.1:0"],
                       capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=60)
    assert r.returncode == 2 and "add --headless" in r.stderr
