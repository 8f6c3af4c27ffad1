"""Real BTC/USDT 1h candles and funding (../shared/data): train 2019-2023, held-out report 2024-2026,
stored with the candidate. The figures are printed (run with -s) whatever they are."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cockpit.data.training_store import MODEL_NAME, TrainingStore
from cockpit.market.csv_import import insert_candles, read_candles_csv
from cockpit.training.commands import format_report, format_table
from cockpit.training.pipeline import report_candidate, train_candidate

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def test_real_train_2019_2023_report_2024_2026(shared_data_dir, db, ds, cfg):
    from cockpit.db.models import FundingRate

    with db.atomic():
        insert_candles(db, "BTC/USDT:USDT", "1h", read_candles_csv(shared_data_dir / "btc_usdt_swap_1h.csv", "1h"))
        f = pd.read_csv(shared_data_dir / "btc_usdt_swap_funding_8h.csv")
        rows = [{"symbol": "BTC/USDT:USDT", "timestamp": int(t), "funding_rate": float(r)}
                for t, r in zip(f["timestamp"], f["funding_rate"])]
        for i in range(0, len(rows), 500):
            FundingRate.insert_many(rows[i:i + 500]).on_conflict_ignore().execute()
    cfg["training"]["param_trials"] = 3
    store = TrainingStore(db)
    c = train_candidate(cfg, ds, store, now_ms=1_780_000_000_000, start="2019-01-01", end="2023-12-31")
    assert c["train"]["to"].startswith("2023-12-31")
    rep = report_candidate(cfg, ds, store, c["version"], now_ms=1_780_000_000_001, start="2024-01-01")
    assert rep["period"]["from"].startswith("2024-01-01") and rep["period"]["to"].startswith("2026-05")
    stored = ds.model_version(MODEL_NAME, c["version"])["metadata"]["report"]
    assert stored["policies"].keys() == rep["policies"].keys()
    assert len(rep["policies"]) == 5
    print("\n" + format_table(c["table"]))
    print(json.dumps(c["walk_forward"], indent=1))
    print("best single in training:", c["best_single"])
    print(format_report(c["version"], rep))
