"""The held-out report, exactly as a user would run it: import, train on 2019-09-10 .. 2023-12-31, report
2024-01-01 .. 2026-05-17 (or the newest candle).

    python bench/heldout.py [--data ../shared/data] [--json OUT.json] [--timeframes 1d]

Runs the project's own commands in a scratch database (nothing is tuned here: the defaults in
config.yaml were chosen on the training period by bench/choose_defaults.py):

    cockpit ingest --csv btc_usdt_swap_<tf>.csv --timeframe <tf>      (15m, 1h, 4h, 1d by default)
    cockpit ingest --funding-csv btc_usdt_swap_funding_8h.csv
    cockpit train run --from 2019-09-10 --to 2023-12-31 --json
    cockpit train report CANDIDATE --from 2024-01-01 --to 2026-05-17 --json

and prints every policy's figures (fractions as percentages) and the verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ("2019-09-10", "2023-12-31")
HELDOUT = ("2024-01-01", "2026-05-17")


def cockpit(*args: str, db: Path) -> str:
    cmd = [sys.executable, "-m", "cockpit", "--db", str(db), *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return out.stdout


def table(policies: dict) -> str:
    head = (
        f"{'policy':<17} {'return':>8} {'CAGR':>7} {'Sharpe':>6} {'90% interval':>15} {'Sortino':>7} "
        f"{'max DD':>7} {'turn/yr':>7} {'fees':>6} {'funding':>7} {'exposure':>8}"
    )
    lines = [head]
    for name, p in policies.items():
        ci = p.get("sharpe_ci90")
        ci_txt = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "n/a"
        sh = "n/a" if p["sharpe"] is None else f"{p['sharpe']:.2f}"
        so = "n/a" if p.get("sortino") is None else f"{p['sortino']:.2f}"
        cagr = "n/a" if p.get("cagr") is None else f"{p['cagr']:+.1%}"
        lines.append(
            f"{name:<17} {p['total_return']:>+8.1%} {cagr:>7} {sh:>6} {ci_txt:>15} {so:>7} "
            f"{p['max_drawdown']:>7.1%} {p['turnover_per_year']:>7.1f} {p['fees']:>6.1%} "
            f"{p['funding']:>7.1%} {p['exposure']:>8.2f}"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--timeframes", default="15m,1h,4h,1d")
    ap.add_argument("--json", help="also write the report JSON here")
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "btc_usdt_swap_1d.csv").exists():
        print(f"no data in {data}: nothing to do")
        return 0
    with tempfile.TemporaryDirectory() as t:
        db = Path(t) / "heldout.db"
        for tf in args.timeframes.split(","):
            cockpit("ingest", "--csv", str(data / f"btc_usdt_swap_{tf}.csv"), "--timeframe", tf, db=db)
        cockpit("ingest", "--funding-csv", str(data / "btc_usdt_swap_funding_8h.csv"), db=db)
        cand = json.loads(cockpit("train", "run", "--from", TRAIN[0], "--to", TRAIN[1], "--json", db=db))
        rep = json.loads(
            cockpit("train", "report", cand["version"], "--from", HELDOUT[0], "--to", HELDOUT[1], "--json", db=db)
        )
    print(
        f"candidate {cand['version']}: trained {cand['train']['from']} .. {cand['train']['to']}; "
        f"best single of training: {cand['best_single']}"
    )
    print("\ntraining period (in-sample for the score table):")
    print(table(cand["training_figures"]))
    p = rep["period"]
    print(f"\nheld-out {p['from']} .. {p['to']} UTC ({p['bars']} {p['timeframe']} bars):")
    print(table(rep["policies"]))
    print("\nverdict: " + rep["verdict"]["summary"])
    if args.json:
        Path(args.json).write_text(
            json.dumps({"candidate": cand, "report": rep}, indent=1, sort_keys=True, default=str), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
