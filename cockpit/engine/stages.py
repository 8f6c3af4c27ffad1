"""Where each core part plugs into the engine: one builder per stage, each in one place.

``build_stages(cfg, log=...)`` returns a ``Stages`` with plain callables:

    clock                      the exchange's clock (simulator clock, or ExchangeClock over public/time)
    ingest()                   keep candles, funding, prices, open interest, long/short ratio current
    analyze(bar_ms)            -> Analysis: strategy signals, technical-analysis report, regime, last price
    decide(analysis, account)  -> (decision_id, Decision), the decisions row written
    plan(id, decision, analysis, account) -> [OrderIntent] sized from the target exposure
    orders                     the OrderManager: submit_intent, process_commands, sync, expire_pending, ...
    kill_orders                a second OrderManager on its own ccxt client, for the kill switch alone

A stage that fails to build (or cannot be built: no exchange connection) is None, and
``availability[name]`` says why; the engine logs that the stage is unavailable and never invents
its output. Each builder calls its part directly; the parts' own modules are imported lazily so a
replay without an exchange never imports ccxt.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from cockpit.data.data_service import DataService
from cockpit.domain.market import timeframe_ms
from cockpit.domain.orders import OrderIntent
from cockpit.domain.signals import Decision, Regime, StrategySignal
from cockpit.domain.clock import WallClock
from cockpit.domain.settings import Config
from cockpit.engine.clock import ExchangeClock
from cockpit.engine.eventlog import EventLog, iso_ms


@dataclass
class Analysis:
    bar: int  # open time of the closed decision bar
    now_ms: int  # its close time: the analysis sees nothing later
    price: float | None
    signals: list[StrategySignal]
    ta_report: dict[str, Any]
    regime: str
    context: Any = None


@dataclass
class Stages:
    clock: Any
    availability: dict[str, str] = field(default_factory=dict)
    ingest: Callable[[], Any] | None = None
    ingest_decision_inputs: Callable[[], Any] | None = None  # candles + funding only (optional fast path)
    analyze: Callable[[int], Analysis] | None = None
    decide: Callable[[Analysis, dict[str, Any]], tuple[int, Decision]] | None = None
    plan: Callable[[int, Decision, Analysis, dict[str, Any]], list[OrderIntent]] | None = None
    orders: Any = None
    kill_orders: Any = None  # runs kill commands on its own exchange connection (never behind a hung call)
    simulator: Any = None
    streams: Any = None  # EngineStreams (exchange.streams): live ticker, account events; REST stays the record
    exchange_for: Callable[[], Any] | None = None  # a new ccxt client (one per thread), for the API's collect
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        while self.closers:
            fn = self.closers.pop()
            try:
                fn()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


class Unavailable(Exception):
    """A stage cannot be built; the message says why (shown in the log and the heartbeat)."""


def credentials_from_env(cfg: Config, environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    environ = os.environ if environ is None else environ
    ex = cfg["exchange"]
    key, secret, pw = (environ.get(ex["api_key_env"]), environ.get(ex["secret_env"]), environ.get(ex["passphrase_env"]))
    if not (key and secret and pw):
        return None
    return {"apiKey": key, "secret": secret, "password": pw}


# ---------------------------------------------------------------------- the builders


def build_stages(
    cfg: Config,
    *,
    log: EventLog,
    environ: Mapping[str, str] | None = None,
    clock: Any = None,
    with_exchange: bool = True,
) -> Stages:
    """Every stage; ``with_exchange=False`` builds only analysis, decision and sizing over the
    database (with ``clock``), for replaying stored bars without any exchange."""
    st = Stages(clock=clock or WallClock())
    exchange_for = _build_venue(cfg, st, log, environ) if with_exchange else None
    st.exchange_for = exchange_for
    builders: tuple[tuple[str, Callable[[Config, Stages, EventLog, Any], None]], ...] = (
        ("ingest", _build_ingest),
        ("analysis", _build_analysis),
        ("decision", _build_decision),
        ("orders", _build_orders),
    )
    if not with_exchange:
        builders = builders[1:3]
    for name, builder in builders:
        try:
            builder(cfg, st, log, exchange_for)
            st.availability[name] = "ok"
        except Unavailable as e:
            st.availability[name] = f"unavailable: {e}"
        except Exception as e:  # noqa: BLE001 - a part that fails to build is reported, not fatal
            st.availability[name] = f"failed to start: {type(e).__name__}: {log.redact(str(e))}"
    st.availability["sizing"] = "ok" if st.decide is not None else "waits for the decision stage"
    if st.decide is not None:
        st.plan = lambda did, d, a, acct: _plan(cfg, st, did, d, a, acct)
    if with_exchange and cfg.get("notify", {}).get("urls"):
        st.availability["notify"] = _build_notify(cfg, st, log)
    return st


def _build_notify(cfg: Config, st: Stages, log: EventLog) -> str:
    """Notifications (cockpit.notify): a thread following the database; its stop() is a closer, so it
    runs after the engine's last heartbeat ("engine stopped" still goes out). Never fatal."""
    try:
        from cockpit.notify import attach_notifier

        return attach_notifier(cfg, st, log=log)
    except Exception as e:  # noqa: BLE001 - notifications never stop the engine
        return f"failed to start: {type(e).__name__}: {log.redact(str(e))}"


def _build_venue(cfg: Config, st: Stages, log: EventLog, environ: Mapping[str, str] | None) -> Callable[[], Any] | None:
    """Start the built-in simulator when configured and return a factory of ccxt exchanges
    (one per worker thread: ccxt objects are not shared between threads)."""
    ex = cfg["exchange"]
    mode = ex["mode"]
    rest_url = ex.get("rest_url")
    creds: dict[str, str] | None = None
    from cockpit.market.exchange import make_exchange

    if mode == "sim" and not rest_url:
        from cockpit.sim import start_simulator

        handle = start_simulator(cfg["sim"], **_sim_resume(cfg, log))
        st.simulator = handle
        st.closers.append(handle.stop)
        rest_url = handle.url
        creds = handle.credentials
        st.clock = handle.clock
        st.availability["simulator"] = "ok"
    else:
        creds = credentials_from_env(cfg, environ)

    def factory() -> Any:
        # ccxt's client-side rate limiter only slows a (loopback) simulator down; keep it for OKX.
        return make_exchange(cfg, rest_url=rest_url, credentials=creds, for_tests=mode == "sim")

    if ex.get("streams"):
        from cockpit.engine.streams import EngineStreams
        from cockpit.market.exchange import make_stream_exchange

        st.streams = EngineStreams(
            cfg,
            lambda: make_stream_exchange(cfg, rest_url=rest_url, credentials=creds, for_tests=mode == "sim"),
            clock=None,
            log=log,
            private=creds is not None,
        )
        st.closers.append(st.streams.stop)
    if st.simulator is None:
        probe = factory()
        # OKX: the wall clock corrected by public/time; a standalone simulator: its accelerated clock.
        accelerated = mode == "sim"
        st.clock = ExchangeClock(
            lambda: int(probe.fetch_time()), resync_s=2.0 if accelerated else 60.0, estimate_rate=accelerated
        )
        st.clock.sync()
        if accelerated:
            # Two readings apart give the simulator's speed before anything is scheduled on it.
            time.sleep(0.3)
            st.clock.sync()
    st.availability["exchange"] = "ok"
    return factory


def _series_end(ds: DataService, symbol: str, tf: str, log: EventLog) -> int | None:
    """Open time of the newest stored candle, unless it stands apart from the series before it (a gap of
    more than one bar: a stray row dated far ahead, e.g. a bad import): that one must not carry the
    simulator's clock with it. It is left out here, and the engine reports it as a candle beyond the
    exchange clock."""
    ts = ds.candle_arrays(symbol, tf, limit=2)["timestamp"]
    if len(ts) < 2 or int(ts[1]) - int(ts[0]) == timeframe_ms(tf):
        return int(ts[-1]) if len(ts) else None
    log.warning(
        "stray_candle",
        timeframe=tf,
        candle=iso_ms(int(ts[1])),
        previous=iso_ms(int(ts[0])),
        action="not taken for the end of the stored series when resuming the simulator's clock",
    )
    return int(ts[0])


def _sim_resume(cfg: Config, log: EventLog) -> dict[str, Any]:
    """How the embedded simulator carries on from its database: its account, orders and clock from a
    state file beside the database (``<db>.sim-state``, saved every few seconds and at stop), and its
    clock after the newest candle stored (a restart never starts behind the data it made)."""
    from cockpit.data.venue import VenueMismatch
    from cockpit.db.connection import database_proxy, sqlite_path
    from cockpit.sim import state_file as sf

    path = sqlite_path(cfg["database"]["url"])
    state = f"{path}.sim-state" if path and path != ":memory:" else None
    newest = None
    if database_proxy.obj is not None:
        ds = DataService(database_proxy)
        closes = [
            t + timeframe_ms(tf)
            for tf in cfg["timeframes"]
            if (t := _series_end(ds, cfg["symbol"], tf, log)) is not None
        ]
        newest = max(closes) if closes else None
    saved = None
    if state:
        try:
            saved = sf.load(state)
        except (OSError, ValueError, EOFError) as e:
            raise VenueMismatch(
                f"the simulator's saved state {state} cannot be read ({e}); move it away to start "
                "the simulator's account afresh"
            ) from None
        if saved is not None and saved["market"] != sf.market_key({**cfg["sim"]}):
            raise VenueMismatch(
                f"{state} (the simulator beside this database) was written for another market "
                f"({saved['market']}); this database holds that market's data. Use the same sim "
                "settings (seed, replay_csv, funding_csv, history_days, start_price), or another "
                "database (--db FILE) for the new market"
            )

    def utc(ms: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))

    if newest is not None and saved is None:
        log.warning(
            "simulator_resumed",
            clock_from=utc(newest),
            account="afresh: no saved simulator state beside "
            "the database, so the simulator's account, orders and position start new",
        )
    elif saved is not None:
        log.info("simulator_resumed", state_file=state, clock_from=utc(max(newest or 0, int(saved["now_ms"]))))
    return {"state_file": state, "resume_after_ms": newest}


def _need(exchange_for: Callable[[], Any] | None) -> Callable[[], Any]:
    if exchange_for is None:
        raise Unavailable("no exchange connection (see exchange/simulator)")
    return exchange_for


def _build_ingest(cfg: Config, st: Stages, log: EventLog, exchange_for) -> None:
    from cockpit.market.ingest import MarketIngestor

    ingestor = MarketIngestor(
        _need(exchange_for)(), cfg, st.clock, symbol=cfg["symbol"], timeframes=list(cfg["timeframes"])
    )
    st.ingest = ingestor.run_once
    timeframes = list(cfg["timeframes"])

    def candles_and_funding() -> None:
        # What a decision reads, fetched first when a decision bar has just closed (the rest follows).
        now = ingestor.exchange_now()
        for tf in timeframes:
            ingestor.update_candles(tf, now=now)
        ingestor.ingest_funding()

    st.ingest_decision_inputs = candles_and_funding


def _build_analysis(cfg: Config, st: Stages, log: EventLog, exchange_for) -> None:
    from cockpit.indicators.analysis import TechnicalAnalysis
    from cockpit.strategies.base import ContextCache
    from cockpit.strategies.registry import build_strategies

    strategies = build_strategies(cfg)
    ta = TechnicalAnalysis(cfg["regime"])
    symbol, tf = cfg["symbol"], cfg["decision_timeframe"]
    timeframes = cfg["timeframes"]
    bars = int(cfg["engine"]["history_bars"])
    tf_ms = timeframe_ms(tf)
    contexts = ContextCache()  # each decision reads only the candles newer than the previous one's

    def analyze(bar: int) -> Analysis:
        now = bar + tf_ms
        ctx = contexts.build(DataService(), symbol, timeframes, now, bars)
        signals = [s.on_bar(ctx) for s in strategies]
        candles = ctx.candles(tf)
        price = float(candles["close"][-1]) if len(candles["close"]) else None
        # One report per decision: indicators per timeframe, patterns, levels and the regime.
        report = ta.report(ctx.candles_by_tf, primary=tf)
        regime = str(report.get("regime") or Regime.UNKNOWN.value)
        return Analysis(bar=bar, now_ms=now, price=price, signals=signals, ta_report=report, regime=regime, context=ctx)

    st.analyze = analyze


def _build_decision(cfg: Config, st: Stages, log: EventLog, exchange_for) -> None:
    from cockpit.config import secret_values
    from cockpit.data.decision_store import DecisionStore
    from cockpit.decision.engine import PortfolioDecisionEngine

    store = DecisionStore(secrets=secret_values(cfg))
    engine = PortfolioDecisionEngine(cfg, DataService(), store, st.clock)

    def decide(a: Analysis, account: dict[str, Any]) -> tuple[int, Decision]:
        position = {
            "side": account.get("position_side", "flat"),
            "size": account.get("position_size", 0.0),
            "entry_price": account.get("entry_price"),
            "mark_price": a.price,
        }
        decision = engine.decide(
            a.signals,
            a.ta_report,
            a.regime,
            account={"equity": account.get("equity"), "free": account.get("free")},
            position=position,
            price=a.price,
        )
        did = decision.id
        if did is None:
            raise RuntimeError("the decision engine returned a decision without a stored row id")
        return int(did), decision

    st.decide = decide


def _build_orders(cfg: Config, st: Stages, log: EventLog, exchange_for) -> None:
    if exchange_for is None:
        raise Unavailable("no executor (no exchange connection)")
    from cockpit.execution.manager import OrderManager
    from cockpit.execution.okx import OKXExecutor

    executor = OKXExecutor(exchange_for(), cfg, symbol=cfg["symbol"], clock=st.clock)
    st.orders = OrderManager(cfg, executor, clock=st.clock, ds=DataService(), symbol=cfg["symbol"])
    # The kill switch's own manager and ccxt client (ccxt clients are not shared between threads): a
    # monitoring call hanging on a slow exchange cannot delay cancel-and-close.
    st.kill_orders = OrderManager(
        cfg,
        OKXExecutor(exchange_for(), cfg, symbol=cfg["symbol"], clock=st.clock),
        clock=st.clock,
        ds=DataService(),
        symbol=cfg["symbol"],
    )


def _plan(
    cfg: Config, st: Stages, decision_id: int, decision: Decision, a: Analysis, account: dict[str, Any]
) -> list[OrderIntent]:
    from cockpit.engine.sizing import plan_intents

    # Size against the price the risk check will use a moment later: the exchange's mark now. The
    # bar's close can be far from it (an hour of simulated time passes in a second at 3600x), which
    # would put stops on the wrong side of the entry.
    price = None
    if st.orders is not None:
        try:
            price = st.orders.market_state().mark_price
        except Exception:  # noqa: BLE001 - fall back to stored prices
            price = None
    if not price:
        snap = DataService().latest_price_snapshot(cfg["symbol"])
        price = float(snap["mark_price"]) if snap and snap.get("mark_price") else a.price
    intents = plan_intents(
        decision,
        decision_id=decision_id,
        price=price or 0.0,
        signals=a.signals,
        equity=float(account.get("equity") or 0.0),
        position_signed=float(account.get("signed_size") or 0.0),
        cfg=cfg,
    )
    if st.orders is None:
        return intents  # a dry run over stored data (replay, API preview): nothing is sent from here
    # Live: the position and balance this sizing used must be fresh. Their age is wall time (exchange ms
    # over the clock's speed): they are re-read every engine.fast_loop_s of wall time, so on an accelerated
    # simulator a bound in exchange time could never be met. Stale or missing: no entries, reduce-only stays.
    from cockpit.domain.clock import clock_rate
    from cockpit.domain.signals import RiskLevel

    now = st.clock.now_ms()
    limit = float(cfg["risk"]["max_snapshot_age_s"])
    ages = {
        k: (None if account.get(f"{k}_ts") is None else (now - int(account[f"{k}_ts"])) / clock_rate(st.clock) / 1000)
        for k in ("position", "balance")
    }
    stale = {k: v for k, v in ages.items() if v is None or v > limit}
    entries = [i for i in intents if not i.reduce_only]
    if stale and entries:
        why = "; ".join(f"{k} snapshot " + ("missing" if v is None else f"{v:.1f} s old") for k, v in stale.items())
        st.orders.risk.record(
            cfg["symbol"],
            RiskLevel.ERROR,
            "stale_data",
            {
                "decision_id": decision_id,
                "position_age_s": ages["position"],
                "balance_age_s": ages["balance"],
                "limit_s": limit,
                "detail": f"{why}, older than risk.max_snapshot_age_s {limit:g} s",
                "action": f"no new entries from this decision ({len(entries)} refused); reduce-only orders kept",
            },
        )
        return [i for i in intents if i.reduce_only]
    for i in intents:  # every sized order says how old the position it was sized from was
        i.reason += f" (position read {ages['position']:.1f} s ago)" if ages["position"] is not None else ""
    return intents
