"""`cockpit ingest --funding-csv FILE` (issue 18): timestamp,funding_rate in epoch ms, all or nothing,
errors name the line; the rates land in the funding_rates table that backtests read, and the
simulator's replay takes the same file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cockpit.market.csv_import import CsvImportError, import_funding_csv

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
H = 3_600_000
F = 8 * H
HEAD = "timestamp,funding_rate\n"


def rate(i: int) -> float:
    return round(0.0001 * (i % 3 + 1), 8)


def rows(n: int, start: int = 0) -> str:
    return "".join(f"{T0 + (start + i) * F},{rate(i):.8f}\n" for i in range(n))


def write(tmp_path: Path, body: str, name: str = "f.csv", bom: bool = False) -> Path:
    p = tmp_path / name
    p.write_bytes((("\ufeff" if bom else "") + body).encode("utf-8"))
    return p


def test_import_lands_in_the_table_backtests_read(db, ds, cfg, tmp_path):
    from cockpit.backtest.api import funding_series

    r = import_funding_csv(db, write(tmp_path, HEAD + rows(6), bom=True), symbol="BTC/USDT:USDT")
    assert (r.rows_read, r.rows_inserted, r.first, r.last) == (6, 6, T0, T0 + 5 * F)
    fr = ds.funding_rates("BTC/USDT:USDT")
    assert sorted(zip(fr["timestamp"], fr["funding_rate"])) == [(T0 + i * F, rate(i)) for i in range(6)]
    # the backtest's funding for 1h bars over those two days comes from the table, not the constant
    ts = np.arange(T0, T0 + 40 * H, H, dtype=np.int64)
    per_bar, source = funding_series(
        cfg, ds, SimpleNamespace(funding_source=None, funding_rate=None), "BTC/USDT:USDT", ts, np.full(len(ts), 100.0)
    )
    assert source == "funding_rates table (5 settlements)"  # 00:00 ... 08:00 of the second day, inside the bars
    assert np.count_nonzero(per_bar) > 0
    # idempotent; a different stored rate is a conflict, replaced only with overwrite
    assert import_funding_csv(db, write(tmp_path, HEAD + rows(6)), symbol="BTC/USDT:USDT").rows_inserted == 0
    other = write(tmp_path, HEAD + rows(6).replace(f"{T0 + F},0.00020000", f"{T0 + F},0.00030000"), "g.csv")
    with pytest.raises(
        CsvImportError,
        match=r"g.csv:3: 1 row conflict with the BTC/USDT:USDT funding rates already "
        r"stored .*stored 0.0002, file 0.0003",
    ):
        import_funding_csv(db, other, symbol="BTC/USDT:USDT")
    r = import_funding_csv(db, other, symbol="BTC/USDT:USDT", overwrite=True)
    assert (r.rows_inserted, r.rows_replaced) == (0, 1)
    assert dict(zip(*ds.funding_rates("BTC/USDT:USDT")[["timestamp", "funding_rate"]].T.values))[T0 + F] == 0.0003


@pytest.mark.parametrize(
    "bad, line, message",
    [
        (f"{T0 + 6 * F},abc\n", 8, "funding_rate: expected a number, got 'abc'"),
        (f"{T0 + 6 * F}\n", 8, "missing field 'funding_rate'"),
        (f"{T0 + 6 * F},0.0001,7\n", 8, "wrong number of fields"),
        (f"{T0 + 6 * F + H},0.0001\n", 8, "is not an 8h funding settlement time"),
        (f"{T0 + 4 * F},0.0001\n", 8, "is not after the previous row"),
        (f"{T0 + 6 * F},0.5\n", 8, "funding_rate 0.5 is beyond +-0.03 per 8h"),
        (f"{-F},0.0001\n", 8, "is before 1970"),
        ("4102444800000,0.0001\n", 8, "the settlement is after now"),  # 2100-01-01
    ],
)
def test_bad_row_names_the_line_and_writes_nothing(db, ds, tmp_path, bad, line, message):
    with pytest.raises(CsvImportError) as e:
        import_funding_csv(db, write(tmp_path, HEAD + rows(6) + bad), symbol="BTC/USDT:USDT")
    assert f"f.csv:{line}:" in str(e.value) and message in str(e.value)
    assert len(ds.funding_rates("BTC/USDT:USDT")) == 0


def test_wrong_header_is_line_1(db, tmp_path):
    with pytest.raises(CsvImportError, match="f.csv:1: expected header timestamp,funding_rate"):
        import_funding_csv(
            db, write(tmp_path, "timestamp,open,high,low,close,volume\n" + rows(2)), symbol="BTC/USDT:USDT"
        )


def test_cli_imports_and_records_the_run(tmp_path):
    import sqlite3

    dbfile = tmp_path / "f.db"
    p = write(tmp_path, HEAD + rows(3))
    cmd = [sys.executable, "-m", "cockpit", "--db", str(dbfile), "ingest", "--funding-csv", str(p)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "imported 3 new of 3 rows (BTC/USDT:USDT funding rates)" in r.stdout
    con = sqlite3.connect(dbfile)
    assert con.execute("SELECT COUNT(*) FROM funding_rates").fetchone()[0] == 3
    assert con.execute("SELECT data_type, status, rows_inserted FROM ingestion_runs").fetchall() == [
        ("funding", "success", 3)
    ]
    bad = write(tmp_path, HEAD + rows(3, start=3) + "x,1\n", "bad.csv")
    r = subprocess.run(cmd[:-1] + [str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1 and "bad.csv:5: timestamp: expected a number, got 'x'" in r.stderr
    assert "nothing was imported" in r.stderr
    assert con.execute("SELECT COUNT(*) FROM funding_rates").fetchone()[0] == 3


def test_simulator_replay_takes_the_same_file(tmp_path):
    from cockpit.sim.market import ReplayMarket

    candles = tmp_path / "c.csv"
    candles.write_text(
        "timestamp,open,high,low,close,volume\n" + "".join(f"{T0 + i * H},100,101,99,100,1\n" for i in range(48)),
        encoding="utf-8",
    )
    m = ReplayMarket(candles_csv=candles, funding_csv=write(tmp_path, HEAD + rows(6), bom=True))
    assert [m.funding_rate(T0 + i * F) for i in range(6)] == [rate(i) for i in range(6)]
    with pytest.raises(CsvImportError, match=r"f2.csv:3: timestamp .* is not an 8h funding settlement time"):
        ReplayMarket(candles_csv=candles, funding_csv=write(tmp_path, HEAD + rows(1) + f"{T0 + H},0.0001\n", "f2.csv"))


def test_real_funding_file_imports_completely(db, ds, shared_data_dir):
    r = import_funding_csv(db, shared_data_dir / "btc_usdt_swap_funding_8h.csv", symbol="BTC/USDT:USDT")
    assert r.rows_inserted == r.rows_read == 7_323
    assert (r.first, r.last) == (1568102400000, 1778976000000)
