"""``cockpit notify test``: send a test message to every configured destination and say which worked."""

from __future__ import annotations

import argparse
import sys
import threading



def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("notify", help="notifications (Apprise): test the configured destinations")
    sub = p.add_subparsers(dest="notify_command", metavar="{test}")
    t = sub.add_parser("test", help="send a test message to every notify.urls destination; print which succeeded")
    t.add_argument("--message", default="Test message from Alpha Arena Cockpit: notifications work.",
                   help="the text to send")
    t.set_defaults(func=run_test)
    p.set_defaults(func=lambda args, ctx: (p.print_help(), 2)[1])


def run_test(args: argparse.Namespace, ctx) -> int:
    from cockpit.config import mode_label, secret_values
    from cockpit.notify.format import Message, redact
    from cockpit.notify.notifier import build_destinations

    cfg = ctx.config
    n = cfg["notify"]
    if not n["urls"]:
        print("notify.urls is empty: no destination configured (add Apprise URLs to config.yaml, "
              "secrets as ${ENV_VAR})", file=sys.stderr)
        return 1
    dests, problems = build_destinations(cfg)
    secrets = [*secret_values(cfg), *(s for d in dests for s in d.secrets)]
    msg = Message("test", f"[{mode_label(cfg)}] Notification test", args.message).redacted(secrets)
    failures = len(problems)
    for p in problems:
        print(f"FAILED  {p}")
    stop = threading.Event()
    for d in dests:
        ok, err, attempts = False, "", 0
        for attempt in range(int(n["retries"]) + 1):
            if attempt:
                stop.wait(min(float(n["backoff_s"]) * 2 ** (attempt - 1), 30.0))
            attempts += 1
            ok, err = d.send_once(msg, timeout_s=float(n["timeout_s"]))
            if ok:
                break
        if ok:
            print(f"ok      {d.label}")
        else:
            failures += 1
            print(f"FAILED  {d.label}: {redact(err, secrets)} (after {attempts} attempt{'s' if attempts > 1 else ''})")
    total = len(dests) + len(problems)
    print(f"{total - failures} of {total} destination{'s' if total != 1 else ''} succeeded")
    return 0 if failures == 0 else 1
