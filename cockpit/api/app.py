"""FastAPI application for the seed's REST API (section 6) plus orders and health.

Responses use the seed's envelope: ``{"success": true, "data": ...}`` or
``{"success": false, "error": {"code", "message", "details"}}``. Reads go through DataService;
approvals and rejections are operator commands the engine executes (the database is the bus).
Protection (issue 19): the Host header must name the address the server is bound to (loopback
names on a loopback bind: no DNS rebinding) and an Origin header, when sent, must be the server's
own; state-changing requests (every POST) need ``Content-Type: application/json`` and a trader
credential in the ``X-API-Key`` header, even on loopback: a trader key or the per-start token the
server writes to a 0600 file. Reads need any key (trader or read-only) when keys are configured
(and keys are required to bind anywhere but loopback). ``/api/health`` is open but shows equity
and position only with a credential. Wrong credentials are limited per client address (429), the
requests of each key (or client) per minute too; keys are recorded only as ``key#<short hash>``.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from typing import Any, Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cockpit.api import routes_backtest, routes_decision, routes_health, routes_market, routes_orders
from cockpit.api.errors import ApiError
from cockpit.api.jobs import Jobs
from cockpit.api.schemas import ERROR_RESPONSES
from cockpit.domain.market import TIMEFRAME_MS
from cockpit.domain.settings import Config

OPEN_PATHS = {"/api/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
AUTH_FAILURES_PER_MINUTE = 10  # wrong keys per client address before every request from it gets 429


class RateLimiter:
    """Sliding one-minute window per key."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float) -> bool:
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and now - q[0] > 60.0:
                q.popleft()
            if len(q) >= self.per_minute:
                return False
            q.append(now)
            return True

    def over(self, key: str, now: float) -> bool:
        """True when ``key`` has used up its window (without counting this look)."""
        with self._lock:
            q = self._hits.get(key)
            while q and now - q[0] > 60.0:
                q.popleft()
            return bool(q and len(q) >= self.per_minute)


def key_label(key: str) -> str:
    """How a key is named in records and logs: never the key, only a short hash of it."""
    return "key#" + hashlib.sha256(key.encode()).hexdigest()[:8]


def allowed_hosts(bind_host: str) -> frozenset[str] | None:
    """Host header names this server answers to: loopback names on a loopback bind, the bound
    address otherwise; None (any) on a wildcard bind, where keys are required anyway."""
    h = bind_host.strip("[]").lower()
    if h in WILDCARD_BINDS:
        return None
    if h in LOOPBACK_NAMES or h.startswith("127."):
        return LOOPBACK_NAMES | {h}
    return frozenset({h})


def _host_port(netloc: str, default_port: int | None) -> tuple[str, int | None] | None:
    try:
        u = urlsplit("//" + netloc)
        return (u.hostname or "", u.port if u.port is not None else default_port) if u.hostname else None
    except ValueError:
        return None


def same_origin(origin: str, host_header: str) -> bool:
    """An Origin header names the server the request was sent to (scheme aside: a TLS proxy may sit in front)."""
    try:
        o = urlsplit(origin)
    except ValueError:
        return False
    if o.scheme not in ("http", "https") or not o.hostname:
        return False  # includes "null" (sandboxed frames, file: pages)
    default = 443 if o.scheme == "https" else 80
    try:
        mine = (o.hostname, o.port if o.port is not None else default)
    except ValueError:
        return False
    return _host_port(host_header, default) == mine


# ------------------------------------------------------------------ errors in the seed's envelope


async def _api_error(_: Request, e: ApiError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status)


async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
    errs = [{"loc": list(x.get("loc", ())), "msg": x.get("msg")} for x in e.errors()]
    first = errs[0] if errs else {"loc": [], "msg": "invalid request"}
    field = str(first["loc"][-1]) if first["loc"] else ""
    if field == "symbol":  # the seed's own wording (section 6.3)
        err = ApiError("INVALID_PARAMETER", "Invalid symbol format", "Symbol must be in format XXX/YYY:ZZZ")
    elif field == "timeframe":
        err = ApiError("INVALID_PARAMETER", "Invalid timeframe", f"allowed: {', '.join(TIMEFRAME_MS)}")
    else:
        err = ApiError(
            "INVALID_PARAMETER", f"{'.'.join(map(str, first['loc'][1:])) or 'request'}: {first['msg']}", errs
        )
    return JSONResponse(err.body(), status_code=400)


async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
    code = {
        404: "NOT_FOUND",
        401: "UNAUTHORIZED",
        403: "FORBIDDEN",
        415: "UNSUPPORTED_MEDIA_TYPE",
        429: "RATE_LIMIT_EXCEEDED",
    }.get(e.status_code, "INVALID_PARAMETER")
    if e.status_code >= 500:
        code = "INTERNAL_ERROR"
    body = {"success": False, "error": {"code": code, "message": str(e.detail), "details": None}}
    # Keep the exception's headers (e.g. Allow on 405, as RFC 9110 requires).
    return JSONResponse(body, status_code=e.status_code, headers=getattr(e, "headers", None))


async def _crash(_: Request, e: Exception) -> JSONResponse:
    err = ApiError("INTERNAL_ERROR", "internal error", type(e).__name__)
    return JSONResponse(err.body(), status_code=500)


def _refuse(code: str, message: str, details: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
    err = ApiError(code, message, details)
    return JSONResponse(err.body(), status_code=err.status, headers=headers)


# ------------------------------------------------------------------ the guard in front of every route


class Guard:
    """The HTTP middleware every request passes (module docstring): Host and Origin, JSON for state changes,
    credentials and their roles, failed-authentication and per-key rate limits. It sets ``request.state.role``
    and ``request.state.who`` (what the routes' Depends read)."""

    def __init__(
        self,
        credentials: list[tuple[bytes, str, str]],
        *,
        keys_configured: bool,
        bind_host: str,
        token_hint: str,
        rate_limit_per_minute: int,
        auth_failures_per_minute: int,
        monotonic: Callable[[], float],
    ) -> None:
        self.credentials = credentials  # (secret, role, label)
        self.keys_configured = keys_configured
        self.hosts = allowed_hosts(bind_host)
        self.token_hint = token_hint
        self.limiter = RateLimiter(rate_limit_per_minute)
        self.failures = RateLimiter(auth_failures_per_minute)
        self.monotonic = monotonic

    def credential(self, given: str) -> tuple[str, str] | None:
        """(role, label) of the key or token sent; every credential is compared (constant time each)."""
        found = None
        for secret, role, label in self.credentials:
            if hmac.compare_digest(given.encode(), secret) and found is None:
                found = (role, label)
        return found

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        hosts, failures, limiter, monotonic = self.hosts, self.failures, self.limiter, self.monotonic
        path = request.url.path
        client = request.client.host if request.client else "?"
        host = request.headers.get("host", "")
        name = _host_port(host, None)
        if name is None or (hosts is not None and name[0].lower() not in hosts):
            return _refuse(
                "FORBIDDEN",
                "Host header is not this server's address",
                f"allowed: {', '.join(sorted(hosts or ()))}" if hosts else None,
            )
        origin = request.headers.get("origin")
        if origin is not None and not same_origin(origin, host):
            return _refuse("FORBIDDEN", "cross-origin request refused", "the API answers only its own origin")
        unsafe = request.method.upper() not in SAFE_METHODS
        if unsafe:
            media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != "application/json":
                return _refuse(
                    "UNSUPPORTED_MEDIA_TYPE",
                    "state-changing requests must be JSON",
                    "send Content-Type: application/json",
                )
        given = request.headers.get("x-api-key")
        request.state.role, request.state.who = None, None
        if given is not None or path not in OPEN_PATHS:
            if failures.over(client, monotonic()):
                return _refuse(
                    "RATE_LIMIT_EXCEEDED",
                    "too many failed authentications from this address",
                    f"limit {failures.per_minute} per minute",
                    headers={"Retry-After": "60"},
                )
        if given is not None:
            found = self.credential(given)
            if found is None:
                failures.allow(client, monotonic())  # records the failure (not over the limit: checked above)
                return _refuse(
                    "UNAUTHORIZED",
                    "wrong API key",
                    "send a configured key or the per-start token in the X-API-Key header",
                )
            request.state.role, request.state.who = found
        if path in OPEN_PATHS:
            return await call_next(request)
        role = request.state.role
        if unsafe and role != "trader":
            if role == "read":
                return _refuse("FORBIDDEN", "this API key is read-only", "state-changing requests need a trader key")
            return _refuse(
                "UNAUTHORIZED",
                "state-changing requests need a credential, even on loopback",
                f"send a trader key or {self.token_hint} in the X-API-Key header",
            )
        if self.keys_configured and role is None:
            return _refuse("UNAUTHORIZED", "missing API key", "send the key in the X-API-Key header")
        if not limiter.allow(request.state.who or client, monotonic()):
            return _refuse(
                "RATE_LIMIT_EXCEEDED",
                "too many requests",
                f"limit {limiter.per_minute} per minute",
                headers={"Retry-After": "60"},
            )
        return await call_next(request)


# ------------------------------------------------------------------ the app

# The routes, one router per area (cockpit/api/routes_*.py), in the order of the OpenAPI document.
ROUTERS = (
    routes_market.router,
    routes_decision.router,
    routes_backtest.router,
    routes_backtest.jobs_router,
    routes_orders.router,
    routes_health.router,
)


def create_api(
    cfg: Config,
    *,
    api_keys: Iterable[str] | None = None,
    read_keys: Iterable[str] | None = None,
    token: str | None = None,
    token_hint: str = "the per-start token",
    bind_host: str = "127.0.0.1",
    auth_failures_per_minute: int = AUTH_FAILURES_PER_MINUTE,
    services: Any = None,
    now_ms: Callable[[], int] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """Build the API. ``api_keys`` may do everything, ``read_keys`` only read; ``token`` (the
    per-start token, also trader) is what local tools use when no key is configured; without any of
    them nothing can change state. ``bind_host``: the address served (which Host headers are ours).
    ``services`` runs the work that is not a plain read (collect, decisions, backtests):
    cockpit.api.services.Services by default."""
    from cockpit.api.services import Services

    if now_ms is None:
        from cockpit.domain.clock import WallClock

        now_ms = WallClock().now_ms
    credentials: list[tuple[bytes, str, str]] = []  # (secret, role, label)
    for k in api_keys or ():
        if k:
            credentials.append((k.encode(), "trader", key_label(k)))
    for k in read_keys or ():
        if k:
            credentials.append((k.encode(), "read", key_label(k)))
    keys_configured = bool(credentials)
    if token:
        credentials.append((token.encode(), "trader", "token"))
    app = FastAPI(
        title="Alpha Arena Cockpit API",
        version="1",
        description=__doc__,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    # What the routes' Depends hand out (cockpit.api.deps).
    app.state.cfg, app.state.jobs = cfg, Jobs(now_ms=now_ms)
    app.state.services = services or Services(cfg, now_ms=now_ms)
    for exc, handler in (
        (ApiError, _api_error),
        (RequestValidationError, _invalid),
        (StarletteHTTPException, _http),
        (Exception, _crash),
    ):
        app.exception_handler(exc)(handler)
    app.middleware("http")(
        Guard(
            credentials,
            keys_configured=keys_configured,
            bind_host=bind_host,
            token_hint=token_hint,
            rate_limit_per_minute=int(cfg["api"]["rate_limit_per_minute"]),
            auth_failures_per_minute=auth_failures_per_minute,
            monotonic=monotonic,
        )
    )
    for router in ROUTERS:
        app.include_router(router)
    return app
