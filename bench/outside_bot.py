"""An outside bot (freqtrade, from PyPI) trades OKX USDT perpetual futures against ``cockpit sim``.

No clock change: the standalone simulator runs on the wall clock, so freqtrade's ccxt okx client works
as against OKX's demo trading, with only its REST URL pointed at the simulator. Not run by the test
suite (it installs freqtrade and runs for minutes)::

    /work/main/.venv/bin/python bench/outside_bot.py --minutes 5
    # venv for freqtrade: $OUTSIDE_BOT_VENV (default /tmp/outside-bot-venv), created if missing

The bot: isolated margin, BTC/USDT:USDT, dry_run false, 1m candles, a small strategy written here that
enters every new candle (long after an up candle, short after a down one), takes 0.2% or leaves after
2 minutes, a 1% stop loss on the exchange (an OKX conditional algo order on the mark price), 3x leverage,
market orders. At the end
the orders, fills and position are printed from the simulator's side (its REST API, same keys).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STRATEGY = '''
from pandas import DataFrame
from freqtrade.strategy import IStrategy


class OutsideBotFlip(IStrategy):
    """Trades every candle: long after an up candle, short after a down one; out after 2 minutes."""
    INTERFACE_VERSION = 3
    timeframe = "1m"
    can_short = True
    minimal_roi = {"0": 0.002, "2": -1}
    stoploss = -0.01
    startup_candle_count = 3
    process_only_new_candles = True

    def populate_indicators(self, df: DataFrame, metadata: dict) -> DataFrame:
        return df

    def populate_entry_trend(self, df: DataFrame, metadata: dict) -> DataFrame:
        up = df["close"] > df["close"].shift(1)
        df.loc[up, "enter_long"] = 1
        df.loc[~up, "enter_short"] = 1
        return df

    def populate_exit_trend(self, df: DataFrame, metadata: dict) -> DataFrame:
        return df

    def leverage(self, pair, current_time, current_rate, proposed_leverage, max_leverage, entry_tag, side,
                 **kwargs) -> float:
        return 3.0
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_venv(venv: Path) -> Path:
    exe = venv / "bin" / "freqtrade"
    if not exe.exists():
        print(f"creating {venv} and installing freqtrade from PyPI (a few minutes)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "freqtrade"], check=True)
    return exe


def bot_config(url: str, key: str, secret: str, phrase: str, workdir: Path) -> dict:
    # REST and WebSocket (freqtrade watches candles through ccxt.pro) on the simulator; the demo-trading
    # header OKX wants with demo keys. Nothing about the clock.
    ws = url.replace("http://", "ws://") + "/ws/v5"
    ccxt = {"urls": {"api": {"rest": url, "ws": ws}}, "headers": {"x-simulated-trading": "1"}}
    return {
        "max_open_trades": 1,
        "stake_currency": "USDT",
        "stake_amount": 200,
        "tradable_balance_ratio": 0.99,
        "dry_run": False,
        "trading_mode": "futures",
        "margin_mode": "isolated",
        "timeframe": "1m",
        "cancel_open_orders_on_exit": True,
        "unfilledtimeout": {"entry": 1, "exit": 1, "unit": "minutes"},
        "entry_pricing": {"price_side": "other", "use_order_book": True, "order_book_top": 1},
        "exit_pricing": {"price_side": "other", "use_order_book": True, "order_book_top": 1},
        "order_types": {
            "entry": "market",
            "exit": "market",
            "emergency_exit": "market",
            "force_entry": "market",
            "force_exit": "market",
            "stoploss": "market",
            "stoploss_on_exchange": True,
            "stoploss_on_exchange_interval": 30,
            "stoploss_price_type": "mark",
        },
        "exchange": {
            "name": "okx",
            "key": key,
            "secret": secret,
            "password": phrase,
            "ccxt_config": ccxt,
            "ccxt_async_config": ccxt,
            "pair_whitelist": ["BTC/USDT:USDT"],
            "pair_blacklist": [],
        },
        "pairlists": [{"method": "StaticPairList"}],
        "bot_name": "outside-bot",
        "initial_state": "running",
        "force_entry_enable": True,
        "internals": {"process_throttle_secs": 5},
        "db_url": f"sqlite:///{workdir / 'trades.sqlite'}",
        "user_data_dir": str(workdir / "user_data"),
        "strategy": "OutsideBotFlip",
        "strategy_path": str(workdir / "strategies"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="how long the bot runs (default 5)")
    ap.add_argument("--venv", default=os.environ.get("OUTSIDE_BOT_VENV", "/tmp/outside-bot-venv"))
    ap.add_argument("--workdir", default="/tmp/outside-bot", help="config, strategy, logs, the bot's DB")
    args = ap.parse_args()

    freqtrade = ensure_venv(Path(args.venv))
    work = Path(args.workdir)
    (work / "strategies").mkdir(parents=True, exist_ok=True)
    (work / "user_data").mkdir(parents=True, exist_ok=True)
    (work / "trades.sqlite").unlink(missing_ok=True)
    (work / "strategies" / "outside_bot_flip.py").write_text(STRATEGY)
    port = free_port()
    key, secret, phrase = "bot-" + secrets.token_hex(6), secrets.token_hex(16), "bot-" + secrets.token_hex(3)
    url = f"http://127.0.0.1:{port}"
    (work / "config.json").write_text(json.dumps(bot_config(url, key, secret, phrase, work), indent=2))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cockpit = Path(sys.executable).parent / "cockpit"
    sim_log = open(work / "sim.log", "w")
    sim = subprocess.Popen(
        [str(cockpit), "sim", "--port", str(port), "--api-key", key, "--secret", secret, "--passphrase", phrase],
        stdout=sim_log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        print(
            f"simulator on {url} (wall clock); freqtrade for {args.minutes:g} min, log {work / 'bot.log'}", flush=True
        )
        bot_log = open(work / "bot.out", "w")  # the log itself goes to bot.log (--logfile)
        (work / "bot.log").unlink(missing_ok=True)
        bot = subprocess.Popen(
            [str(freqtrade), "trade", "-c", str(work / "config.json"), "--logfile", str(work / "bot.log")],
            stdout=bot_log,
            stderr=subprocess.STDOUT,
        )
        try:
            bot.wait(timeout=args.minutes * 60)
            print(f"freqtrade exited early with {bot.returncode}: see {work / 'bot.log'}")
        except subprocess.TimeoutExpired:
            bot.send_signal(signal.SIGINT)  # freqtrade cancels its open orders on exit
            try:
                bot.wait(timeout=60)
            except subprocess.TimeoutExpired:
                bot.kill()
        report(url, key, secret, phrase, work)
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
    return 0


def report(url: str, key: str, secret: str, phrase: str, work: Path) -> None:
    """What the simulator saw: orders, fills, algo orders, the position, the balance, and the bot's errors."""
    import ccxt

    ex = ccxt.okx(
        {
            "apiKey": key,
            "secret": secret,
            "password": phrase,
            "urls": {"api": {"rest": url}},
            "headers": {"x-simulated-trading": "1"},
        }
    )
    sym = "BTC/USDT:USDT"
    orders = ex.fetch_closed_orders(sym, limit=100) + ex.fetch_canceled_orders(sym, limit=100)
    fills = ex.fetch_my_trades(sym, limit=100)
    print(f"\nsimulator's side: {len(orders)} orders, {len(fills)} fills")
    for o in sorted(orders, key=lambda o: o["timestamp"]):
        print(
            f"  {o['datetime']} {o['side']:4} {o['type']:6} {o['amount']:>6} {o['status']:8} "
            f"avg {o['average']} reduceOnly={o.get('reduceOnly')}"
        )
    for f in sorted(fills, key=lambda f: f["timestamp"])[-10:]:
        print(f"  fill {f['datetime']} {f['side']:4} {f['amount']} @ {f['price']} fee {f['fee']['cost']}")
    stop = {"trigger": True, "ordType": "conditional"}  # freqtrade's stop loss on exchange: an OKX algo order
    algos = (
        ex.fetch_open_orders(sym, params=stop)
        + ex.fetch_closed_orders(sym, params=stop)
        + ex.fetch_canceled_orders(sym, params=stop)
    )
    print(
        f"  stop-loss (algo) orders: {len(algos)}: "
        + ", ".join(
            f"{a['side']} {a['amount']} @ {a['stopLossPrice']} ({a['info'].get('slTriggerPxType')}) {a['status']}"
            for a in algos
        )
    )
    pos = [p for p in ex.fetch_positions([sym]) if p["contracts"]]
    bal = ex.fetch_balance()["USDT"]
    print(
        f"  position: {[(p['side'], p['contracts'], p['marginMode']) for p in pos] or 'flat'}; "
        f"USDT total {bal['total']} free {bal['free']}"
    )
    import urllib.request

    state = json.loads(urllib.request.urlopen(url + "/sim/admin/state", timeout=10).read())
    print(f"  admin/state: orders {state['orders']} fills {state['fills']} open {state['open_orders']}")
    import sqlite3

    with sqlite3.connect(work / "trades.sqlite") as db:  # the bot's own view of its trades
        rows = db.execute(
            "select id, is_short, open_rate, close_rate, exit_reason, liquidation_price, is_open "
            "from trades order by id"
        ).fetchall()
    print(f"\nfreqtrade's trades: {len(rows)}")
    for r in rows:
        print(
            f"  #{r[0]} {'short' if r[1] else 'long '} open {r[2]} close {r[3]} exit {r[4]} liq {r[5]}"
            + (" (open)" if r[6] else "")
        )
    log = (work / "bot.log").read_text(errors="replace").splitlines()
    bad = [ln for ln in log if " - ERROR - " in ln or " - WARNING - " in ln]
    print(f"\nbot log: {len(log)} lines, {len(bad)} warnings/errors" + (", last ones:" if bad else ""))
    for ln in bad[-15:]:
        print("  " + ln[:300])


if __name__ == "__main__":
    sys.exit(main())
