"""The simulator's HTTP server: OKX v5 REST under ``/api/v5/`` on loopback, plus ``/sim/admin/``.

Private calls are checked like OKX does: API key, passphrase, the HMAC-SHA256 signature of
``timestamp + method + path?query + body`` (base64), a timestamp within 30 s of the simulator's
clock (what ``public/time`` reports) or of the wall clock, and
the ``x-simulated-trading: 1`` header (demo trading). Faults (see ``faults.py``) are applied
before a request reaches the exchange.

WebSocket (OKX v5 ``/ws/v5/public|business|private``, demo ``?brokerId=9999`` too) is served on the
same port: a GET with ``Upgrade: websocket`` is handed to ``okx_ws.OkxWsHub`` (see there).

Admin endpoints (loopback only, no auth; tests and operators use them):
``GET /sim/admin/state``, ``GET|POST|DELETE /sim/admin/faults``, ``POST /sim/admin/clock``
(``{"speed": 3600}`` or ``{"advance_ms": 60000}``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping, cast
from urllib.parse import parse_qsl, urlsplit

from cockpit.domain.settings import SimConfig
from cockpit.sim.clock import SimClock
from cockpit.sim.exchange import SimExchange
from cockpit.sim.faults import FaultInjector
from cockpit.sim.market import DAY_MS, GeneratedMarket, Market, MarketEnded, ReplayMarket
from cockpit.sim.okx_api import ApiError, OkxApi
from cockpit.sim.okx_ws import ENDPOINTS, OkxWsHub
from cockpit.sim.websocket import WsConnection, accept_key

log = logging.getLogger("cockpit.sim")


@dataclass
class Credentials:
    api_key: str
    secret: str
    passphrase: str

    @classmethod
    def random(cls) -> "Credentials":
        return cls("sim-" + secrets.token_hex(8), secrets.token_hex(16), "sim-" + secrets.token_hex(4))


def _garble(data: Any) -> Any:
    """Valid JSON, wrong content: numbers become null or junk (what a broken proxy might send)."""
    if isinstance(data, list):
        return [_garble(x) for x in data]
    if isinstance(data, dict):
        return {k: _garble(v) for k, v in data.items()}
    if isinstance(data, str):
        try:
            float(data)
        except ValueError:
            return data
        return None if len(data) % 2 else "NaN"
    return data


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, a keep-alive client's delayed ACK held
    # every answer back ~40 ms (44 ms per call on loopback; 44 simulated seconds at 1000x).
    disable_nagle_algorithm = True
    server: "_Server"

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet unless debugging
        log.debug("%s " + fmt, self.address_string(), *args)

    def do_GET(self) -> None:
        if self.path.startswith("/ws/"):
            return self._websocket()
        self._handle("GET")

    def _websocket(self) -> None:
        """Upgrade to WebSocket and serve OKX's streams on this connection until it ends."""
        split = urlsplit(self.path)
        endpoint = split.path.rstrip("/").rsplit("/", 1)[-1]
        if split.path.rstrip("/") != f"/ws/v5/{endpoint}" or endpoint not in ENDPOINTS:
            return self._envelope("50005", f"unknown path {split.path}", [], 404)
        key = self.headers.get("Sec-WebSocket-Key")
        if "websocket" not in (self.headers.get("Upgrade") or "").lower() or not key:
            return self._send(400, b"this is a WebSocket endpoint: send Upgrade: websocket", "text/plain")
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept_key(key))
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        demo = dict(parse_qsl(split.query)).get("brokerId") == "9999"
        hub = self.server.state.ws
        assert hub is not None  # start_simulator sets it before the server takes requests
        hub.serve(WsConnection(self.connection, self.rfile), endpoint, demo)

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # ------------------------------------------------------------ plumbing

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. timed out on a slow fault)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj, separators=(",", ":")).encode())

    def _envelope(self, code: str, msg: str, data: list, status: int = 200) -> None:
        self._json(status, {"code": code, "msg": msg, "data": data})

    def _handle(self, method: str) -> None:
        sim: SimServerState = self.server.state
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        if split.path.startswith("/sim/admin/"):
            return self._admin(method, split.path[len("/sim/admin/") :], raw_body)
        if not split.path.startswith("/api/v5/"):
            return self._envelope("50005", f"unknown path {split.path}", [], 404)
        path = split.path[len("/api/v5/") :]
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        fault = sim.faults.take(path)
        if fault is not None:
            if fault.kind == "rate_limit":
                return self._envelope("50011", "Too Many Requests", [], 429)
            if fault.kind == "server_error":
                return self._send(503, b"<html>503 Service Temporarily Unavailable</html>", "text/html")
            if fault.kind == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault.kind == "slow":
                time.sleep(fault.delay_s)
            if fault.kind == "stall":
                fault.released.wait(fault.delay_s)
        api = sim.api
        key = (method, path)
        try:
            if key in api.public:
                data = api.public[key](params)
            elif key in api.private:
                self._authenticate(method, split, raw_body)
                body: Any = params
                if method == "POST":
                    try:
                        body = json.loads(raw_body or b"{}")
                    except ValueError:
                        raise ApiError("50002", "Json data format error") from None
                data = api.private[key](body)
            else:
                raise ApiError("50005", f"API endpoint not supported by the simulator: {method} {path}", 404)
        except ApiError as e:
            return self._envelope(e.code, e.msg, e.data, e.http)
        except MarketEnded as e:  # a replay past its file: say so (OKX's "service unavailable" code)
            return self._envelope("50001", f"Simulator {e}", [], 503)
        except Exception as e:  # a bug in the simulator: answer like an exchange would, and log it
            log.exception("simulator error on %s %s", method, path)
            return self._envelope("50026", f"System error: {type(e).__name__}", [], 500)
        if fault is not None and fault.kind == "malformed":
            body_bytes = json.dumps({"code": "0", "msg": "", "data": data}).encode()
            return self._send(200, body_bytes[: max(1, len(body_bytes) // 2)])
        if fault is not None and fault.kind == "garbage":
            data = _garble(data)
        if fault is not None and fault.kind == "empty":
            data = []
        self._envelope("0", "", data)

    def _authenticate(self, method: str, split, raw_body: bytes) -> None:
        sim: SimServerState = self.server.state
        h = self.headers
        key, sign, ts, phrase = (
            h.get("OK-ACCESS-KEY"),
            h.get("OK-ACCESS-SIGN"),
            h.get("OK-ACCESS-TIMESTAMP"),
            h.get("OK-ACCESS-PASSPHRASE"),
        )
        if not key:
            raise ApiError("50103", 'Request header "OK-ACCESS-KEY" cannot be empty.', 401)
        if not phrase:
            raise ApiError("50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.', 401)
        if not sign:
            raise ApiError("50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.', 401)
        if not ts:
            raise ApiError("50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.', 401)
        creds = sim.credentials
        if not hmac.compare_digest(key, creds.api_key):
            raise ApiError("50111", "Invalid OK-ACCESS-KEY.", 401)
        if not hmac.compare_digest(phrase, creds.passphrase):
            raise ApiError("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)
        try:
            sent = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            raise ApiError("50112", "Invalid OK-ACCESS-TIMESTAMP.", 401) from None
        # OKX allows 30 s against its clock. The simulator's clock is the one public/time reports (so a client
        # that adjusts to the server's time, like ccxt's adjustForTimeDifference, passes); with the
        # accelerated clock a client signing with its own wall clock passes too.
        sent_ms = sent.timestamp() * 1000
        if min(abs(sent_ms - sim.clock.now_ms()), abs(sent_ms - time.time() * 1000)) > 30_000:
            raise ApiError("50102", "Timestamp request expired.", 401)
        prehash = ts + method + split.path + (f"?{split.query}" if split.query else "") + raw_body.decode()
        want = base64.b64encode(hmac.new(creds.secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(want, sign):
            raise ApiError("50113", "Invalid Sign.", 401)
        if sim.require_simulated and h.get("x-simulated-trading") != "1":
            raise ApiError("50101", "APIKey does not match current environment.", 401)

    def _admin(self, method: str, what: str, raw: bytes) -> None:
        sim: SimServerState = self.server.state
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._json(400, {"error": "body must be JSON"})
        if what == "state" and method == "GET":
            return self._json(200, sim.summary())
        if what == "faults":
            if method == "GET":
                return self._json(200, [asdict(f) for f in sim.faults.active()])
            if method == "DELETE":
                sim.faults.clear()
                return self._json(200, {"cleared": True})
            if method == "POST":
                try:
                    f = sim.faults.add(
                        body.get("kind", ""),
                        count=int(body.get("count", 1)),
                        path=body.get("path", ""),
                        delay_s=float(body.get("delay_s", 3.0)),
                        code=str(body.get("code", "51008")),
                    )
                except (ValueError, TypeError) as e:
                    return self._json(400, {"error": str(e)})
                return self._json(200, asdict(f))
        if what == "clock" and method == "POST":
            if "speed" in body:
                sim.clock.set_speed(float(body["speed"]))
            if "advance_ms" in body:
                sim.clock.advance(int(body["advance_ms"]))
            return self._json(200, {"now": sim.clock.now_ms(), "speed": sim.clock.speed})
        return self._json(404, {"error": f"unknown admin call {method} {what}"})


@dataclass
class SimServerState:
    api: OkxApi
    clock: SimClock
    faults: FaultInjector
    credentials: Credentials
    require_simulated: bool = True
    started: float = field(default_factory=time.time)
    ws: OkxWsHub | None = None

    def summary(self) -> dict[str, Any]:
        ex = self.api.ex
        now = self.clock.now_ms()
        ended = None
        try:
            ex.advance(now)
        except MarketEnded as e:
            ended = str(e)
        with ex.lock:
            last = ex.last()
            return {
                "now": now,
                "speed": self.clock.speed,
                "last": last,
                "market_ended": ended,
                "cash": ex.cash,
                "equity": ex.equity(last),
                "open_orders": sum(o.is_open for o in ex.orders.values()),
                "orders": len(ex.orders),
                "fills": len(ex.fills),
                "positions": {m: p.pos for m, p in ex.positions.items() if p.pos},
            }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: SimServerState


class SimHandle:
    """A running simulator: its URL, the credentials it accepts, its clock, faults and exchange."""

    def __init__(self, server: _Server, thread: threading.Thread, state: SimServerState, market: Market) -> None:
        self._server = server
        self._thread = thread
        self.state = state
        self.market = market
        host, port = str(server.server_address[0]), server.server_address[1]  # AF_INET: the host is a str
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{port}/ws/v5"

    @property
    def api_key(self) -> str:
        return self.state.credentials.api_key

    @property
    def secret(self) -> str:
        return self.state.credentials.secret

    @property
    def passphrase(self) -> str:
        return self.state.credentials.passphrase

    @property
    def credentials(self) -> dict[str, str]:
        c = self.state.credentials
        return {"apiKey": c.api_key, "secret": c.secret, "password": c.passphrase}

    @property
    def clock(self) -> SimClock:
        return self.state.clock

    @property
    def faults(self) -> FaultInjector:
        return self.state.faults

    @property
    def exchange(self) -> SimExchange:
        return self.state.api.ex

    _saver: Any = None
    _state_path: str | None = None
    _state_meta: dict[str, Any] | None = None

    def enable_state_file(self, path: str, meta: dict[str, Any]) -> None:
        from cockpit.sim.state_file import PeriodicSaver

        self._state_path, self._state_meta = path, meta
        self.save_state()
        self._saver = PeriodicSaver(self.save_state).start()

    def save_state(self) -> None:
        """Write the state file now (no-op without one)."""
        if not self._state_path:
            return
        from cockpit.sim.state_file import save

        ex = self.exchange
        try:
            ex.advance(self.clock.now_ms())
        except MarketEnded:
            pass  # a replay past its end: the account stands as it was at the end
        c = self.state.credentials
        save(
            self._state_path,
            {
                **(self._state_meta or {}),
                "now_ms": self.clock.now_ms(),
                "credentials": (c.api_key, c.secret, c.passphrase),
                "exchange": ex.snapshot(),
            },
        )

    def stop(self) -> None:
        if self.state.ws is not None:
            self.state.ws.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._saver is not None:
            self._saver.stop()
            self.save_state()

    def __enter__(self) -> "SimHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _date_ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp() * 1000)


def build_market(
    cfg_sim: SimConfig, *, start_ms: int | None = None, base_step_ms: int | None = None
) -> tuple[Market, int]:
    """The market described by the ``sim:`` config section, and the clock's start time."""
    history_days = int(cfg_sim.get("history_days", 180))
    replay_csv = cfg_sim.get("replay_csv")
    if replay_csv:
        m = ReplayMarket(
            candles_csv=replay_csv, funding_csv=cfg_sim.get("funding_csv"), seed=int(cfg_sim.get("seed", 42))
        )
        if start_ms is None:
            wanted = _date_ms(cfg_sim.get("start") or "2026-01-01")
            # Start inside the file, with history_days of it behind the clock when possible.
            start_ms = (
                wanted
                if m.first_ms + history_days * DAY_MS <= wanted <= m.end_ms
                else min(m.first_ms + history_days * DAY_MS, m.end_ms)
            )
        return m, start_ms
    if start_ms is None:
        start_ms = _date_ms(cfg_sim.get("start") or "2026-01-01")
    g = GeneratedMarket(
        seed=int(cfg_sim.get("seed", 42)),
        start_ms=start_ms,
        history_days=history_days,
        start_price=float(cfg_sim.get("start_price", 65000.0)),
        step_ms=base_step_ms or 60_000,
    )
    return g, start_ms


def start_simulator(
    cfg_sim: SimConfig | Mapping[str, Any] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    credentials: Credentials | None = None,
    require_simulated_header: bool = True,
    start_ms: int | None = None,
    speed: float | None = None,
    base_step_ms: int | None = None,
    state_file: str | None = None,
    resume_after_ms: int | None = None,
    clock: str = "accelerated",
) -> SimHandle:
    """Start the simulator in a background thread and return its handle (``.stop()`` ends it).

    ``cfg_sim`` is the config's ``sim:`` section or part of it (defaults fill the rest). ``port=None`` takes
    ``sim.port`` (0 = any free port). Credentials are random unless given. With ``state_file`` an
    existing file restores the exchange (account, orders, fills, clock, credentials) and the state
    is saved there every few seconds and at stop, so a restart is the same exchange.
    ``clock="wall"`` (the standalone simulator's default): simulated time is the wall clock at speed 1 and
    the generated history runs up to now, so any OKX client works with no clock workaround; the
    accelerated clock (``sim.start``, ``sim.speed``) is the embedded default and the tests'.
    ``resume_after_ms`` (the close of the newest candle already stored from this market) keeps the
    clock from starting behind it: a restarted simulator carries on after what the database holds.
    """
    from cockpit.config import defaults
    from cockpit.sim import state_file as sf

    cfg = cast(SimConfig, {**defaults()["sim"], **(cfg_sim or {})})
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the simulator binds loopback only")
    if clock not in ("wall", "accelerated"):
        raise ValueError(f"clock: expected wall or accelerated, got {clock!r}")
    wall_ms = None
    if clock == "wall":
        if cfg.get("replay_csv"):
            raise ValueError(
                "the wall clock needs a generated market (a replay has its own timeline): "
                "use --clock accelerated with --replay"
            )
        wall_ms = int(time.time() * 1000)
        speed = 1.0
        if start_ms is None:
            start_ms = wall_ms
    saved = sf.load(state_file) if state_file else None
    if saved is not None:
        if saved["market"] != sf.market_key(cfg):
            raise sf.StateMismatch(
                f"{state_file} was written for another market ({saved['market']}); "
                "use the same seed/replay settings or another state file"
            )
        start_ms, base_step_ms = saved["start_ms"], saved["base_step_ms"]
        credentials = credentials or Credentials(*saved["credentials"])
    market, t0 = build_market(cfg, start_ms=start_ms, base_step_ms=base_step_ms)
    # The market is built from its configured start (same prices as before); only the clock moves on.
    t_now = max(t0, resume_after_ms or t0) if saved is None else t0
    sim_clock = SimClock(t_now, float(cfg["speed"] if speed is None else speed))
    ex = SimExchange(market, start_ms=t_now, initial_balance=float(cfg["initial_balance"]))
    if saved is not None:
        ex.restore(saved["exchange"])
        sim_clock.set(max(saved["now_ms"], resume_after_ms or 0, wall_ms or 0))
    if wall_ms is not None:
        # Building the market took a moment (generating the history up to now): the wall clock reads now,
        # not the time the build began (an outside bot measured public/time ~0.8 s behind its own clock).
        sim_clock.set(max(sim_clock.now_ms(), int(time.time() * 1000)))
    faults = FaultInjector()
    api = OkxApi(ex, sim_clock)

    def reject_next() -> str | None:
        f = faults.take("trade/order", order=True)
        return f.code if f else None

    api.reject_next = reject_next
    state = SimServerState(api, sim_clock, faults, credentials or Credentials.random(), require_simulated_header)
    state.ws = OkxWsHub(api, faults, lambda: state.credentials, require_simulated_header)
    server = _Server((host, int(cfg["port"] if port is None else port)), _Handler)
    server.state = state
    thread = threading.Thread(target=server.serve_forever, name="cockpit-sim", daemon=True)
    thread.start()
    handle = SimHandle(server, thread, state, market)
    if state_file:
        meta = {"market": sf.market_key(cfg), "start_ms": t0, "base_step_ms": base_step_ms}
        handle.enable_state_file(state_file, meta)
    return handle
