"""``cockpit serve-ssh``: an SSH endpoint that offers nothing but the cockpit.

Each authenticated connection that asks for a shell with a pseudo-terminal gets its own
``python -m cockpit --attach`` child in a fresh PTY (sized to the client's terminal, resized with
it). There is no shell, no exec of other commands, no subsystems (sftp), no port forwarding, no
agent or X11 forwarding, and no password or keyboard-interactive authentication: only the public
keys listed in the authorized-keys file get in.

Roles come only from the options of the key's authorized-keys entry, which the server's operator
writes: ``environment="COCKPIT_ROLE=trader"`` (read through asyncssh's own option parser). The
key's comment is written by the key's owner and grants nothing: a ``cockpit-role=`` there is
reported and ignored. A key with no role is a **viewer** (the safe default): it sees every pane but
``cockpit.data.operator.submit_command`` refuses its approve/reject/cancel/kill commands. The child
gets ``COCKPIT_ROLE`` and ``COCKPIT_OPERATOR="ssh <SHA256 fingerprint> <comment>"``, so every
command it writes records which key sent it.

A dropped connection kills only that session's child (its own process group); the engine is a
different process and never notices. The authorized-keys file is re-read when it changes, so keys
can be added or removed without a restart (open sessions are not cut).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import re
import signal
import stat
import struct
import sys
import termios
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import asyncssh
from asyncssh.misc import OptionsParser

ROLES = ("viewer", "trader")
DEFAULT_ROLE = "viewer"
ROLE_ENV = "COCKPIT_ROLE"
OPERATOR_ENV = "COCKPIT_OPERATOR"
DEFAULT_TERM = "xterm-256color"
KILL_GRACE_S = 3.0

_COMMENT_ROLE_RE = re.compile(r"(?:^|\s)cockpit-role=(\S+)")  # recognised only to warn that it is ignored
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
# Inherited variables a session child must not see (the server's own terminal, client env).
_DROP_ENV = (
    "COLUMNS",
    "LINES",
    "ROWS",
    "TEXTUAL_DRIVER",
    "SSH_CLIENT",
    "SSH_CONNECTION",
    "SSH_TTY",
    "SSH_AUTH_SOCK",
    "DISPLAY",
    ROLE_ENV,
    OPERATOR_ENV,
)


class RemoteSetupError(RuntimeError):
    """The server cannot start (missing or unsafe key file, no usable authorized key); str() says why."""


@dataclass(frozen=True)
class AuthorizedKey:
    """One usable line of the authorized-keys file."""

    fingerprint: str  # SHA256:...
    comment: str
    role: str  # viewer | trader
    line_no: int
    matcher: Any = field(repr=False, compare=False)  # asyncssh.SSHAuthorizedKeys of this line (honours from=)

    @property
    def operator(self) -> str:
        return f"ssh {self.fingerprint} {self.comment}".strip()

    def matches(self, key: asyncssh.SSHKey, client_host: str, client_addr: str) -> bool:
        return self.matcher.validate(key, client_host, client_addr) is not None


# Options we honour (environment=COCKPIT_ROLE, from=) or that only forbid what we never offer anyway.
_HARMLESS_OPTIONS = frozenset(
    {
        "environment",
        "from",
        "restrict",
        "pty",
        "command",
        "no-port-forwarding",
        "no-agent-forwarding",
        "no-x11-forwarding",
        "no-user-rc",
        "permitopen",
        "permitlisten",
    }
)


class _EnvironmentNames(OptionsParser):
    """asyncssh's own option parser, keeping every ``environment=`` name: its entry keeps only the last value of
    a name, and a role given twice must be refused, not decided by order."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.names: list[str] = []
        self._parse_options(line)

    def _add_environment(self, option: str, value: str) -> None:
        self.names.append(value.split("=", 1)[0])

    _handlers = {"environment": _add_environment}


def parse_authorized_keys(text: str) -> tuple[list[AuthorizedKey], list[str]]:
    """Parse authorized_keys text -> (usable entries, problems with line numbers).

    asyncssh parses each line (key, comment, options); lines that are not plain user keys (certificate
    authorities, X.509), carry an option we would not honour, an unknown role or two roles are left out and
    reported, never guessed at.
    """
    entries: list[AuthorizedKey] = []
    problems: list[str] = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            matcher = asyncssh.import_authorized_keys(line)
        except (ValueError, asyncssh.KeyImportError) as e:
            problems.append(f"line {no}: not a public key ({e})")
            continue
        # asyncssh returns an entry's options from validate(), but only for a matching client; at load time
        # they are read from the line's single user entry (its key, comment and options), failing closed.
        found = getattr(matcher, "_user_entries", None)
        if isinstance(found, list) and not found:
            problems.append(f"line {no}: only plain public keys are supported (no cert-authority or X.509)")
            continue
        entry = found[0] if isinstance(found, list) and len(found) == 1 else None
        key, options = getattr(entry, "key", None), getattr(entry, "options", None)
        if key is None or not isinstance(options, dict):
            problems.append(f"line {no}: cannot read this entry's options (unexpected asyncssh version); refused")
            continue
        unsupported = sorted({str(name).lower() for name in options} - _HARMLESS_OPTIONS)
        if unsupported:
            # e.g. expiry-time or no-pty: an option we would not honour must not be silently ignored.
            problems.append(
                f"line {no}: unsupported option(s) {', '.join(unsupported)}; allowed: "
                f"{', '.join(sorted(_HARMLESS_OPTIONS))}"
            )
            continue
        comment = _UNPRINTABLE.sub("", (key.get_comment() or "").strip())
        env = options.get("environment") or {}
        if options and _EnvironmentNames(line).names.count(ROLE_ENV) > 1:
            problems.append(f"line {no}: COCKPIT_ROLE is set more than once in the options; refused")
            continue
        role = env.get(ROLE_ENV, DEFAULT_ROLE) if isinstance(env, dict) else DEFAULT_ROLE
        if role not in ROLES:
            problems.append(f"line {no}: unknown role {role!r}; allowed: {', '.join(ROLES)}")
            continue
        if _COMMENT_ROLE_RE.search(comment):
            # The comment is the key owner's text: it never grants a role (issue 19).
            problems.append(
                f"line {no}: 'cockpit-role=' in the key's comment is ignored (the key's owner writes "
                f"the comment); this key is a {role}. Give a role with the option "
                f'environment="COCKPIT_ROLE=trader" before the key'
            )
        entries.append(AuthorizedKey(key.get_fingerprint("sha256"), comment, role, no, matcher))
    return entries, problems


class AuthorizedKeysFile:
    """The authorized-keys file, re-read whenever its size or modification time changes."""

    def __init__(self, path: str | os.PathLike[str], *, warn: Callable[[str], None] = lambda s: None) -> None:
        self.path = Path(path)
        self.warn = warn
        self._sig: tuple[int, int] | None = None
        self._entries: list[AuthorizedKey] = []
        self.load()

    def load(self) -> list[AuthorizedKey]:
        try:
            st = self.path.stat()
        except OSError as e:
            raise RemoteSetupError(f"authorized keys file {self.path}: {e.strerror or e}") from None
        sig = (st.st_mtime_ns, st.st_size)
        if sig != self._sig:
            entries, problems = parse_authorized_keys(self.path.read_text(encoding="utf-8", errors="replace"))
            for p in problems:
                self.warn(f"{self.path}: {p}")
            self._entries, self._sig = entries, sig
        return self._entries

    def find(self, key: asyncssh.SSHKey, client_host: str, client_addr: str) -> AuthorizedKey | None:
        try:
            entries = self.load()
        except RemoteSetupError as e:  # file removed while running: nobody gets in
            self.warn(str(e))
            return None
        return next((e for e in entries if e.matches(key, client_host, client_addr)), None)


def ensure_host_key(path: str | os.PathLike[str]) -> tuple[asyncssh.SSHKey, bool]:
    """Load the server's host key, generating an Ed25519 key (mode 0600) on first start.

    Returns (key, created). Like sshd, refuses a key file that others can read.
    """
    p = Path(path)
    if p.exists():
        mode = p.stat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            raise RemoteSetupError(
                f"host key {p} is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {p}"
            )
        try:
            return asyncssh.read_private_key(str(p)), False
        except (ValueError, asyncssh.KeyImportError) as e:
            raise RemoteSetupError(f"host key {p}: not a private key ({e})") from None
    p.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="cockpit serve-ssh host key")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.export_private_key("openssh"))
    p.with_name(p.name + ".pub").write_bytes(key.export_public_key("openssh"))
    return key, True


class SessionLimiter:
    """Caps the number of cockpit children running at once, across all connections."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self.active = 0

    def acquire(self) -> bool:
        if self.active >= self.max_sessions:
            return False
        self.active += 1
        return True

    def release(self) -> None:
        self.active = max(0, self.active - 1)


@dataclass
class SSHService:
    """What every connection shares: keys, the child's command line, the session cap and a log."""

    keys: AuthorizedKeysFile
    child_argv: list[str]
    limiter: SessionLimiter
    log: Callable[[str], None] = lambda s: None
    child_cwd: str | None = None
    sessions: set = field(default_factory=set)  # CockpitSession objects with a running child

    async def hang_up_all(self, grace_s: float = KILL_GRACE_S) -> None:
        """Server shutdown: hang up every session's child, SIGKILL whatever is left after ``grace_s``."""
        procs = [s.proc for s in list(self.sessions) if s.proc is not None]
        for s in list(self.sessions):
            s.terminate()
        waits = [asyncio.ensure_future(p.wait()) for p in procs if p.returncode is None]
        if waits:
            await asyncio.wait(waits, timeout=grace_s)
        for p in procs:
            if p.returncode is None:
                _killpg(p.pid, signal.SIGKILL)


def child_env(
    operator: AuthorizedKey,
    *,
    term: str | None,
    peer: tuple[str, int] | None,
    local: tuple[str, int] | None,
    base: dict[str, str] | None = None,
) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for k in _DROP_ENV:
        env.pop(k, None)
    env["TERM"] = term if term and re.fullmatch(r"[\w.+-]{1,64}", term) else DEFAULT_TERM
    env[ROLE_ENV] = operator.role
    env[OPERATOR_ENV] = operator.operator
    if peer and local:
        env["SSH_CONNECTION"] = f"{peer[0]} {peer[1]} {local[0]} {local[1]}"
    return env


def _set_winsize(fd: int, cols: int, rows: int, px_w: int = 0, px_h: int = 0) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", max(rows, 1), max(cols, 1), px_w, px_h))


def _take_controlling_tty() -> None:  # runs in the child after setsid(): the PTY becomes its terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class CockpitSession(asyncssh.SSHServerSession):
    """One SSH channel: a PTY with a ``cockpit --attach`` child behind it."""

    def __init__(self, service: SSHService, operator: AuthorizedKey, conn: asyncssh.SSHServerConnection) -> None:
        self.service = service
        self.operator = operator
        self.conn = conn
        self.chan: Any = None
        self.term_type: str | None = None
        self.size = (80, 24, 0, 0)
        self.master: int | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.task: asyncio.Task | None = None
        self._reading = False
        self._paused = False
        self._pending_input = bytearray()
        self._closed = False

    # ---------------------------------------------------------------- channel requests

    def connection_made(self, chan: Any) -> None:
        self.chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int], term_modes: Any) -> bool:
        self.term_type = term_type
        if term_size and term_size[0] and term_size[1]:
            self.size = tuple(term_size)  # type: ignore[assignment]
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self.service.log(f"refused exec {command[:80]!r} from {self.operator.operator}")
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        self.service.log(f"refused subsystem {subsystem!r} from {self.operator.operator}")
        return False

    def break_received(self, msec: int) -> bool:
        return False

    def signal_received(self, signal: str) -> None:  # the client does not signal our child
        pass

    def session_started(self) -> None:
        self.task = asyncio.ensure_future(self._run())

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        self.size = (width, height, pixwidth, pixheight)
        if self.master is not None and width and height:
            try:
                # The kernel sends SIGWINCH to the child's foreground process group.
                _set_winsize(self.master, width, height, pixwidth, pixheight)
            except OSError:
                pass

    def data_received(self, data: bytes, datatype: Any) -> None:
        self._pending_input += data  # keys typed before the child is up are passed on when it is
        if self.master is None:
            del self._pending_input[:-4096]
            return
        self._flush_input()

    def eof_received(self) -> bool:
        return True  # keep the channel: the cockpit ends when the operator quits or the connection drops

    def pause_writing(self) -> None:  # the client is slow: stop reading the child's output
        self._paused = True
        self._stop_reading()

    def resume_writing(self) -> None:
        self._paused = False
        self._start_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.terminate()

    # ---------------------------------------------------------------- the child

    async def _run(self) -> None:
        chan = self.chan
        if self.term_type is None:
            chan.write(b"cockpit: this server only offers the cockpit, in a terminal; connect with `ssh -t`.\r\n")
            chan.exit(1)
            return
        if not self.service.limiter.acquire():
            n = self.service.limiter.max_sessions
            self.service.log(f"refused session for {self.operator.operator}: {n} sessions already open")
            chan.write(f"cockpit: all {n} cockpit sessions are in use; try again later.\r\n".encode())
            chan.exit(1)
            return
        rc = 1
        try:
            master, slave = os.openpty()
            self.master = master  # closed in finally, whatever happens next
            cols, rows, pw, ph = self.size
            _set_winsize(slave, cols, rows, pw, ph)
            env = child_env(
                self.operator,
                term=self.term_type,
                peer=self.conn.get_extra_info("peername"),
                local=self.conn.get_extra_info("sockname"),
            )
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    *self.service.child_argv,
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    env=env,
                    cwd=self.service.child_cwd,
                    start_new_session=True,
                    preexec_fn=_take_controlling_tty,
                )
            finally:
                os.close(slave)
            os.set_blocking(master, False)
            self.service.sessions.add(self)
            self.service.log(
                f"session started for {self.operator.operator} (role {self.operator.role}, "
                f"pid {self.proc.pid}, {cols}x{rows})"
            )
            if self._closed:  # the connection dropped while the child was starting
                self.terminate()
            self._start_reading()
            if self._pending_input:
                self._flush_input()
            rc = await self.proc.wait()
            self._drain()
        except Exception as e:  # noqa: BLE001 - reported to the operator and the server log
            self.service.log(f"session for {self.operator.operator} failed: {type(e).__name__}: {e}")
            if not self._closed:
                chan.write(f"\r\ncockpit: could not start the cockpit: {e}\r\n".encode())
        finally:
            self.service.sessions.discard(self)
            self.service.limiter.release()
            self._close_master()
            self.service.log(f"session ended for {self.operator.operator} (exit {rc})")
        if not self._closed:
            chan.exit(rc if rc >= 0 else 128 - rc)

    def _start_reading(self) -> None:
        if self.master is not None and not self._reading and not self._paused and not self._closed:
            asyncio.get_event_loop().add_reader(self.master, self._read_master)
            self._reading = True

    def _stop_reading(self) -> None:
        if self.master is not None and self._reading:
            asyncio.get_event_loop().remove_reader(self.master)
        self._reading = False

    def _read_master(self) -> None:
        try:
            data = os.read(self.master, 65536)  # type: ignore[arg-type]
        except BlockingIOError:
            return
        except OSError:  # EIO: the child closed the terminal
            self._stop_reading()
            return
        if not data:
            self._stop_reading()
            return
        if not self._closed:
            self.chan.write(data)

    def _drain(self) -> None:
        """The child has exited: pass on what it wrote last."""
        self._stop_reading()
        while self.master is not None and not self._closed:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                break
            if not data:
                break
            self.chan.write(data)

    def _flush_input(self) -> None:
        if self.master is None or not self._pending_input:
            return
        try:
            n = os.write(self.master, self._pending_input)
            del self._pending_input[:n]
        except BlockingIOError:
            pass
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            self._pending_input.clear()
        if self._pending_input:  # the child is not reading: keep a bounded backlog, drop the rest
            del self._pending_input[:-65536]
            asyncio.get_event_loop().call_later(0.05, self._flush_input)

    def _close_master(self) -> None:
        self._stop_reading()
        if self.master is not None:
            try:
                os.close(self.master)
            except OSError:
                pass
            self.master = None

    def terminate(self) -> None:
        """Hang up this session's child (its own process group only), then kill it if it lingers."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        _killpg(proc.pid, signal.SIGHUP)
        _killpg(proc.pid, signal.SIGTERM)

        def finish() -> None:
            if proc.returncode is None:
                _killpg(proc.pid, signal.SIGKILL)

        asyncio.get_event_loop().call_later(KILL_GRACE_S, finish)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class CockpitSSHServer(asyncssh.SSHServer):
    """Per connection: public-key auth against the authorized-keys file, then cockpit sessions only."""

    def __init__(self, service: SSHService) -> None:
        self.service = service
        self.conn: asyncssh.SSHServerConnection | None = None
        self.operator: AuthorizedKey | None = None
        self.peer = ("?", 0)

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.peer = conn.get_extra_info("peername") or ("?", 0)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.operator is not None:
            self.service.log(f"connection closed: {self.operator.operator} from {self.peer[0]}")

    def begin_auth(self, username: str) -> bool:
        return True  # authentication is always required

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        entry = self.service.keys.find(key, str(self.peer[0]), str(self.peer[0]))
        if entry is None:
            self.service.log(f"refused key {key.get_fingerprint('sha256')} from {self.peer[0]} (not authorized)")
            return False
        if self.operator is None or self.operator.fingerprint != entry.fingerprint:
            self.service.log(f"key accepted: {entry.operator} (role {entry.role}) from {self.peer[0]}")
        self.operator = entry
        return True

    def session_requested(self) -> Any:
        if self.operator is None or self.conn is None:
            return False
        return CockpitSession(self.service, self.operator, self.conn)

    # No forwarding of any kind (these are asyncssh's defaults too; stated so nobody has to look).
    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        return False

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return False

    def unix_connection_requested(self, dest_path: str) -> bool:
        return False

    def unix_server_requested(self, listen_path: str) -> bool:
        return False


async def start_ssh_server(service: SSHService, *, host: str, port: int, host_key: asyncssh.SSHKey) -> Any:
    """Listen on host:port; returns the asyncssh acceptor (``.sockets``, ``.close()``)."""
    return await asyncssh.create_server(
        lambda: CockpitSSHServer(service),
        host,
        port,
        server_host_keys=[host_key],
        encoding=None,  # raw bytes both ways: the PTY is the terminal
        line_editor=False,  # Textual reads keys raw; asyncssh must not edit lines
        agent_forwarding=False,
        x11_forwarding=False,
        public_key_auth=True,
        password_auth=False,
        kbdint_auth=False,
        host_based_auth=False,
        gss_host=None,
        allow_scp=False,
        login_timeout=60,
        keepalive_interval=30,
        keepalive_count_max=3,  # a silent dead client is dropped
        server_version="cockpit",
    )


def run_ssh_server(
    service: SSHService,
    *,
    host: str,
    port: int,
    host_key: asyncssh.SSHKey,
    announce: Callable[[str, int], None] = lambda h, p: None,
) -> int:
    """Serve until SIGINT/SIGTERM; open sessions' children are hung up on the way out."""

    async def main() -> int:
        acceptor = await start_ssh_server(service, host=host, port=port, host_key=host_key)
        sock = acceptor.sockets[0].getsockname()
        announce(sock[0], sock[1])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        acceptor.close()
        await service.hang_up_all()
        await acceptor.wait_closed()
        return 0

    return asyncio.run(main())


def cockpit_argv(*, config_path: str | None, db_url: str) -> list[str]:
    """The child's command line: the same interpreter, config and database as the server."""
    argv = [sys.executable, "-m", "cockpit"]
    if config_path:
        argv += ["--config", str(Path(config_path).resolve())]
    return argv + ["--db", db_url, "--attach"]
