"""The REST API through a real HTTP client against the running server."""

from __future__ import annotations

import httpx
import pytest

from cockpit.api.server import ApiRefused, ApiServer, parse_bind

T0 = 1_704_067_200_000
H = 3_600_000


@pytest.fixture
def seeded(db, tmp_path):
    from cockpit.market.csv_import import import_csv

    p = tmp_path / "c.csv"
    p.write_text(
        "timestamp,open,high,low,close,volume\n"
        + "".join(f"{T0 + i * H},{100 + i},{102 + i},{99 + i},{101 + i},{10 + i}\n" for i in range(30))
    )
    import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    from cockpit.db.models import DecisionRow, OrderRow

    d = DecisionRow.create(
        symbol="BTC/USDT:USDT",
        timeframe="1h",
        timestamp=T0,
        action="buy",
        confidence=0.7,
        reasoning="trend up",
        regime="trending_up",
        selector="offline",
    )
    o = OrderRow.create(
        symbol="BTC/USDT:USDT",
        side="buy",
        type="market",
        amount=0.01,
        status="pending_approval",
        client_order_id="d1l0",
        decision=d.id,
        stop_loss=95.0,
    )
    f = OrderRow.create(
        symbol="BTC/USDT:USDT",
        side="buy",
        type="market",
        amount=0.01,
        status="filled",
        client_order_id="d1l1",
        decision=d.id,
    )
    return {"decision": d.id, "pending": o.id, "filled": f.id}


@pytest.fixture
def server(cfg, seeded):
    s = ApiServer(cfg, "127.0.0.1", 0, environ={}).start()
    yield s
    s.stop()


def trader(s: ApiServer, timeout: float = 5.0) -> httpx.Client:
    """A client that may change state: the per-start token (what local tools read from the token file)."""
    return httpx.Client(base_url=s.url, headers={"X-API-Key": s.token}, timeout=timeout)


KEY_A = "k-one-" + "a" * 24
KEY_B = "k-two-" + "b" * 24


def test_market_latest_and_stats(server):
    c = httpx.Client(base_url=server.url)
    r = c.get("/api/market/latest", params={"symbol": "BTC/USDT:USDT", "timeframe": "1h", "limit": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    assert [x["timestamp"] for x in body["data"]] == [T0 + 27 * H, T0 + 28 * H, T0 + 29 * H]
    assert body["data"][-1] == {
        "timestamp": T0 + 29 * H,
        "open": 129.0,
        "high": 131.0,
        "low": 128.0,
        "close": 130.0,
        "volume": 39.0,
    }
    r = c.get("/api/market/stats")
    t = r.json()["data"]["tables"][0]
    assert (t["symbol"], t["timeframe"], t["count"], t["start_time"], t["gaps"]) == (
        "BTC/USDT:USDT",
        "1h",
        30,
        "2024-01-01 00:00:00",
        0,
    )


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"symbol": "btcusdt"}, "Invalid symbol format"),
        ({"symbol": "BTC/USDT:USDT", "timeframe": "7m"}, "Invalid timeframe"),
        ({"symbol": "BTC/USDT:USDT", "limit": 0}, "limit"),
        ({"symbol": "BTC/USDT:USDT", "limit": "many"}, "limit"),
        ({}, "symbol"),
    ],
)
def test_bad_parameters_get_the_seed_error_envelope(server, params, fragment):
    r = httpx.get(server.url + "/api/market/latest", params=params)
    assert r.status_code == 400
    body = r.json()
    assert body["success"] is False
    assert body["error"]["code"] == "INVALID_PARAMETER"
    assert fragment in body["error"]["message"]


def test_unknown_route_and_missing_rows_are_not_found(server):
    r = httpx.get(server.url + "/api/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = httpx.get(server.url + "/api/backtest/result/999")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = trader(server).post("/api/backtest/run/999", json={})
    assert r.status_code == 404


def test_decision_history(server, seeded):
    r = httpx.get(server.url + "/api/decision/history", params={"limit": 5})
    data = r.json()["data"]
    assert len(data) == 1 and data[0]["id"] == seeded["decision"] and data[0]["action"] == "buy"
    assert data[0]["reasoning"] == "trend up"


def test_orders_approve_and_reject_become_operator_commands(server, seeded, ds):
    c = trader(server)
    r = c.get("/api/orders", params={"status": "pending_approval"})
    assert [o["id"] for o in r.json()["data"]] == [seeded["pending"]]
    assert c.get("/api/orders", params={"status": "bogus"}).status_code == 400
    r = c.post(f"/api/orders/{seeded['pending']}/approve", json={})
    assert r.status_code == 200, r.text
    cmds = ds.operator_commands()
    assert [(x["command"], x["order_id"]) for x in cmds] == [("approve", seeded["pending"])]
    assert cmds[0]["operator"] == "api 127.0.0.1 token"
    r = c.post(f"/api/orders/{seeded['filled']}/approve", json={})
    assert r.status_code == 400 and "not pending approval" in r.json()["error"]["message"]
    r = c.post(f"/api/orders/{seeded['pending']}/reject", json={})
    assert r.status_code == 400
    r = c.post(f"/api/orders/{seeded['pending']}/reject", json={"reason": "too big"})
    assert r.status_code == 200
    assert ds.operator_commands()[-1]["payload"] == {"reason": "too big"}
    assert c.post("/api/orders/424242/approve", json={}).status_code == 404


def test_health_is_open_and_reports_mode(server):
    r = httpx.get(server.url + "/api/health")
    assert r.status_code == 200
    d = r.json()["data"]
    assert d["mode"] == "sim" and d["pending_approvals"] == 1 and d["kill_switch"] is False


def test_openapi_document_is_served(server):
    doc = httpx.get(server.url + "/openapi.json").json()
    for path in (
        "/api/market/latest",
        "/api/market/collect",
        "/api/market/stats",
        "/api/decision/generate",
        "/api/decision/history",
        "/api/backtest/create",
        "/api/backtest/run/{config_id}",
        "/api/backtest/result/{result_id}",
        "/api/backtest/list",
        "/api/orders",
        "/api/orders/{order_id}/approve",
        "/api/orders/{order_id}/reject",
        "/api/health",
    ):
        assert path in doc["paths"], path


def test_keys_required_off_loopback_and_wrong_key_is_401(cfg, seeded):
    with pytest.raises(ApiRefused, match="not a loopback address"):
        ApiServer(cfg, "0.0.0.0", 0, environ={})
    s = ApiServer(cfg, "127.0.0.1", 0, environ={"COCKPIT_API_KEYS": f"{KEY_A},{KEY_B}"}).start()
    try:
        for method, path in (
            ("get", "/api/market/stats"),
            ("get", "/api/orders"),
            ("post", "/api/market/collect"),
            ("get", "/api/backtest/list"),
            ("post", f"/api/orders/{seeded['pending']}/approve"),
        ):
            kw = {"json": {}} if method == "post" else {}
            r = getattr(httpx, method)(s.url + path, headers={"X-API-Key": "wrong"}, **kw)
            assert r.status_code == 401, path
            assert r.json()["error"]["code"] == "UNAUTHORIZED"
            assert httpx.get(s.url + path).status_code == 401, path  # no key at all
        r = httpx.get(s.url + "/api/market/stats", headers={"X-API-Key": KEY_B})
        assert r.status_code == 200
    finally:
        s.stop()


def test_rate_limit_answers_429(cfg, seeded):
    cfg = {**cfg, "api": {**cfg["api"], "rate_limit_per_minute": 3}}
    s = ApiServer(cfg, "127.0.0.1", 0, environ={}).start()
    try:
        codes = [httpx.get(s.url + "/api/market/stats").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        assert httpx.get(s.url + "/api/market/stats").json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    finally:
        s.stop()


def test_parse_bind():
    assert parse_bind("127.0.0.1:8000") == ("127.0.0.1", 8000)
    assert parse_bind("[::1]:0") == ("::1", 0)
    with pytest.raises(ApiRefused):
        parse_bind("8000")


def _poll(client: httpx.Client, job_id: int, timeout_s: float = 60.0) -> dict:
    import time as _t

    deadline = _t.monotonic() + timeout_s
    while _t.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()["data"]
        if job["status"] in ("done", "failed"):
            return job
        _t.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_collect_runs_in_background_against_the_simulator(cfg, db, ds):
    """POST /market/collect starts a job (built-in simulator, real ccxt); polling shows the rows it stored."""
    cfg = {**cfg, "exchange": {**cfg["exchange"], "backfill_days": 2}}
    s = ApiServer(cfg, "127.0.0.1", 0, environ={}).start()
    try:
        c = trader(s, timeout=30)
        r = c.post("/api/market/collect", json={"symbol": "BTC/USDT:USDT", "timeframe": "1h", "update_only": True})
        assert r.status_code == 200 and r.json()["message"] == "Data collection started"
        job = _poll(c, r.json()["data"]["job_id"])
        assert job["status"] == "done", job
        assert job["result"]["inserted"] >= 47
        assert ds.coverage()[0]["rows"] == job["result"]["inserted"]
        assert c.post("/api/market/collect", json={"symbol": "ETH/USDT:USDT"}).status_code == 400
        assert c.post("/api/market/collect", json={"symbol": "BTC/USDT:USDT", "bogus": 1}).status_code == 400
    finally:
        s.stop()


def test_decision_generate_records_a_decision_with_analysis_and_risk(cfg, db, ds, tmp_path):
    from cockpit.market.csv_import import import_csv
    import numpy as np
    from support.trading import active_trader

    active_trader(cfg)  # decisions on 1h bars (the default decides on 1d), the hourly CSV below

    rng = np.random.default_rng(3)
    close = 40000 * np.exp(np.cumsum(rng.normal(0.0005, 0.006, 400)))
    open_ = np.r_[close[0], close[:-1]]
    hi = np.maximum(open_, close) * 1.002
    lo = np.minimum(open_, close) * 0.998
    p = tmp_path / "d.csv"
    p.write_text(
        "timestamp,open,high,low,close,volume\n"
        + "".join(
            f"{T0 + i * H},{open_[i]:.2f},{hi[i]:.2f},{lo[i]:.2f},{close[i]:.2f},{10 + i % 7}\n" for i in range(400)
        )
    )
    import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    s = ApiServer(cfg, "127.0.0.1", 0, environ={}).start()
    try:
        c = trader(s, timeout=60)
        r = c.post(
            "/api/decision/generate", json={"symbol": "BTC/USDT:USDT", "timeframe": "1h", "strategy": "balanced"}
        )
        assert r.status_code == 200, r.text
        d = r.json()["data"]
        assert d["action"] in ("buy", "sell", "hold")
        assert d["selector"] == "offline" and "offline selector" in d["reasoning"]
        assert isinstance(d["technical_analysis"], dict) and d["technical_analysis"]
        assert "passed" in d["risk_assessment"]
        stored = ds.decisions(limit=1)[0]
        assert stored["id"] == d["decision_id"] and stored["action"] == d["action"]
        assert ds.orders() == [], "generating a decision never places an order"
        r = c.post(
            "/api/decision/generate", json={"symbol": "BTC/USDT:USDT", "timeframe": "1h", "strategy": "ema_trend"}
        )
        assert r.status_code == 200
        assert set(k for k, w in r.json()["data"]["weights"].items() if w > 0) <= {"ema_trend"}
        r = c.post("/api/decision/generate", json={"symbol": "BTC/USDT:USDT", "timeframe": "1h", "strategy": "magic"})
        assert r.status_code == 400 and "unknown or disabled strategy" in r.json()["error"]["message"]
        r = c.post("/api/decision/generate", json={"symbol": "BTC/USDT:USDT", "timeframe": "4h"})
        assert r.status_code == 400
    finally:
        s.stop()


def test_backtest_create_run_poll_result_and_list(cfg, db, ds, tmp_path):
    """The seed's flow: create a configuration, run it in the background, poll, read the result."""
    from cockpit.market.csv_import import import_csv
    import numpy as np

    rng = np.random.default_rng(11)
    n = 1500
    close = 30000 * np.exp(np.cumsum(rng.normal(0, 0.006, n) + 0.0015 * np.sin(np.arange(n) / 60)))
    open_ = np.r_[close[0], close[:-1]]
    hi, lo = np.maximum(open_, close) * 1.002, np.minimum(open_, close) * 0.998
    p = tmp_path / "b.csv"
    p.write_text(
        "timestamp,open,high,low,close,volume\n"
        + "".join(f"{T0 + i * H},{open_[i]:.2f},{hi[i]:.2f},{lo[i]:.2f},{close[i]:.2f},5\n" for i in range(n))
    )
    import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    s = ApiServer(cfg, "127.0.0.1", 0, environ={}).start()
    try:
        c = trader(s, timeout=60)
        body = {
            "name": "EMA cross",
            "symbol": "BTC/USDT:USDT",
            "timeframe": "1h",
            "start_time": "2024-01-05T00:00:00Z",
            "end_time": "2024-02-28T23:00:00Z",
            "initial_capital": 10000,
            "commission_rate": 0.0005,
            "strategy": "ema_trend",
            "strategy_params": {"fast": 8, "slow": 30},
        }
        r = c.post("/api/backtest/create", json=body)
        assert r.status_code == 200, r.text
        config_id = r.json()["data"]["config_id"]
        assert ds.backtest_config(config_id)["strategy_params"] == {"fast": 8, "slow": 30}
        bad = c.post("/api/backtest/create", json={**body, "strategy_params": {"fast": -3}})
        assert bad.status_code == 400 and bad.json()["error"]["message"] == "invalid strategy_params"
        assert c.post("/api/backtest/create", json={**body, "end_time": "2023-01-01T00:00:00Z"}).status_code == 400
        assert c.post("/api/backtest/create", json={**body, "start_time": "yesterday"}).status_code == 400
        r = c.post(f"/api/backtest/run/{config_id}", json={})
        assert r.status_code == 200
        job = _poll(c, r.json()["data"]["job_id"])
        assert job["status"] == "done", job
        res = job["result"]
        assert res["result_id"] and res["total_trades"] >= 1
        stored = c.get(f"/api/backtest/result/{res['result_id']}").json()["data"]
        assert stored["config_id"] == config_id
        assert stored["total_trades"] == res["total_trades"]
        assert abs(stored["total_return"] - res["total_return"]) < 1e-9
        assert abs(ds.backtest_result(res["result_id"])["total_return"] * 100 - res["total_return"]) < 1e-9
        assert isinstance(stored["equity_curve"], list) and stored["equity_curve"]
        listed = c.get("/api/backtest/list").json()["data"]
        assert listed[0]["id"] == res["result_id"] and listed[0]["name"] == "EMA cross"
    finally:
        s.stop()
