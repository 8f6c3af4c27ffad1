"""``cockpit serve-web``: the cockpit in a browser, through Textual's own web server (textual-serve).

Every browser tab opens a websocket; textual-serve starts one ``python -m cockpit --attach``
child for it and ends that child when the tab closes. textual-serve has **no authentication**:
it binds to loopback unless ``--public`` is given, and even then it should sit behind the SSH
tunnel (``ssh -L 8080:127.0.0.1:8080 host``) or an authenticating reverse proxy.

Because nobody is identified, browser sessions run as ``viewer`` unless ``--role trader`` is given
explicitly; their commands are recorded with ``COCKPIT_OPERATOR="web"``.
"""

from __future__ import annotations

import ipaddress
import shlex
import socket
from typing import Any

ROLES = ("viewer", "trader")
PUBLIC_WARNING = ("WARNING: cockpit serve-web has no authentication of its own. Anyone who can reach "
                  "{url} can watch the cockpit{act}. Put it behind the SSH tunnel "
                  "(ssh -L PORT:127.0.0.1:PORT host) or an authenticating reverse proxy.")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def free_port(host: str) -> int:
    """A port nobody listens on right now (textual-serve needs the real port for its page's URLs)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def web_command(child_argv: list[str], *, role: str, operator: str = "web") -> str:
    """The shell command textual-serve runs per browser session (it spawns through the shell)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    env = f"COCKPIT_ROLE={shlex.quote(role)} COCKPIT_OPERATOR={shlex.quote(operator)}"
    return f"exec env {env} {shlex.join(child_argv)}"


def build_web_server(child_argv: list[str], *, host: str, port: int, role: str = "viewer",
                     public_url: str | None = None, title: str = "Alpha Arena Cockpit") -> Any:
    """A textual_serve Server for the cockpit in attach mode (``.serve()`` blocks until SIGINT/SIGTERM)."""
    from textual_serve.server import Server

    url_host = f"[{host}]" if ":" in host else host
    return Server(web_command(child_argv, role=role), host=host, port=port, title=title,
                  public_url=public_url or f"http://{url_host}:{port}")
