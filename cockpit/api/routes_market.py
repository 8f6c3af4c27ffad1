"""/api/market: candles, collection (a background job), coverage."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from cockpit.api.deps import ConfigDep, JobsDep, ServicesDep, check_own_market
from cockpit.api.errors import ok
from cockpit.api.schemas import SYMBOL_PATTERN, CollectBody, Envelope, Timeframe, check_symbol, check_timeframe, iso
from cockpit.data import DataService

router = APIRouter(tags=["market"])


@router.get("/api/market/latest", response_model=Envelope)
def market_latest(
    symbol: str = Query(..., examples=["BTC/USDT:USDT"], pattern=SYMBOL_PATTERN),
    timeframe: Timeframe = "1h",
    limit: int = Query(100, ge=1, le=5000),
) -> dict[str, Any]:
    check_symbol(symbol)
    check_timeframe(timeframe)
    df = DataService().candles(symbol, timeframe, limit=limit)
    rows = [
        {"timestamp": int(t), "open": o, "high": h, "low": l, "close": c, "volume": v}
        for t, o, h, l, c, v in zip(
            df["timestamp"].tolist(),
            df["open"].tolist(),
            df["high"].tolist(),
            df["low"].tolist(),
            df["close"].tolist(),
            df["volume"].tolist(),
        )
    ]
    return ok(rows)


@router.post("/api/market/collect", response_model=Envelope)
def market_collect(body: CollectBody, cfg: ConfigDep, services: ServicesDep, jobs: JobsDep) -> dict[str, Any]:
    check_own_market(cfg, body.symbol, body.timeframe)
    job = jobs.submit(
        "collect",
        lambda j: services.collect(body.timeframe, update_only=body.update_only),
        symbol=body.symbol,
        timeframe=body.timeframe,
    )
    return ok({"job_id": job["job_id"], "status": job["status"]}, message="Data collection started")


@router.get("/api/market/stats", response_model=Envelope)
def market_stats() -> dict[str, Any]:
    tables = [
        {
            "symbol": r["symbol"],
            "timeframe": r["timeframe"],
            "count": r["rows"],
            "start_time": iso(r["first"]),
            "end_time": iso(r["last"]),
            "gaps": r["gaps"],
        }
        for r in DataService().coverage()
    ]
    return ok({"tables": tables})
