"""`cockpit sim --state FILE`: a restarted simulator is the same exchange."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import ccxt
import pytest

SYM = "BTC/USDT:USDT"


def _client(cfg, handle):
    from cockpit.market.exchange import make_exchange

    x = make_exchange(cfg, mode="sim", rest_url=handle.url, credentials=handle.credentials, for_tests=True)
    x.load_markets()
    return x


def test_restart_with_state_file_keeps_account_orders_clock_and_credentials(cfg, tmp_path):
    from cockpit.sim import start_simulator

    state = tmp_path / "sim.state"
    sim_cfg = {**cfg["sim"], "history_days": 20}
    a = start_simulator(sim_cfg, speed=0, state_file=str(state))
    okx = _client(cfg, a)
    okx.set_leverage(3, SYM, {"marginMode": "isolated"})
    okx.create_order(SYM, "market", "buy", 7, None, {"clientOrderId": "keep1", "marginMode": "isolated"})
    last = okx.fetch_ticker(SYM)["last"]
    resting = okx.create_order(SYM, "limit", "buy", 2, round(last * 0.8, 1), {"clientOrderId": "rest1"})
    a.clock.advance(3_600_000)
    before = {
        "pos": okx.fetch_positions([SYM])[0]["contracts"],
        "bal": okx.fetch_balance()["USDT"]["total"],
        "trades": len(okx.fetch_my_trades(SYM)),
        "now": a.clock.now_ms(),
        "creds": a.credentials,
    }
    a.stop()
    assert state.is_file() and oct(state.stat().st_mode & 0o777) == "0o600"

    b = start_simulator(sim_cfg, speed=0, state_file=str(state))
    try:
        assert b.credentials == before["creds"], "the restarted exchange accepts the same keys"
        assert b.clock.now_ms() == before["now"]
        okx2 = _client(cfg, b)
        assert okx2.fetch_positions([SYM])[0]["contracts"] == before["pos"] == 7
        assert okx2.fetch_balance()["USDT"]["total"] == pytest.approx(before["bal"])
        assert len(okx2.fetch_my_trades(SYM)) == before["trades"]
        assert [o["id"] for o in okx2.fetch_open_orders(SYM)] == [resting["id"]]
        with pytest.raises(ccxt.InvalidOrder):  # the client order id is still taken: no duplicate order
            okx2.create_order(SYM, "market", "buy", 1, None, {"clientOrderId": "keep1", "marginMode": "isolated"})
        new = okx2.create_order(SYM, "market", "buy", 1, None, {"clientOrderId": "next1", "marginMode": "isolated"})
        assert new["id"] not in {resting["id"]}
    finally:
        b.stop()


def test_state_file_for_another_market_is_refused(cfg, tmp_path):
    from cockpit.sim import start_simulator

    state = tmp_path / "sim.state"
    start_simulator({**cfg["sim"], "history_days": 20}, speed=0, state_file=str(state)).stop()
    with pytest.raises(ValueError, match="written for another market"):
        start_simulator({**cfg["sim"], "history_days": 20, "seed": 7}, speed=0, state_file=str(state))


def test_standalone_sim_sigterm_saves_state(tmp_path):
    state = tmp_path / "s.state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCKPIT__")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cockpit",
            "--db",
            str(tmp_path / "x.db"),
            "sim",
            "--port",
            "0",
            "--speed",
            "0",
            "--state",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        first = proc.stdout.readline()
        assert "simulator listening on" in first, first + proc.stderr.read()
        state.unlink()  # written at start, before the URL is announced; SIGTERM must write it again
        # Sent at once: the handler must already be in place when the URL is printed (CI once sent it
        # in the gap between the announcement and the handler, and the process died of the signal).
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert state.is_file()
