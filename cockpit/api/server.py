"""Serve the API with uvicorn in a background thread of the engine's process."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from typing import Any, Mapping

import uvicorn

from cockpit.api.app import create_api


class ApiRefused(RuntimeError):
    """The API may not start as asked (e.g. a public bind without keys)."""


def parse_bind(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ApiRefused(f"--api: expected HOST:PORT, e.g. 127.0.0.1:8000, got {text!r}")
    try:
        p = int(port)
    except ValueError:
        raise ApiRefused(f"--api: port must be a number, got {port!r}") from None
    if not 0 <= p <= 65535:
        raise ApiRefused(f"--api: port must be 0-65535, got {p}")
    return host.strip("[]"), p


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_keys(cfg: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    raw = environ.get(cfg["api"]["keys_env"], "")
    return [k.strip() for k in raw.split(",") if k.strip()]


class ApiServer:
    """``start()`` binds and serves in a daemon thread; ``stop()`` shuts it down."""

    def __init__(self, cfg: dict[str, Any], host: str, port: int, *, environ: Mapping[str, str] | None = None,
                 **app_kwargs: Any) -> None:
        keys = api_keys(cfg, environ)
        if not is_loopback(host) and not keys:
            raise ApiRefused(f"--api {host}:{port} is not a loopback address: set API keys in "
                             f"${cfg['api']['keys_env']} (comma-separated) first")
        self.app = create_api(cfg, api_keys=keys, **app_kwargs)
        self.host = host
        # Bind ourselves so port 0 works and the chosen port is known before serving.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)  # accept connections (queued) from the moment the URL is announced
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, name="api", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "ApiServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.app.state.jobs.shutdown()
        try:
            self.sock.close()
        except OSError:
            pass
