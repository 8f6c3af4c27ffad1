"""FastAPI application for the seed's REST API (section 6) plus orders and health.

Responses use the seed's envelope: ``{"success": true, "data": ...}`` or
``{"success": false, "error": {"code", "message", "details"}}``. Reads go through DataService;
approvals and rejections are operator commands the engine executes (the database is the bus).
Authentication: an ``X-API-Key`` header, required whenever keys are configured (and keys are
required to bind anywhere but loopback); a per-key (or per-client) rate limit answers 429.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Literal

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cockpit.api.errors import ApiError, ok
from cockpit.api.jobs import Jobs
from cockpit.data import DataService
from cockpit.domain.market import TIMEFRAME_MS

SYMBOL_PATTERN = r"^[A-Z0-9]+/[A-Z0-9]+(:[A-Z0-9]+)?$"
SYMBOL_RE = re.compile(SYMBOL_PATTERN)
Timeframe = Literal[tuple(TIMEFRAME_MS)]  # type: ignore[valid-type]
ORDER_STATUSES = ("new", "pending_approval", "approved", "submitted", "partially_filled", "filled", "rejected",
                  "canceled", "expired", "failed")
OPEN_PATHS = {"/api/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


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
    401: {"model": ErrorEnvelope, "description": "UNAUTHORIZED (keys configured, X-API-Key missing or wrong)"},
    404: {"model": ErrorEnvelope, "description": "NOT_FOUND"},
    429: {"model": ErrorEnvelope, "description": "RATE_LIMIT_EXCEEDED"},
    500: {"model": ErrorEnvelope, "description": "INTERNAL_ERROR"},
    502: {"model": ErrorEnvelope, "description": "EXTERNAL_API_ERROR"},
}


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(..., min_length=1, max_length=500)


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


# ------------------------------------------------------------------ the app


def create_api(cfg: dict[str, Any], *, api_keys: list[str] | None = None, services: Any = None,
               now_ms: Callable[[], int] | None = None, monotonic: Callable[[], float] = time.monotonic) -> FastAPI:
    """Build the API. ``services`` runs the work that is not a plain read (collect, decisions,
    backtests): cockpit.api.services.Services by default."""
    from cockpit.api.services import Services

    if now_ms is None:
        from cockpit.engine.clock import WallClock

        now_ms = WallClock().now_ms
    keys = [k for k in (api_keys or []) if k]
    limiter = RateLimiter(int(cfg["api"]["rate_limit_per_minute"]))
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
        code = {404: "NOT_FOUND", 401: "UNAUTHORIZED", 429: "RATE_LIMIT_EXCEEDED"}.get(e.status_code, "INVALID_PARAMETER")
        if e.status_code >= 500:
            code = "INTERNAL_ERROR"
        body = {"success": False, "error": {"code": code, "message": str(e.detail), "details": None}}
        # Keep the exception's headers (e.g. Allow on 405, as RFC 9110 requires).
        return JSONResponse(body, status_code=e.status_code, headers=getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(_: Request, e: Exception) -> JSONResponse:
        err = ApiError("INTERNAL_ERROR", "internal error", type(e).__name__)
        return JSONResponse(err.body(), status_code=500)

    @app.middleware("http")
    async def _auth_and_rate(request: Request, call_next):
        path = request.url.path
        if path not in OPEN_PATHS:
            ident = request.client.host if request.client else "?"
            if keys:
                given = request.headers.get("x-api-key", "")
                if not any(hmac.compare_digest(given.encode(), k.encode()) for k in keys):
                    return JSONResponse(ApiError("UNAUTHORIZED", "missing or wrong API key",
                                                 "send the key in the X-API-Key header").body(), status_code=401)
                ident = "key:" + given[-6:]
            if not limiter.allow(ident, monotonic()):
                return JSONResponse(ApiError("RATE_LIMIT_EXCEEDED", "too many requests",
                                             f"limit {limiter.per_minute} per minute").body(), status_code=429)
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

    def _operator(request: Request) -> str:
        who = request.headers.get("x-api-key", "")
        client = request.client.host if request.client else "?"
        return f"api {client}" + (f" key …{who[-4:]}" if who else "")

    # -------------------------------------------------------------- health

    @app.get("/api/health", tags=["health"], response_model=Envelope)
    def health() -> dict[str, Any]:
        return ok(services.health())

    return app
