"""A loopback OpenAI-compatible HTTP server for tests: the real ``openai`` client talks to it.

It serves ``POST /v1/chat/completions`` (and ``GET /v1/models``) on 127.0.0.1 with a free port.
Replies are scripted: each request pops the next *step* from a queue; when the queue is empty the
``default`` step is used. A step is a ``Reply``:

    Reply(content='{"selected": []}')             200 with that message content
    Reply.blank()                                  200 with whitespace-only content
    Reply.status(429, retry_after_ms=1)            an HTTP error (with Retry-After-Ms so retries are fast)
    Reply.status(500)
    Reply.slow(seconds=5, content=...)             waits (interruptible) before answering: client timeouts
    Reply.raw(b'{"id": "x", "choi', content_type="application/json")   a broken JSON body
    Reply.raw(big_body, no_length=True)           no Content-Length: the body streams until the connection closes

Every request is recorded (path, headers with lower-cased names, parsed JSON body) in ``server.requests``.

Use it as a context manager or through the ``fake_openai`` fixture::

    from support.fake_openai import FakeOpenAIServer, Reply, fake_openai  # noqa: F401 (fixture)

    def test_x(fake_openai):
        fake_openai.script(Reply.status(429, retry_after_ms=1), Reply(content='{"ok": true}'))
        client = openai.OpenAI(base_url=fake_openai.base_url, api_key="test-key", max_retries=2)
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Reply:
    content: str | None = "{}"
    http_status: int = 200
    delay_s: float = 0.0
    body: bytes | None = None  # raw body: bypasses the chat-completion envelope
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    prompt_tokens: int = 100
    completion_tokens: int = 20
    finish_reason: str = "stop"
    no_length: bool = False  # send no Content-Length; the end of the body is the end of the connection

    @classmethod
    def blank(cls, content: str = "   \n ") -> "Reply":
        return cls(content=content)

    @classmethod
    def status(cls, code: int, *, retry_after_ms: int | None = 1, message: str = "scripted error") -> "Reply":
        headers = {"retry-after-ms": str(retry_after_ms)} if retry_after_ms is not None else {}
        body = json.dumps({"error": {"message": message, "type": "scripted", "code": code}}).encode()
        return cls(http_status=code, body=body, headers=headers)

    @classmethod
    def slow(cls, seconds: float, content: str = "{}") -> "Reply":
        return cls(content=content, delay_s=seconds)

    @classmethod
    def raw(
        cls,
        body: bytes | str,
        *,
        content_type: str = "application/json",
        code: int = 200,
        headers: dict[str, str] | None = None,
        no_length: bool = False,
    ) -> "Reply":
        return cls(
            body=body.encode() if isinstance(body, str) else body,
            content_type=content_type,
            http_status=code,
            headers=dict(headers or {}),
            no_length=no_length,
        )


def completion_body(
    content: str | None,
    *,
    model: str,
    prompt_tokens: int = 100,
    completion_tokens: int = 20,
    finish_reason: str = "stop",
    seq: int = 0,
) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-fake-{seq}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "finish_reason": finish_reason, "message": {"role": "assistant", "content": content}}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any


class FakeOpenAIServer:
    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()  # set on stop: slow replies return at once
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control

    def script(self, *steps: Reply) -> "FakeOpenAIServer":
        with self._lock:
            self._queue.extend(steps)
        return self

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _next(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "FakeOpenAIServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:  # keep test output clean
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up (e.g. on a reply it refused to read to the end)

            def _send(
                self, code: int, body: bytes, content_type: str, headers: dict[str, str], no_length: bool = False
            ) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                if no_length:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(
                    RecordedRequest("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, None)
                )
                if self.path.rstrip("/").endswith("/models"):
                    body = {"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "test"}]}
                    self._send(200, json.dumps(body).encode(), "application/json", {})
                else:
                    self._send(404, b'{"error": {"message": "not found"}}', "application/json", {})

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                server.requests.append(
                    RecordedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}', "application/json", {})
                    return
                step = server._next()
                if step.delay_s > 0 and server._release.wait(step.delay_s):
                    return  # stopping: drop the connection
                if step.body is not None:
                    self._send(step.http_status, step.body, step.content_type, step.headers, step.no_length)
                    return
                model = body.get("model", "fake-model") if isinstance(body, dict) else "fake-model"
                payload = completion_body(
                    step.content,
                    model=model,
                    prompt_tokens=step.prompt_tokens,
                    completion_tokens=step.completion_tokens,
                    finish_reason=step.finish_reason,
                    seq=len(server.requests),
                )
                self._send(step.http_status, json.dumps(payload).encode(), step.content_type, step.headers)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@pytest.fixture
def fake_openai():
    """A started FakeOpenAIServer, stopped after the test."""
    with FakeOpenAIServer() as server:
        yield server
