"""``cockpit train run | report | publish | list``: offline training, reviewed before anything goes live."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="offline training: strategy scores per regime and prompt drafts",
        description="Learn offline which strategies to favour in which regime (Thompson-sampling "
        "bandit over backtests and recorded decisions). A run makes a candidate (draft score table "
        "and prompt); report compares it on a held-out period; publish makes it active.",
    )
    s = p.add_subparsers(dest="train_command", metavar="{run,report,publish,list}")
    s.required = True
    r = s.add_parser("run", help="train a candidate on stored candles")
    r.add_argument("--from", dest="start", metavar="DATE", help="first day of training YYYY-MM-DD (UTC)")
    r.add_argument("--to", dest="end", metavar="DATE", help="last day of training YYYY-MM-DD (UTC, inclusive)")
    r.add_argument("--json", action="store_true", help="print the candidate as JSON")
    r.set_defaults(func=run_cli)
    q = s.add_parser("report", help="compare a candidate on a held-out period")
    q.add_argument("candidate", metavar="CANDIDATE")
    q.add_argument("--from", dest="start", metavar="DATE", help="first held-out day (default: the bar after training)")
    q.add_argument("--to", dest="end", metavar="DATE", help="last held-out day (default: the newest candle)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=report_cli)
    u = s.add_parser("publish", help="make a reviewed candidate the active score table and publish its prompt")
    u.add_argument("candidate", metavar="CANDIDATE")
    u.add_argument("--force", action="store_true", help="publish without a held-out report")
    u.set_defaults(func=publish_cli)
    ls = s.add_parser("list", help="candidates, newest first")
    ls.set_defaults(func=list_cli)


def _parts(ctx):
    from cockpit.data import DataService
    from cockpit.data.training_store import TrainingStore

    db = ctx.database()
    return DataService(db), TrainingStore(db)


def _now() -> int:
    from cockpit.domain.clock import WallClock

    return WallClock().now_ms()


def _fail(e: Exception) -> int:
    print(f"error: {e}", file=sys.stderr)
    return 2


def run_cli(args: argparse.Namespace, ctx) -> int:
    from cockpit.training.pipeline import train_candidate

    ds, store = _parts(ctx)
    try:
        out = train_candidate(ctx.config, ds, store, now_ms=_now(), start=args.start, end=args.end)
    except ValueError as e:
        return _fail(e)
    if args.json:
        print(json.dumps(out, indent=2, sort_keys=True, default=str))
        return 0
    print(format_candidate(out))
    return 0


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'strategy':<18} {'regime':<16} {'expected':>10} {'+/-':>9} {'samples':>8}"]
    for r in sorted(rows, key=lambda r: (r["regime"], -float(r["expected_reward"]))):
        lines.append(
            f"{r['strategy']:<18} {r['regime']:<16} {float(r['expected_reward']):>+10.5f} "
            f"{float(r['uncertainty'] or 0):>9.5f} {int(r['samples']):>8}"
        )
    return "\n".join(lines)


def format_candidate(c: dict[str, Any]) -> str:
    t = c["train"]
    out = [
        f"candidate {c['version']} (draft): trained {t['from']} .. {t['to']} UTC, {t['bars']} bars, "
        f"{t['samples']} samples {t['sources']}",
        f"reward: {c['reward']['describe']} over {c['reward']['horizon_bars']} bars; {c['bandit']['method']}",
        "",
        format_table(c["table"]),
        "",
        "walk-forward (out of sample, mean reward per decision):",
    ]
    for f in c["walk_forward"]:
        th, eq = f["thompson_mean_reward"], f["equal_mean_reward"]
        out.append(
            f"  fold {f['fold']}: thompson {th if th is None else round(th, 5)}  "
            f"equal {eq if eq is None else round(eq, 5)}  ({f['samples']} samples)"
        )
    out.append(f"best single strategy in training: {c['best_single'] or 'none (no strategy traded)'}")
    tf = c.get("training_figures") or {}
    if tf:
        out.append("on the training period through the engine (in-sample for the table, not a forecast):")
        for name, m in tf.items():
            sh = "n/a" if m["sharpe"] is None else f"{m['sharpe']:.2f}"
            out.append(
                f"  {name:<13} return {m['total_return']:+.1%}, Sharpe {sh}, max drawdown {m['max_drawdown']:.1%}, "
                f"exposure {m['exposure']:.2f}"
            )
    if c["param_suggestions"]:
        out.append("parameter ranges observed to work (suggestions only; edit config to apply; all regimes in --json):")
        for name, s in c["param_suggestions"].items():
            gains = [
                (d["top_mean_reward"] - d["configured_mean_reward"], regime, d) for regime, d in s["by_regime"].items()
            ]
            gains = [g for g in gains if g[0] > 0]
            if not gains:
                out.append(f"  {name}: the configured parameters were as good as any of {s['trials']} trials")
                continue
            _, regime, d = max(gains, key=lambda g: g[0])
            rng = ", ".join(f"{k} {v[0]:g}..{v[1]:g}" for k, v in d["ranges"].items())
            out.append(
                f"  {name} in {regime}: {rng} (best third {d['top_mean_reward']:+.5f} vs configured "
                f"{d['configured_mean_reward']:+.5f})"
            )
    out += [
        "",
        f"prompt draft {c['prompt']['name']}@{c['prompt']['version']} (diff against {c['prompt']['base_version']}):",
        c["prompt"]["diff"].rstrip() or "(no change)",
        "",
        f"next: cockpit train report {c['version']}   then   cockpit train publish {c['version']}",
    ]
    return "\n".join(out)


def format_report(version: str, r: dict[str, Any]) -> str:
    p = r["period"]
    out = [
        f"held-out report for {version}: {p['from']} .. {p['to']} UTC ({p['bars']} {p.get('timeframe', '')} bars); "
        f"trained {r['train_period']['from']} .. {r['train_period']['to']}",
        f"{'policy':<17} {'return':>8} {'CAGR':>7} {'Sharpe':>6} {'90% interval':>15} {'max dd':>7} "
        f"{'turnover/yr':>11} {'fees':>6} {'funding':>7} {'exposure':>8}",
    ]
    for name, m in r["policies"].items():
        sh = "n/a" if m["sharpe"] is None else f"{m['sharpe']:.2f}"
        ci = m.get("sharpe_ci90")
        ci_txt = f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "n/a"
        cagr = "n/a" if m.get("cagr") is None else f"{m['cagr']:+.1%}"
        out.append(
            f"{name:<17} {m['total_return']:>+8.1%} {cagr:>7} {sh:>6} {ci_txt:>15} {m['max_drawdown']:>7.1%} "
            f"{m['turnover_per_year']:>11.1f} {m['fees']:>6.1%} {m['funding']:>7.1%} {m['exposure']:>8.2f}"
        )
    out += [
        "",
        "  "
        + "\n  ".join(
            f"{k}: {m['label']}"
            + (" (made no trade in this period)" if k == "best_single" and not m.get("trades") else "")
            for k, m in r["policies"].items()
        ),
        "",
        "verdict: " + r["verdict"]["summary"],
    ]
    if r["params_changed_since_training"]:
        out.append("note: parameters changed since training for " + ", ".join(r["params_changed_since_training"]))
    out.append(
        "(fees and funding as shares of the starting capital; stored with the candidate in "
        "model_versions.metadata.report)"
    )
    return "\n".join(out)


def report_cli(args: argparse.Namespace, ctx) -> int:
    from cockpit.training.pipeline import report_candidate

    ds, store = _parts(ctx)
    try:
        r = report_candidate(ctx.config, ds, store, args.candidate, now_ms=_now(), start=args.start, end=args.end)
    except ValueError as e:
        return _fail(e)
    print(json.dumps(r, indent=2, sort_keys=True) if args.json else format_report(args.candidate, r))
    return 0


def publish_cli(args: argparse.Namespace, ctx) -> int:
    from cockpit.data.operator import operator_identity
    from cockpit.training.pipeline import publish_candidate

    ds, store = _parts(ctx)
    try:
        meta = publish_candidate(
            ctx.config, ds, store, args.candidate, operator=operator_identity(), now_ms=_now(), force=args.force
        )
    except ValueError as e:
        return _fail(e)
    p = meta.get("prompt") or {}
    print(f"published {args.candidate} by {meta['published_by']}: the scorer now reads this score table.")
    if p.get("version"):
        print(
            f"prompt {p['name']}@{p['version']} is published; to use it set in config.yaml:\n"
            f"  llm:\n    prompt_version: {p['version']}\n(config is not edited automatically)"
        )
    return 0


def list_cli(args: argparse.Namespace, ctx) -> int:
    from cockpit.data.training_store import MODEL_NAME

    ds, _ = _parts(ctx)
    rows = ds.model_versions(MODEL_NAME)
    if not rows:
        print("no candidates yet (cockpit train run)")
    for row in rows:
        m = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
        t = m.get("train", {})
        rep = m.get("report")
        v = (rep or {}).get("verdict") or {}
        verdict = (
            "no report"
            if not rep
            else (
                "passes (beats cash and buy-and-hold's Sharpe within the drawdown limit)"
                if v.get("passes")
                else "does not pass: "
                + ", ".join(
                    w
                    for w, ok in (
                        ("cash", v.get("beats_cash")),
                        ("buy-and-hold", v.get("beats_buy_and_hold_sharpe")),
                        ("drawdown", v.get("within_drawdown_limit")),
                    )
                    if not ok
                )
            )
        )
        who = f" by {m['published_by']}" if m.get("published_by") else ""
        print(
            f"{row['version']:<22} {m.get('status', '?'):<10} trained {t.get('from')} .. {t.get('to')}  {verdict}{who}"
        )
    return 0
