"""The built-in OKX-compatible exchange simulator (loopback HTTP, OKX v5 REST for ccxt's okx class).

handle = start_simulator(cfg["sim"])          # background thread, 127.0.0.1, any free port
client = make_exchange(cfg, rest_url=handle.url, credentials=handle.credentials)
handle.clock.now_ms(); handle.faults.add("rate_limit", count=2); handle.stop()
"""

from cockpit.sim.clock import SimClock
from cockpit.sim.server import Credentials, SimHandle, build_market, start_simulator

__all__ = ["Credentials", "SimClock", "SimHandle", "build_market", "start_simulator"]
