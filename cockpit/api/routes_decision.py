"""/api/decision: generate one decision now, read the history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from cockpit.api.deps import ConfigDep, ServicesDep, check_own_market
from cockpit.api.errors import ok
from cockpit.api.schemas import SYMBOL_PATTERN, DecisionBody, Envelope, check_symbol
from cockpit.data import DataService

router = APIRouter(tags=["decision"])


@router.post("/api/decision/generate", response_model=Envelope)
def decision_generate(body: DecisionBody, cfg: ConfigDep, services: ServicesDep) -> dict[str, Any]:
    check_own_market(cfg, body.symbol, body.timeframe)
    return ok(services.generate_decision(body.timeframe, body.strategy))


@router.get("/api/decision/history", response_model=Envelope)
def decision_history(
    symbol: str | None = Query(None, pattern=SYMBOL_PATTERN), limit: int = Query(50, ge=1, le=1000)
) -> dict[str, Any]:
    if symbol is not None:
        check_symbol(symbol)
    rows = DataService().decisions(symbol=symbol, limit=limit)
    keep = (
        "id",
        "symbol",
        "timeframe",
        "timestamp",
        "action",
        "confidence",
        "reasoning",
        "regime",
        "selector",
        "fallback_reason",
        "target_exposure",
    )
    return ok([{k: r.get(k) for k in keep} for r in rows])
