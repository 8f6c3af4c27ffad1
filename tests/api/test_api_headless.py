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
    env.update(
        {
            "COCKPIT__ENGINE__FAST_LOOP_S": "0.2",
            "COCKPIT__ENGINE__INGEST_INTERVAL_S": "0.5",
            "COCKPIT__EXCHANGE__BACKFILL_DAYS": "3",
            "COCKPIT__SIM__SPEED": "3600",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "cockpit",
        "--config",
        str(REPO / "config.yaml"),
        "--db",
        str(tmp_path / "e.db"),
        "--headless",
        "--log-format",
        "json",
        *args,
    ]
    return subprocess.Popen(
        cmd, cwd=tmp_path, env=env or _env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _api_line(proc: subprocess.Popen, timeout: float = 60.0) -> tuple[dict, str]:
    """The 'api' log record, and everything printed before it."""
    deadline, seen = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "api":
            return rec, seen
    raise AssertionError("no 'api' log line")


def test_headless_engine_serves_the_api_and_stops_cleanly(tmp_path):
    proc = _run(tmp_path, "--api", "127.0.0.1:0")
    try:
        rec, before = _api_line(proc)
        base = rec["url"]
        # The per-start token: in a 0600 file next to the database (the log names the file, never the token).
        token_file = Path(rec["token_file"])
        assert token_file == tmp_path / "e.db.api-token" and (token_file.stat().st_mode & 0o777) == 0o600
        token = token_file.read_text().strip()
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
        assert c.post("/api/market/collect", json={"symbol": "BTC/USDT:USDT", "timeframe": "4h"}).status_code == 401
        r = c.post(
            "/api/market/collect", json={"symbol": "BTC/USDT:USDT", "timeframe": "4h"}, headers={"X-API-Key": token}
        )
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
    assert token not in before + out + err
    assert not token_file.exists()  # the token ends with the server


def test_public_bind_without_keys_is_refused_before_the_engine_starts(tmp_path):
    proc = _run(tmp_path, "--api", "0.0.0.0:0", "--for", "5s")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "not a loopback address" in err and "COCKPIT_API_KEYS" in err
    assert "engine_start" not in out


def test_api_needs_headless(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "cockpit", "--db", str(tmp_path / "x.db"), "--api", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        timeout=60,
    )
    assert r.returncode == 2 and "add --headless" in r.stderr


def test_a_short_api_key_is_refused_before_the_engine_starts(tmp_path):
    proc = _run(tmp_path, "--api", "127.0.0.1:0", "--for", "5s", env=_env(COCKPIT_API_KEYS="hunter2"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "trader key #1 in $COCKPIT_API_KEYS is 7 characters long" in err and "at least 24" in err
    assert "hunter2" not in out + err and "engine_start" not in out
