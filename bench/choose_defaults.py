"""How the decision defaults were chosen — on the training period (2019-09-10 .. 2023-12-31) only.

    python bench/choose_defaults.py [--data ../shared/data] [--quick] [--write-table]

Imports the real candles and funding into a scratch database with the project's own commands, then
prints, for the training period and nothing after it:

1. the decision timeframe: buy-and-hold, equal weights and each strategy alone at 1h, 4h and 1d
   (Sharpe, drawdown, fees and funding as fractions of capital; every policy through the event engine);
2. the selector: reward kind x regime pooling x top-N x max weight (the candidate's training figures);
3. the reward horizon x rebalance band x the trend core's target volatility.

Rule used for the defaults (fixed before looking at the grids): the highest training CAGR among the
settings whose training Sharpe is within 0.05 of the grid's best and whose training drawdown is no
deeper than 20% (a margin under the report's 25% limit). Everything here is in-sample for the score
table: treat differences of a few hundredths of Sharpe as noise (the 90% intervals are about +-0.85).

``--write-table`` trains the default configuration and writes the score table shipped with the package
(``cockpit/decision/default_scores.json``), which the offline selector reads until one is published.
The held-out period is never loaded: the scratch database holds candles up to 2023-12-31 only.
"""

from __future__ import annotations

import argparse
import copy
import csv
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRAIN_FROM, TRAIN_TO = "2019-09-10", "2023-12-31"
TRAIN_END_MS = 1704067199999  # 2023-12-31 23:59:59.999 UTC


def cut(src: Path, dst: Path) -> None:
    """Copy a CSV keeping only rows stamped before 2024 (the held-out period never enters the database)."""
    with src.open(newline="") as fi, dst.open("w", newline="") as fo:
        r, w = csv.reader(fi), csv.writer(fo)
        w.writerow(next(r))
        for row in r:
            if int(row[0]) <= TRAIN_END_MS:
                w.writerow(row)


def cockpit(*args: str, db: Path) -> None:
    cmd = [sys.executable, "-m", "cockpit", "--db", str(db), *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})


def scratch(data: Path, tmp: Path, timeframes: list[str]) -> Path:
    db = tmp / "train.db"
    for tf in timeframes:
        f = tmp / f"{tf}.csv"
        cut(data / f"btc_usdt_swap_{tf}.csv", f)
        cockpit("ingest", "--csv", str(f), "--timeframe", tf, db=db)
    f = tmp / "funding.csv"
    cut(data / "btc_usdt_swap_funding_8h.csv", f)
    cockpit("ingest", "--funding-csv", str(f), db=db)
    return db


def fmt(p: dict) -> str:
    ci = p.get("sharpe_ci90") or [None, None]
    sh = "n/a" if p["sharpe"] is None else f"{p['sharpe']:.2f}"
    ci_txt = "" if ci[0] is None else f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    cagr = "n/a" if p.get("cagr") is None else f"{p['cagr']:+.1%}"
    return (
        f"return {p['total_return']:+8.1%}  CAGR {cagr:>7}  Sharpe {sh:>5}{ci_txt:<15}  max DD "
        f"{p['max_drawdown']:7.1%}  turnover/yr {p['turnover_per_year']:6.1f}  fees {p['fees']:.3f}  "
        f"funding {p['funding']:.3f}  exposure {p['exposure']:.2f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--quick", action="store_true", help="1d only, a smaller grid")
    ap.add_argument("--write-table", action="store_true", help="write cockpit/decision/default_scores.json")
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "btc_usdt_swap_1d.csv").exists():
        print(f"no data in {data}: nothing to do")
        return 0

    from cockpit.backtest.api import parse_date
    from cockpit.config import load_config
    from cockpit.data import DataService
    from cockpit.data.training_store import TrainingStore
    from cockpit.db import migrate, open_database
    from cockpit.strategies.registry import build_strategies
    from cockpit.training.evaluation import run_policies
    from cockpit.training.pipeline import train_candidate

    tfs = ["1d"] if (args.quick or args.write_table) else ["1d", "4h", "1h"]
    with tempfile.TemporaryDirectory() as t:
        db_path = scratch(data, Path(t), tfs)
        db = open_database(f"sqlite:///{db_path}")
        migrate(db)
        ds, store = DataService(db), TrainingStore(db)
        base = load_config(None, environ={})
        base["training"]["use_live"] = False
        start, end = parse_date(TRAIN_FROM), parse_date(TRAIN_TO, end=True)
        now = int(time.time() * 1000)
        counter = itertools.count()

        def train(cfg):
            return train_candidate(cfg, ds, store, now_ms=now + 1000 * next(counter), start=TRAIN_FROM, end=TRAIN_TO)

        if args.write_table:
            out = train(base)
            doc = {
                "version": f"shipped-{out['version'][1:9]}",
                "trained": {
                    "from": TRAIN_FROM,
                    "to": TRAIN_TO,
                    "timeframe": base["decision_timeframe"],
                    "reward": out["reward"],
                    "strategies": out["strategies"],
                },
                "training_figures": out["training_figures"]["candidate"],
                "rows": [
                    {k: r[k] for k in ("strategy", "regime", "expected_reward", "uncertainty", "samples")}
                    for r in out["table"]
                ],
            }
            path = ROOT / "cockpit" / "decision" / "default_scores.json"
            path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            print(f"wrote {path} ({len(doc['rows'])} rows); candidate on training: {fmt(doc['training_figures'])}")
            return 0

        print(f"# 1. decision timeframe (training {TRAIN_FROM} .. {TRAIN_TO}, each policy through the event engine)")
        for tf in tfs:
            cfg = copy.deepcopy(base)
            cfg["decision_timeframe"] = tf
            strats = build_strategies(cfg)
            for name in [s.name for s in strats]:
                keep = ("best_single", "buy_and_hold", "equal_weights") if name == strats[0].name else ("best_single",)
                r = run_policies(
                    cfg,
                    ds,
                    start_ms=start,
                    end_ms=end,
                    strategies=strats,
                    candidate_rows=None,
                    active_rows=[],
                    active_label="",
                    best_single=name,
                    include=keep,
                )
                for k, p in r["policies"].items():
                    print(f"{tf:>3} {name if k == 'best_single' else k:<16} {fmt(p)}", flush=True)

        print("\n# 2. selector (1d): reward x regime pooling x top-N x max weight -> the candidate on training")
        grid = itertools.product(["sharpe", "log_return"], [20.0, None], [1, 2, 3], [0.6, 1.0])
        for reward, shrink, top, mw in grid:
            if args.quick and mw == 0.6:
                continue
            cfg = copy.deepcopy(base)
            cfg["training"]["reward"] = reward
            cfg["portfolio"].update(regime_shrink=shrink, top_n=top, max_weight=mw)
            c = train(cfg)
            print(
                f"reward {reward:<10} regimes {'pooled' if shrink is None else f'k={shrink:g}':<7} top {top} "
                f"max weight {mw:.1f}: {fmt(c['training_figures']['candidate'])}",
                flush=True,
            )

        print("\n# 3. horizon x rebalance band x trend_core target volatility (1d, the chosen selector)")
        for h, band, tv in itertools.product([15, 30, 60], [0.05, 0.1, 0.2], [0.2, 0.25, 0.3, 0.4]):
            if args.quick and (h != 30 or tv == 0.4):
                continue
            cfg = copy.deepcopy(base)
            cfg["training"]["horizon_bars"] = h
            cfg["portfolio"]["rebalance_band"] = band
            cfg["strategies"]["trend_core"]["params"]["target_vol"] = tv
            c = train(cfg)
            print(
                f"horizon {h:>2} band {band:.2f} target vol {tv:.2f}: {fmt(c['training_figures']['candidate'])}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
