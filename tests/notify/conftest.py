"""A JSON webhook receiver on loopback: what Apprise's ``json://`` destination posts to.

``/ok/...`` paths answer 200 and keep the message; ``/fail/...`` paths answer 500 (and count the hit).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    def __init__(self) -> None:
        self.messages: dict[str, list[dict]] = {}
        self.hits: dict[str, int] = {}
        self.raw: list[str] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
                path = self.path.split("?", 1)[0]
                with receiver.arrived:
                    receiver.raw.append(self.headers.as_string() + body)
                    receiver.hits[path] = receiver.hits.get(path, 0) + 1
                    fail = path.startswith("/fail")
                    if not fail:
                        receiver.messages.setdefault(path, []).append(json.loads(body))
                    receiver.arrived.notify_all()
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str, scheme: str = "json") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: predicate(self), timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
