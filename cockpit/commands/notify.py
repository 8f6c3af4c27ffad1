"""``cockpit notify test``: send a test message to every configured destination and say which worked."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("notify", help="notifications (Apprise): test the configured destinations")
    sub = p.add_subparsers(dest="notify_command", metavar="{test}")
    t = sub.add_parser("test", help="send a test message to every notify.urls destination; print which succeeded")
    t.add_argument(
        "--message", default="Test message from Alpha Arena Cockpit: notifications work.", help="the text to send"
    )
    t.set_defaults(func=run_test)
    p.set_defaults(func=lambda args, ctx: (p.print_help(), 2)[1])


def run_test(args: argparse.Namespace, ctx) -> int:
    from cockpit.config import mode_label, secret_values
    from cockpit.notify.format import Message, redact
    from cockpit.notify.notifier import build_destinations
    from cockpit.notify.senders import DestinationWorker

    cfg = ctx.config
    n = cfg["notify"]
    if not n["urls"]:
        print(
            "notify.urls is empty: no destination configured (add Apprise URLs to config.yaml, secrets as ${ENV_VAR})",
            file=sys.stderr,
        )
        return 1
    dests, problems = build_destinations(cfg)
    secrets = [*secret_values(cfg), *(s for d in dests for s in d.secrets)]
    msg = Message("test", f"[{mode_label(cfg)}] Notification test", args.message).redacted(secrets)
    failures = len(problems)
    for p in problems:
        print(f"FAILED  {p}")
    failed: list[tuple[str, int]] = []  # (error, attempts) of each final failure, as the worker reports it
    for d in dests:
        worker = DestinationWorker(
            d,
            retries=n["retries"],
            backoff_s=n["backoff_s"],
            max_backoff_s=30.0,
            rate_per_minute=n["rate_per_minute"],
            burst=n["burst"],
            queue_size=n["queue_size"],
            timeout_s=n["timeout_s"],
            on_failure=lambda _w, _m, err, k: failed.append((err, k)),
        )
        if worker.deliver(msg):  # in this thread: the same retries and backoff as the engine's notifier
            print(f"ok      {d.label}")
        else:
            failures += 1
            err, attempts = failed[-1]
            print(f"FAILED  {d.label}: {redact(err, secrets)} (after {attempts} attempt{'s' if attempts > 1 else ''})")
    total = len(dests) + len(problems)
    print(f"{total - failures} of {total} destination{'s' if total != 1 else ''} succeeded")
    return 0 if failures == 0 else 1
