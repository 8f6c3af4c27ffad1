"""The real TUI in a pseudo-terminal: it starts with TERM=xterm-256color and no COLORTERM (as over
SSH), and when the terminal goes away (the pty closes and SIGHUP arrives) it exits promptly instead
of spinning. Attach mode: the database belongs to no engine here and nothing is stopped."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from cockpit.config import load_config
from cockpit.ui.app import run_tui
cfg = load_config(None, environ={}, overrides={"database.url": sys.argv[1]})
sys.exit(run_tui(cfg, attach=True))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="needs POSIX signals")
def test_tui_exits_when_the_terminal_goes_away(tmp_path):
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "TEXTUAL")}
    env.update(TERM="xterm-256color", COLUMNS="80", LINES="24")
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, f"sqlite:///{tmp_path / 'c.db'}"],
        cwd=REPO,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 60
        while b"Approve" not in seen:  # the footer is drawn: the app is up
            assert proc.poll() is None, seen[-2000:]
            assert time.monotonic() < deadline, seen[-2000:]
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert b"\x1b[38;2;" not in seen or os.environ.get("COLORTERM"), "truecolor escapes without COLORTERM"
        proc.send_signal(signal.SIGHUP)  # what the kernel sends when an SSH session's pty hangs up
        proc.wait(timeout=20)
    finally:
        if master >= 0:
            os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 129, proc.returncode  # our SIGHUP handler: app.exit(129)
