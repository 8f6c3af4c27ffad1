"""The command line: help, version, argparse errors, db stats with gaps."""

from __future__ import annotations

import json
import subprocess
import sys


from cockpit import __version__


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, cwd=cwd)


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0 and "--headless" in r.stdout and "ingest" in r.stdout and "db" in r.stdout
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"cockpit {__version__}"
    r = run("db", "--help")
    assert r.returncode == 0 and "migrate" in r.stdout and "stats" in r.stdout


def test_unknown_subcommand_and_bad_arguments_get_argparse_errors():
    r = run("frobnicate")
    assert r.returncode == 2 and "invalid choice: 'frobnicate'" in r.stderr
    r = run("--for", "soon", "db", "stats")
    assert r.returncode == 2 and "expected a duration such as 90s" in r.stderr
    r = run("ingest")
    assert r.returncode == 2 and "one of the arguments --csv --funding-csv --exchange is required" in r.stderr


def test_db_stats_counts_gaps(tmp_path):
    csv = tmp_path / "g.csv"
    t0, h = 1_704_067_200_000, 3_600_000
    rows = [0, 1, 2, 5, 6, 9]  # missing 3,4 and 7,8
    csv.write_text("timestamp,open,high,low,close,volume\n" + "".join(f"{t0 + i * h},1,2,0.5,1.5,3\n" for i in rows))
    dbfile = tmp_path / "s.db"
    assert run("--db", str(dbfile), "ingest", "--csv", str(csv), "--timeframe", "1h").returncode == 0
    r = run("--db", str(dbfile), "db", "stats", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data[0]["rows"] == 6 and data[0]["gaps"] == 4
    assert data[0]["first_utc"] == "2024-01-01 00:00" and data[0]["last_utc"] == "2024-01-01 09:00"
    r = run("--db", str(dbfile), "db", "stats")
    assert "BTC/USDT:USDT" in r.stdout and " 4" in r.stdout.splitlines()[1]


def test_data_service_gap_ranges(db, ds, tmp_path):
    from cockpit.market.csv_import import import_csv

    t0, h = 1_704_067_200_000, 3_600_000
    p = tmp_path / "g.csv"
    p.write_text(
        "timestamp,open,high,low,close,volume\n" + "".join(f"{t0 + i * h},1,2,0.5,1.5,3\n" for i in (0, 1, 4, 5, 7))
    )
    import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    assert ds.gaps("BTC/USDT:USDT", "1h") == [(t0 + 2 * h, t0 + 3 * h), (t0 + 6 * h, t0 + 6 * h)]
    assert list(ds.candles("BTC/USDT:USDT", "1h", limit=2)["timestamp"]) == [t0 + 5 * h, t0 + 7 * h]
    assert list(ds.candles("BTC/USDT:USDT", "1h", start=t0 + 4 * h, end=t0 + 5 * h)["timestamp"]) == [
        t0 + 4 * h,
        t0 + 5 * h,
    ]
