"""Trade management through the REST API: operator commands with who, behind the same protections as
approvals (own origin only, JSON only, a trader credential). Real server, real HTTP, real SQLite."""

from __future__ import annotations

import httpx
import pytest

from cockpit.api.server import ApiServer

TRADER_KEY = "trader-" + "t" * 30
READ_KEY = "reader-" + "r" * 30
ACTIONS = [
    ("/api/position/close", {}, "close_position", None),
    ("/api/position/stop", {"price": 65000.5}, "set_stop_loss", {"price": 65000.5}),
    ("/api/position/tp", {"price": 71000, "side": "long"}, "set_take_profit", {"price": 71000.0, "side": "long"}),
    ("/api/orders/cancel-all", {"reason": "flat into the news"}, "cancel_all", {"reason": "flat into the news"}),
]


@pytest.fixture
def keyed(cfg, db):
    s = ApiServer(
        cfg, "127.0.0.1", 0, environ={"COCKPIT_API_KEYS": TRADER_KEY, "COCKPIT_API_READ_KEYS": READ_KEY}
    ).start()
    yield s
    s.stop()


def test_trade_actions_become_operator_commands_with_who(keyed, ds):
    for path, body, command, payload in ACTIONS:
        r = httpx.post(keyed.url + path, headers={"X-API-Key": TRADER_KEY}, json=body)
        assert r.status_code == 200, r.text
        cmd = ds.operator_commands()[-1]
        assert r.json()["data"]["command_id"] == cmd["id"]
        assert (cmd["command"], cmd["order_id"], cmd["payload"]) == (command, None, payload)
        assert cmd["operator"].startswith("api 127.0.0.1 key#")


@pytest.mark.parametrize("path,body,command,payload", ACTIONS)
def test_trade_actions_are_refused_cross_origin_without_json_or_without_a_trader_key(
    keyed, ds, path, body, command, payload
):
    url = keyed.url + path
    assert (
        httpx.post(url, headers={"X-API-Key": TRADER_KEY, "Origin": "http://evil.example"}, json=body).status_code
        == 403
    )
    assert httpx.post(
        url, headers={"X-API-Key": TRADER_KEY, "Content-Type": "text/plain"}, content=b"{}"
    ).status_code in (403, 415)
    assert httpx.post(url, json=body).status_code in (401, 403)
    assert httpx.post(url, headers={"X-API-Key": READ_KEY}, json=body).status_code == 403
    assert ds.operator_commands() == []


def test_a_price_must_be_a_positive_number(keyed, ds):
    for body in (
        {},
        {"price": -1},
        {"price": 0},
        {"price": "abc"},
        {"price": 65000, "extra": 1},
        {"price": 65000, "side": "flat"},
    ):
        r = httpx.post(keyed.url + "/api/position/stop", headers={"X-API-Key": TRADER_KEY}, json=body)
        assert r.status_code == 400, (body, r.text)
    assert ds.operator_commands() == []
