"""The seed's error envelope (section 6.3) and codes (section 6.4)."""

from __future__ import annotations

from typing import Any

STATUS = {
    "INVALID_PARAMETER": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "RATE_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "EXTERNAL_API_ERROR": 502,
}


class ApiError(Exception):
    def __init__(self, code: str, message: str, details: Any = None) -> None:
        if code not in STATUS:
            raise ValueError(f"unknown API error code {code!r}")
        super().__init__(message)
        self.code, self.message, self.details = code, message, details

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def body(self) -> dict[str, Any]:
        return {"success": False, "error": {"code": self.code, "message": self.message, "details": self.details}}


def ok(data: Any = None, message: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"success": True, "data": data}
    if message is not None:
        out["message"] = message
    return out
