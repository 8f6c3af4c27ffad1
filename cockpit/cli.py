"""Command-line entry point: ``cockpit [--headless|--attach] [subcommand]``.

Subcommands live in the surface package ``cockpit.commands`` (one module per subcommand group), each module in
``COMMAND_MODULES`` exposing
``register(subparsers)``; a handler is called as ``handler(args, ctx)`` and returns an exit code.
Nothing here imports Textual: the TUI is imported only when the TUI actually starts.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from typing import Any, Callable

from cockpit import __version__
from cockpit.config import ConfigError, load_config
from cockpit.domain.settings import Config

COMMAND_MODULES = [
    "cockpit.commands.db",  # db migrate | stats | repair | copy
    "cockpit.commands.ingest",  # ingest
    "cockpit.commands.sim",  # sim
    "cockpit.commands.strategies",  # strategies
    "cockpit.commands.backtest",  # backtest, sweep
    "cockpit.commands.orders",  # orders list | approve | reject | cancel, kill
    "cockpit.commands.position",  # position show | close | stop | tp; orders cancel-all
    "cockpit.commands.llm",  # llm ...
    "cockpit.commands.train",  # train ...
    "cockpit.commands.engine",  # engine status
    "cockpit.commands.notify",  # notify test
    "cockpit.commands.serve",  # serve-ssh, serve-web
]


class Context:
    """What a subcommand needs, created lazily: the validated config and an open, migrated database."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._cfg: Config | None = None
        self._db: Any = None  # the open peewee.Database (the command-line surface does not import Peewee)

    @property
    def config(self) -> Config:
        if self._cfg is None:
            overrides: dict[str, Any] = {}
            if getattr(self.args, "db", None):
                url = self.args.db
                overrides["database.url"] = url if "://" in url else f"sqlite:///{url}"
            if getattr(self.args, "log_format", None):
                overrides["log.format"] = self.args.log_format
            self._cfg = load_config(getattr(self.args, "config", None), overrides=overrides)
        return self._cfg

    def database(self, *, migrate: bool = True):
        if self._db is None:
            from cockpit.db import migrate as run_migrations, open_database

            self._db = open_database(
                self.config["database"]["url"], password_env=self.config["database"]["password_env"]
            )
            if migrate:
                run_migrations(self._db)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _duration(text: str) -> float:
    """'90s', '2m', '1h', '1.5h' or plain seconds -> seconds."""
    t = text.strip().lower()
    mult = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for suffix in ("ms", "s", "m", "h", "d"):
        if t.endswith(suffix):
            num = t[: -len(suffix)]
            break
    else:
        suffix, num = "s", t
    try:
        v = float(num) * mult[suffix]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90s, 2m or 1h, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive, got {text!r}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cockpit",
        description="Alpha Arena Cockpit: LLM-assisted BTC/USDT:USDT perpetual trading in the terminal. "
        "With no subcommand it opens the cockpit (TUI and engine) on the configured exchange "
        "(default: the built-in simulator, no keys, no network).",
    )
    p.add_argument("--version", action="version", version=f"cockpit {__version__}")
    p.add_argument("--config", metavar="FILE", help="config file (default: $COCKPIT_CONFIG or ./config.yaml)")
    p.add_argument("--db", metavar="URL", help="database URL or SQLite path; overrides database.url")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--headless", action="store_true", help="run the engine without the TUI (never imports Textual)")
    mode.add_argument("--attach", action="store_true", help="open the TUI over the database of a running engine")
    p.add_argument("--live", action="store_true", help="allow exchange.mode okx-live (asks for a typed confirmation)")
    p.add_argument(
        "--for", dest="run_for", type=_duration, metavar="DURATION", help="stop by itself after DURATION (e.g. 60s, 2m)"
    )
    p.add_argument("--log-format", choices=("text", "json"), help="headless log format (overrides log.format)")
    p.add_argument("--api", metavar="HOST:PORT", help="serve the REST API from the headless engine")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(sub)
    return p


def _run_default(args: argparse.Namespace, ctx: Context) -> int:
    from cockpit.commands.run import run_main

    return run_main(args, ctx)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(args)
    handler: Callable[[argparse.Namespace, Context], int] = getattr(args, "func", _run_default)
    try:
        return int(handler(args, ctx) or 0)
    except ConfigError as e:
        print(f"cockpit: config error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `cockpit ... | head` closed the pipe: not an error worth a traceback.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    finally:
        ctx.close()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
