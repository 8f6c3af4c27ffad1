"""Operator commands: how the TUI (in-process or --attach), `cockpit orders ...` and the API ask
the engine to approve, reject, cancel or halt. The engine executes them in order and marks each
done or failed; the database is the bus, so it works across processes.
"""

from __future__ import annotations

import getpass
import json
import os
from typing import Any

import peewee

from cockpit.db.connection import database_proxy
from cockpit.db.models import OperatorCommand

COMMANDS = (
    "approve",
    "reject",
    "cancel",
    "kill",
    "clear_kill",
    "confirm_position",
    # trade management (cockpit.execution.trade_actions): payload {"price": ...} for the two set_ ones
    "close_position",
    "set_stop_loss",
    "set_take_profit",
    "cancel_all",
)
# Roles a session may carry in $COCKPIT_ROLE (set by `cockpit serve-ssh` / `serve-web`). Unset means a
# local operator with full rights; a viewer, or any role we do not know, may submit none of COMMANDS.
ROLE_ENV = "COCKPIT_ROLE"
TRADER_ROLES = ("trader",)


class OperatorNotAllowed(PermissionError):
    """The session's role may not send this command (e.g. a viewer approving an order)."""

    def __init__(self, command: str, role: str) -> None:
        self.command = command
        self.role = role
        super().__init__(
            f"role {role!r} may not {command.replace('_', ' ')}: only a trader may "
            f"approve, reject, cancel, manage the position, use the kill switch or publish a training candidate"
        )


def operator_role() -> str | None:
    """The session's role from $COCKPIT_ROLE (None when unset: a local operator)."""
    role = os.environ.get(ROLE_ENV, "").strip()
    return role or None


def check_allowed(command: str) -> None:
    """Raise OperatorNotAllowed unless this process's role may send ``command``."""
    role = operator_role()
    if role is not None and role not in TRADER_ROLES:
        raise OperatorNotAllowed(command, role)


def operator_identity() -> str:
    """OS user, plus the SSH connection when there is one (recorded with every approval)."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    ssh = os.environ.get("SSH_CONNECTION")
    ident = os.environ.get("COCKPIT_OPERATOR")  # set by `cockpit serve-ssh` per key
    parts = [user]
    if ident:
        parts.append(ident)
    if ssh:
        parts.append("ssh " + " ".join(ssh.split()[:2]))
    return " | ".join(parts)


def submit_command(
    command: str,
    *,
    now_ms: int,
    order_id: int | None = None,
    payload: dict[str, Any] | None = None,
    operator: str | None = None,
    db: peewee.Database | peewee.DatabaseProxy | None = None,
) -> int:
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; allowed: {', '.join(COMMANDS)}")
    check_allowed(command)  # defense in depth: refused here even if a surface forgets to ask
    db = db or database_proxy
    return int(
        OperatorCommand.insert(
            timestamp=int(now_ms),
            command=command,
            order=order_id,
            payload=json.dumps(payload) if payload else None,
            operator=operator or operator_identity(),
            status="pending",
        ).execute(db)
    )


def finish_command(
    command_id: int,
    *,
    now_ms: int,
    ok: bool,
    result: str = "",
    db: peewee.Database | peewee.DatabaseProxy | None = None,
) -> None:
    db = db or database_proxy
    (
        OperatorCommand.update(status="done" if ok else "failed", processed_at=int(now_ms), result=result)
        .where(OperatorCommand.id == command_id)
        .execute(db)
    )
