"""`cockpit serve-ssh` end to end over loopback with a real asyncssh client and test keys.

The server runs as a subprocess through the CLI (`python -m cockpit serve-ssh --port 0`); each
SSH session gets its own `cockpit --attach` child in a 160x48 PTY. We read the terminal output
until the cockpit's pane titles appear, press keys, and check the database. All waits have
deadlines; nothing is timed.
"""

from __future__ import annotations

import asyncio
import os
import stat

import pytest

from remote.support import PANES, SIZE, children, open_cockpit, query, start_ssh_server, stop, wait_db

asyncssh = pytest.importorskip("asyncssh")


def _commands(server) -> list[dict]:
    return query(server.db_path, "SELECT * FROM operator_commands ORDER BY id")


def test_host_key_generated_once_and_private(ssh_server):
    mode = stat.S_IMODE(ssh_server.host_key.stat().st_mode)
    assert mode == 0o600
    assert (ssh_server.host_key.parent / (ssh_server.host_key.name + ".pub")).is_file()


def test_trader_sees_panes_and_approval_records_fingerprint(ssh_server):
    key = ssh_server.keys.trader
    fingerprint = key.get_fingerprint("sha256")

    async def run() -> list[dict]:
        term = await open_cockpit(ssh_server.port, key)
        try:
            await term.until(*PANES)
            await term.until("APPROVAL")  # the pending order's banner: the first poll has landed
            term.press("a")
            return await wait_db(lambda: _commands(ssh_server), "the approve command row")
        finally:
            await term.close()

    rows = asyncio.run(run())
    assert len(rows) == 1
    row = rows[0]
    assert row["command"] == "approve" and row["order_id"] == ssh_server.order_id and row["status"] == "pending"
    assert f"ssh {fingerprint} alice@desk" in row["operator"]
    assert "ssh 127.0.0.1" in row["operator"]  # SSH_CONNECTION of the session: the client's address


def test_viewer_approval_is_refused(ssh_server):
    async def run() -> str:
        before = len(_commands(ssh_server))
        term = await open_cockpit(ssh_server.port, ssh_server.keys.viewer)
        try:
            await term.until(*PANES)
            await term.until("APPROVAL")
            term.press("a")
            text = await term.until("OperatorNotAllowed")
            assert len(_commands(ssh_server)) == before
            return text
        finally:
            await term.close()

    before = len(_commands(ssh_server))
    asyncio.run(run())
    assert len(_commands(ssh_server)) == before  # no row, not even a refused one
    assert not [r for r in _commands(ssh_server) if "bob@desk" in (r["operator"] or "")]


def test_unknown_key_refused_at_authentication(ssh_server):
    async def run() -> None:
        await open_cockpit(ssh_server.port, ssh_server.keys.stranger)

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(run())
    assert "not authorized" in ssh_server.log.read_text()


def test_exec_and_forwarding_refused(ssh_server):
    async def run() -> None:
        conn = await asyncssh.connect(
            "127.0.0.1",
            ssh_server.port,
            username="x",
            client_keys=[ssh_server.keys.trader],
            known_hosts=None,
            agent_path=None,
            config=[],
        )
        try:
            with pytest.raises(asyncssh.ChannelOpenError):
                await conn.open_connection("127.0.0.1", ssh_server.port)  # local port forwarding
            with pytest.raises(asyncssh.ChannelListenError):
                await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", 22)
            with pytest.raises(asyncssh.ChannelOpenError):
                await conn.run("id", encoding=None, check=False)  # exec of another command
            with pytest.raises(asyncssh.ChannelOpenError):
                await conn.start_sftp_client()  # the sftp subsystem
            r = await conn.run(encoding=None, check=False, term_type=None)  # a shell without a terminal
            assert r.exit_status == 1 and b"ssh -t" in (r.stdout or b"")
        finally:
            conn.close()
            await conn.wait_closed()

    asyncio.run(run())


def test_resize_drop_and_session_cap(ssh_server):
    """Two sessions fill the cap of 2: a third is turned away. Dropping one kills only its child."""

    async def run() -> None:
        # Earlier tests' sessions end when their children have exited after the hang-up.
        await wait_db(lambda: not children(ssh_server.proc.pid), "earlier sessions to end", timeout=30)
        a = await open_cockpit(ssh_server.port, ssh_server.keys.viewer)
        b = await open_cockpit(ssh_server.port, ssh_server.keys.viewer, size=(100, 30))
        try:
            await a.until(*PANES)
            await b.until("Orders")
            kids = await wait_db(
                lambda: len(children(ssh_server.proc.pid)) == 2 and children(ssh_server.proc.pid),
                "two session children",
            )
            c = await open_cockpit(ssh_server.port, ssh_server.keys.trader)
            try:
                await c.until("sessions are in use")
            finally:
                await c.close()
            # b is compact (100 columns): pane tabs. Grow it to 160x48 and the full layout appears.
            await b.until("Tab cycles")
            b.raw.clear()
            b.proc.change_terminal_size(*SIZE)
            await b.until("Strategy weights", "LLM rationale")
            b.conn.abort()  # a dropped connection: the transport goes away without an SSH goodbye
            left = await wait_db(
                lambda: len(children(ssh_server.proc.pid)) == 1 and children(ssh_server.proc.pid),
                "b's child to be killed",
                timeout=30,
            )
            assert left[0] in kids
            a.press("1")  # a's cockpit still answers
            a.raw.clear()
            await a.until("15m")
        finally:
            await a.close()

    asyncio.run(run())
    assert ssh_server.proc.poll() is None  # the server (and anything beside it) keeps running


def test_server_shutdown_hangs_up_sessions(tmp_path):
    server = start_ssh_server(tmp_path)

    async def run() -> list[int]:
        term = await open_cockpit(server.port, server.keys.viewer)
        await term.until("Orders")
        kids = children(server.proc.pid)
        assert len(kids) == 1
        server.proc.terminate()
        await wait_db(lambda: server.proc.poll() is not None, "the server to exit", timeout=30)
        term.conn.abort()
        return kids

    try:
        kids = asyncio.run(run())
        assert server.proc.returncode == 0
        assert not os.path.exists(f"/proc/{kids[0]}") or "Z" in open(f"/proc/{kids[0]}/stat").read().split()[2]
    finally:
        stop(server.proc)
