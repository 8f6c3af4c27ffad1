"""Notifications through Apprise: pending approvals, fills, rejections and expiries, risk events,
kill switch and halts, engine start/stop/crash-restart and a daily summary reach the trader away
from the terminal (Telegram, Discord, Slack, e-mail, ntfy, Matrix, a JSON webhook, ...).

    Notifier(cfg, ds, clock).start() ... .stop()     follow the database and send
    attach_notifier(cfg, stages, log=log)             what the engine calls while building its stages
"""

from __future__ import annotations

from typing import Any, Mapping

from cockpit.notify.format import Message
from cockpit.notify.notifier import Notifier, build_destinations

__all__ = ["Message", "Notifier", "attach_notifier", "build_destinations"]


def attach_notifier(cfg: Mapping[str, Any], stages: Any, *, log: Any = None, db: Any = None) -> str:
    """Start a Notifier on the stages' clock and register its stop() as a closer (closers run after the
    engine's last heartbeat, so "engine stopped" still goes out). Returns the availability text."""
    if not cfg["notify"]["urls"]:
        return "off (notify.urls is empty)"
    warn = getattr(log, "warning", None)
    notifier = Notifier(cfg, None, stages.clock, log=warn, db=db).start()
    stages.closers.append(notifier.stop)
    if notifier.problems:
        return f"partly: {len(notifier.workers)} destination(s) sending; not usable: {'; '.join(notifier.problems)}"
    return "ok"
