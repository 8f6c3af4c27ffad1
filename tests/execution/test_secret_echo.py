"""Secrets an exchange (or a proxy in front of it) echoes back never reach the database or the log.

A small proxy on loopback sits between ccxt and the built-in simulator and answers order placement
and order lookups with error text that repeats the request's OK-ACCESS-KEY and OK-ACCESS-PASSPHRASE
headers (plus the signing secret and an API key, as a badly written gateway might). The OrderManager
is built the way the engine builds it (its stores from the config), so the redactor is the run's.
"""

from __future__ import annotations

import http.client
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

from cockpit.config import secret_values
from cockpit.data import DataService
from cockpit.domain.orders import OrderIntent
from cockpit.engine.eventlog import EventLog

SYM = "BTC/USDT:USDT"
API_KEYS = "cockpit-api-key-alpha-0123456789,cockpit-api-key-beta-9876543210"


class EchoProxy:
    """Forwards to the simulator; ``mode`` 'reject' answers order placement with an OKX error echoing the
    credentials, 'down' answers placement and order lookups with HTTP 503 echoing them."""

    def __init__(self, upstream: str, secret: str) -> None:
        self.mode = "pass"
        self.echoes = 0
        up = urlparse(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a) -> None:
                pass

            def _reply(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                path = self.path.split("?")[0]
                echo = (
                    f"key={self.headers.get('OK-ACCESS-KEY')} passphrase={self.headers.get('OK-ACCESS-PASSPHRASE')}"
                    f" secret={secret} api={API_KEYS.split(',')[1]}"
                )
                placing = method == "POST" and path in ("/api/v5/trade/order", "/api/v5/trade/batch-orders")
                looking = method == "GET" and path == "/api/v5/trade/order"
                if proxy.mode == "reject" and placing:
                    proxy.echoes += 1
                    return self._reply(
                        200,
                        json.dumps(
                            {
                                "code": "1",
                                "msg": "All operations failed",
                                "data": [{"sCode": "51000", "sMsg": f"Parameter error, request was {echo}"}],
                            }
                        ).encode(),
                    )
                if proxy.mode == "down" and (placing or looking):
                    proxy.echoes += 1
                    return self._reply(503, f"gateway down; your request: {echo}".encode(), "text/plain")
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=10)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")
                }
                conn.request(method, self.path, body=body or None, headers=headers)
                r = conn.getresponse()
                data = r.read()
                conn.close()
                self._reply(r.status, data, r.getheader("Content-Type") or "application/json")

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def secrets_env(sim, cfg, monkeypatch):
    ex = cfg["exchange"]
    monkeypatch.setenv(ex["api_key_env"], sim.api_key)
    monkeypatch.setenv(ex["secret_env"], sim.secret)
    monkeypatch.setenv(ex["passphrase_env"], sim.passphrase)
    monkeypatch.setenv(cfg["api"]["keys_env"], API_KEYS)
    return [sim.api_key, sim.secret, sim.passphrase, *API_KEYS.split(",")]


@pytest.fixture
def proxy(sim):
    p = EchoProxy(sim.url, sim.secret)
    yield p
    p.close()


def intent(om, did: int) -> OrderIntent:
    m = om.executor.mark_price(SYM)
    return OrderIntent(
        SYM, "buy", 0.01, stop_loss=round(m * 0.98, 1), take_profit=round(m * 1.04, 1), leverage=2.0, decision_id=did
    )


def test_echoed_credentials_are_redacted_from_lifecycle_and_risk_events(db, cfg, sim, proxy, secrets_env, decision_id):
    from cockpit.execution.manager import OrderManager
    from cockpit.execution.okx import OKXExecutor
    from cockpit.market.exchange import make_exchange

    assert all(len(s) >= 8 for s in secrets_env)
    c = {**cfg, "execution": {**cfg["execution"], "approval": "auto"}}
    ex = make_exchange(c, mode="sim", rest_url=proxy.url, for_tests=True)  # keys from the environment
    om = OrderManager(c, OKXExecutor(ex, c, symbol=SYM, clock=sim.clock), clock=sim.clock, symbol=SYM)

    proxy.mode = "reject"
    first = om.submit_intent(intent(om, decision_id()))
    proxy.mode = "down"
    second = om.submit_intent(intent(om, decision_id()))
    proxy.mode = "pass"
    assert proxy.echoes >= 3

    ds = DataService()
    assert ds.order(first)["status"] == "rejected"
    events = ds.order_events(first)
    rejected = [e for e in events if e["status"] == "rejected"]
    assert rejected and "51000" in rejected[-1]["message"] and "[redacted]" in rejected[-1]["message"]
    submit = ds.risk_events(rule="submit")
    assert submit and any(e["level"] in ("WARN", "ERROR") and "[redacted]" in e["details"] for e in submit)
    assert ds.order(second)["status"] in ("approved", "failed")

    dump = []
    for table in ("order_lifecycle_events", "risk_events", "orders", "decisions", "engine_state"):
        dump += [json.dumps(r, default=str) for r in ds._q(f"SELECT * FROM {table}")]
    text = "\n".join(dump)
    for s in secrets_env:
        assert s not in text, f"a secret ({s[:4]}…) was stored"


def test_log_lines_redact_every_configured_secret(cfg, secrets_env):
    out = io.StringIO()
    log = EventLog(fmt="text", stream=out, secrets=secret_values(cfg))
    log.warning("submit", error=f"okx 503 echo {' '.join(secrets_env)}", detail={"nested": [secrets_env[-1]]})
    log = EventLog(fmt="json", stream=out, secrets=secret_values(cfg))
    log.error("log", message=f"api key {secrets_env[3]} in a url: http://x/?k={secrets_env[4]}")
    text = out.getvalue()
    assert text.count("***") >= len(secrets_env) + 2
    for s in secrets_env:
        assert s not in text
