"""``cockpit sim``: run the built-in OKX-compatible simulator standalone until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim",
        help="run the built-in OKX-compatible exchange simulator",
        description="Serve OKX's v5 REST API on 127.0.0.1 with a simulated BTC-USDT-SWAP market. "
        "Prints the URL and the credentials it accepts; runs until Ctrl-C. Point an engine at it "
        "with exchange.rest_url (or COCKPIT__EXCHANGE__REST_URL) and the key variables.",
    )
    p.add_argument("--port", type=int, help="port (default sim.port; 0 = any free port)")
    p.add_argument("--seed", type=int, help="market seed (default sim.seed)")
    p.add_argument("--replay", metavar="CANDLES_CSV", help="replay this candle CSV instead of generating")
    p.add_argument("--funding", metavar="FUNDING_CSV", help="funding-rate CSV (timestamp,funding_rate) to replay")
    p.add_argument(
        "--clock",
        choices=("wall", "accelerated"),
        help="wall (default; with --replay or --speed: accelerated): "
        "simulated time is now at speed 1 and the generated history runs up to now, so any OKX client "
        "or bot works unchanged; accelerated: start at sim.start and run at --speed / sim.speed",
    )
    p.add_argument(
        "--speed", type=float, help="simulated seconds per real second with --clock accelerated (default sim.speed)"
    )
    p.add_argument("--api-key", help="accepted API key (default: $<exchange.api_key_env> or random)")
    p.add_argument("--secret", help="accepted secret (default: $<exchange.secret_env> or random)")
    p.add_argument("--passphrase", help="accepted passphrase (default: $<exchange.passphrase_env> or random)")
    p.add_argument(
        "--state",
        metavar="FILE",
        help="keep the exchange in FILE (restored at start, saved every few "
        "seconds and at exit): a restarted simulator is the same exchange",
    )
    p.add_argument("--for", dest="sim_for", type=float, metavar="SECONDS", help="stop after this many real seconds")
    p.set_defaults(func=run_sim)


def run_sim(args: argparse.Namespace, ctx) -> int:
    from cockpit.sim.server import Credentials, start_simulator

    cfg = ctx.config
    sim = dict(cfg["sim"])
    for key, val in (
        ("port", args.port),
        ("seed", args.seed),
        ("replay_csv", args.replay),
        ("funding_csv", args.funding),
        ("speed", args.speed),
    ):
        if val is not None:
            sim[key] = val
    if sim["speed"] < 0:
        print("cockpit sim: --speed must be >= 0", file=sys.stderr)
        return 2
    # Wall by default; a replay (its own timeline) or an explicit --speed means the accelerated clock.
    clock = args.clock or ("accelerated" if sim.get("replay_csv") or args.speed is not None else "wall")
    if clock == "wall" and args.speed is not None:
        print("cockpit sim: --speed applies to --clock accelerated (the wall clock runs at 1x)", file=sys.stderr)
        return 2
    ex = cfg["exchange"]
    given = [
        args.api_key or os.environ.get(ex["api_key_env"]),
        args.secret or os.environ.get(ex["secret_env"]),
        args.passphrase or os.environ.get(ex["passphrase_env"]),
    ]
    api_key, secret, passphrase = given
    creds = Credentials(api_key, secret, passphrase) if api_key and secret and passphrase else None
    # SIGTERM ends it like Ctrl-C (the state file is written at stop). Installed before anything is
    # announced: a supervisor may send it as soon as it has read the URL.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        handle = start_simulator(sim, credentials=creds, state_file=args.state, clock=clock)
    except (OSError, ValueError) as e:
        print(f"cockpit sim: {e}", file=sys.stderr)
        return 1
    print(f"simulator listening on {handle.url}  (OKX v5 REST under /api/v5/, admin under /sim/admin/)")
    print(f"  WebSocket: {handle.ws_url}/public|business|private  (demo-trading ?brokerId=9999 too)")
    print(
        f"  clock: {clock}, {handle.clock.now_ms()} ms, speed {handle.clock.speed:g}x; market: "
        f"{'replay of ' + sim['replay_csv'] if sim.get('replay_csv') else 'generated, seed ' + str(sim['seed'])}"
    )
    creds = handle.state.credentials
    if args.state:
        print(f"  state: {args.state} (restored and saved there; credentials kept with it)")
    if all(given):
        print(f"  credentials: taken from --api-key/--secret/--passphrase or ${ex['api_key_env']} etc.")
    else:
        print("  credentials (export them for the engine):")
        print(f"    export {ex['api_key_env']}={creds.api_key}")
        print(f"    export {ex['secret_env']}={creds.secret}")
        print(f"    export {ex['passphrase_env']}={creds.passphrase}")
    print(f"    export COCKPIT__EXCHANGE__REST_URL={handle.url}")
    sys.stdout.flush()
    deadline = time.monotonic() + args.sim_for if args.sim_for else None
    try:
        while not stop.wait(0.2) and (deadline is None or time.monotonic() < deadline):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    return 0
