"""``cockpit serve-web``: the cockpit in a browser, through Textual's own web server (textual-serve).

Every browser tab opens a websocket; textual-serve starts one ``python -m cockpit --attach``
child for it and ends that child when the tab closes. textual-serve has no authentication of its
own, so its aiohttp application is rebuilt here behind a guard (issue 19):

* every page, file and the websocket live under a random per-start secret path,
  ``http://HOST:PORT/<secret>/``, printed once at start; any other path is 404;
* the Host header must name this server (no DNS rebinding) and an Origin header, when sent, must be
  the server's own; the websocket must carry an Origin (browsers always send one), so another web
  page cannot drive a session;
* at most ``max_sessions`` websockets (children) at a time; the next gets 503;
* aiohttp's access log is silenced, so the secret is not written to the log.

It binds to loopback unless ``--public`` is given; plain HTTP carries the secret in clear, so off
loopback it belongs behind the SSH tunnel (``ssh -L 8080:127.0.0.1:8080 host``) or a TLS proxy.
Because nobody is identified, browser sessions run as ``viewer`` unless ``--role trader`` is given
explicitly; their commands are recorded with ``COCKPIT_OPERATOR="web"``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
import shlex
import socket
from typing import Any
from urllib.parse import urlsplit

ROLES = ("viewer", "trader")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
PUBLIC_WARNING = (
    "WARNING: cockpit serve-web's only authentication is the secret in its URL, sent in clear "
    "over plain HTTP. Anyone who learns {url} can watch the cockpit{act}. Put it behind the SSH "
    "tunnel (ssh -L PORT:127.0.0.1:PORT host) or a TLS reverse proxy."
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def free_port(host: str) -> int:
    """A port nobody listens on right now (textual-serve needs the real port for its page's URLs)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def web_command(child_argv: list[str], *, role: str, operator: str = "web") -> str:
    """The shell command textual-serve runs per browser session (it spawns through the shell)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    env = f"COCKPIT_ROLE={shlex.quote(role)} COCKPIT_OPERATOR={shlex.quote(operator)}"
    return f"exec env {env} {shlex.join(child_argv)}"


class WebGuard:
    """What a request must satisfy before textual-serve sees it (see the module docstring)."""

    def __init__(self, *, public_url: str, bind_host: str, max_sessions: int, secret: str | None = None) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.secret = secret or secrets.token_urlsafe(24)
        self.prefix = "/" + self.secret
        self.max_sessions = max_sessions
        self.active = 0
        u = urlsplit(public_url)
        port = u.port or (443 if u.scheme == "https" else 80)
        self.origins = {_origin(u.scheme, u.hostname or "", port)}
        self.hosts = {(u.hostname or "").lower(), bind_host.strip("[]").lower()}
        if is_loopback(u.hostname or "") or is_loopback(bind_host):
            self.hosts |= set(LOOPBACK_NAMES)
            self.origins |= {_origin(u.scheme, n, port) for n in LOOPBACK_NAMES}

    def url(self, public_url: str) -> str:
        """The address to open, secret included (printed once at start, never logged)."""
        return f"{public_url.rstrip('/')}{self.prefix}/"

    def refusal(self, *, path: str, host: str | None, origin: str | None) -> tuple[int, str] | None:
        """(HTTP status, reason) when a request must not reach textual-serve; None when it may."""
        try:
            name = urlsplit("//" + (host or "")).hostname
        except ValueError:
            name = None
        if not name or name.lower() not in self.hosts:
            return 403, "Host header is not this server's address"
        if origin is not None and origin not in self.origins:
            return 403, "cross-origin request refused"
        head = path[1 : 1 + len(self.secret)]
        if not (hmac.compare_digest(head, self.secret) and path[1 + len(self.secret) :][:1] in ("", "/")):
            return 404, "not found"
        if path == self.prefix + "/ws":
            if origin is None:
                return 403, "a cockpit session needs the Origin header a browser sends"
            if self.active >= self.max_sessions:
                return 503, f"all {self.max_sessions} cockpit sessions are in use; try again later"
        return None

    def middleware(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
            refused = self.refusal(
                path=request.path, host=request.headers.get("Host"), origin=request.headers.get("Origin")
            )
            if refused is not None:
                return web.Response(status=refused[0], text=f"cockpit serve-web: {refused[1]}\n")
            if request.path == self.prefix:
                raise web.HTTPFound(self.prefix + "/")
            if request.path != self.prefix + "/ws":
                return await handler(request)
            self.active += 1  # counted and checked with no await in between: no race on the event loop
            try:
                return await handler(request)  # returns when the session's websocket closes
            finally:
                self.active -= 1

        return guard


def _origin(scheme: str, host: str, port: int) -> str:
    h = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{h}" + ("" if port == default else f":{port}")


def build_web_server(
    child_argv: list[str],
    *,
    host: str,
    port: int,
    role: str = "viewer",
    public_url: str | None = None,
    max_sessions: int = 8,
    secret: str | None = None,
    title: str = "Alpha Arena Cockpit",
) -> Any:
    """A textual_serve Server for the cockpit in attach mode, behind a WebGuard (``.guard``; the URL to
    open is ``.secret_url``). ``.serve()`` blocks until SIGINT/SIGTERM."""
    from aiohttp import web
    import aiohttp_jinja2
    import jinja2
    from textual_serve.server import Server

    class GuardedServer(Server):
        """textual-serve's routes, under the guard's secret prefix and behind its middleware."""

        guard: WebGuard  # set by build_web_server right after construction
        secret_url: str

        async def _make_app(self) -> web.Application:
            prefix = self.guard.prefix
            app = web.Application(middlewares=[self.guard.middleware()])
            aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
            app.add_routes(
                [
                    web.get(prefix + "/", self.handle_index, name="index"),
                    web.get(prefix + "/ws", self.handle_websocket, name="websocket"),
                    web.get(prefix + "/download/{key}", self.handle_download, name="download"),
                    web.static(prefix + "/static", self.statics_path, show_index=False, name="static"),
                ]
            )
            app.on_startup.append(self.on_startup)
            app.on_shutdown.append(self.on_shutdown)
            return app

        def initialize_logging(self) -> None:
            super().initialize_logging()
            logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # request lines carry the secret

    url_host = f"[{host}]" if ":" in host else host
    public_url = (public_url or f"http://{url_host}:{port}").rstrip("/")
    server = GuardedServer(web_command(child_argv, role=role), host=host, port=port, title=title, public_url=public_url)
    server.guard = WebGuard(public_url=public_url, bind_host=host, max_sessions=max_sessions, secret=secret)
    server.secret_url = server.guard.url(public_url)
    return server
