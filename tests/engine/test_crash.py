"""kill -9 at aimed points of the engine's order flow, restart, and the books still agree: no order placed
twice, every fill recorded once, and the database's position equals the exchange's.

The exchange is a standalone `cockpit sim` process (it outlives the engines), at 3600x so orders
flow every few seconds; the engine runs with `execution.approval: auto`. Each trial is a headless engine
forked from one process that imported everything once (tests/support/killpoints.py), killed by SIGKILL at
one seam of its own order path: mid-decision, the order stored but not sent, sent but not acknowledged, a
fill stored before its status, a status step, the position snapshot (small counts can land in the start-up
recovery of the crash before)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request

import pytest
from support.sqlite import query as q
from support.killpoints import ForkServer
from support.trading import ACTIVE_TRADER_ENV

from helpers import REPO, engine_env

for mod in (
    "cockpit.sim.server",
    "cockpit.market.ingest",
    "cockpit.execution.manager",
    "cockpit.execution.okx",
    "cockpit.decision.engine",
    "cockpit.strategies.registry",
):
    pytest.importorskip(mod)

# Where each engine dies (tests/support/killpoints.py): NAME:N kills after the N-th call of that seam.
KILLS = [
    "decision_stored:1",
    "order_stored:1",
    "order_sent:1",
    "fill_recorded:1",
    "status_recorded:2",
    "position_recorded:2",
    "order_sent:2",
    "fill_recorded:2",
]
TRIALS = len(KILLS)
# One process imports the cockpit once and forks a headless engine per trial (its stdout: JSON log lines).
ZYGOTE = (
    "import sys; sys.path.insert(0, {tests!r}); from support.killpoints import fork_server; "
    "from cockpit.cli import main; sys.exit(fork_server(main, preload=('cockpit.commands.run', "
    "'cockpit.engine.stages', 'cockpit.engine.engine', 'cockpit.execution.manager', 'cockpit.execution.okx', "
    "'cockpit.decision.engine', 'cockpit.strategies.registry', 'cockpit.market.ingest', 'cockpit.sim')))"
)

CREDS = {"OKX_API_KEY": "crash-test-key", "OKX_API_SECRET": "crash-test-secret", "OKX_API_PASSPHRASE": "crash-pass"}


def admin(url: str, what: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        f"{url}/sim/admin/{what}",
        method="POST" if body is not None else "GET",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture
def standalone_sim():
    env = engine_env(**CREDS)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cockpit",
            "--config",
            str(REPO / "config.yaml"),
            "sim",
            "--port",
            "0",
            "--speed",
            "3600",
            "--api-key",
            CREDS["OKX_API_KEY"],
            "--secret",
            CREDS["OKX_API_SECRET"],
            "--passphrase",
            CREDS["OKX_API_PASSPHRASE"],
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert m, line + proc.stderr.read()
        yield m.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_kill_9_during_order_flow_then_restart(tmp_path, standalone_sim):
    url = standalone_sim
    db = tmp_path / "c.db"
    env = engine_env(
        **CREDS,
        COCKPIT__EXCHANGE__REST_URL=url,
        COCKPIT__EXECUTION__APPROVAL="auto",
        COCKPIT__EXCHANGE__BACKFILL_DAYS="12",
        COCKPIT__ENGINE__FAST_LOOP_S="0.1",
        COCKPIT__ENGINE__INGEST_INTERVAL_S="0.3",
        **ACTIVE_TRADER_ENV,
    )
    zygote = ForkServer([sys.executable, "-c", ZYGOTE.format(tests=str(REPO / "tests"))], cwd=REPO, env=env)
    args = ["--config", str(REPO / "config.yaml"), "--db", str(db), "--headless", "--log-format", "json"]
    kills = 0
    try:
        for kill_at in KILLS:
            zygote.run(args, kill_at)
            code = zygote.exit_code(timeout=90)
            assert code == -9 and zygote.killed_at(kill_at), (kill_at, code, zygote.err[-30:])
            kills += 1
        assert kills == TRIALS
        orders_before = q(db, "SELECT COUNT(*) AS n FROM orders")[0]["n"]
        assert orders_before > 0, "no order flowed before the kills"

        # Freeze the market so stops and take-profits cannot move the position while we compare.
        admin(url, "clock", {"speed": 0})
        zygote.run(args + ["--for", "4s"])
        code = zygote.exit_code(timeout=60)
        assert code == 0, zygote.err[-30:]
    finally:
        zygote.close()

    from cockpit.config import load_config
    from cockpit.execution.okx import OKXExecutor
    from cockpit.market.exchange import make_exchange

    cfg = load_config(REPO / "config.yaml", environ={"COCKPIT__EXCHANGE__REST_URL": url})
    ex = make_exchange(
        cfg,
        rest_url=url,
        credentials={
            "apiKey": CREDS["OKX_API_KEY"],
            "secret": CREDS["OKX_API_SECRET"],
            "password": CREDS["OKX_API_PASSPHRASE"],
        },
        for_tests=True,
    )
    venue_orders = ex.fetch_closed_orders(cfg["symbol"], limit=100) + ex.fetch_open_orders(cfg["symbol"])

    # No order twice: one row per client id, and each client id at most once on the exchange.
    rows = q(db, "SELECT client_order_id, exchange_order_id, status, filled, id FROM orders")
    cids = [r["client_order_id"] for r in rows]
    assert len(cids) == len(set(cids))
    venue_cids = [o.get("clientOrderId") for o in venue_orders if o.get("clientOrderId")]
    assert len(venue_cids) == len(set(venue_cids)), venue_cids
    # Every order of ours the exchange knows is in the database with the exchange's id; the others are the
    # exchange's own (attached stop-loss / take-profit executions, no client id of ours).
    by_cid = {r["client_order_id"]: r for r in rows}
    for o in venue_orders:
        cid = o.get("clientOrderId")
        if cid and cid in by_cid:
            assert by_cid[cid]["exchange_order_id"] == o["id"], (o, by_cid[cid])
        else:
            assert not cid or not cid.startswith(rows[0]["client_order_id"][:8]), o  # "ck" + our namespace
    # Every order the database says reached the exchange is there under the same client id (fetched
    # one by one: the history listing covers only OKX's last 7 days, less than 20 trials span at 3600x).
    for r in rows:
        if r["exchange_order_id"]:
            o = ex.fetch_order(r["exchange_order_id"], cfg["symbol"])
            if r["client_order_id"].endswith("x" + r["exchange_order_id"]):
                assert not o.get("clientOrderId"), (o, r)  # a stop/take-profit the exchange executed itself
            else:
                assert o["clientOrderId"] == r["client_order_id"], (o, r)
    # Nothing left in limbo: every order the engine sent is settled or still working on the exchange.
    assert not [r for r in rows if r["status"] == "approved"], rows

    # Every fill once.
    dup = q(db, "SELECT order_id, exchange_trade_id, COUNT(*) AS n FROM trades GROUP BY 1, 2 HAVING n > 1")
    assert dup == []
    for r in rows:
        got = q(db, "SELECT COALESCE(SUM(amount), 0) AS a FROM trades WHERE order_id = ?", r["id"])[0]["a"]
        assert abs(got - float(r["filled"] or 0)) < 1e-9, r

    # The database's position is the exchange's.
    snap = q(db, "SELECT side, size FROM position_snapshots ORDER BY id DESC LIMIT 1")[0]
    db_pos = float(snap["size"]) * {"long": 1, "short": -1}.get(snap["side"], 0)
    venue = OKXExecutor(ex, cfg, symbol=cfg["symbol"]).position(cfg["symbol"])
    assert db_pos == pytest.approx(venue.signed_size, abs=1e-9)
