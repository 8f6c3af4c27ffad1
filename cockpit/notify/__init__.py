"""Notifications through Apprise: pending approvals, fills, rejections and expiries, risk events,
kill switch and halts, engine start/stop/crash-restart and a daily summary reach the trader away
from the terminal (Telegram, Discord, Slack, e-mail, ntfy, Matrix, a JSON webhook, ...).

    Notifier(cfg, ds, clock).start() ... .stop()     follow the database and send
    attach_notifier(cfg, stages, log=log)             what the engine calls while building its stages
"""

from __future__ import annotations

from typing import Any

from cockpit.domain.settings import Config

__all__ = ["Message", "Notifier", "attach_notifier", "build_destinations"]


def __getattr__(name: str) -> Any:
    # Lazy: importing Apprise costs ~0.1 s, and every CLI start imports cockpit.commands.notify.
    if name in ("Notifier", "build_destinations"):
        from cockpit.notify import notifier

        return getattr(notifier, name)
    if name == "Message":
        from cockpit.notify.format import Message

        return Message
    raise AttributeError(f"module 'cockpit.notify' has no attribute {name!r}")


def attach_notifier(cfg: Config, stages: Any, *, log: Any = None, db: Any = None) -> str:
    """Start a Notifier on the stages' clock and register its stop() as a closer (closers run after the
    engine's last heartbeat, so "engine stopped" still goes out). Returns the availability text."""
    if not cfg["notify"]["urls"]:
        return "off (notify.urls is empty)"
    from cockpit.notify.notifier import Notifier

    warn = getattr(log, "warning", None)
    notifier = Notifier(cfg, None, stages.clock, log=warn, db=db).start()
    stages.closers.append(lambda: notifier.stop(timeout=5.0))
    if notifier.problems:
        return f"partly: {len(notifier.workers)} destination(s) sending; not usable: {'; '.join(notifier.problems)}"
    return "ok"
