"""``cockpit serve-ssh`` and ``cockpit serve-web``: the cockpit (attach mode) for remote operators.

asyncssh and textual-serve are imported only when these commands run (CLI start-up stays fast).
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve-ssh",
        help="SSH server that lands each operator in their own cockpit (attach mode)",
        description="Serve the cockpit over SSH: public-key authentication only (keys from an OpenSSH "
        "authorized_keys file); each session gets its own `cockpit --attach` in a pseudo-terminal. No shell, no "
        "other commands, no forwarding. Roles per key, only from the options the server's operator writes: "
        'environment="COCKPIT_ROLE=trader" before the key (the key\'s comment grants nothing); a key without a '
        "role is a viewer (sees everything, "
        "cannot approve, reject, cancel or use the kill switch).",
    )
    p.add_argument("--host", help="bind address (default remote.ssh_host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default remote.ssh_port, 2222; 0 = any free port)")
    p.add_argument("--authorized-keys", metavar="FILE", help="authorized_keys file (default remote.authorized_keys)")
    p.add_argument(
        "--host-key",
        metavar="FILE",
        help="host key, generated on first start (default remote.host_key, data/ssh_host_ed25519_key)",
    )
    p.add_argument("--max-sessions", type=int, metavar="N", help="concurrent sessions (default remote.max_sessions, 8)")
    p.set_defaults(func=cmd_serve_ssh)

    w = sub.add_parser(
        "serve-web",
        help="the cockpit (attach mode) in a browser via textual-serve, at a secret URL",
        description="Serve the cockpit in a browser through textual-serve: one `cockpit --attach` per browser tab. "
        "Its only authentication is a random secret in the URL, printed at start (new at every start); other "
        "sites' pages cannot open a session (Origin and Host are checked) and at most --max-sessions run at once. "
        "It binds to loopback unless --public is given; reach it through `ssh -L 8080:127.0.0.1:8080 host` or a "
        "TLS proxy. Browser sessions are viewers unless --role trader.",
    )
    w.add_argument("--host", help="bind address (default remote.web_host, 127.0.0.1)")
    w.add_argument("--port", type=int, help="port (default remote.web_port, 8080; 0 = any free port)")
    w.add_argument(
        "--public",
        action="store_true",
        help="allow a non-loopback bind address (the secret URL then travels in clear over HTTP)",
    )
    w.add_argument(
        "--public-url",
        metavar="URL",
        help="URL browsers use to reach this server (default http://HOST:PORT; needed behind a proxy)",
    )
    w.add_argument(
        "--role",
        choices=("viewer", "trader"),
        default="viewer",
        help="role of every browser session (default viewer: watch only)",
    )
    w.add_argument(
        "--max-sessions", type=int, metavar="N", help="concurrent browser sessions (default remote.max_sessions, 8)"
    )
    w.set_defaults(func=cmd_serve_web)


def _log(msg: str) -> None:
    from cockpit.domain.clock import WallClock

    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(WallClock().now_ms() / 1000))
    print(f"{ts} serve-ssh {msg}", file=sys.stderr, flush=True)


def _child_argv(args: argparse.Namespace, ctx: Any) -> list[str]:
    from cockpit.remote.ssh import cockpit_argv

    ctx.database()  # the database opens and is migrated before anyone connects; errors show now
    ctx.close()
    return cockpit_argv(config_path=getattr(args, "config", None), db_url=ctx.config["database"]["url"])


def cmd_serve_ssh(args: argparse.Namespace, ctx: Any) -> int:
    from cockpit.remote.ssh import (
        AuthorizedKeysFile,
        RemoteSetupError,
        SessionLimiter,
        SSHService,
        ensure_host_key,
        run_ssh_server,
    )

    rc = ctx.config["remote"]
    keys_path = args.authorized_keys or rc["authorized_keys"]
    if not keys_path:
        print(
            "cockpit serve-ssh: give --authorized-keys FILE (or set remote.authorized_keys): "
            "only the keys listed there may connect",
            file=sys.stderr,
        )
        return 2
    max_sessions = args.max_sessions if args.max_sessions is not None else rc["max_sessions"]
    if max_sessions < 1:
        print("cockpit serve-ssh: --max-sessions must be at least 1", file=sys.stderr)
        return 2
    host = args.host or rc["ssh_host"]
    port = args.port if args.port is not None else rc["ssh_port"]
    try:
        keys = AuthorizedKeysFile(keys_path, warn=_log)
        if not keys.load():
            raise RemoteSetupError(f"authorized keys file {keys_path}: no usable key; nobody could log in")
        host_key, created = ensure_host_key(args.host_key or rc["host_key"])
    except RemoteSetupError as e:
        print(f"cockpit serve-ssh: {e}", file=sys.stderr)
        return 2
    service = SSHService(keys=keys, child_argv=_child_argv(args, ctx), limiter=SessionLimiter(max_sessions), log=_log)
    roles = sorted({k.role for k in keys.load()})
    _log(
        f"host key {host_key.get_fingerprint('sha256')}{' (new)' if created else ''}; "
        f"{len(keys.load())} authorized key(s), roles: {', '.join(roles)}; at most {max_sessions} sessions"
    )

    def announce(h: str, p: int) -> None:
        print(f"cockpit serve-ssh: listening on {h}:{p}", flush=True)

    try:
        return run_ssh_server(service, host=host, port=port, host_key=host_key, announce=announce)
    except OSError as e:
        print(f"cockpit serve-ssh: cannot listen on {host}:{port}: {e.strerror or e}", file=sys.stderr)
        return 1


def cmd_serve_web(args: argparse.Namespace, ctx: Any) -> int:
    from cockpit.remote.web import PUBLIC_WARNING, build_web_server, free_port, is_loopback

    rc = ctx.config["remote"]
    host = args.host or rc["web_host"]
    port = args.port if args.port is not None else rc["web_port"]
    if not is_loopback(host):
        if not args.public:
            print(
                f"cockpit serve-web: {host} is not a loopback address and the web cockpit's only authentication "
                f"is a secret URL sent over plain HTTP; add --public to serve it there anyway (better: keep "
                f"127.0.0.1 and use an SSH tunnel)",
                file=sys.stderr,
            )
            return 2
    max_sessions = args.max_sessions if args.max_sessions is not None else rc["max_sessions"]
    if max_sessions < 1:
        print("cockpit serve-web: --max-sessions must be at least 1", file=sys.stderr)
        return 2
    if port == 0:
        port = free_port(host)
    public_url = args.public_url
    if public_url is None and host in ("0.0.0.0", "::"):
        public_url = f"http://{socket.getfqdn()}:{port}"
    server = build_web_server(
        _child_argv(args, ctx), host=host, port=port, role=args.role, public_url=public_url, max_sessions=max_sessions
    )
    if not is_loopback(host):
        act = " and approve, reject or kill" if args.role == "trader" else ""
        print(PUBLIC_WARNING.format(url=server.public_url + "/<secret>/", act=act), file=sys.stderr, flush=True)
    # The one place the secret is shown: the operator opens this URL (a new secret at every start).
    print(
        f"cockpit serve-web: {server.secret_url} (browser sessions are {args.role}s; at most {max_sessions} at a time)",
        flush=True,
    )
    server.serve()
    return 0
