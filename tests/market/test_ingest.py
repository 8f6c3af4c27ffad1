"""MarketIngestor through ccxt against the simulator: backfill, validation, faults, repair, replay."""

from __future__ import annotations

import pytest

SYM = "BTC/USDT:USDT"
H = 3_600_000


def make_ingestor(okx, cfg, sim, db, **kw):
    from cockpit.market.ingest import MarketIngestor

    return MarketIngestor(
        okx, cfg, sim.clock, db=db, timeframes=kw.pop("timeframes", ["1h"]), source="sim", sleep=lambda s: None, **kw
    )


def stored(db, tf="1h"):
    return db.execute_sql(
        "SELECT timestamp, open, high, low, close, volume FROM market_data "
        "WHERE symbol=? AND timeframe=? ORDER BY timestamp",
        (SYM, tf),
    ).fetchall()


def truth(sim, tf_ms, since, now):
    bars = sim.market.candles(tf_ms, now, after=now // tf_ms * tf_ms, before=since - 1, limit=100_000)
    return [(b.ts, b.open, b.high, b.low, b.close, b.volume) for b in reversed(bars) if b.confirmed]


def runs(db):
    return db.execute_sql(
        "SELECT data_type, timeframe, status, error, rows_inserted FROM ingestion_runs ORDER BY id"
    ).fetchall()


def test_backfill_is_exact_closed_only_and_idempotent(okx, cfg, sim, db):
    sim.clock.advance(30 * 60_000)
    now = sim.clock.now_ms()
    since = now - 10 * 24 * H
    ing = make_ingestor(okx, cfg, sim, db, timeframes=["15m", "1h", "4h"])
    for tf in ("15m", "1h", "4h"):
        step = ing.backfill_candles(tf, since)
        assert step.status == "success", step
    want = truth(sim, H, since, now)
    assert stored(db) == [tuple(r) for r in want]
    assert stored(db)[-1][0] + H <= now  # the forming hour is not stored
    assert len(stored(db, "15m")) == 10 * 96
    assert stored(db, "4h") == [tuple(r) for r in truth(sim, 4 * H, since, now)]
    assert ing.backfill_candles("1h", since).rows == 0  # idempotent
    forming = ing.fetch_forming_candle("1h")
    assert forming["timestamp"] == now // H * H and forming["closed"] is False
    assert [r[2] for r in runs(db)] == ["success"] * 4


def test_run_once_updates_everything_incrementally(okx, cfg, sim, db):
    ing = make_ingestor(okx, cfg, sim, db, timeframes=["1h", "1d"])
    first = ing.run_once()
    assert first["ok"], first["errors"]
    types = {s["data_type"] for s in first["steps"]}
    assert types == {"candles", "funding", "price_snapshot", "open_interest", "long_short_ratio"}
    n = len(stored(db))
    assert n == min(cfg["exchange"]["backfill_days"], 20) * 24  # the fixture market has 20 days of history
    sim.clock.advance(3 * H)
    second = ing.run_once()
    assert second["ok"] and len(stored(db)) == n + 3
    counts = {
        t: db.execute_sql(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("funding_rates", "price_snapshots", "open_interest", "long_short_ratio")
    }
    assert all(counts.values()), counts


@pytest.mark.parametrize("kind", ["rate_limit", "server_error", "drop", "malformed", "garbage", "slow"])
def test_each_fault_kind_stores_nothing_bad_is_recorded_and_repaired(kind, okx, cfg, sim, db):
    now = sim.clock.now_ms()
    since = now - 40 * 24 * H  # 960 candles = 4 pages
    ing = make_ingestor(okx, cfg, sim, db)
    if kind == "slow":
        okx.timeout = 200
    extra = {"delay_s": 0.5} if kind == "slow" else {}
    # Persistent while the first page is fetched: the step gives up after its retries.
    fault = sim.faults.add(kind, count=-1, path="candles", **extra)
    step = ing.backfill_candles("1h", since)
    assert step.status in ("failed", "partial") and step.error
    sim.faults.clear()
    # A fault in the middle of a later run: one page goes bad, the others land.
    sim.faults.add(kind, count=1 if kind in ("malformed", "garbage") else ing.max_retries + 1, path="candles", **extra)
    ing.backfill_candles("1h", since)
    okx.timeout = 10_000
    good = {r[0]: r for r in truth(sim, H, since, now)}
    rows = stored(db)
    assert all(tuple(r) == good[r[0]] for r in rows)  # whatever is stored is correct
    recorded = runs(db)
    assert any(r[2] != "success" and r[3] for r in recorded)  # the fault is on record, with why
    ing.backfill_candles("1h", since)  # resumes when the fault clears
    ing.repair(["1h"])
    assert stored(db) == [tuple(r) for r in truth(sim, H, since, now)]
    from cockpit.data import DataService

    assert DataService(db).gaps(SYM, "1h") == []
    assert fault.hits >= 1


def test_run_once_never_raises_when_everything_fails(okx, cfg, sim, db):
    sim.faults.add("drop", count=-1)
    summary = make_ingestor(okx, cfg, sim, db).run_once()
    assert not summary["ok"] and summary["errors"] and stored(db) == []
    assert all(r[2] == "failed" for r in runs(db))


def test_a_future_dated_row_in_the_database_does_not_stall_ingest(okx, cfg, sim, db):
    """A candle dated years ahead of the exchange clock (a bad CSV import) used to be taken as the newest
    stored one: nothing newer was ever fetched again. It is ignored (and logged), and ingest goes on."""
    from cockpit.market.csv_import import INSERT_CANDLES

    now = sim.clock.now_ms()
    future = (now // H + 24 * 365 * 2) * H
    db.execute_sql(INSERT_CANDLES, (SYM, "1h", future, 100.0, 101.0, 99.0, 100.0, 1.0))
    ing = make_ingestor(okx, cfg, sim, db)
    step = ing.update_candles("1h")
    assert step.status == "success" and step.rows > 0, step
    real = [r for r in stored(db) if r[0] != future]
    assert real and real[-1][0] == now // H * H - H  # the newest closed hour is stored
    sim.clock.advance(2 * H)
    assert ing.update_candles("1h").rows == 2  # and the next ones too


def test_validation_rejects_bad_rows():
    from cockpit.market.ingest import valid_candle

    now = 10 * H
    assert valid_candle([H, 1.0, 2.0, 0.5, 1.5, 3.0], H, now) is None
    assert valid_candle([H, None, 2.0, 0.5, 1.5, 3.0], H, now)
    assert valid_candle([H, 1.0, 0.4, 0.5, 1.5, 3.0], H, now)  # high < low
    assert valid_candle([H + 1, 1.0, 2.0, 0.5, 1.5, 3.0], H, now)  # off grid
    assert valid_candle([11 * H, 1.0, 2.0, 0.5, 1.5, 3.0], H, now)  # ahead of the exchange
    assert valid_candle([H, float("nan"), 2.0, 0.5, 1.5, 3.0], H, now)
    assert valid_candle([None, 1.0, 2.0, 0.5, 1.5, 3.0], H, now)


def test_replay_of_real_candles_round_trips(shared_data_dir, cfg, db, tmp_path):
    import pandas as pd

    from cockpit.market.exchange import make_exchange
    from cockpit.market.ingest import MarketIngestor
    from cockpit.sim import start_simulator

    src = pd.read_csv(shared_data_dir / "btc_usdt_swap_1h.csv").iloc[40_000:41_500]
    path = tmp_path / "slice.csv"
    src.to_csv(path, index=False)
    end = int(src["timestamp"].iloc[-1]) + H
    sim = start_simulator({**cfg["sim"], "replay_csv": str(path)}, speed=0, start_ms=end)
    try:
        x = make_exchange(cfg, mode="sim", rest_url=sim.url, credentials=sim.credentials, for_tests=True)
        ing = MarketIngestor(x, cfg, sim.clock, db=db, timeframes=["1h"], sleep=lambda s: None)
        assert ing.backfill_candles("1h", int(src["timestamp"].iloc[0])).status == "success"
    finally:
        sim.stop()
    got = stored(db)
    assert len(got) == len(src)
    want = [tuple(r) for r in src[["timestamp", "open", "high", "low", "close", "volume"]].itertuples(index=False)]
    assert [(int(g[0]), *map(float, g[1:])) for g in got] == [(int(w[0]), *map(float, w[1:])) for w in want]


def test_cli_ingest_and_repair_with_builtin_sim(tmp_path, capsys):
    from cockpit.cli import main

    dbp = tmp_path / "cli.db"
    assert main(["--db", str(dbp), "ingest", "--exchange", "sim", "--timeframes", "1d", "--since", "2025-12-20"]) == 0
    out = capsys.readouterr().out
    assert "candles 1d" in out and "success" in out
    assert main(["--db", str(dbp), "db", "repair", "--exchange", "sim", "--timeframes", "1d"]) == 0


def test_simulator_sends_okx_timestamps_for_ticker_mark_and_oi(okx, sim):
    """What OKX sends (``ts`` on every record) and ccxt reads into ``timestamp``."""
    inst = {"instId": "BTC-USDT-SWAP"}
    now = sim.clock.now_ms()
    for raw in (
        okx.publicGetMarketTicker(inst),
        okx.publicGetPublicMarkPrice(inst),
        okx.publicGetPublicOpenInterest(inst),
        okx.publicGetMarketIndexTickers({"instId": "BTC-USDT"}),
    ):
        assert 0 < int(raw["data"][0]["ts"]) <= now
    assert okx.fetch_ticker(SYM)["timestamp"] == now
    assert okx.fetch_mark_price(SYM)["timestamp"] == now
    assert 0 <= now - okx.fetch_open_interest(SYM)["timestamp"] < 300_000


def _snapshot_rows(db):
    snaps = db.execute_sql("SELECT timestamp, last_price, mark_price, index_price FROM price_snapshots").fetchall()
    ois = db.execute_sql("SELECT timestamp, open_interest, open_interest_value FROM open_interest").fetchall()
    return snaps, ois


def _assert_sensible(snaps, ois, now):
    assert snaps and ois
    for ts, last, mark, index in snaps:
        assert 0 < ts <= now and last > 0
        assert abs(mark / last - 1) < 0.005 and abs(index / last - 1) < 0.005  # mark/index near last
    for ts, oi, value in ois:
        assert 0 < ts <= now and oi > 0 and value > 0


def test_run_once_stores_price_snapshot_and_open_interest(okx, cfg, sim, db):
    ing = make_ingestor(okx, cfg, sim, db)
    summary = ing.run_once()
    assert summary["ok"], summary["errors"]
    assert ing.rejected_log == []
    _assert_sensible(*_snapshot_rows(db), sim.clock.now_ms())


def test_snapshots_are_kept_when_the_clock_runs_fast(cfg, db):
    """At 3600x a request takes simulated minutes: the records are newer than an exchange time read
    before the request (every snapshot and OI record used to be rejected as 'missing timestamp')."""
    from cockpit.market.exchange import make_exchange
    from cockpit.market.ingest import MarketIngestor
    from cockpit.sim import start_simulator

    sim = start_simulator({**cfg["sim"], "history_days": 3}, speed=3600)
    try:
        x = make_exchange(cfg, mode="sim", rest_url=sim.url, credentials=sim.credentials, for_tests=True)
        ing = MarketIngestor(x, cfg, sim.clock, db=db, timeframes=["1h"], source="sim", sleep=lambda s: None)
        # Slow answers (0.1 s = 6 simulated minutes each): the records' times run well past the step's start.
        for path in ("market/ticker", "public/mark-price", "public/open-interest"):
            sim.faults.add("slow", count=1, path=path, delay_s=0.1)
        snap, oi = ing.ingest_snapshot(), ing.ingest_open_interest()
        assert (snap.status, snap.rows, oi.status) == ("success", 1, "success"), (snap, oi, ing.rejected_log)
        snaps, ois = _snapshot_rows(db)
        _assert_sensible(snaps, ois, sim.clock.now_ms())
    finally:
        sim.stop()


def test_snapshot_time_uses_the_exchange_clock_only_when_a_record_has_none():
    from cockpit.market.ingest import MarketIngestor

    now = 1_767_225_600_000
    assert MarketIngestor._snapshot_time(now - 5, now) == (now - 5, None)
    assert MarketIngestor._snapshot_time(None, now) == (now, None)  # no ts at all: the exchange's time
    assert MarketIngestor._snapshot_time(now + 30_000, now) == (now + 30_000, None)  # within clock skew
    assert MarketIngestor._snapshot_time(now + 120_000, now)[1].startswith("timestamp")
    assert MarketIngestor._snapshot_time("NaN", now)[1].startswith("bad timestamp")


def _gapped_csv(path):
    day = 86_400_000
    t0 = 1_735_689_600_000  # 2025-01-01
    rows = ["timestamp,open,high,low,close,volume"]
    for k in range(10):
        if k == 5:
            continue  # one missing day: a gap to repair
        rows.append(f"{t0 + k * day},100,110,90,105,1000")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_db_repair_refuses_to_mix_another_venue_into_the_database(tmp_path, capsys):
    """A database of imported candles is not 'repaired' with the simulator's (or OKX's) market: the gap stays,
    nothing is written, and the message says whose database it is (the ingest commands already refused)."""
    from cockpit.cli import main
    from cockpit.data.venue import database_venues
    from cockpit.db import close_database, open_database

    dbp = tmp_path / "import.db"
    assert main(["--db", str(dbp), "ingest", "--csv", str(_gapped_csv(tmp_path / "d.csv")), "--timeframe", "1d"]) == 0
    capsys.readouterr()
    assert main(["--db", str(dbp), "db", "repair", "--exchange", "sim", "--timeframes", "1d"]) == 1
    err = capsys.readouterr().err
    assert "refusing to repair its gaps with sim market data" in err and "'import'" in err
    db = open_database(f"sqlite:///{dbp}")
    try:
        assert database_venues(db) == {"import"}
        assert db.execute_sql("SELECT COUNT(*) FROM market_data").fetchone()[0] == 9  # the gap is still there
    finally:
        close_database()


def test_the_data_screens_repair_refuses_another_venue_before_reaching_the_exchange(tmp_path, db, cfg):
    from cockpit.data.venue import claim_venue
    from cockpit.ui.screens.data import find_repair

    claim_venue(db, "import", now_ms=1)
    repair = find_repair()
    assert repair is not None
    cfg = {**cfg, "exchange": {**cfg["exchange"], "mode": "okx-live"}}  # would need keys and the network: not reached
    msg = repair(cfg, db, ["1d"])
    assert msg.startswith("refused, nothing was written") and "'import'" in msg
