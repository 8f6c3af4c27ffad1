"""Backfill 50,000 1h candles through ccxt from the built-in simulator into a fresh database.

Prints candles/s and the share of wall time spent in HTTP (request + ccxt's parsing of the JSON
into lists), in our validation, and in the database, plus a reference: the same rows inserted
straight into SQLite (no exchange), measured in this run.

    python bench/ingest_sim.py [--candles 50000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candles", type=int, default=50_000)
    args = ap.parse_args()

    from cockpit.config import load_config
    from cockpit.db import close_database, migrate, open_database
    from cockpit.market.exchange import make_exchange
    from cockpit.market.ingest import MarketIngestor
    from cockpit.sim import start_simulator

    H = 3_600_000
    days = args.candles // 24 + 2
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        cfg = load_config(None, environ={}, overrides={"database.url": url})
        t = time.perf_counter()
        sim = start_simulator({**cfg["sim"], "history_days": days}, speed=0, base_step_ms=H)
        gen_s = time.perf_counter() - t
        db = open_database(url)
        migrate(db)
        try:
            x = make_exchange(cfg, mode="sim", rest_url=sim.url, credentials=sim.credentials, for_tests=True)
            ing = MarketIngestor(x, cfg, sim.clock, db=db, timeframes=["1h"])
            now = sim.clock.now_ms()
            since = (now // H - args.candles) * H
            t = time.perf_counter()
            step = ing.backfill_candles("1h", since, now=now)
            total = time.perf_counter() - t
            tm = dict(ing.timing)
            rows = db.execute_sql("SELECT timestamp, open, high, low, close, volume FROM market_data").fetchall()
            # Reference: the same rows straight into a second fresh table set (no exchange, no HTTP).
            db.execute_sql("DELETE FROM market_data")
            t = time.perf_counter()
            ing._insert_candles("1h", [tuple(r) for r in rows])
            ref = time.perf_counter() - t
        finally:
            sim.stop()
            close_database()
    other = max(0.0, total - tm["http"] - tm["parse"] - tm["db"])
    print(f"market generation: {gen_s:.2f} s for {days} days of 1h bars")
    print(
        f"backfill: {step.rows} candles in {total:.2f} s = {step.rows / total:,.0f} candles/s "
        f"(status {step.status}, {len(rows)} rows stored)"
    )
    for name, v in (
        ("HTTP + ccxt parse", tm["http"]),
        ("validation", tm["parse"]),
        ("database", tm["db"]),
        ("other", other),
    ):
        print(f"  {name:<18} {v:6.2f} s  {100 * v / total:5.1f} %")
    print(
        f"reference: direct SQLite insert of the same rows {ref:.3f} s "
        f"({len(rows) / ref:,.0f} rows/s); backfill is {total / ref:.1f}x that"
    )
    return 0 if step.rows >= args.candles - 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
