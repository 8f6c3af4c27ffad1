"""Issue 19, item 4: nothing that changes state may be reached from another origin, without JSON,
or without a credential (even on loopback); keys are long, split into trader and read-only, guessed
at most a few times a minute, and never recorded. Real server, real HTTP, real SQLite."""

from __future__ import annotations

import hashlib
import json
import logging
import stat

import httpx
import pytest

from cockpit.api.server import ApiRefused, ApiServer

TRADER_KEY = "trader-" + "t" * 30
READ_KEY = "reader-" + "r" * 30


@pytest.fixture
def pending(db):
    from cockpit.db.models import OrderRow

    return OrderRow.create(
        symbol="BTC/USDT:USDT",
        side="buy",
        type="market",
        amount=0.01,
        status="pending_approval",
        client_order_id="sec-1",
    ).id


@pytest.fixture
def server(cfg, pending):
    s = ApiServer(cfg, "127.0.0.1", 0, environ={}).start()
    yield s
    s.stop()


@pytest.fixture
def keyed(cfg, pending):
    s = ApiServer(
        cfg, "127.0.0.1", 0, environ={"COCKPIT_API_KEYS": TRADER_KEY, "COCKPIT_API_READ_KEYS": READ_KEY}
    ).start()
    yield s
    s.stop()


def _approve(s: ApiServer, order_id: int, **kw) -> httpx.Response:
    return httpx.post(f"{s.url}/api/orders/{order_id}/approve", **kw)


def test_the_issues_cross_site_approve_is_refused(server, pending, ds):
    """The exact request of the report (foreign Origin and Host, text/plain, no key) -> 200 before."""
    r = _approve(
        server,
        pending,
        headers={"Origin": "http://evil.example", "Host": f"evil.example:{server.port}", "Content-Type": "text/plain"},
        content=b"x",
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    assert ds.operator_commands() == []


def test_foreign_origin_is_refused_even_with_the_token(server, pending, ds):
    token = {"X-API-Key": server.token}
    r = _approve(server, pending, headers={**token, "Origin": "http://evil.example"}, json={})
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]["message"]
    r = _approve(server, pending, headers={**token, "Origin": "null"}, json={})
    assert r.status_code == 403
    # DNS rebinding: the attacker's name resolves to 127.0.0.1, the browser sends it as Host (same "origin").
    evil = f"evil.example:{server.port}"
    r = _approve(server, pending, headers={**token, "Host": evil, "Origin": f"http://{evil}"}, json={})
    assert r.status_code == 403 and "Host" in r.json()["error"]["message"]
    assert httpx.get(server.url + "/api/orders", headers={"Host": evil}).status_code == 403  # reads too
    assert ds.operator_commands() == []
    # The server's own origin (the /docs page) and the other loopback names are fine.
    r = _approve(
        server,
        pending,
        headers={**token, "Host": f"localhost:{server.port}", "Origin": f"http://localhost:{server.port}"},
        json={},
    )
    assert r.status_code == 200, r.text
    assert [c["command"] for c in ds.operator_commands()] == ["approve"]


def test_state_changing_requests_must_be_json(server, pending, ds):
    token = {"X-API-Key": server.token}
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        r = _approve(server, pending, headers={**token, "Content-Type": ctype}, content=b"x")
        assert r.status_code == 415, ctype
        assert r.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert _approve(server, pending, headers=token).status_code == 415  # no body, no type: refused too
    assert ds.operator_commands() == []
    r = _approve(server, pending, headers={**token, "Content-Type": "application/json; charset=utf-8"}, content=b"{}")
    assert r.status_code == 200, r.text


def test_a_credential_is_required_to_change_state_even_on_loopback(server, pending, ds, cfg):
    r = _approve(server, pending, json={})
    assert r.status_code == 401
    assert str(server.token_file) in r.json()["error"]["details"]  # where local tools find the token
    body = {"symbol": "BTC/USDT:USDT", "timeframe": "1h"}
    for path in ("/api/market/collect", "/api/decision/generate", "/api/backtest/run/1"):
        assert httpx.post(server.url + path, json=body).status_code == 401, path
    assert ds.operator_commands() == []
    assert httpx.get(server.url + "/api/orders").status_code == 200  # keyless loopback reads stay open
    # The token: random per start, in a file only this user can read, next to the database; gone at stop.
    assert server.token_file.name == "cockpit.db.api-token"
    assert server.token_file.read_text().strip() == server.token and len(server.token) >= 32
    assert stat.S_IMODE(server.token_file.stat().st_mode) == 0o600
    assert _approve(server, pending, json={}, headers={"X-API-Key": server.token}).status_code == 200
    other = ApiServer(cfg, "127.0.0.1", 0, environ={}, token_file=server.token_file.with_name("other-token"))
    assert other.token != server.token
    other.sock.close()


def test_read_only_keys_read_and_trader_keys_trade(keyed, pending, ds):
    assert httpx.get(keyed.url + "/api/orders", headers={"X-API-Key": READ_KEY}).status_code == 200
    r = _approve(keyed, pending, headers={"X-API-Key": READ_KEY}, json={})
    assert r.status_code == 403 and "read-only" in r.json()["error"]["message"]
    assert ds.operator_commands() == []
    assert _approve(keyed, pending, headers={"X-API-Key": TRADER_KEY}, json={}).status_code == 200
    assert httpx.get(keyed.url + "/api/orders").status_code == 401  # keys configured: reads need one


def test_short_or_doubly_listed_keys_are_a_config_error(cfg):
    with pytest.raises(ApiRefused, match="at least 24") as e:
        ApiServer(cfg, "127.0.0.1", 0, environ={"COCKPIT_API_KEYS": f"{TRADER_KEY},s3cret-short"})
    assert "trader key #2" in str(e.value) and "s3cret" not in str(e.value)
    with pytest.raises(ApiRefused, match="read-only key #1"):
        ApiServer(cfg, "127.0.0.1", 0, environ={"COCKPIT_API_READ_KEYS": "tiny"})
    with pytest.raises(ApiRefused, match="both"):
        ApiServer(cfg, "127.0.0.1", 0, environ={"COCKPIT_API_KEYS": TRADER_KEY, "COCKPIT_API_READ_KEYS": TRADER_KEY})


def test_a_flood_of_wrong_keys_gets_429(keyed, pending, ds):
    """400 wrong keys gave 400 x 401 before; now the address is held back after a few failures."""
    codes = [
        httpx.get(keyed.url + "/api/orders", headers={"X-API-Key": f"guess-{i:04d}" + "x" * 24}).status_code
        for i in range(40)
    ]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    r = _approve(keyed, pending, headers={"X-API-Key": TRADER_KEY}, json={})  # the right key, same address
    assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert r.headers["Retry-After"] == "60"
    assert httpx.get(keyed.url + "/api/health", headers={"X-API-Key": "another-guess"}).status_code == 429
    assert ds.operator_commands() == []


def test_wrong_tokens_on_loopback_are_limited_too(server, pending):
    codes = [_approve(server, pending, headers={"X-API-Key": f"guess-{i}"}, json={}).status_code for i in range(15)]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}


def test_keys_never_reach_records_or_logs(keyed, pending, ds, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    r = _approve(keyed, pending, headers={"X-API-Key": TRADER_KEY}, json={})
    assert r.status_code == 200
    wrong = TRADER_KEY[:-1] + "!"
    bodies = [
        r.text,
        httpx.get(keyed.url + "/api/orders", headers={"X-API-Key": wrong}).text,
        httpx.get(keyed.url + "/api/orders", headers={"X-API-Key": READ_KEY}).text,
    ]
    (cmd,) = ds.operator_commands()
    assert cmd["operator"] == "api 127.0.0.1 key#" + hashlib.sha256(TRADER_KEY.encode()).hexdigest()[:8]
    out, err = capfd.readouterr()
    seen = "\n".join([json.dumps(cmd), *bodies, caplog.text, out, err])
    for secret in (TRADER_KEY, READ_KEY, wrong, keyed.token):
        assert secret not in seen
        assert secret[-4:] not in cmd["operator"]  # not even a tail of it as the operator's name


def _heartbeat(db) -> None:
    from cockpit.db.models import EngineState

    EngineState.create(
        key="heartbeat",
        updated_at=1,
        value=json.dumps(
            {"ts": 1, "state": "running", "equity": 123456.78, "position": {"side": "long", "size": 0.42}}
        ),
    )


def test_health_without_a_key_shows_no_equity_or_position(keyed, db):
    _heartbeat(db)
    r = httpx.get(keyed.url + "/api/health")
    assert r.status_code == 200
    d = r.json()["data"]
    assert d["engine_heartbeat"]["state"] == "running" and d["mode"] == "sim"
    assert "equity" not in d["engine_heartbeat"] and "position" not in d["engine_heartbeat"]
    assert "123456" not in r.text and "0.42" not in r.text
    for key in (READ_KEY, TRADER_KEY, keyed.token):
        beat = httpx.get(keyed.url + "/api/health", headers={"X-API-Key": key}).json()["data"]["engine_heartbeat"]
        assert beat["equity"] == 123456.78 and beat["position"]["size"] == 0.42


def test_health_on_keyless_loopback_hides_them_too(server, db):
    _heartbeat(db)
    r = httpx.get(server.url + "/api/health")
    assert "123456" not in r.text and "hidden" in r.json()["data"]
    beat = httpx.get(server.url + "/api/health", headers={"X-API-Key": server.token}).json()["data"]["engine_heartbeat"]
    assert beat["equity"] == 123456.78
