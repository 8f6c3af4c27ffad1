"""The trading engine: background workers that wire the core together.

Three threads (four with the kill switch's), each with its own database connection:

* ``ingest``   keeps market data current (``engine.ingest_interval_s``, and again right after each
               decision bar closes) and, when a bar of ``decision_timeframe`` has closed and is stored,
               puts it on the decision queue;
* ``decision`` takes closed bars from that bounded queue and runs analysis -> strategy signals ->
               decision (scorer / LLM selector / scheduler) -> target position -> order intents ->
               risk -> approval -> executor. A slow LLM only delays this thread;
* ``fast``     every ``engine.fast_loop_s``: operator commands (approvals arriving through the
               database), order status and fills, stop/take-profit state, position and balance
               snapshots, expiry of pending approvals, the kill switch, and the heartbeat row;
* ``kill``     operator kill commands, through a second OrderManager on its own exchange connection
               (``Stages.kill_orders``), so an exchange call hanging in the fast loop cannot delay them.

Never blind: the engine checks after each ingest cycle that its newest closed bar of
``decision_timeframe`` is current (not more than ``STALE_BARS`` bars old) and that no stored candle is
dated beyond the exchange clock; either is an ERROR risk event, stale data shows in the heartbeat (the
header) and stops new decisions until the data is current again. Database writes that fail (read-only
file, a lock held past the busy timeout, a full disk) stop new decisions too, are logged CRITICAL, and
when the database has refused writes for ``engine.db_write_failure_exit_s`` the engine stops itself
(``status.fatal``; the headless process exits non-zero).

Every call into a stage goes through ``_guard``: an exception is retried when it looks transient
(never a timeout, which already waited ``exchange.timeout_ms``, nor a refused database write), then
logged and recorded as a risk event, and the loop goes on. Nothing but ``stop()`` (or a database that
keeps refusing writes) ends a loop.
Order-manager calls are serialised by one lock because the decision and fast threads share it.
"""

from __future__ import annotations

import queue
import logging
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from cockpit.data import engine_store
from cockpit.data.data_service import DataService
from cockpit.domain.market import timeframe_ms
from cockpit.domain.settings import Config
from cockpit.engine.eventlog import EventLog, iso_ms
from cockpit.engine.fill_log import FillLog
from cockpit.engine.stages import Stages

HEARTBEAT_KEY = "heartbeat"
DECISION_QUEUE_SIZE = 2
FAILURE_RECORD_EVERY_S = 60.0
STALE_BARS = 2  # the newest closed decision bar may be this many bars old before the data counts as stale


@dataclass
class EngineStatus:
    """A plain snapshot of the engine for the in-process TUI and the heartbeat line."""

    state: str = "starting"  # starting | running | stopping | stopped | failed
    mode: str = "sim"
    approval: str = "manual"
    clock_ms: int | None = None
    speed: float = 1.0
    equity: float | None = None
    position: dict[str, Any] | None = None
    last_decision_id: int | None = None
    last_decision_bar: int | None = None
    pending_approvals: int = 0
    decision_lag_ms: float | None = None
    loop_lag_ms: float | None = None
    kill_switch: bool = False
    cycles: int = 0
    decisions: int = 0
    decisions_skipped: int = 0
    errors: int = 0
    last_error: str | None = None
    stages: dict[str, str] = field(default_factory=dict)
    stale_data: str | None = None  # why the market data is not current (no new decisions meanwhile)
    db_write_failures: int = 0  # database writes failed since the last one that succeeded
    fatal: str | None = None  # why the engine stopped itself (the headless process then exits non-zero)
    stream: str | None = None  # exchange streams: live | stale | reconnecting | stopped (None: REST polling only)


def clock_rate(clock: Any) -> float:
    """Exchange milliseconds per wall millisecond (1 for the wall clock)."""
    for attr in ("speed", "rate"):
        v = getattr(clock, attr, None)
        if isinstance(v, (int, float)) and v > 0:
            return float(v)
    return 1.0


class Engine:
    def __init__(self, cfg: Config, stages: Stages, *, log: EventLog, db=None) -> None:
        self.cfg = cfg
        self.stages = stages
        self.log = log
        self.db = db
        self.fill_log = FillLog(log, cfg["symbol"])  # fills, stop-outs, liquidations, realised P&L
        self.clock = stages.clock
        self.symbol = cfg["symbol"]
        self.tf = cfg["decision_timeframe"]
        self.tf_ms = timeframe_ms(self.tf)
        self.status = EngineStatus(
            mode=cfg["exchange"]["mode"],
            approval=cfg["execution"]["approval"],
            speed=clock_rate(self.clock),
            stages=dict(stages.availability),
        )
        self._stop = threading.Event()
        self._wake_ingest = threading.Event()
        self._wake_fast = threading.Event()  # set by the streams: an order/fill/position event to reconcile now
        self._decisions: queue.Queue[tuple[int, float]] = queue.Queue(maxsize=DECISION_QUEUE_SIZE)
        self._om_lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._last_enqueued_bar: int | None = None
        self._ingest_wall_s = 0.0  # duration of the last ingest cycle
        self._recorded: dict[tuple[str, str], float] = {}
        self._lags: list[float] = []  # decision-loop lag samples (ms), for bench/soak
        self._status_lock = threading.Lock()
        self._db_failing_since: float | None = None  # monotonic time of the first failed write in a row
        self._db_exit_s = float(cfg["engine"].get("db_write_failure_exit_s", 60.0))
        self._future_seen: set[tuple[str, int]] = set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        # The indicator kernels compile on a machine's first run (5-10 s; later runs load them from numba's
        # cache in well under a second): do it while the ingest back-fills, not in the first decision.
        threading.Thread(target=_warm_up_indicators, name="cockpit-warmup", daemon=True).start()
        self.log.info(
            "engine_start",
            mode=self.status.mode,
            symbol=self.symbol,
            decision_timeframe=self.tf,
            approval=self.status.approval,
            speed=self.status.speed,
            clock=iso_ms(self._now()),
            stages=self.status.stages,
        )
        for name, reason in self.status.stages.items():
            if reason != "ok":
                self.log.warning("stage_unavailable", stage=name, reason=reason)
        last = self._guard("startup", lambda: DataService().decisions(symbol=self.symbol, limit=1), retries=0)
        if last:
            self.status.last_decision_id = last[0]["id"]
            self.status.last_decision_bar = int(last[0]["timestamp"])
            self._last_enqueued_bar = self.status.last_decision_bar
        self._session_event("started")
        self.status.state = "running"
        workers: list[tuple[str, Callable[[], None]]] = [
            ("fast", self._run_fast),
            ("ingest", self._run_ingest),
            ("decision", self._run_decisions),
        ]
        if getattr(self.stages, "kill_orders", None) is not None and self.stages.orders is not None:
            self.stages.orders.kill_delegated = True  # the fast loop leaves kill commands to the kill worker
            workers.insert(0, ("kill", self._run_kill))
        for name, target in workers:
            t = threading.Thread(target=self._thread_main, args=(name, target), name=f"cockpit-{name}", daemon=True)
            self._threads.append(t)
            t.start()
        if getattr(self.stages, "streams", None) is not None:
            self.stages.streams.start(self)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask every loop to finish its current step, wait for them, write the last heartbeat."""
        if self.status.state in ("stopped", "stopping"):
            return
        self.status.state = "stopping"
        self._stop.set()
        self._wake_ingest.set()
        self._wake_fast.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        self.status.state = "stopped"
        self._refresh_kill_switch()  # the switch may have moved in the cycle the stop cut short
        self._guard("heartbeat", self._heartbeat, retries=0)
        self._session_event("stopped")
        self.log.info(
            "engine_stop",
            cycles=self.status.cycles,
            decisions=self.status.decisions,
            errors=self.status.errors,
            still_running=alive or None,
        )
        self.stages.close()

    @property
    def stopping(self) -> bool:
        """True once stop() was asked (the stream callbacks stop waking the loops then)."""
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stop() was asked (or ``timeout``); True when stopping."""
        return self._stop.wait(timeout)

    def request_stop(self) -> None:
        """Signal-safe: only sets flags; the owner then calls stop()."""
        self._stop.set()
        self._wake_ingest.set()
        self._wake_fast.set()

    def wake_fast(self) -> None:
        """Run the fast loop (order sync, fills, position) now rather than at its next period."""
        self._wake_fast.set()

    def wake_ingest(self) -> None:
        """Run an ingest cycle now (a candle closed on the stream, or a stream came back: back-fill)."""
        self._wake_ingest.set()

    def _session_event(self, what: str) -> None:
        """Audit trail in the risk log: when automated trading started and stopped, in which mode, under
        which approval policy and limits (INFO level; the risk pane shows it beside rejections)."""
        details: dict[str, Any] = {
            "session": what,
            "mode": self.status.mode,
            "approval": self.status.approval,
            "stages": {k: v for k, v in self.status.stages.items() if v != "ok"} or "all ok",
        }
        if what == "started":
            details["limits"] = {
                k: self.cfg["risk"][k]
                for k in ("max_leverage", "max_position_notional", "max_risk_per_trade_pct", "daily_loss_limit_pct")
            }
        else:
            details.update(decisions=self.status.decisions, errors=self.status.errors)
        try:
            engine_store.record_risk_event(
                self.symbol,
                now_ms=self._now() or int(time.time() * 1000),
                level="INFO",
                rule="engine.session",
                details=details,
            )
        except Exception as e:  # noqa: BLE001 - never fatal
            self.log.error("record_failed", stage="session", error=f"{type(e).__name__}: {e}")
            if engine_store.is_database_failure(e) and what == "started":
                self._db_write_failed("session", f"{type(e).__name__}: {e}")

    def _thread_main(self, name: str, target: Callable[[], None]) -> None:
        try:
            target()
        except Exception as e:  # noqa: BLE001 - a loop bug is reported, and the other loops go on
            self.status.errors += 1
            self.status.last_error = f"{name}: {type(e).__name__}: {e}"
            self.log.error(
                "worker_crashed", worker=name, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(limit=5)
            )
        finally:
            if name == "kill" and self.stages.orders is not None:
                self.stages.orders.kill_delegated = False  # the fast loop runs kill commands again
            if self.db is not None:
                try:
                    self.db.close()  # this thread's connection
                except Exception:  # noqa: BLE001
                    pass

    # ------------------------------------------------------------------ helpers

    def _now(self) -> int | None:
        try:
            return int(self.clock.now_ms())
        except Exception:  # noqa: BLE001 - an unsynced exchange clock
            return None

    def _guard(self, what: str, fn: Callable[[], Any], *, retries: int = 2, record: bool = True) -> Any:
        """Run ``fn``; retry a failure ``retries`` times with a short backoff; then log, record, return None."""
        delay = 0.1
        for attempt in range(retries + 1):
            try:
                return fn()
            except Exception as e:  # noqa: BLE001 - never fatal
                err = f"{type(e).__name__}: {e}"
                db_failure = engine_store.is_database_failure(e)
                if db_failure:
                    self._db_write_failed(what, err)
                if attempt < retries and not self._stop.is_set() and not db_failure and not _is_timeout(e):
                    self.log.debug("retry", stage=what, attempt=attempt + 1, error=err)
                    if self._stop.wait(delay):
                        break
                    delay = min(delay * 3, 2.0)
                    continue
                self.status.errors += 1
                self.status.last_error = f"{what}: {err}"
                self.log.error("stage_error", stage=what, error=err, attempts=attempt + 1)
                if record:
                    self._record_failure(what, err)
                return None
        return None

    def _record_failure(self, what: str, err: str) -> None:
        # One risk event per stage and error per minute: an exchange that is down for an hour must not
        # bury the risk pane under thousands of identical rows (the log line is written every time).
        key, wall = (what, err[:120]), time.monotonic()
        if wall - self._recorded.get(key, float("-inf")) < FAILURE_RECORD_EVERY_S:
            return
        self._recorded[key] = wall
        now = self._now() or int(time.time() * 1000)
        try:
            engine_store.record_risk_event(
                self.symbol,
                now_ms=now,
                level="WARN",
                rule=f"engine.{what}",
                details={"error": self.log.redact(err)[:500]},
            )
        except Exception as e:  # noqa: BLE001 - the database itself may be the failing part
            self.log.error("record_failed", stage=what, error=f"{type(e).__name__}: {e}")
            if engine_store.is_database_failure(e):
                self._db_write_failed("record_risk_event", f"{type(e).__name__}: {e}")

    # ------------------------------------------------------------------ database health

    def _db_write_failed(self, what: str, err: str) -> None:
        """A write the database refused: no new entries from now on; CRITICAL once; stop the engine when
        the database has refused writes for engine.db_write_failure_exit_s (wall seconds)."""
        now = time.monotonic()
        with self._status_lock:
            self.status.db_write_failures += 1
            first = self._db_failing_since is None
            if first:
                self._db_failing_since = now
            failing_s = now - (self._db_failing_since or now)
            n = self.status.db_write_failures
        if first:
            self.log.critical(
                "database_write_failed",
                stage=what,
                error=self.log.redact(err),
                action=f"no new entries while the database refuses writes; the engine stops "
                f"after {self._db_exit_s:g} s of failures",
            )
        if failing_s >= self._db_exit_s and n >= 2 and self.status.fatal is None:
            self.status.fatal = (
                f"the database refused every write for {failing_s:.0f} s ({n} failures; last: "
                f"{self.log.redact(err)[:200]})"
            )
            self.log.critical(
                "database_unwritable",
                failures=n,
                seconds=round(failing_s, 1),
                error=self.log.redact(err),
                action="stopping the engine",
            )
            self.request_stop()

    def _db_write_ok(self) -> None:
        """A write went through (the heartbeat): the failures, if any, are over."""
        if self._db_failing_since is None:
            return
        with self._status_lock:
            n, since = self.status.db_write_failures, self._db_failing_since
            self.status.db_write_failures = 0
            self._db_failing_since = None
        secs = round(time.monotonic() - since, 1)
        self.log.warning("database_writable_again", failures=n, seconds=secs)
        try:  # the CRITICAL line could not be stored while it happened: say it now (and notify)
            engine_store.record_risk_event(
                self.symbol,
                now_ms=self._now() or int(time.time() * 1000),
                level="ERROR",
                rule="engine.database",
                details={
                    "error": f"the database refused {n} write(s) for {secs} s",
                    "action": "no new entries were made meanwhile; writes work again",
                },
            )
        except Exception as e:  # noqa: BLE001
            self.log.error("record_failed", stage="database", error=f"{type(e).__name__}: {e}")

    def entries_blocked(self) -> str | None:
        """Why no new decision may be acted on now (None when nothing stops it)."""
        if self._db_failing_since is not None:
            return f"the database refuses writes ({self.status.db_write_failures} failed)"
        if self.status.stale_data:
            return f"stale market data: {self.status.stale_data}"
        return None

    # ------------------------------------------------------------------ market data health

    def _check_data(self, ds: DataService) -> None:
        """After an ingest cycle: flag stored candles dated beyond the exchange clock, and mark the data
        stale when the newest closed bar of the decision timeframe is more than STALE_BARS bars old."""
        now = self._now()
        if now is None:
            return
        for tf in dict.fromkeys([self.tf, *self.cfg.get("timeframes", [])]):
            top = ds.latest_candle_time(self.symbol, tf)
            if top is not None and top > now and (tf, top) not in self._future_seen:
                self._future_seen.add((tf, top))
                details = {
                    "timeframe": tf,
                    "candle": iso_ms(top),
                    "exchange_clock": iso_ms(now),
                    "action": "ignored when looking for the newest bar; delete it from market_data",
                }
                self.log.error("future_candle", **details)
                self._risk_event("ERROR", "engine.future_candle", details)
        expected = self._last_closed_bar(now)
        latest = ds.latest_candle_time(self.symbol, self.tf, end=expected)
        if latest is None:
            self._set_stale(f"no closed {self.tf} bar stored", now, None)
            return
        age_ms = now - (latest + self.tf_ms)  # time since the newest stored bar closed
        # On an accelerated simulator one ingest cycle may span several bars: allow what a cycle can do.
        slack_ms = (
            (self._ingest_wall_s + float(self.cfg["engine"]["ingest_interval_s"])) * clock_rate(self.clock) * 1000
        )
        if age_ms > max(STALE_BARS * self.tf_ms, slack_ms):
            bars = (expected - latest) // self.tf_ms
            self._set_stale(f"newest closed {self.tf} bar {iso_ms(latest)} is {bars} bars old", now, latest)
        else:
            self._set_stale(None, now, latest)

    def _set_stale(self, why: str | None, now: int, latest: int | None) -> None:
        was = self.status.stale_data
        self.status.stale_data = why
        if why and not was:
            details = {
                "timeframe": self.tf,
                "newest_bar": iso_ms(latest),
                "exchange_clock": iso_ms(now),
                "reason": why,
                "action": "no new entries until the market data is current",
            }
            self.log.error("stale_data", **details)
            self._risk_event("ERROR", "engine.stale_data", details)
        elif was and not why:
            self.log.info("data_current", timeframe=self.tf, newest_bar=iso_ms(latest))
            self._risk_event(
                "INFO",
                "engine.stale_data",
                {"timeframe": self.tf, "newest_bar": iso_ms(latest), "reason": "market data current again", "was": was},
            )

    def _risk_event(self, level: str, rule: str, details: dict[str, Any]) -> None:
        try:
            engine_store.record_risk_event(
                self.symbol, now_ms=self._now() or int(time.time() * 1000), level=level, rule=rule, details=details
            )
        except Exception as e:  # noqa: BLE001 - the database may be the failing part
            self.log.error("record_failed", stage=rule, error=f"{type(e).__name__}: {e}")
            if engine_store.is_database_failure(e):
                self._db_write_failed(rule, f"{type(e).__name__}: {e}")

    def _last_closed_bar(self, now_ms: int) -> int:
        return (now_ms // self.tf_ms) * self.tf_ms - self.tf_ms

    def _wall_s_until(self, exchange_ms: int) -> float:
        now = self._now()
        if now is None:
            return 1.0
        return max(0.0, (exchange_ms - now) / clock_rate(self.clock) / 1000.0)

    # ------------------------------------------------------------------ ingest loop

    def _run_ingest(self) -> None:
        interval = float(self.cfg["engine"]["ingest_interval_s"])
        ds = DataService()
        while not self._stop.is_set():
            fast = self.stages.ingest_decision_inputs
            if fast is not None and self._bar_pending():
                # A decision bar has closed: fetch what the decision reads, decide, then ingest the rest.
                self._guard("ingest_candles", fast, retries=1)
                self._maybe_enqueue(ds)
            if self.stages.ingest is not None:
                t0 = time.monotonic()
                self._guard("ingest", self.stages.ingest, retries=int(self.cfg["exchange"]["max_retries"]))
                self._ingest_wall_s = time.monotonic() - t0
                self._guard("check_data", lambda: self._check_data(ds), retries=0)
            self._maybe_enqueue(ds)
            now = self._now()
            wait = interval
            if now is not None:
                # Wake just after the next decision bar closes, so decisions are never an interval late.
                next_close = self._last_closed_bar(now) + 2 * self.tf_ms
                wait = min(interval, self._wall_s_until(next_close) + 0.02)
            self._wake_ingest.wait(max(0.01, wait))
            self._wake_ingest.clear()

    def _bar_pending(self) -> bool:
        now = self._now()
        return now is not None and (
            self._last_enqueued_bar is None or self._last_closed_bar(now) > self._last_enqueued_bar
        )

    def _maybe_enqueue(self, ds: DataService) -> None:
        now = self._now()
        if now is None:
            return
        bar = self._last_closed_bar(now)
        if self._last_enqueued_bar is not None and bar <= self._last_enqueued_bar:
            return
        # Rows dated beyond the newest closed bar (a bad import) are not taken for it.
        latest = self._guard("read_candles", lambda: ds.latest_candle_time(self.symbol, self.tf, end=bar), retries=1)
        if latest is None:
            return
        if latest < bar:
            # Ingest has not stored the newest closed bar. When one ingest cycle spans more than a bar (an
            # accelerated simulator on a busy machine) it never will be exactly current: decide on the newest
            # stored bar if it is as fresh as an ingest cycle can make it; otherwise wait for ingest.
            behind_s = (now - (latest + 2 * self.tf_ms)) / clock_rate(self.clock) / 1000.0
            if behind_s > self._ingest_wall_s + float(self.cfg["engine"]["ingest_interval_s"]):
                return
            bar = latest
            if self._last_enqueued_bar is not None and bar <= self._last_enqueued_bar:
                return
        if self._last_enqueued_bar is not None and bar - self._last_enqueued_bar > self.tf_ms:
            # Bars that closed while ingest was behind: decided on the newest only, and said so.
            missed = range(self._last_enqueued_bar + self.tf_ms, bar, self.tf_ms)
            self.status.decisions_skipped += len(missed)
            for b in list(missed)[-50:]:
                self.log.warning(
                    "decision_skipped",
                    bar=iso_ms(b),
                    reason=f"market data was behind; deciding on the newest closed bar {iso_ms(bar)}",
                )
        detect_lag = (now - (bar + self.tf_ms)) / clock_rate(self.clock)
        item = (bar, time.monotonic() - max(0.0, detect_lag) / 1000.0)
        try:
            self._decisions.put_nowait(item)
        except queue.Full:
            # Coalesce: the decision worker is behind (slow LLM); decide on the newest bar only.
            try:
                dropped = self._decisions.get_nowait()
                self.status.decisions_skipped += 1
                self.log.warning("decision_skipped", bar=iso_ms(dropped[0]), reason="decision worker is behind")
            except queue.Empty:
                pass
            self._decisions.put_nowait(item)
        self._last_enqueued_bar = bar

    # ------------------------------------------------------------------ decision loop

    def _run_decisions(self) -> None:
        while not self._stop.is_set():
            try:
                bar, closed_mono = self._decisions.get(timeout=0.2)
            except queue.Empty:
                continue
            self._decide(bar, closed_mono)

    def _decide(self, bar: int, closed_mono: float) -> None:
        st = self.stages
        blocked = self.entries_blocked()
        if blocked:
            self.status.decisions_skipped += 1
            self.log.warning("decision_skipped", bar=iso_ms(bar), reason=f"{blocked}: no new entries")
            return
        analyze = st.analyze
        if analyze is None:
            self.log.info("decision_unavailable", bar=iso_ms(bar), reason=st.availability.get("analysis"))
            return
        analysis = self._guard("analysis", lambda: analyze(bar), retries=0)
        if analysis is None or self._stop.is_set():
            return
        if analysis.price is None:  # nothing closed at or before the bar: never decide on no data
            self._set_stale(f"no closed {self.tf} bar at or before {iso_ms(bar)}", bar + self.tf_ms, None)
            self.status.decisions_skipped += 1
            self.log.warning("decision_skipped", bar=iso_ms(bar), reason="no price: no closed bar stored")
            return
        self.log.info(
            "analysis",
            bar=iso_ms(bar),
            regime=analysis.regime,
            price=analysis.price,
            signals={s.strategy: f"{s.direction.value}:{s.strength:.2f}" for s in analysis.signals},
        )
        decide = st.decide
        if decide is None:
            self.log.info("decision_unavailable", bar=iso_ms(bar), reason=st.availability.get("decision"))
            return
        account = self._account_view()
        result = self._guard("decision", lambda: decide(analysis, account), retries=0)
        if result is None:
            return
        decision_id, decision = result
        lag_ms = (time.monotonic() - closed_mono) * 1000.0
        with self._status_lock:
            self.status.last_decision_id = decision_id
            self.status.last_decision_bar = bar
            self.status.decisions += 1
            self.status.decision_lag_ms = round(lag_ms, 1)
            self._lags.append(lag_ms)
            if len(self._lags) > 10000:
                del self._lags[:5000]
        self.log.info(
            "decision",
            id=decision_id,
            bar=iso_ms(bar),
            action=decision.action,
            target=round(float(decision.target_exposure), 4),
            selector=decision.selector,
            regime=decision.regime,
            confidence=decision.confidence,
            lag_ms=round(lag_ms, 1),
            reasoning=(decision.reasoning or "")[:160],
        )
        blocked = self.entries_blocked()
        if blocked:
            self.log.warning("orders_withheld", decision=decision_id, reason=f"{blocked}: no new entries")
            return
        sizing = st.plan
        if sizing is None or st.orders is None:
            self.log.info(
                "orders_unavailable",
                decision=decision_id,
                reason=st.availability.get("orders") if st.orders is None else st.availability.get("sizing"),
            )
            return
        with self._om_lock:  # sizing reads the live mark through the order manager's executor
            # Orders still waiting (approval, or unfilled on the exchange) count toward the position
            # the plan starts from: a second decision with the same target must not stack a second
            # order on a pending one; a different target gets an order for the difference.
            def plan() -> tuple[float, list[Any]]:
                pending = self._guard("pending", st.orders.uncommitted_signed_amount, retries=1) or 0.0
                plan_account = {**account, "signed_size": float(account.get("signed_size") or 0.0) + pending}
                return pending, self._guard(
                    "sizing", lambda: sizing(decision_id, decision, analysis, plan_account), retries=0
                ) or []

            pending, intents = plan()
            # The new plan goes against orders still waiting for approval (e.g. it wants less than a
            # pending buy would give): withdraw those instead of placing an order to offset them.
            if pending and any((i.side == "sell") == (pending > 0) for i in intents):
                superseded = self._guard("supersede", lambda: st.orders.supersede_pending(decision_id), retries=1) or []
                if superseded:
                    self.log.info("orders_superseded", decision=decision_id, orders=superseded)
                    pending, intents = plan()
        for intent in intents:
            if self._stop.is_set():
                break
            with self._om_lock:
                # submit_intent is idempotent per decision and leg (deterministic client ids): safe to retry.
                res = self._guard("submit", lambda: st.orders.submit_intent(intent), retries=2)
            self.log.info(
                "order_intent",
                decision=decision_id,
                side=intent.side,
                amount=intent.amount,
                reduce_only=intent.reduce_only,
                stop_loss=intent.stop_loss,
                take_profit=intent.take_profit,
                reason=intent.reason,
                result=_describe(res),
            )

    def _account_view(self) -> dict[str, Any]:
        ds = DataService()
        bal = self._guard("read_balance", lambda: ds.latest_balance("USDT"), retries=1, record=False)
        pos = self._guard("read_position", lambda: ds.latest_position_snapshot(self.symbol), retries=1, record=False)
        equity = float(bal["total"]) if bal and bal.get("total") is not None else None
        if equity is None:
            equity = float(self.cfg["sim"]["initial_balance"]) if self.status.mode == "sim" else 0.0
        side, size = "flat", 0.0
        if pos:
            side, size = pos["side"], float(pos["size"] or 0.0)
        return {
            "equity": equity,
            "free": float(bal["free"]) if bal and bal.get("free") is not None else equity,
            "position_side": side,
            "position_size": size,
            "signed_size": size if side == "long" else -size if side == "short" else 0.0,
            "entry_price": float(pos["entry_price"]) if pos and pos.get("entry_price") is not None else None,
            # When each was read (exchange ms; None: never): sizing refuses entries on stale or missing data.
            "position_ts": int(pos["timestamp"]) if pos and pos.get("timestamp") is not None else None,
            "balance_ts": int(bal["timestamp"]) if bal and bal.get("timestamp") is not None else None,
        }

    # ------------------------------------------------------------------ fast loop

    def _run_fast(self) -> None:
        period = float(self.cfg["engine"]["fast_loop_s"])
        next_t = time.monotonic()
        while not self._stop.is_set():
            started = time.monotonic()
            lag = max(0.0, started - next_t)
            self.status.loop_lag_ms = round(lag * 1000.0, 1)
            self._fast_cycle()
            self.status.cycles += 1
            if self._guard("heartbeat", self._heartbeat, retries=0):
                self._db_write_ok()
            next_t = max(next_t + period, time.monotonic() - period)
            if self._wake_fast.wait(max(0.0, next_t - time.monotonic())):
                self._wake_fast.clear()
                next_t = time.monotonic()

    def _fast_cycle(self) -> None:
        om = self.stages.orders
        if om is None:
            return
        for step in ("process_commands", "sync", "expire_pending"):
            if self._stop.is_set():
                return
            fn = getattr(om, step, None)
            if fn is None:
                continue
            with self._om_lock:
                res = self._guard(step, fn, retries=1)
            if res:
                self.log.info(step, result=_describe(res))
        self._guard("fill_log", self.fill_log.poll, retries=0, record=False)
        self._refresh_kill_switch()

    def _run_kill(self) -> None:
        """Operator kill commands, on the kill manager's own exchange connection: a fast-loop call that
        hangs on a slow exchange (up to exchange.timeout_ms) does not hold up cancel-and-close."""
        ko = self.stages.kill_orders
        period = min(0.2, float(self.cfg["engine"]["fast_loop_s"]))
        # Load the instrument now, so the first kill does not wait for the markets request.
        self._guard("kill_switch_ready", lambda: ko.executor.instrument(self.symbol), retries=1, record=False)
        while not self._stop.is_set():
            res = self._guard("kill_switch", ko.process_kill_commands, retries=0)
            if res:
                self.log.warning("kill_command", result=_describe(res))
                self._refresh_kill_switch()
            self._stop.wait(period)

    def _refresh_kill_switch(self) -> None:
        ks = getattr(self.stages.orders, "kill_switch_active", None)
        if ks is not None:
            active = bool(self._guard("kill_switch", ks, retries=0))
            if active != self.status.kill_switch:
                self.log.warning("kill_switch", active=active)
            self.status.kill_switch = active

    def _heartbeat(self) -> bool:
        ds = DataService()
        now = self._now()
        self.status.clock_ms = now
        self.status.speed = clock_rate(self.clock)
        bal = ds.latest_balance("USDT")
        pos = ds.latest_position_snapshot(self.symbol)
        pending = ds.orders(status="pending_approval", limit=1000, symbol=self.symbol)
        self.status.equity = float(bal["total"]) if bal and bal.get("total") is not None else None
        self.status.position = (
            {
                "side": pos["side"],
                "size": float(pos["size"] or 0),
                "entry_price": pos.get("entry_price"),
                "unrealized_pnl": pos.get("unrealized_pnl"),
            }
            if pos
            else None
        )
        self.status.pending_approvals = len(pending)
        beat: dict[str, Any] = {
            "ts": now,
            "ts_utc": iso_ms(now),
            "wall_ms": int(time.time() * 1000),
            "state": self.status.state,
            "equity": self.status.equity,
            "position": self.status.position,
            "last_decision_id": self.status.last_decision_id,
            "pending_approvals": self.status.pending_approvals,
            "lag_ms": self.status.decision_lag_ms,
            "loop_lag_ms": self.status.loop_lag_ms,
            "kill_switch": self.status.kill_switch,
            "cycles": self.status.cycles,
            "errors": self.status.errors,
            "mode": self.status.mode,
            "speed": self.status.speed,
            "stale_data": self.status.stale_data,
            "db_write_failures": self.status.db_write_failures,
            "stream": self.status.stream,
        }
        engine_store.set_state(HEARTBEAT_KEY, beat, now_ms=now or beat["wall_ms"])
        pos_txt = f"{beat['position']['side']} {beat['position']['size']:g}" if beat["position"] else "flat"
        self.log.info(
            "heartbeat",
            equity=beat["equity"],
            position=pos_txt,
            last_decision=beat["last_decision_id"],
            pending_approvals=beat["pending_approvals"],
            lag_ms=beat["lag_ms"],
            loop_lag_ms=beat["loop_lag_ms"],
            state=beat["state"],
        )
        return True

    # ------------------------------------------------------------------ figures for bench/soak

    def lag_samples(self) -> list[float]:
        with self._status_lock:
            return list(self._lags)

    def status_dict(self) -> dict[str, Any]:
        return asdict(self.status)


def _warm_up_indicators() -> None:
    try:
        from cockpit.indicators import kernels

        kernels.warm_up()
    except Exception:  # noqa: BLE001 - only a head start: the first decision compiles them otherwise
        logging.getLogger("cockpit.engine").warning("indicator warm-up failed", exc_info=True)


def _is_timeout(e: BaseException) -> bool:
    """A request that already waited its full timeout (ccxt's RequestTimeout, a socket timeout): retrying it
    would hold the loop for another exchange.timeout_ms."""
    return any(c.__name__ in ("RequestTimeout", "TimeoutError", "ReadTimeout", "Timeout") for c in type(e).__mro__)


def _describe(res: Any) -> Any:
    """A short, loggable form of whatever a stage returned."""
    if res is None or isinstance(res, (bool, int, float, str)):
        return res
    if isinstance(res, (list, tuple)):
        return [_describe(r) for r in res[:10]]
    if isinstance(res, dict):
        return {k: _describe(v) for k, v in list(res.items())[:12]}
    for attr in ("id", "status", "client_order_id"):
        if hasattr(res, attr):
            return {a: str(getattr(res, a)) for a in ("id", "status", "client_order_id", "message") if hasattr(res, a)}
    return str(res)[:200]
