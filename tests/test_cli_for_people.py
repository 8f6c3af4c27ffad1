"""CLI output for people: money rounded to cents in `cockpit engine status`."""

from __future__ import annotations

import json


def test_engine_status_prints_equity_rounded(db, db_url, capsys):
    from cockpit.cli import main
    from cockpit.db import models as m

    m.EngineState.create(
        key="heartbeat",
        value=json.dumps(
            {"wall_ms": 1, "state": "stopped", "equity": 9712.9486358332, "position": {"side": "flat", "size": 0}}
        ),
        updated_at=1,
    )
    assert main(["--db", db_url, "engine", "status"]) == 3  # not running
    out = capsys.readouterr().out
    assert "equity     9,712.95" in out and "9712.9486" not in out
