"""`cockpit serve-web` in headless Chromium (Debian's `chromium`; skipped when it is not installed).

The server runs through the CLI; Chromium is driven over the DevTools protocol (aiohttp's websocket
client, already a dependency of textual-serve). We load the page, watch the frames of its own
websocket until the cockpit's pane titles arrive (the session started `cockpit --attach`), save a
screenshot to screenshots/web.png, then press `a`: the browser session is a viewer, so the
approval is refused and no command row is written. Waits have deadlines; nothing is timed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from remote.support import ANSI, PANES, REPO, make_db, query, server_env, stop, wait_for_line

pytest.importorskip("textual_serve")
aiohttp = pytest.importorskip("aiohttp")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")

TIMEOUT = 90.0
# As the machine notes say: without the background-networking flags Chromium keeps dialling out.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--window-size=1600,1000",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]


@pytest.fixture
def web_server(tmp_path):
    db_path = tmp_path / "cockpit.db"
    order_id = make_db(db_path)
    with open(tmp_path / "web.log", "w") as errf:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cockpit",
                "--config",
                str(REPO / "config.yaml"),
                "--db",
                str(db_path),
                "serve-web",
                "--port",
                "0",
            ],
            cwd=tmp_path,
            env=server_env(),
            stdout=subprocess.PIPE,
            stderr=errf,
            text=True,
        )
    try:
        url = wait_for_line(proc, r"cockpit serve-web: (http://\S+)", 60).group(1)
        deadline = time.monotonic() + 60
        while True:  # textual-serve prints before it listens
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve-web never answered"
                time.sleep(0.2)
        yield url, db_path, order_id
    finally:
        stop(proc)


@pytest.fixture
def chromium(tmp_path):
    proc = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield wait_for_line_stderr(proc, r"DevTools listening on (ws://\S+)", 60)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wait_for_line_stderr(proc: subprocess.Popen, pattern: str, timeout: float) -> str:
    import select

    deadline, seen = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"chromium exited ({proc.returncode}): {seen[-2000:]}")
        if select.select([proc.stderr], [], [], 0.5)[0]:
            line = proc.stderr.readline()
            seen += line
            m = re.search(pattern, line)
            if m:
                return m.group(1)
    raise AssertionError(f"chromium printed no DevTools address: {seen[-2000:]}")


class DevTools:
    """A minimal Chrome DevTools Protocol client over one flattened page session."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0
        self.session: str | None = None
        self.pending: dict[int, asyncio.Future] = {}
        self.events: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.pending:
                fut = self.pending.pop(data["id"])
                if "error" in data:
                    fut.set_exception(AssertionError(f"DevTools error: {data['error']}"))
                else:
                    fut.set_result(data.get("result", {}))
            elif "method" in data:
                self.events.put_nowait(data)

    async def send(self, method: str, params: dict | None = None, *, page: bool = True) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if page and self.session:
            msg["sessionId"] = self.session
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send_str(json.dumps(msg))
        return await asyncio.wait_for(fut, TIMEOUT)


async def _browse(devtools_url: str, page_url: str, *, db_path: Path, screenshot: Path) -> dict:
    out: dict = {}
    async with aiohttp.ClientSession() as http, http.ws_connect(devtools_url, max_msg_size=0) as ws:
        cdp = DevTools(ws)
        target = await cdp.send("Target.createTarget", {"url": "about:blank"}, page=False)
        attached = await cdp.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, page=False
        )
        cdp.session = attached["sessionId"]
        await cdp.send("Network.enable")
        await cdp.send("Page.enable")
        await cdp.send("Page.navigate", {"url": page_url})

        received = bytearray()
        opened: list[str] = []

        def screen_text() -> str:
            return ANSI.sub(b"", bytes(received)).decode("utf-8", "replace")

        async def until(*needles: str) -> None:
            deadline = time.monotonic() + TIMEOUT
            while not all(n in screen_text() for n in needles):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out waiting for {needles}; websockets {opened}; text ends {screen_text()[-1500:]!r}"
                    )
                try:
                    ev = await asyncio.wait_for(cdp.events.get(), min(left, 1.0))
                except asyncio.TimeoutError:
                    continue
                if ev["method"] == "Network.webSocketCreated":
                    opened.append(ev["params"]["url"])
                elif ev["method"] == "Network.webSocketFrameReceived":
                    frame = ev["params"]["response"]
                    payload = frame["payloadData"]
                    received.extend(base64.b64decode(payload) if frame["opcode"] == 2 else payload.encode())

        await until(*PANES)
        await until("APPROVAL")
        out["websockets"] = list(opened)
        # Let xterm.js paint the frames it has, then photograph the page.
        await cdp.send(
            "Runtime.evaluate",
            {
                "expression": "new Promise(r => setTimeout(() => requestAnimationFrame("
                "() => requestAnimationFrame(r)), 500))",
                "awaitPromise": True,
            },
        )
        shot = await cdp.send("Page.captureScreenshot", {"format": "png"})
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))

        # A browser session is a viewer: `a` reaches the app through the websocket and is refused.
        await cdp.send("Page.bringToFront")
        await cdp.send("Runtime.evaluate", {"expression": "document.querySelector('.xterm-helper-textarea').focus()"})
        for kind in ("keyDown", "keyUp"):
            await cdp.send(
                "Input.dispatchKeyEvent",
                {"type": kind, "key": "a", "code": "KeyA", "text": "a", "windowsVirtualKeyCode": 65}
                if kind == "keyDown"
                else {"type": kind, "key": "a", "code": "KeyA", "windowsVirtualKeyCode": 65},
            )
        await until("OperatorNotAllowed")
        out["rows"] = query(db_path, "SELECT * FROM operator_commands")
        cdp.reader.cancel()
    return out


def test_web_cockpit_in_headless_chromium(web_server, chromium, tmp_path):
    url, db_path, _order_id = web_server
    # The committed screenshots/web.png is refreshed only on request, so a test run leaves the tree clean.
    import os

    refresh = os.environ.get("COCKPIT_UPDATE_SCREENSHOTS") == "1"
    screenshot = REPO / "screenshots" / "web.png" if refresh else tmp_path / "web.png"
    got = asyncio.run(_browse(chromium, url, db_path=db_path, screenshot=screenshot))
    assert any(u.endswith("/ws") or "/ws?" in u for u in got["websockets"]), got["websockets"]
    assert got["rows"] == []
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
