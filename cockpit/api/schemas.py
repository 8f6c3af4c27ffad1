"""The API's request bodies, response envelopes and the checks and formats its routes share."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from cockpit.api.errors import ApiError
from cockpit.domain.market import TIMEFRAME_MS

SYMBOL_PATTERN = r"^[A-Z0-9]+/[A-Z0-9]+(:[A-Z0-9]+)?$"
SYMBOL_RE = re.compile(SYMBOL_PATTERN)
if TYPE_CHECKING:
    Timeframe = str  # what the type checker can know of the Literal below, built at run time
else:  # the timeframes TIMEFRAME_MS knows, which FastAPI validates and lists in the schema
    Timeframe = Literal[tuple(TIMEFRAME_MS)]
# Written out for the type checker and FastAPI's schema; tests/api/test_api_schema.py keeps it equal to the
# domain's OrderStatus.
OrderStatus = Literal[
    "new",
    "pending_approval",
    "approved",
    "submitted",
    "partially_filled",
    "filled",
    "rejected",
    "canceled",
    "expired",
    "failed",
]
ORDER_STATUSES: tuple[str, ...] = get_args(OrderStatus)


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
    401: {
        "model": ErrorEnvelope,
        "description": "UNAUTHORIZED (X-API-Key missing or wrong: a key, or for a POST "
        "a trader key or the per-start token)",
    },
    403: {"model": ErrorEnvelope, "description": "FORBIDDEN (foreign Host or Origin, or a read-only key on a POST)"},
    404: {"model": ErrorEnvelope, "description": "NOT_FOUND"},
    415: {
        "model": ErrorEnvelope,
        "description": "UNSUPPORTED_MEDIA_TYPE (a POST without Content-Type: application/json)",
    },
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


def trade_payload(body: BaseModel) -> dict[str, Any] | None:
    return {k: v for k, v in body.model_dump().items() if v not in (None, "")} or None


# ------------------------------------------------------------------ helpers


def check_symbol(symbol: str) -> str:
    if not SYMBOL_RE.match(symbol or ""):
        raise ApiError("INVALID_PARAMETER", "Invalid symbol format", "Symbol must be in format XXX/YYY:ZZZ")
    return symbol


def check_timeframe(tf: str) -> str:
    if tf not in TIMEFRAME_MS:
        raise ApiError("INVALID_PARAMETER", f"Invalid timeframe {tf!r}", f"allowed: {', '.join(TIMEFRAME_MS)}")
    return tf


def iso(ms: int | None) -> str | None:
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
        raise ApiError(
            "INVALID_PARAMETER", f"Invalid {field}", "expected ISO 8601, e.g. 2024-01-01T00:00:00Z"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


PERCENT_FIELDS = ("total_return", "max_drawdown", "win_rate")


def percent(row: dict[str, Any]) -> dict[str, Any]:
    """The seed's API states returns, drawdowns and win rates in percent (15.5 = 15.5 %);
    the database stores fractions."""
    out = dict(row)
    for k in PERCENT_FIELDS:
        if out.get(k) is not None:
            out[k] = float(out[k]) * 100.0
    return out
