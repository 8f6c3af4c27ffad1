"""What the routes get through ``Depends``: the app's config, services and jobs (set on ``app.state`` by
create_api) and who is asking (set on ``request.state`` by its guard)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from cockpit.api.errors import ApiError
from cockpit.api.jobs import Jobs
from cockpit.api.schemas import check_symbol, check_timeframe
from cockpit.domain.settings import Config


async def _config(request: Request) -> Config:
    return request.app.state.cfg


async def _services(request: Request) -> Any:
    return request.app.state.services


async def _jobs(request: Request) -> Jobs:
    return request.app.state.jobs


async def _operator(request: Request) -> str:
    """``api <client address> <key#short hash | token>``: the key itself is never recorded."""
    client = request.client.host if request.client else "?"
    who = getattr(request.state, "who", None)
    return f"api {client}" + (f" {who}" if who else "")


ConfigDep = Annotated[Config, Depends(_config)]
ServicesDep = Annotated[Any, Depends(_services)]
JobsDep = Annotated[Jobs, Depends(_jobs)]
OperatorDep = Annotated[str, Depends(_operator)]


def check_own_market(cfg: Config, symbol: str, timeframe: str) -> None:
    """A well-formed symbol and timeframe, and the symbol this engine trades (it acts on no other)."""
    check_symbol(symbol)
    check_timeframe(timeframe)
    if symbol != cfg["symbol"]:
        raise ApiError("INVALID_PARAMETER", f"this engine trades {cfg['symbol']}", "symbol must be the configured one")
