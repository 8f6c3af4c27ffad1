"""``cockpit`` with no subcommand: the engine headless, the engine plus the TUI, or the TUI attached.

    cockpit                     TUI + engine in background threads of this process
    cockpit --headless [--for 2m] [--log-format json]
                                engine only, one log line per event; SIGINT/SIGTERM stop cleanly, exit 0;
                                exit 3 when the engine stopped itself (the database refused writes)
    cockpit --attach            TUI over the database of an engine running elsewhere

Nothing here imports Textual; ``cockpit.ui.app`` is imported only on the TUI paths.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from cockpit.config import mode_label, secret_values
from cockpit.data.venue import VenueMismatch
from cockpit.domain.clock import WallClock
from cockpit.domain.settings import Config
from cockpit.engine.eventlog import EventLog, route_stdlib_logging
from cockpit.engine.handle import EngineHandle
from cockpit.engine.lock import EngineLocked, lock_path_for


EXIT_FATAL = 3  # the engine stopped itself (status.fatal), e.g. the database refused writes for too long


def live_phrase(cfg: Config) -> str:
    return f"TRADE LIVE {cfg['symbol']}"


def confirm_live(
    cfg: Config, args: argparse.Namespace, *, stdin: TextIO | None = None, stderr: TextIO | None = None
) -> str | None:
    """None when trading may start; otherwise the reason it may not."""
    if cfg["exchange"]["mode"] != "okx-live":
        return None
    stdin = stdin if stdin is not None else sys.stdin
    stderr = stderr if stderr is not None else sys.stderr
    if not getattr(args, "live", False):
        return "exchange.mode is okx-live: real money. Add --live to the command line to trade live."
    if not (hasattr(stdin, "isatty") and stdin.isatty()):
        return "live trading needs a typed confirmation on a terminal (stdin is not a TTY); refusing."
    phrase = live_phrase(cfg)
    stderr.write(f"You are about to trade REAL MONEY on OKX ({cfg['symbol']}).\nType exactly: {phrase}\n> ")
    stderr.flush()
    answer = stdin.readline().strip()
    if answer != phrase:
        return "confirmation did not match; not trading."
    return None


def _engine_log(cfg: Config, args: argparse.Namespace, *, headless: bool) -> EventLog:
    fmt = cfg["log"]["format"]
    stream: TextIO = sys.stdout
    if not headless:
        # The TUI owns the terminal: engine lines go to a file beside the database.
        lp = lock_path_for(cfg["database"]["url"])
        path = lp.with_name(lp.name.replace(".engine.lock", ".engine.log")) if lp else Path("cockpit-engine.log")
        path.parent.mkdir(parents=True, exist_ok=True)  # a fresh checkout has no data/ yet
        stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    log = EventLog(fmt=fmt, level=cfg["log"]["level"], stream=stream, secrets=secret_values(cfg))
    route_stdlib_logging(log, cfg["log"]["level"])
    return log


def run_main(args: argparse.Namespace, ctx) -> int:
    cfg = ctx.config
    if getattr(args, "attach", False):
        from cockpit.ui.app import run_tui

        return int(run_tui(cfg, engine=None, attach=True, live=getattr(args, "live", False)) or 0)
    refusal = confirm_live(cfg, args)
    if refusal:
        print(f"cockpit: {refusal}", file=sys.stderr)
        return 1
    headless = bool(getattr(args, "headless", False))
    api_bind = getattr(args, "api", None)
    if api_bind:
        from cockpit.api.server import ApiRefused, api_keys, is_loopback, parse_bind

        if not headless:
            print("cockpit: --api is served by the headless engine: add --headless", file=sys.stderr)
            return 2
        try:
            api_bind = parse_bind(api_bind)
            keys = api_keys(cfg)  # a key that is too short is refused now, before the engine starts
            if not is_loopback(api_bind[0]) and not keys:
                raise ApiRefused(
                    f"--api {api_bind[0]}:{api_bind[1]} is not a loopback address: set API keys in "
                    f"${cfg['api']['keys_env']} (comma-separated) first"
                )
        except ApiRefused as e:
            print(f"cockpit: {e}", file=sys.stderr)
            return 2
    log = _engine_log(cfg, args, headless=headless)
    handle = EngineHandle(cfg, log=log, db=ctx.database())
    if headless:
        return _run_headless(handle, log, run_for=getattr(args, "run_for", None), cfg=cfg, api_bind=api_bind)
    try:
        handle.start()
    except (EngineLocked, VenueMismatch) as e:
        print(f"cockpit: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        return _database_refused(e, cfg)
    try:
        from cockpit.ui.app import run_tui

        return int(run_tui(cfg, engine=handle, attach=False, live=getattr(args, "live", False)) or 0)
    finally:
        handle.stop()


def _start_api(handle: EngineHandle, log: EventLog, cfg: Config, bind: tuple[str, int]):
    """The REST API in a thread of this process, using the engine's exchange connection and clock."""
    from cockpit.api.server import ApiServer
    from cockpit.api.services import Services

    stages = handle.engine.stages if handle.engine is not None else None
    clock = stages.clock if stages is not None else None
    now_ms = (clock or WallClock()).now_ms
    services = Services(cfg, now_ms=now_ms, exchange_factory=getattr(stages, "exchange_for", None), clock=clock)
    server = ApiServer(cfg, bind[0], bind[1], services=services, now_ms=now_ms).start()
    # The per-start token is never logged: only where the operator's tools find it.
    log.info("api", url=server.url + "/api", docs=server.url + "/docs", token_file=str(server.token_file))
    return server


def _run_headless(
    handle: EngineHandle, log: EventLog, *, run_for: float | None, cfg: Config, api_bind: tuple[str, int] | None = None
) -> int:
    signals_seen: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        signals_seen.append(name)
        if len(signals_seen) > 1:
            # A second signal: the operator insists; give back the default behaviour.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        handle.request_stop()

    # Installed before the engine starts, so a signal during start-up also stops cleanly.
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            handle.start()
        except (EngineLocked, VenueMismatch) as e:
            print(f"cockpit: {e}", file=sys.stderr)
            return 1
        except Exception as e:
            return _database_refused(e, cfg)
        deadline = time.monotonic() + run_for if run_for else None
        log.info("headless", mode=mode_label(cfg), run_for_s=run_for, database=cfg["database"]["url"], pid=_pid())
        api = None
        try:
            if api_bind is not None:
                try:
                    api = _start_api(handle, log, cfg, api_bind)
                except OSError as e:
                    print(f"cockpit: --api {api_bind[0]}:{api_bind[1]}: cannot listen: {e}", file=sys.stderr)
                    return 1
            while not handle.wait(0.25):
                if deadline is not None and time.monotonic() >= deadline:
                    log.info("run_for_elapsed", seconds=run_for)
                    break
        finally:
            if signals_seen:
                log.info("signal", signal=signals_seen[0])
            if api is not None:
                api.stop()
            handle.stop()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    fatal = handle.status.fatal
    if fatal:
        print(f"cockpit: the engine stopped itself: {fatal}", file=sys.stderr)
        return EXIT_FATAL
    return 0


def _database_refused(e: Exception, cfg: Config) -> int:
    """A database that refuses writes at start-up: say so plainly (no traceback) and exit EXIT_FATAL;
    anything else is re-raised."""
    from cockpit.data.engine_store import is_database_failure
    from cockpit.db.connection import redact_url

    if not is_database_failure(e):
        raise e
    print(
        f"cockpit: the database {redact_url(cfg['database']['url'])} refuses writes ({type(e).__name__}: {e}); "
        "the engine cannot record what it does, so it does not start. Check the file's permissions, the free "
        "disk space, and that no other process holds a write lock.",
        file=sys.stderr,
    )
    return EXIT_FATAL


def _pid() -> int:
    import os

    return os.getpid()
