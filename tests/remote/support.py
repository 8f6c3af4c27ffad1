"""Helpers of the remote cockpit tests: fixture database, operator keys, servers, an SSH terminal client."""

from __future__ import annotations

import asyncio
import os
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.sqlite import query  # noqa: F401 - the remote tests import it from here

REPO = Path(__file__).resolve().parents[2]
SYMBOL = "BTC/USDT:USDT"
# Children poll quickly; nothing else from the developer's environment leaks into the server.
CHILD_ENV = {"COCKPIT__UI__REFRESH_MS": "200", "PYTHONUNBUFFERED": "1"}


def make_db(path: Path, *, now: int | None = None) -> int:
    """A migrated database with candles, a heartbeat and one order waiting for approval; returns its id.

    Times are wall time by default: the attached cockpit reads the wall clock (ages, expiry countdown).
    """
    now = int(time.time() * 1000) if now is None else now
    import json

    from cockpit.db import close_database, migrate, open_database
    from cockpit.db import models as m

    db = open_database(f"sqlite:///{path}")
    try:
        migrate(db)
        step = 3_600_000
        last = now // step * step
        m.MarketData.insert_many(
            [
                dict(
                    symbol=SYMBOL,
                    timeframe="1h",
                    timestamp=last - (59 - i) * step,
                    open=65000 + 10 * i,
                    high=65100 + 10 * i,
                    low=64900 + 10 * i,
                    close=65050 + 10 * i,
                    volume=100.0,
                )
                for i in range(60)
            ]
        ).execute()
        m.EngineState.create(
            key="heartbeat",
            value=json.dumps({"ts": now, "wall_ms": now, "state": "running", "speed": 1, "cycles": 1}),
            updated_at=now,
        )
        order = m.OrderRow.create(
            symbol=SYMBOL,
            side="buy",
            type="market",
            amount=0.01,
            leverage=2,
            status="pending_approval",
            client_order_id="remote-test-1",
            created_at=now,
            updated_at=now,
            stop_loss=64000.0,
            mode="sim",
            expires_at=now + 900_000,
        )
        return int(order.id)
    finally:
        close_database()


@dataclass
class Keys:
    trader: object
    viewer: object
    stranger: object
    authorized_keys: Path


def make_keys(tmp: Path) -> Keys:
    import asyncssh

    trader = asyncssh.generate_private_key("ssh-ed25519", comment="alice@desk")
    viewer = asyncssh.generate_private_key("ssh-ed25519", comment="bob@desk")
    stranger = asyncssh.generate_private_key("ssh-ed25519", comment="mallory@nowhere")
    path = tmp / "authorized_keys"
    path.write_text(
        "# cockpit operators\n"
        + 'environment="COCKPIT_ROLE=trader" '
        + trader.export_public_key("openssh").decode()
        + 'environment="COCKPIT_ROLE=viewer",no-port-forwarding '
        + viewer.export_public_key("openssh").decode()
    )
    return Keys(trader, viewer, stranger, path)


@dataclass
class SSHServer:
    proc: subprocess.Popen
    port: int
    db_path: Path
    order_id: int
    keys: Keys
    host_key: Path
    log: Path


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCKPIT")}
    return env | CHILD_ENV


def wait_for_line(proc: subprocess.Popen, pattern: str, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    buf = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited ({proc.returncode}): {buf}")
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            buf += line
            m = re.search(pattern, line)
            if m:
                return m
    raise AssertionError(f"timed out waiting for {pattern!r}; got {buf!r}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_ssh_server(tmp: Path, *, max_sessions: int = 2) -> SSHServer:
    """`cockpit serve-ssh --port 0` over a fresh fixture database; the caller stops it."""
    pytest.importorskip("asyncssh")
    db_path = tmp / "cockpit.db"
    order_id = make_db(db_path)
    keys = make_keys(tmp)
    host_key = tmp / "keys" / "ssh_host_ed25519_key"
    log = tmp / "server.log"
    with open(log, "w") as errf:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cockpit",
                "--config",
                str(REPO / "config.yaml"),
                "--db",
                str(db_path),
                "serve-ssh",
                "--port",
                "0",
                "--authorized-keys",
                str(keys.authorized_keys),
                "--host-key",
                str(host_key),
                "--max-sessions",
                str(max_sessions),
            ],
            cwd=tmp,
            env=server_env(),
            stdout=subprocess.PIPE,
            stderr=errf,
            text=True,
        )
    try:
        m = wait_for_line(proc, r"listening on [\d.]+:(\d+)", 60)
    except BaseException:
        stop(proc)
        raise
    return SSHServer(proc, int(m.group(1)), db_path, order_id, keys, host_key, log)


SIZE = (160, 48)
TIMEOUT = 90.0  # per wait; a loaded 2-core machine starts a Textual child in seconds, not minutes
ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|P[^\x1b]*\x1b\\|[()][0-9A-Za-z]|[=>78cM])")
PANES = ("Strategy weights", "LLM rationale", "Risk events", "Orders")


class Terminal:
    """The client side of one cockpit session: what it printed (escape sequences removed), and keys."""

    def __init__(self, conn, proc) -> None:
        self.conn, self.proc = conn, proc
        self.raw = bytearray()

    @property
    def text(self) -> str:
        return ANSI.sub(b"", bytes(self.raw)).decode("utf-8", "replace")

    async def until(self, *needles: str, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while not all(n in self.text for n in needles):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {needles}; screen text ends: {self.text[-1500:]!r}")
            try:
                chunk = await asyncio.wait_for(self.proc.stdout.read(65536), min(left, 1.0))
            except asyncio.TimeoutError:
                continue
            if not chunk:
                raise AssertionError(f"session ended while waiting for {needles}: {self.text[-1500:]!r}")
            self.raw += chunk
        return self.text

    def press(self, keys: str) -> None:
        self.proc.stdin.write(keys.encode())

    async def close(self) -> None:
        self.conn.close()
        await self.conn.wait_closed()


async def open_cockpit(port: int, key, *, size=SIZE) -> Terminal:
    import asyncssh

    conn = await asyncssh.connect(
        "127.0.0.1",
        port,
        username="operator",
        client_keys=[key],
        known_hosts=None,
        agent_path=None,
        preferred_auth="publickey",
        config=[],
    )
    proc = await conn.create_process(term_type="xterm-256color", term_size=size, encoding=None)
    return Terminal(conn, proc)


async def wait_db(cond, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def children(server_pid: int) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == server_pid:
            out.append(int(pid))
    return out
