"""The TUI path on a fresh checkout: the engine's log file goes beside a database whose folder
does not exist yet (README's first command runs exactly this)."""

from __future__ import annotations

import argparse

from cockpit.config import load_config


def test_engine_log_file_is_created_beside_a_database_in_a_new_folder(tmp_path):
    from cockpit.commands.run import _engine_log

    url = f"sqlite:///{tmp_path / 'data' / 'cockpit.db'}"
    cfg = load_config(None, environ={}, overrides={"database.url": url})
    log = _engine_log(cfg, argparse.Namespace(), headless=False)
    log.info("hello", where="test")
    files = list((tmp_path / "data").iterdir())
    assert [f.name for f in files] == ["cockpit.db.engine.log"]
    assert "hello" in files[0].read_text()
