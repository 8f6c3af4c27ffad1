"""The embedded simulator restarted on its database (issue 19 item 13): its clock carries on after
the newest candle stored, with or without its saved account; a saved state of another market is a
clear refusal, not a silent second market."""

from __future__ import annotations

import io
import json

import pytest

SYM = "BTC/USDT:USDT"
H = 3_600_000


def _store_candles(db, times: list[int], tf: str = "1h") -> None:
    from cockpit.market.csv_import import insert_candles
    import pandas as pd

    df = pd.DataFrame({"timestamp": times, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    with db.atomic():
        insert_candles(db, SYM, tf, df)


def _log():
    from cockpit.engine.eventlog import EventLog

    out = io.StringIO()
    return EventLog(fmt="json", stream=out), out


def test_clock_starts_after_the_newest_stored_candle_and_says_the_account_is_new(db, cfg):
    from cockpit.engine.stages import _sim_resume
    from cockpit.sim import start_simulator
    from cockpit.sim.server import _date_ms

    start = _date_ms(cfg["sim"]["start"])
    _store_candles(db, [start + i * H for i in range(30)])  # a first run reached 06:00 the next day
    _store_candles(db, [start], tf="1d")  # and closed the first day
    log, out = _log()
    resume = _sim_resume(cfg, log)
    assert resume["resume_after_ms"] == start + 30 * H
    assert resume["state_file"] == f"{db.database}.sim-state"
    warn = [json.loads(line) for line in out.getvalue().splitlines()]
    assert warn[0]["event"] == "simulator_resumed" and warn[0]["level"] == "WARNING"
    assert "account, orders and position start new" in warn[0]["account"]
    h = start_simulator({**cfg["sim"], "history_days": 20}, speed=0, resume_after_ms=resume["resume_after_ms"])
    try:
        assert h.clock.now_ms() == start + 30 * H
        # the market is the same one (built from its configured start), only the clock moved on
        fresh = start_simulator({**cfg["sim"], "history_days": 20}, speed=0)
        try:
            assert h.state.api.ex.market.price_at(start + 5 * H) == fresh.state.api.ex.market.price_at(start + 5 * H)
        finally:
            fresh.stop()
    finally:
        h.stop()


def test_saved_account_and_clock_resume_never_behind_the_data(db, cfg, tmp_path):
    from cockpit.sim import start_simulator

    state = str(tmp_path / "s.sim-state")
    sim_cfg = {**cfg["sim"], "history_days": 20}
    a = start_simulator(sim_cfg, speed=0, state_file=state)
    a.state.api.ex.cash = 12_345.0
    saved_now = a.clock.now_ms()
    a.stop()
    # the database holds candles two hours past the saved clock (a kill -9 between two saves)
    b = start_simulator(sim_cfg, speed=0, state_file=state, resume_after_ms=saved_now + 2 * H)
    try:
        assert b.state.api.ex.cash == 12_345.0
        assert b.clock.now_ms() == saved_now + 2 * H
    finally:
        b.stop()


def test_saved_state_of_another_market_is_refused_with_what_to_do(db, cfg):
    from cockpit.data.venue import VenueMismatch
    from cockpit.engine.stages import _sim_resume
    from cockpit.sim import start_simulator

    log, _ = _log()
    state = _sim_resume(cfg, log)["state_file"]
    start_simulator({**cfg["sim"]}, speed=0, state_file=state).stop()
    other = {**cfg, "sim": {**cfg["sim"], "seed": 7}}
    with pytest.raises(VenueMismatch, match=r"was written for another market .* or another database \(--db FILE\)"):
        _sim_resume(other, log)
