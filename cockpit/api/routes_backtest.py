"""/api/backtest (configs, runs as background jobs, results) and /api/jobs (polling a job)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query

from cockpit.api.deps import JobsDep, ServicesDep
from cockpit.api.errors import ApiError, ok
from cockpit.api.schemas import BacktestCreateBody, Envelope, check_symbol, check_timeframe, parse_time, percent
from cockpit.data import DataService

router = APIRouter(tags=["backtest"])
jobs_router = APIRouter(tags=["jobs"])


@router.post("/api/backtest/create", response_model=Envelope)
def backtest_create(body: BacktestCreateBody, services: ServicesDep) -> dict[str, Any]:
    check_symbol(body.symbol)
    check_timeframe(body.timeframe)
    start, end = parse_time(body.start_time, "start_time"), parse_time(body.end_time, "end_time")
    if end <= start:
        raise ApiError("INVALID_PARAMETER", "end_time must be after start_time")
    config_id = services.create_backtest(body.model_dump(), start, end)
    return ok({"config_id": config_id, "message": "Backtest configuration created"})


@router.post("/api/backtest/run/{config_id}", response_model=Envelope)
def backtest_run(services: ServicesDep, jobs: JobsDep, config_id: int = Path(..., ge=1, le=2**62)) -> dict[str, Any]:
    if DataService().backtest_config(config_id) is None:
        raise ApiError("NOT_FOUND", f"backtest config {config_id} not found")
    job = jobs.submit("backtest", lambda j: services.run_backtest(config_id, j), config_id=config_id)
    return ok({"job_id": job["job_id"], "status": job["status"]}, message="Backtest started")


@router.get("/api/backtest/result/{result_id}", response_model=Envelope)
def backtest_result(result_id: int = Path(..., ge=1, le=2**62)) -> dict[str, Any]:
    r = DataService().backtest_result(result_id)
    if r is None:
        raise ApiError("NOT_FOUND", f"backtest result {result_id} not found")
    return ok(percent(r))


@router.get("/api/backtest/list", response_model=Envelope)
def backtest_list(limit: int = Query(20, ge=1, le=1000)) -> dict[str, Any]:
    rows = DataService().backtest_results(limit=limit)
    return ok(
        [
            percent(
                {
                    "id": r["id"],
                    "config_id": r["config_id"],
                    "name": r["name"],
                    "symbol": r["symbol"],
                    "strategy": r["strategy"],
                    "timeframe": r["timeframe"],
                    "total_return": r["total_return"],
                    "max_drawdown": r["max_drawdown"],
                    "sharpe_ratio": r["sharpe_ratio"],
                    "total_trades": r["total_trades"],
                    "created_at": r["created_at"],
                }
            )
            for r in rows
        ]
    )


@jobs_router.get("/api/jobs/{job_id}", response_model=Envelope)
def job_status(jobs: JobsDep, job_id: int = Path(..., ge=1, le=2**62)) -> dict[str, Any]:
    job = jobs.get(job_id)
    if job is None:
        raise ApiError("NOT_FOUND", f"job {job_id} not found")
    return ok(job)
