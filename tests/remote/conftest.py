"""Remote cockpit fixtures: a running `cockpit serve-ssh` over a database with one pending order."""

from __future__ import annotations

import pytest

from remote.support import start_ssh_server, stop


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory):
    server = start_ssh_server(tmp_path_factory.mktemp("ssh"))
    try:
        yield server
    finally:
        stop(server.proc)
