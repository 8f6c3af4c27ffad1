"""/api/orders and /api/position: listing orders; approvals, rejections and trade management as operator
commands the engine executes (the database is the bus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query

from cockpit.api.deps import OperatorDep, ServicesDep
from cockpit.api.errors import ApiError, ok
from cockpit.api.schemas import ORDER_STATUSES, Envelope, NoteBody, OrderStatus, PriceBody, RejectBody, trade_payload
from cockpit.data import DataService

router = APIRouter(tags=["orders"])


@router.get("/api/orders", response_model=Envelope)
def orders(status: OrderStatus | None = None, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
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


@router.post("/api/orders/{order_id}/approve", response_model=Envelope)
def approve(services: ServicesDep, operator: OperatorDep, order_id: int = Path(..., ge=1, le=2**62)) -> dict[str, Any]:
    _pending(order_id)
    cid = services.command("approve", order_id, None, operator)
    return ok({"order_id": order_id, "command_id": cid}, message="approval queued for the engine")


@router.post("/api/orders/{order_id}/reject", response_model=Envelope)
def reject(
    body: RejectBody, services: ServicesDep, operator: OperatorDep, order_id: int = Path(..., ge=1, le=2**62)
) -> dict[str, Any]:
    _pending(order_id)
    cid = services.command("reject", order_id, {"reason": body.reason}, operator)
    return ok({"order_id": order_id, "command_id": cid}, message="rejection queued for the engine")


# Trade management (cockpit.execution.trade_actions): operator commands the engine executes in order;
# the engine's risk check decides (a long's stop above the mark is refused there, with the reason).
@router.post("/api/position/close", response_model=Envelope)
def position_close(body: NoteBody, services: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    cid = services.command("close_position", None, trade_payload(body), operator)
    return ok({"command_id": cid}, message="close of the position queued for the engine")


@router.post("/api/position/stop", response_model=Envelope)
def position_stop(body: PriceBody, services: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    cid = services.command("set_stop_loss", None, trade_payload(body), operator)
    return ok({"command_id": cid}, message="stop-loss move queued for the engine")


@router.post("/api/position/tp", response_model=Envelope)
def position_tp(body: PriceBody, services: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    cid = services.command("set_take_profit", None, trade_payload(body), operator)
    return ok({"command_id": cid}, message="take-profit move queued for the engine")


@router.post("/api/orders/cancel-all", response_model=Envelope)
def orders_cancel_all(body: NoteBody, services: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    cid = services.command("cancel_all", None, trade_payload(body), operator)
    return ok({"command_id": cid}, message="cancel of every open order queued for the engine")
