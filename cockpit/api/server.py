"""Serve the API with uvicorn in a background thread of the engine's process.

Credentials: trader keys in ``$COCKPIT_API_KEYS`` (``api.keys_env``), read-only keys in
``$COCKPIT_API_READ_KEYS`` (``api.read_keys_env``), comma-separated, at least MIN_KEY_LENGTH
characters each. Every start also makes a random per-start token (a trader credential) and writes
it to a mode-0600 file next to the database (``<database>.api-token``; ``cockpit-api.token`` in the
working directory for a database that is not a file): tools of the same user on this machine read
it from there. The token itself is never printed or logged, only the file's path.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any, Mapping

import uvicorn

from cockpit.api.app import create_api
from cockpit.db.connection import sqlite_path
from cockpit.domain.settings import Config

MIN_KEY_LENGTH = 24
TOKEN_SUFFIX = ".api-token"


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


def _key_list(cfg_name: str, environ: Mapping[str, str], what: str) -> list[str]:
    keys = [k.strip() for k in environ.get(cfg_name, "").split(",") if k.strip()]
    for i, k in enumerate(keys, 1):
        if len(k) < MIN_KEY_LENGTH:
            raise ApiRefused(
                f"{what} #{i} in ${cfg_name} is {len(k)} characters long; API keys need at least "
                f'{MIN_KEY_LENGTH} (make one with: python -c "import secrets; '
                f'print(secrets.token_urlsafe(32))")'
            )
    return keys


def load_keys(cfg: Config, environ: Mapping[str, str] | None = None) -> tuple[list[str], list[str]]:
    """(trader keys, read-only keys) from the environment; ApiRefused names a key that is too short
    (by position, never its text) or listed in both."""
    environ = os.environ if environ is None else environ
    api = cfg["api"]
    trader = _key_list(api["keys_env"], environ, "trader key")
    read = _key_list(api["read_keys_env"], environ, "read-only key")
    if set(trader) & set(read):
        raise ApiRefused(
            f"a key is listed both in ${api['keys_env']} (trader) and in ${api['read_keys_env']} "
            f"(read-only); list it once"
        )
    return trader, read


def api_keys(cfg: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every configured key, trader and read-only (validated as load_keys does)."""
    trader, read = load_keys(cfg, environ)
    return trader + read


def token_path_for(database_url: str) -> Path:
    """Where the per-start token is written: next to a SQLite database file, else the working directory."""
    path = sqlite_path(database_url)
    if path is None or path == ":memory:":
        return Path.cwd() / "cockpit-api.token"
    p = Path(path).expanduser().resolve()
    return p.with_name(p.name + TOKEN_SUFFIX)


def write_token(path: Path, token: str) -> None:
    """Write the token readable by this user only (0600), replacing an old file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


class ApiServer:
    """``start()`` binds and serves in a daemon thread; ``stop()`` shuts it down."""

    def __init__(
        self,
        cfg: Config,
        host: str,
        port: int,
        *,
        environ: Mapping[str, str] | None = None,
        token_file: str | os.PathLike[str] | None = None,
        **app_kwargs: Any,
    ) -> None:
        trader, read = load_keys(cfg, environ)
        if not is_loopback(host) and not (trader or read):
            raise ApiRefused(
                f"--api {host}:{port} is not a loopback address: set API keys in "
                f"${cfg['api']['keys_env']} (comma-separated) first"
            )
        self.token = secrets.token_urlsafe(32)
        self.token_file = Path(token_file) if token_file is not None else token_path_for(cfg["database"]["url"])
        # Where the token is kept is told only to clients on this machine (a loopback bind).
        hint = f"the per-start token from {self.token_file}" if is_loopback(host) else "the per-start token"
        self.app = create_api(
            cfg, api_keys=trader, read_keys=read, token=self.token, bind_host=host, token_hint=hint, **app_kwargs
        )
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
        write_token(self.token_file, self.token)
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
        try:  # the token dies with this server (unless a newer server has replaced the file)
            if self.token_file.read_text().strip() == self.token:
                self.token_file.unlink()
        except OSError:
            pass
