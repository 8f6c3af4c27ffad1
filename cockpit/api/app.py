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
import re
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Literal
from urllib.parse import urlsplit

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cockpit.api.errors import ApiError, ok
from cockpit.api.jobs import Jobs
from cockpit.data import DataService
from cockpit.domain.market import TIMEFRAME_MS
from cockpit.domain.settings import Config

SYMBOL_PATTERN = r"^[A-Z0-9]+/[A-Z0-9]+(:[A-Z0-9]+)?$"
SYMBOL_RE = re.compile(SYMBOL_PATTERN)
Timeframe = Literal[tuple(TIMEFRAME_MS)]  # type: ignore[valid-type]
ORDER_STATUSES = ("new", "pending_approval", "approved", "submitted", "partially_filled", "filled", "rejected",
                  "canceled", "expired", "failed")
OPEN_PATHS = {"/api/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
AUTH_FAILURES_PER_MINUTE = 10  # wrong keys per client address before every request from it gets 429
HIDDEN_WITHOUT_KEY = ("equity", "position")  # heartbeat fields /api/health shows only with a credential


# ------------------------------------------------------------------ request bodies


class CollectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str = Field(..., examples=["BTC/USDT:USDT"], pattern=SYMBOL_PATTERN)
    timeframe: Timeframe = Field("1h", examples=["1h"])
    update_only: bool = True


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str = Field(..., examples=["BTC/USDT:USDT"], pattern=SYMBOL_PATTERN)
    timeframe: Timeframe = Field("1h", examples=["1h"])
    strategy: str = Field("balanced", description="'balanced' (all enabled strategies) or one strategy name")


class BacktestCreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=200)
    symbol: str = Field(..., examples=["BTC/USDT:USDT"], pattern=SYMBOL_PATTERN)
    timeframe: Timeframe = Field("1h")
    start_time: str = Field(..., examples=["2024-01-01T00:00:00Z"])
    end_time: str = Field(..., examples=["2024-12-31T23:59:59Z"])
    initial_capital: float = Field(10000.0, gt=0, lt=1e12)
    commission_rate: float = Field(0.0005, ge=0, le=0.1)
    strategy: str = Field("ema_trend", description="a strategy name, or 'portfolio'")
    strategy_params: dict[str, float | int | str | bool] = Field(default_factory=dict)
    slippage_bps: float = Field(2.0, ge=0, le=1000)
    leverage: float = Field(1.0, ge=1, le=125)


class ErrorDetail(BaseModel):
    code: str = Field(..., examples=["INVALID_PARAMETER"])
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    """The seed's error format (section 6.3)."""

    success: bool = False
    error: ErrorDetail


class Envelope(BaseModel):
    """The seed's success format: ``{"success": true, "data": ...}`` (and a message on some calls)."""

    success: bool = True
    data: Any = None
    message: str | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorEnvelope, "description": "INVALID_PARAMETER"},
    401: {"model": ErrorEnvelope, "description": "UNAUTHORIZED (X-API-Key missing or wrong: a key, or for a POST "
                                                 "a trader key or the per-start token)"},
    403: {"model": ErrorEnvelope, "description": "FORBIDDEN (foreign Host or Origin, or a read-only key on a POST)"},
    404: {"model": ErrorEnvelope, "description": "NOT_FOUND"},
    415: {"model": ErrorEnvelope, "description": "UNSUPPORTED_MEDIA_TYPE (a POST without Content-Type: "
                                                 "application/json)"},
    429: {"model": ErrorEnvelope, "description": "RATE_LIMIT_EXCEEDED"},
    500: {"model": ErrorEnvelope, "description": "INTERNAL_ERROR"},
    502: {"model": ErrorEnvelope, "description": "EXTERNAL_API_ERROR"},
}


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(..., min_length=1, max_length=500)


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)
    # The position the caller decided on: the engine does nothing when it is no longer that side.
    side: Literal["long", "short"] | None = None


class PriceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    price: float = Field(..., gt=0, allow_inf_nan=False, examples=[65000.0])
    side: Literal["long", "short"] | None = None


def _trade_payload(body: BaseModel) -> dict[str, Any] | None:
    return {k: v for k, v in body.model_dump().items() if v not in (None, "")} or None


# ------------------------------------------------------------------ helpers


def _check_symbol(symbol: str) -> str:
    if not SYMBOL_RE.match(symbol or ""):
        raise ApiError("INVALID_PARAMETER", "Invalid symbol format", "Symbol must be in format XXX/YYY:ZZZ")
    return symbol


def _check_timeframe(tf: str) -> str:
    if tf not in TIMEFRAME_MS:
        raise ApiError("INVALID_PARAMETER", f"Invalid timeframe {tf!r}", f"allowed: {', '.join(TIMEFRAME_MS)}")
    return tf


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def parse_time(text: str, field: str) -> int:
    """ISO 8601 (``2024-01-01T00:00:00Z``), a date, or epoch milliseconds -> epoch ms."""
    t = str(text).strip()
    if re.fullmatch(r"\d{10,14}", t):
        return int(t)
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError("INVALID_PARAMETER", f"Invalid {field}", "expected ISO 8601, e.g. 2024-01-01T00:00:00Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


PERCENT_FIELDS = ("total_return", "max_drawdown", "win_rate")


def _percent(row: dict[str, Any]) -> dict[str, Any]:
    """The seed's API states returns, drawdowns and win rates in percent (15.5 = 15.5 %);
    the database stores fractions."""
    out = dict(row)
    for k in PERCENT_FIELDS:
        if out.get(k) is not None:
            out[k] = float(out[k]) * 100.0
    return out


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
            return bool(q) and len(q) >= self.per_minute


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


# ------------------------------------------------------------------ the app


def create_api(cfg: Config, *, api_keys: Iterable[str] | None = None, read_keys: Iterable[str] | None = None,
               token: str | None = None, token_hint: str = "the per-start token", bind_host: str = "127.0.0.1",
               auth_failures_per_minute: int = AUTH_FAILURES_PER_MINUTE, services: Any = None,
               now_ms: Callable[[], int] | None = None, monotonic: Callable[[], float] = time.monotonic) -> FastAPI:
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
    hosts = allowed_hosts(bind_host)
    limiter = RateLimiter(int(cfg["api"]["rate_limit_per_minute"]))
    failures = RateLimiter(auth_failures_per_minute)
    jobs = Jobs(now_ms=now_ms)
    services = services or Services(cfg, now_ms=now_ms)
    app = FastAPI(title="Alpha Arena Cockpit API", version="1", description=__doc__,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None, responses=ERROR_RESPONSES)
    app.state.jobs = jobs
    app.state.services = services

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, e: ApiError) -> JSONResponse:
        return JSONResponse(e.body(), status_code=e.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        errs = [{"loc": list(x.get("loc", ())), "msg": x.get("msg")} for x in e.errors()]
        first = errs[0] if errs else {"loc": [], "msg": "invalid request"}
        field = str(first["loc"][-1]) if first["loc"] else ""
        if field == "symbol":  # the seed's own wording (section 6.3)
            err = ApiError("INVALID_PARAMETER", "Invalid symbol format", "Symbol must be in format XXX/YYY:ZZZ")
        elif field == "timeframe":
            err = ApiError("INVALID_PARAMETER", "Invalid timeframe", f"allowed: {', '.join(TIMEFRAME_MS)}")
        else:
            err = ApiError("INVALID_PARAMETER", f"{'.'.join(map(str, first['loc'][1:])) or 'request'}: {first['msg']}",
                           errs)
        return JSONResponse(err.body(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 415: "UNSUPPORTED_MEDIA_TYPE",
                429: "RATE_LIMIT_EXCEEDED"}.get(e.status_code, "INVALID_PARAMETER")
        if e.status_code >= 500:
            code = "INTERNAL_ERROR"
        body = {"success": False, "error": {"code": code, "message": str(e.detail), "details": None}}
        # Keep the exception's headers (e.g. Allow on 405, as RFC 9110 requires).
        return JSONResponse(body, status_code=e.status_code, headers=getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(_: Request, e: Exception) -> JSONResponse:
        err = ApiError("INTERNAL_ERROR", "internal error", type(e).__name__)
        return JSONResponse(err.body(), status_code=500)

    def _refuse(code: str, message: str, details: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
        err = ApiError(code, message, details)
        return JSONResponse(err.body(), status_code=err.status, headers=headers)

    def _credential(given: str) -> tuple[str, str] | None:
        """(role, label) of the key or token sent; every credential is compared (constant time each)."""
        found = None
        for secret, role, label in credentials:
            if hmac.compare_digest(given.encode(), secret) and found is None:
                found = (role, label)
        return found

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        path = request.url.path
        client = request.client.host if request.client else "?"
        host = request.headers.get("host", "")
        name = _host_port(host, None)
        if name is None or (hosts is not None and name[0].lower() not in hosts):
            return _refuse("FORBIDDEN", "Host header is not this server's address",
                           f"allowed: {', '.join(sorted(hosts or ()))}" if hosts else None)
        origin = request.headers.get("origin")
        if origin is not None and not same_origin(origin, host):
            return _refuse("FORBIDDEN", "cross-origin request refused", "the API answers only its own origin")
        unsafe = request.method.upper() not in SAFE_METHODS
        if unsafe:
            media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != "application/json":
                return _refuse("UNSUPPORTED_MEDIA_TYPE", "state-changing requests must be JSON",
                               "send Content-Type: application/json")
        given = request.headers.get("x-api-key")
        request.state.role, request.state.who = None, None
        if given is not None or path not in OPEN_PATHS:
            if failures.over(client, monotonic()):
                return _refuse("RATE_LIMIT_EXCEEDED", "too many failed authentications from this address",
                               f"limit {failures.per_minute} per minute", headers={"Retry-After": "60"})
        if given is not None:
            found = _credential(given)
            if found is None:
                failures.allow(client, monotonic())  # records the failure (not over the limit: checked above)
                return _refuse("UNAUTHORIZED", "wrong API key", "send a configured key or the per-start token "
                               "in the X-API-Key header")
            request.state.role, request.state.who = found
        if path in OPEN_PATHS:
            return await call_next(request)
        role = request.state.role
        if unsafe and role != "trader":
            if role == "read":
                return _refuse("FORBIDDEN", "this API key is read-only", "state-changing requests need a trader key")
            return _refuse("UNAUTHORIZED", "state-changing requests need a credential, even on loopback",
                           f"send a trader key or {token_hint} in the X-API-Key header")
        if keys_configured and role is None:
            return _refuse("UNAUTHORIZED", "missing API key", "send the key in the X-API-Key header")
        if not limiter.allow(request.state.who or client, monotonic()):
            return _refuse("RATE_LIMIT_EXCEEDED", "too many requests", f"limit {limiter.per_minute} per minute",
                           headers={"Retry-After": "60"})
        return await call_next(request)

    # -------------------------------------------------------------- market

    @app.get("/api/market/latest", tags=["market"], response_model=Envelope)
    def market_latest(symbol: str = Query(..., examples=["BTC/USDT:USDT"], pattern=SYMBOL_PATTERN),
                      timeframe: Timeframe = "1h",
                      limit: int = Query(100, ge=1, le=5000)) -> dict[str, Any]:
        _check_symbol(symbol)
        _check_timeframe(timeframe)
        df = DataService().candles(symbol, timeframe, limit=limit)
        rows = [{"timestamp": int(t), "open": o, "high": h, "low": l, "close": c, "volume": v}
                for t, o, h, l, c, v in zip(df["timestamp"].tolist(), df["open"].tolist(), df["high"].tolist(),
                                            df["low"].tolist(), df["close"].tolist(), df["volume"].tolist())]
        return ok(rows)

    def _check_own_market(symbol: str, timeframe: str) -> None:
        """A well-formed symbol and timeframe, and the symbol this engine trades (it acts on no other)."""
        _check_symbol(symbol)
        _check_timeframe(timeframe)
        if symbol != cfg["symbol"]:
            raise ApiError("INVALID_PARAMETER", f"this engine trades {cfg['symbol']}", "symbol must be the configured one")

    @app.post("/api/market/collect", tags=["market"], response_model=Envelope)
    def market_collect(body: CollectBody) -> dict[str, Any]:
        _check_own_market(body.symbol, body.timeframe)
        job = jobs.submit("collect", lambda j: services.collect(body.timeframe, update_only=body.update_only),
                          symbol=body.symbol, timeframe=body.timeframe)
        return ok({"job_id": job["job_id"], "status": job["status"]}, message="Data collection started")

    @app.get("/api/market/stats", tags=["market"], response_model=Envelope)
    def market_stats() -> dict[str, Any]:
        tables = [{"symbol": r["symbol"], "timeframe": r["timeframe"], "count": r["rows"],
                   "start_time": _iso(r["first"]), "end_time": _iso(r["last"]), "gaps": r["gaps"]}
                  for r in DataService().coverage()]
        return ok({"tables": tables})

    # -------------------------------------------------------------- decisions

    @app.post("/api/decision/generate", tags=["decision"], response_model=Envelope)
    def decision_generate(body: DecisionBody) -> dict[str, Any]:
        _check_own_market(body.symbol, body.timeframe)
        return ok(services.generate_decision(body.timeframe, body.strategy))

    @app.get("/api/decision/history", tags=["decision"], response_model=Envelope)
    def decision_history(symbol: str | None = Query(None, pattern=SYMBOL_PATTERN), limit: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
        if symbol is not None:
            _check_symbol(symbol)
        rows = DataService().decisions(symbol=symbol, limit=limit)
        keep = ("id", "symbol", "timeframe", "timestamp", "action", "confidence", "reasoning", "regime", "selector",
                "fallback_reason", "target_exposure")
        return ok([{k: r.get(k) for k in keep} for r in rows])

    # -------------------------------------------------------------- backtests

    @app.post("/api/backtest/create", tags=["backtest"], response_model=Envelope)
    def backtest_create(body: BacktestCreateBody) -> dict[str, Any]:
        _check_symbol(body.symbol)
        _check_timeframe(body.timeframe)
        start, end = parse_time(body.start_time, "start_time"), parse_time(body.end_time, "end_time")
        if end <= start:
            raise ApiError("INVALID_PARAMETER", "end_time must be after start_time")
        config_id = services.create_backtest(body.model_dump(), start, end)
        return ok({"config_id": config_id, "message": "Backtest configuration created"})

    @app.post("/api/backtest/run/{config_id}", tags=["backtest"], response_model=Envelope)
    def backtest_run(config_id: int = Path(..., ge=1, le=2**62)) -> dict[str, Any]:
        if DataService().backtest_config(config_id) is None:
            raise ApiError("NOT_FOUND", f"backtest config {config_id} not found")
        job = jobs.submit("backtest", lambda j: services.run_backtest(config_id, j), config_id=config_id)
        return ok({"job_id": job["job_id"], "status": job["status"]}, message="Backtest started")

    @app.get("/api/backtest/result/{result_id}", tags=["backtest"], response_model=Envelope)
    def backtest_result(result_id: int = Path(..., ge=1, le=2**62)) -> dict[str, Any]:
        r = DataService().backtest_result(result_id)
        if r is None:
            raise ApiError("NOT_FOUND", f"backtest result {result_id} not found")
        return ok(_percent(r))

    @app.get("/api/backtest/list", tags=["backtest"], response_model=Envelope)
    def backtest_list(limit: int = Query(20, ge=1, le=1000)) -> dict[str, Any]:
        rows = DataService().backtest_results(limit=limit)
        return ok([_percent({"id": r["id"], "config_id": r["config_id"], "name": r["name"], "symbol": r["symbol"],
                             "strategy": r["strategy"], "timeframe": r["timeframe"], "total_return": r["total_return"],
                             "max_drawdown": r["max_drawdown"], "sharpe_ratio": r["sharpe_ratio"],
                             "total_trades": r["total_trades"], "created_at": r["created_at"]}) for r in rows])

    @app.get("/api/jobs/{job_id}", tags=["jobs"], response_model=Envelope)
    def job_status(job_id: int = Path(..., ge=1, le=2**62)) -> dict[str, Any]:
        job = jobs.get(job_id)
        if job is None:
            raise ApiError("NOT_FOUND", f"job {job_id} not found")
        return ok(job)

    # -------------------------------------------------------------- orders

    @app.get("/api/orders", tags=["orders"], response_model=Envelope)
    def orders(status: Literal[ORDER_STATUSES] | None = None, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        if status is not None and status not in ORDER_STATUSES:
            raise ApiError("INVALID_PARAMETER", f"unknown status {status!r}", f"allowed: {', '.join(ORDER_STATUSES)}")
        return ok(DataService().orders(status=status, limit=limit))

    def _pending(order_id: int) -> dict[str, Any]:
        o = DataService().order(order_id)
        if o is None:
            raise ApiError("NOT_FOUND", f"order {order_id} not found")
        if o["status"] != "pending_approval":
            raise ApiError("INVALID_PARAMETER", f"order {order_id} is {o['status']}, not pending approval")
        return o

    @app.post("/api/orders/{order_id}/approve", tags=["orders"], response_model=Envelope)
    def approve(request: Request, order_id: int = Path(..., ge=1, le=2**62)) -> dict[str, Any]:
        _pending(order_id)
        cid = services.command("approve", order_id, None, _operator(request))
        return ok({"order_id": order_id, "command_id": cid}, message="approval queued for the engine")

    @app.post("/api/orders/{order_id}/reject", tags=["orders"], response_model=Envelope)
    def reject(request: Request, body: RejectBody, order_id: int = Path(..., ge=1, le=2**62)) -> dict[str, Any]:
        _pending(order_id)
        cid = services.command("reject", order_id, {"reason": body.reason}, _operator(request))
        return ok({"order_id": order_id, "command_id": cid}, message="rejection queued for the engine")

    # Trade management (cockpit.execution.trade_actions): operator commands the engine executes in order;
    # the engine's risk check decides (a long's stop above the mark is refused there, with the reason).
    @app.post("/api/position/close", tags=["orders"], response_model=Envelope)
    def position_close(request: Request, body: NoteBody) -> dict[str, Any]:
        cid = services.command("close_position", None, _trade_payload(body), _operator(request))
        return ok({"command_id": cid}, message="close of the position queued for the engine")

    @app.post("/api/position/stop", tags=["orders"], response_model=Envelope)
    def position_stop(request: Request, body: PriceBody) -> dict[str, Any]:
        cid = services.command("set_stop_loss", None, _trade_payload(body), _operator(request))
        return ok({"command_id": cid}, message="stop-loss move queued for the engine")

    @app.post("/api/position/tp", tags=["orders"], response_model=Envelope)
    def position_tp(request: Request, body: PriceBody) -> dict[str, Any]:
        cid = services.command("set_take_profit", None, _trade_payload(body), _operator(request))
        return ok({"command_id": cid}, message="take-profit move queued for the engine")

    @app.post("/api/orders/cancel-all", tags=["orders"], response_model=Envelope)
    def orders_cancel_all(request: Request, body: NoteBody) -> dict[str, Any]:
        cid = services.command("cancel_all", None, _trade_payload(body), _operator(request))
        return ok({"command_id": cid}, message="cancel of every open order queued for the engine")

    def _operator(request: Request) -> str:
        """``api <client address> <key#short hash | token>``: the key itself is never recorded."""
        client = request.client.host if request.client else "?"
        who = getattr(request.state, "who", None)
        return f"api {client}" + (f" {who}" if who else "")

    # -------------------------------------------------------------- health

    @app.get("/api/health", tags=["health"], response_model=Envelope)
    def health(request: Request) -> dict[str, Any]:
        data = services.health()
        if getattr(request.state, "role", None) is None:  # no credential: nothing about the account
            beat = data.get("engine_heartbeat")
            if isinstance(beat, dict):
                data["engine_heartbeat"] = {k: v for k, v in beat.items() if k not in HIDDEN_WITHOUT_KEY}
            data["hidden"] = f"{' and '.join(HIDDEN_WITHOUT_KEY)}: send an API key in the X-API-Key header"
        return ok(data)

    return app
