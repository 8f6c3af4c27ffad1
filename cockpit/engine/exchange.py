"""An exchange connection for one run outside the engine's loop (``cockpit ingest --exchange``, ``cockpit db
repair``, the TUI's repair button, the API's collect): ``sim`` starts the built-in simulator in-process."""

from __future__ import annotations

from typing import Any

from cockpit.domain.settings import Config
from cockpit.market.exchange import make_exchange


class ExchangeTimeClock:
    """The exchange's own clock (public/time), for CLI runs against OKX: no wall clock read here."""

    def __init__(self, x: Any) -> None:
        self.x = x

    def now_ms(self) -> int:
        return int(self.x.fetch_time())


def open_exchange(cfg: Config, mode: str):
    """(exchange, clock, closer) for a CLI run; ``sim`` starts the built-in simulator in-process."""
    if mode == "sim":
        from cockpit.sim import start_simulator

        handle = start_simulator(cfg["sim"])
        x = make_exchange(cfg, mode="sim", rest_url=handle.url, credentials=handle.credentials)
        return x, handle.clock, handle.stop
    x = make_exchange(cfg, mode=mode)
    return x, ExchangeTimeClock(x), lambda: None
