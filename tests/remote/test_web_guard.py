"""Issue 19, item 5: `cockpit serve-web` opens a cockpit session only for its own page at its secret
URL, and only up to its session cap. The real CLI server and real `cockpit --attach` children;
aiohttp's client speaks to it like a browser (or like another site's page) would."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from remote.support import REPO, make_db, server_env, stop, wait_for_line

pytest.importorskip("textual_serve")
aiohttp = pytest.importorskip("aiohttp")

TIMEOUT = 90.0


@pytest.fixture
def web(tmp_path):
    db_path = tmp_path / "cockpit.db"
    make_db(db_path)
    log = tmp_path / "web.log"
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
                "serve-web",
                "--port",
                "0",
                "--max-sessions",
                "1",
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
                    page = r.read().decode()
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve-web never answered"
                time.sleep(0.2)
        yield url, page, log
    finally:
        stop(proc)


def _status(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


async def _ws_status(url: str, **kw) -> int:
    """101 when the websocket opens (then closed at once), else the HTTP status of the refusal."""
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(url, **kw):
                return 101
        except aiohttp.WSServerHandshakeError as e:
            return e.status


def _parts(url: str, page: str) -> tuple[str, str, str]:
    """(origin, secret, websocket URL the page itself uses)."""
    u = urlsplit(url)
    origin = f"{u.scheme}://{u.netloc}"
    secret = u.path.strip("/")
    ws = re.search(r'data-session-websocket-url="([^"]+)"', page).group(1)
    return origin, secret, ws


def test_no_secret_no_cockpit(web):
    url, page, _log = web
    origin, secret, ws = _parts(url, page)
    assert len(secret) >= 24 and ws == f"ws://{urlsplit(url).netloc}/{secret}/ws"
    assert _status(origin + "/") == 404
    assert _status(f"{origin}/{secret[:-1]}x/") == 404
    assert _status(f"{origin}/static/") == 404
    assert _status(url) == 200
    assert asyncio.run(_ws_status(f"ws://{urlsplit(url).netloc}/ws", origin=origin)) == 404
    assert asyncio.run(_ws_status(ws.replace(secret, secret[::-1]), origin=origin)) == 404


def test_foreign_origin_websocket_is_refused(web):
    url, page, _log = web
    origin, secret, ws = _parts(url, page)
    assert asyncio.run(_ws_status(ws, origin="http://evil.example")) == 403
    assert asyncio.run(_ws_status(ws, origin="null")) == 403
    assert asyncio.run(_ws_status(ws)) == 403  # no Origin: not the cockpit's page in a browser
    port = urlsplit(url).port
    # DNS rebinding: evil.example resolves to us, so the page is "same origin" with itself.
    evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    assert asyncio.run(_ws_status(ws, headers=evil)) == 403
    assert _status(url, {"Host": f"evil.example:{port}"}) == 403


def test_sessions_are_capped_and_the_secret_is_not_logged(web):
    url, page, log = web
    origin, secret, ws = _parts(url, page)

    async def run() -> tuple[int, int, int]:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws + "?width=120&height=40", origin=origin) as first:
                await asyncio.wait_for(first.receive(), TIMEOUT)  # the cockpit child is up and drawing
                second = await _ws_status(ws, origin=origin)
            deadline = time.monotonic() + TIMEOUT
            while True:  # the slot is free again once the first child has quit
                third = await _ws_status(ws, origin=f"http://localhost:{urlsplit(url).port}")
                if third == 101 or time.monotonic() > deadline:
                    return 101, second, third
                await asyncio.sleep(0.3)

    first, second, third = asyncio.run(run())
    assert (first, second, third) == (101, 503, 101)
    assert secret not in log.read_text()


def test_guard_behind_a_tls_proxy():
    """--public --public-url https://cockpit.example: that name and origin only, secret path, cap."""
    from cockpit.remote.web import WebGuard

    secret = "s" * 32
    g = WebGuard(public_url="https://cockpit.example", bind_host="0.0.0.0", max_sessions=1, secret=secret)
    assert g.url("https://cockpit.example") == f"https://cockpit.example/{secret}/"
    ws = f"/{secret}/ws"
    assert g.refusal(path=f"/{secret}/", host="cockpit.example", origin=None) is None
    assert g.refusal(path=ws, host="cockpit.example", origin="https://cockpit.example") is None
    assert g.refusal(path=ws, host="cockpit.example", origin="http://cockpit.example")[0] == 403
    assert g.refusal(path=ws, host="cockpit.example:443", origin="https://evil.example")[0] == 403
    assert g.refusal(path=ws, host="evil.example", origin="https://cockpit.example")[0] == 403
    assert g.refusal(path=f"/{secret}x/ws", host="cockpit.example", origin="https://cockpit.example")[0] == 404
    g.active = 1
    assert g.refusal(path=ws, host="cockpit.example", origin="https://cockpit.example")[0] == 503
    assert g.refusal(path=f"/{secret}/", host="cockpit.example", origin=None) is None  # the page still loads
