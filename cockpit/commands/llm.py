"""``cockpit llm test | prompts | runs | serve-local``: try the configured LLM, list prompt versions and
LLM calls, serve the optional local model."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from cockpit.domain.settings import Config
from cockpit.domain.text import clean_text, model_says


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("llm", help="the LLM strategy selector: test the configured model, prompt versions, runs")
    lsub = p.add_subparsers(dest="llm_command", metavar="ACTION", required=True)
    t = lsub.add_parser("test", help="send one selector prompt to the configured LLM and show the validated reply")
    t.add_argument("--base-url", help="override llm.base_url (e.g. a local server http://127.0.0.1:8080/v1)")
    t.add_argument("--model", help="override llm.model")
    t.add_argument("--show-prompt", action="store_true", help="print the rendered prompt too")
    t.add_argument("--json", action="store_true", help="print the result as JSON")
    t.set_defaults(func=run_test)
    pr = lsub.add_parser("prompts", help="list prompt versions (seeds the default selector v1)")
    pr.add_argument("--show", metavar="VERSION", help="print the content of this selector version")
    pr.set_defaults(func=run_prompts)
    r = lsub.add_parser("runs", help="recent LLM calls: status, latency, tokens, error")
    r.add_argument("--limit", type=int, default=20)
    r.add_argument("--json", action="store_true", help="print JSON (request and response included)")
    r.set_defaults(func=run_runs)
    s = lsub.add_parser("serve-local", help="serve SmolLM2-135M with llama.cpp on loopback (needs the local-llm extra)")
    s.add_argument("--port", type=int, default=8088, help="port on 127.0.0.1 (default 8088; 0 picks a free one)")
    s.add_argument("--n-ctx", type=int, default=4096, help="context length")
    s.set_defaults(func=run_serve_local)


def _iso(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if ms else "-"


def _store(ctx):
    from cockpit.config import secret_values
    from cockpit.data.decision_store import DecisionStore

    return DecisionStore(ctx.database(), secrets=secret_values(ctx.config))


def run_test(args: argparse.Namespace, ctx) -> int:
    from cockpit.data import DataService
    from cockpit.decision.engine import LLMSelector, PortfolioDecisionEngine
    from cockpit.decision.llm import LLMClient, LLMUnavailable
    from cockpit.decision.prompts import PromptBuilder, PromptError
    from cockpit.domain.signals import Direction, Regime, StrategySignal
    from cockpit.domain.clock import WallClock

    cfg: Config = ctx.config
    llm = cfg["llm"].copy()
    if args.base_url:
        llm["base_url"] = args.base_url
        if llm["provider"] == "none":
            llm["provider"] = "openai-compatible"
    if args.model:
        llm["model"] = args.model
    cfg = {**cfg, "llm": llm}
    try:
        client = LLMClient.from_config(cfg)
    except LLMUnavailable as e:
        print(f"cockpit llm test: {e}", file=sys.stderr)
        return 2
    if client is None:  # llm.provider is none
        print(
            "llm.provider is none: the offline selector (the scorer) decides; nothing to test.\n"
            "Set llm.provider (deepseek, qwen, openai-compatible, local) or pass --base-url.",
            file=sys.stderr,
        )
        return 2
    ds, store, clock = DataService(ctx.database()), _store(ctx), WallClock()
    engine = PortfolioDecisionEngine(cfg, ds, store, clock, llm=client)
    try:
        prompt = PromptBuilder.load(ds, store, llm["prompt_version"])
    except PromptError as e:
        print(f"cockpit llm test: {e}", file=sys.stderr)
        return 2
    now = clock.now_ms()
    # No live strategies here: every enabled strategy is shown flat, so the reply tests the plumbing.
    names = engine.enabled_names()
    signals = {
        n: StrategySignal(n, Direction.FLAT, 0.0, None, None, None, "llm test: no live signal", now) for n in names
    }
    scores = engine.scorer.score(names, Regime.UNKNOWN)
    offline = engine.scheduler.allocate({n: s.score for n, s in scores.items()})
    snap = engine.snapshot(now, Regime.UNKNOWN.value, signals, names, scores, {}, None, None)
    if args.show_prompt:
        for m in prompt.render(snap):
            print(f"===== {m['role']} =====\n{m['content']}\n")
    sel = LLMSelector(cfg, ds, store, clock, client).select(
        now_ms=now, snap=snap, enabled=names, offline=offline, prompt=prompt
    )
    run = ds.llm_run(sel.llm_run_id) if sel.llm_run_id else None
    out = {
        "provider": client.provider,
        "model": client.model,
        "base_url": client.base_url,
        "selector": sel.selector,
        "fallback_reason": sel.fallback_reason,
        "weights": {k: round(v, 4) for k, v in sel.raw.items()},
        "confidence": sel.confidence,
        "rationale": sel.rationale,
        "llm_run_id": sel.llm_run_id,
        "latency_ms": run["latency_ms"] if run else None,
        "tokens": (run["prompt_tokens"] or 0) + (run["completion_tokens"] or 0) if run else None,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{client.provider} {client.model} at {client.base_url}")
        if run:
            print(f"llm run {run['id']}: {run['status']}, {run['latency_ms']} ms, {out['tokens']} tokens")
        # Model text reaches the terminal only cleaned of escape sequences and marked as the model's words.
        if sel.selector == "llm":
            print(
                "reply valid: "
                + ", ".join(f"{k} {v:.2f}" for k, v in sel.raw.items())
                + f"; confidence {sel.confidence:.2f}\nrationale: {model_says(sel.rationale)}"
            )
        else:
            print(f"reply NOT usable -> fallback: {clean_text(sel.fallback_reason)}")
            if sel.llm_response:
                print(f"raw reply: {model_says(sel.llm_response, max_chars=500)}")
    return 0 if sel.selector == "llm" else 1


def run_prompts(args: argparse.Namespace, ctx) -> int:
    from cockpit.data import DataService
    from cockpit.decision.prompts import PROMPT_NAME, PromptBuilder

    ds = DataService(ctx.database())
    PromptBuilder.load(ds, _store(ctx))  # seeds the default v1
    active = ctx.config["llm"]["prompt_version"]
    if args.show:
        row = ds.prompt_version(PROMPT_NAME, args.show)
        if row is None:
            print(f"no prompt {PROMPT_NAME} {args.show}", file=sys.stderr)
            return 1
        print(row["content"])
        return 0
    print(f"{'id':>4}  {'name':<10} {'version':<10} {'status':<10} {'chars':>6}  active")
    for r in sorted(ds.prompt_versions(), key=lambda r: r["id"]):
        mark = "*" if r["name"] == PROMPT_NAME and r["version"] == active else ""
        print(f"{r['id']:>4}  {r['name']:<10} {r['version']:<10} {r['status']:<10} {len(r['content']):>6}  {mark}")
    return 0


def run_runs(args: argparse.Namespace, ctx) -> int:
    from cockpit.data import DataService

    rows = DataService(ctx.database()).llm_runs(limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no LLM calls recorded")
        return 0
    print(f"{'id':>5}  {'time (UTC)':<19}  {'status':<9} {'model':<16} {'ms':>6} {'tokens':>7}  error")
    for r in rows:
        tokens = (r["prompt_tokens"] or 0) + (r["completion_tokens"] or 0)
        print(
            f"{r['id']:>5}  {_iso(r['timestamp']):<19}  {r['status'] or '-':<9} {(r['model'] or '-')[:16]:<16} "
            f"{r['latency_ms'] if r['latency_ms'] is not None else '-':>6} {tokens:>7}  "
            f"{clean_text(r['error'] or '', max_chars=80)}"
        )
    return 0


def run_serve_local(args: argparse.Namespace, ctx) -> int:
    import signal
    import threading

    from cockpit.decision.local_llm import LocalLLMServer, LocalLLMUnavailable

    try:
        srv = LocalLLMServer(port=args.port, n_ctx=args.n_ctx)
        print(f"starting llama.cpp ({srv.model_name}, 1 thread) on {srv.base_url} ...", flush=True)
        srv.start()
    except LocalLLMUnavailable as e:
        print(f"cockpit llm serve-local: {e}", file=sys.stderr)
        return 2
    print(
        f"ready. Use it with:\n  COCKPIT__LLM__PROVIDER=local COCKPIT__LLM__BASE_URL={srv.base_url} "
        f"COCKPIT__LLM__MODEL={srv.model_name} cockpit llm test\nCtrl-C stops it.",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set() and srv.proc is not None and srv.proc.poll() is None:
            stop.wait(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0
