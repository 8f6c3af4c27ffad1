"""/api/health: open to all; equity and position only with a credential."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from cockpit.api.deps import ServicesDep
from cockpit.api.errors import ok
from cockpit.api.schemas import Envelope

HIDDEN_WITHOUT_KEY = ("equity", "position")  # heartbeat fields /api/health shows only with a credential

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=Envelope)
def health(request: Request, services: ServicesDep) -> dict[str, Any]:
    data = services.health()
    if getattr(request.state, "role", None) is None:  # no credential: nothing about the account
        beat = data.get("engine_heartbeat")
        if isinstance(beat, dict):
            data["engine_heartbeat"] = {k: v for k, v in beat.items() if k not in HIDDEN_WITHOUT_KEY}
        data["hidden"] = f"{' and '.join(HIDDEN_WITHOUT_KEY)}: send an API key in the X-API-Key header"
    return ok(data)
