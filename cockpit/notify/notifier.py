"""The notifier follows the database (the bus) and sends what the trader asked for.

It reads, through DataService, new rows of ``order_lifecycle_events`` (pending approval, rejected,
failed, expired), ``trades`` (fills, grouped per order per poll) and ``risk_events`` (at or above
``notify.min_risk_level``), and watches the ``engine_state`` rows ``kill_switch``, ``drawdown_halt``
and ``heartbeat`` (engine started / stopped / restarted after a crash). Once a day at
``notify.daily_summary_utc`` (exchange clock) it sends a summary. So it works the same beside an
in-process engine or following a headless engine's database.

Its read position is kept in ``engine_state['notify_cursor']``: a restart neither repeats nor
skips a message. Sending happens in one worker thread per destination (see senders.py); a
destination that keeps failing is recorded as a ``risk_events`` row (WARN, rule ``notify``).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Callable, Mapping

from cockpit.config import mode_label, secret_values
from cockpit.data import engine_store
from cockpit.data.data_service import DataService
from cockpit.db.connection import database_proxy
from cockpit.domain.clock import Clock
from cockpit.domain.settings import Config
from cockpit.notify import format as fmt
from cockpit.notify.format import Message
from cockpit.notify.senders import Destination, DestinationError, DestinationWorker

CURSOR_KEY = "notify_cursor"
SUMMARY_KEY = "notify_daily_summary"
FOLLOWED = ("order_lifecycle_events", "trades", "risk_events")
LEVELS = {"INFO": 0, "WARN": 1, "WARNING": 1, "ERROR": 2, "CRITICAL": 3}
# Rules shown by other kinds ("halt") or written by the notifier itself: never sent as "risk".
SKIP_RULES = frozenset({"notify", "kill_switch", "max_drawdown"})
CLOSED = {"rejected": "order_rejected", "failed": "order_rejected", "expired": "order_expired"}
DAY_MS = 86_400_000


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def build_destinations(cfg: Config, environ: Mapping[str, str] | None = None) -> tuple[list[Destination], list[str]]:
    """The usable destinations of ``notify.urls`` and a safe description of each unusable one."""
    environ = os.environ if environ is None else environ
    dests, problems = [], []
    for url in cfg["notify"]["urls"]:
        try:
            dests.append(Destination.from_url(url, environ))
        except DestinationError as e:
            problems.append(str(e))
    return dests, problems


class Notifier:
    """``Notifier(cfg, ds, clock).start()`` … ``stop()``; ``poll_once()`` reads and queues once."""

    def __init__(
        self,
        cfg: Config,
        ds: DataService | None = None,
        clock: Clock | None = None,
        *,
        start_from_id: int | None = None,
        environ: Mapping[str, str] | None = None,
        destinations: list[Destination] | None = None,
        db: Any = None,
        log: Callable[..., None] | None = None,
    ) -> None:
        if clock is None:
            raise ValueError("Notifier needs a Clock (the exchange's clock in the engine)")
        self.cfg = cfg
        self.n = cfg["notify"]
        self.ds = ds if ds is not None else DataService()
        self.clock = clock
        self.symbol = cfg["symbol"]
        self.label = f"[{mode_label(cfg)}]"
        self.kinds = set(self.n["events"])
        self.min_level = LEVELS[self.n["min_risk_level"]]
        self._db = db if db is not None else database_proxy  # to close each thread's own connection
        self._log = log
        environ = os.environ if environ is None else environ
        if destinations is None:
            destinations, self.problems = build_destinations(cfg, environ)
        else:
            self.problems = []
        self.secrets = sorted(
            {*secret_values(cfg, environ), *(s for d in destinations for s in d.secrets)}, key=len, reverse=True
        )
        self.workers = [
            DestinationWorker(
                d,
                retries=self.n["retries"],
                backoff_s=self.n["backoff_s"],
                rate_per_minute=self.n["rate_per_minute"],
                burst=self.n["burst"],
                queue_size=self.n["queue_size"],
                timeout_s=self.n["timeout_s"],
                on_failure=self._failed,
                on_exit=self._close_thread_db,
            )
            for d in destinations
        ]
        self._start_from = start_from_id
        self._cursor: dict[str, int] | None = None
        self._dropped_seen = [0] * len(self.workers)
        self._beat_init = False
        self._beat_prev: dict[str, Any] | None = None
        self._beat_updated: int | None = None
        self._halts: dict[str, Any] = {"kill_switch": None, "drawdown_halt": None}
        self._risk_last: dict[tuple[str, str], int] = {}
        self._summary_day: int | None = None
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent_messages: list[Message] = []  # what was queued (redacted), newest last; bounded

    # ---------------------------------------------------------------- lifecycle

    @property
    def active(self) -> bool:
        return bool(self.workers)

    def start(self, *, follow: bool = True) -> "Notifier":
        """Start the senders and (``follow``) the thread that polls every ``notify.poll_s``; with
        ``follow=False`` the caller drives ``poll_once()`` itself."""
        for p in self.problems:
            self._record("WARN", {"destination": p, "error": "destination not usable; others still send"})
        with self._poll_lock:
            # Where to read from, and the heartbeat the previous run left behind, are taken now: an
            # engine started right after this call is then always seen starting.
            if self._cursor is None:
                self._cursor = self._init_cursor()
            if not self._beat_init:
                self._check_engine()
        for w in self.workers:
            w.start()
        if follow and self.workers and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cockpit-notify", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Read the last rows (e.g. the engine's final heartbeat), let the queues drain, stop the threads."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.workers:
            try:
                self.poll_once()
            except Exception as e:  # noqa: BLE001 - a stop must finish
                self._emit_log("notify_poll_failed", error=f"{type(e).__name__}: {e}")
        self.flush(timeout)
        for w in self.workers:
            w.stop(timeout=1.0)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued message was delivered or given up; True when all queues are empty."""
        return all([w.wait_idle(timeout) for w in self.workers])

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.poll_once()
                except Exception as e:  # noqa: BLE001 - a bad row or a locked database: try again next time
                    self._emit_log("notify_poll_failed", error=f"{type(e).__name__}: {e}")
                self._stop.wait(float(self.n["poll_s"]))
        finally:
            self._close_thread_db()

    def _close_thread_db(self) -> None:
        if self._db is not None:
            try:
                self._db.close()  # this thread's connection (peewee keeps one per thread)
            except Exception:  # noqa: BLE001
                pass

    # ---------------------------------------------------------------- sending

    def send(self, msg: Message) -> None:
        """Queue ``msg`` (redacted) for every destination; returns at once."""
        msg = msg.redacted(self.secrets)
        self.sent_messages.append(msg)
        del self.sent_messages[:-500]
        for w in self.workers:
            w.put(msg)

    def _emit(self, msg: Message) -> int:
        if msg.kind not in self.kinds:
            return 0
        self.send(msg)
        return 1

    def _failed(self, worker: DestinationWorker, msg: Message, error: str, attempts: int) -> None:
        self._record(
            "WARN",
            {
                "destination": worker.dest.label,
                "kind": msg.kind,
                "title": msg.title,
                "attempts": attempts,
                "error": error or "send failed",
            },
        )

    def _record(self, level: str, details: dict[str, Any]) -> None:
        details = {k: fmt.redact(v, self.secrets) if isinstance(v, str) else v for k, v in details.items()}
        try:
            engine_store.record_risk_event(self.symbol, now_ms=self._now(), level=level, rule="notify", details=details)
        except Exception as e:  # noqa: BLE001 - the database may be gone at shutdown
            self._emit_log("notify_record_failed", error=f"{type(e).__name__}: {e}")
        self._emit_log("notify_failed", **details)

    def _emit_log(self, event: str, **fields: Any) -> None:
        if self._log is not None:
            try:
                self._log(event, **fields)
            except Exception:  # noqa: BLE001
                pass

    def _now(self) -> int:
        return int(self.clock.now_ms())

    # ---------------------------------------------------------------- following the database

    def _init_cursor(self) -> dict[str, int]:
        if self._start_from is not None:
            return {t: int(self._start_from) for t in FOLLOWED}
        saved = _json(self.ds.engine_state(CURSOR_KEY))
        if isinstance(saved, dict) and all(isinstance(saved.get(t), int) for t in FOLLOWED):
            return {t: int(saved[t]) for t in FOLLOWED}
        return {t: self.ds.max_id(t) for t in FOLLOWED}

    def poll_once(self) -> int:
        """Read what is new since the last poll and queue its messages; the number queued."""
        with self._poll_lock:
            if self._cursor is None:
                self._cursor = self._init_cursor()
            before = dict(self._cursor)
            # Engine start/stop and halts first: within one poll they come before the orders they explain.
            n = self._check_engine() + self._check_halts()
            n += self._follow_orders() + self._follow_fills() + self._follow_risk() + self._check_summary()
            self._check_dropped()
            if self._cursor != before:
                engine_store.set_state(CURSOR_KEY, self._cursor, now_ms=self._now())
            return n

    @property
    def _cur(self) -> dict[str, int]:
        """The cursor while following (poll sets it first)."""
        assert self._cursor is not None, "the notifier follows tables only after poll() has set its cursor"
        return self._cursor

    def _follow_orders(self) -> int:
        n = 0
        for ev in self.ds.rows_since("order_lifecycle_events", self._cur["order_lifecycle_events"], limit=500):
            self._cur["order_lifecycle_events"] = ev["id"]
            status = ev.get("status")
            if status == "pending_approval" and "pending_approval" in self.kinds:
                order = self.ds.order(ev["order_id"])
                if order is None:
                    continue
                decision = self.ds.decision(order["decision_id"]) if order.get("decision_id") else None
                n += self._emit(
                    fmt.pending_approval(
                        order,
                        decision,
                        event_ms=ev.get("timestamp"),
                        label=self.label,
                        ttl_s=self.cfg["execution"]["approval_ttl_s"],
                    )
                )
            elif status in CLOSED and CLOSED[status] in self.kinds:
                order = self.ds.order(ev["order_id"])
                if order is not None:
                    n += self._emit(fmt.order_closed(order, ev, label=self.label))
        return n

    def _follow_fills(self) -> int:
        rows = self.ds.rows_since("trades", self._cur["trades"], limit=500)
        if not rows:
            return 0
        self._cur["trades"] = rows[-1]["id"]
        if "fill" not in self.kinds:
            return 0
        by_order: dict[int, list[dict[str, Any]]] = {}
        for t in rows:
            by_order.setdefault(t["order_id"], []).append(t)
        n = 0
        for oid, trades in by_order.items():
            n += self._emit(fmt.fills(self.ds.order(oid), trades, label=self.label))
        return n

    def _follow_risk(self) -> int:
        n = 0
        repeat_ms = int(self.n["risk_repeat_s"]) * 1000
        for ev in self.ds.rows_since("risk_events", self._cur["risk_events"], limit=500):
            self._cur["risk_events"] = ev["id"]
            level = str(ev.get("level", "")).upper()
            if ev.get("rule") in SKIP_RULES or LEVELS.get(level, 0) < self.min_level or "risk" not in self.kinds:
                continue
            key = (str(ev.get("rule")), level)
            ts = int(ev.get("timestamp") or 0)
            last = self._risk_last.get(key)
            if last is not None and 0 <= ts - last < repeat_ms:
                continue  # the same rule at the same level again: once per risk_repeat_s
            details = _json(ev.get("details"))
            if isinstance(details, dict) and "intent" in details and "order_rejected" in self.kinds:
                continue  # a rule that rejected an order: the order's own message gives the reasons
            self._risk_last[key] = ts
            n += self._emit(fmt.risk_event({**ev, "details": details}, label=self.label))
        return n

    def _check_halts(self) -> int:
        n = 0
        for key in ("kill_switch", "drawdown_halt"):
            cur = _json(self.ds.engine_state(key))
            cur = cur if isinstance(cur, dict) else ({"since": None} if cur else None)
            prev = self._halts[key]
            if (cur is None) != (prev is None) or (cur and prev and cur.get("since") != prev.get("since")):
                self._halts[key] = cur
                n += self._emit(fmt.halt(key, cur, label=self.label, now_ms=self._now()))
        return n

    def _check_engine(self) -> int:
        row = self.ds.engine_state_row("heartbeat")
        beat = _json(row["value"]) if row else None
        beat = beat if isinstance(beat, dict) else None
        updated = row["updated_at"] if row else None
        if not self._beat_init:
            # The first look is the baseline: the state the previous run left behind.
            self._beat_init, self._beat_prev, self._beat_updated = True, beat, updated
            return 0
        if beat is None or updated == self._beat_updated and beat == self._beat_prev:
            return 0
        prev, self._beat_prev, self._beat_updated = self._beat_prev, beat, updated
        state, prev_state = beat.get("state"), (prev or {}).get("state")
        event = None
        if state == "running":
            if prev_state != "running":
                event = "started"
            elif int(beat.get("cycles") or 0) < int((prev or {}).get("cycles") or 0):
                event = "restarted"  # counting from zero again without a clean stop in between
        elif state in ("stopped", "failed") and prev_state != state:
            event = "stopped"
        return self._emit(fmt.engine(event, beat, label=self.label)) if event else 0

    # ---------------------------------------------------------------- daily summary

    def _summary_due(self, now: int) -> int | None:
        """The end (ms) of the summary window when a summary is due now, else None."""
        at = self.n["daily_summary_utc"]
        if not at:
            return None
        hh, mm = (int(x) for x in at.split(":"))
        day = now // DAY_MS
        sched = day * DAY_MS + (hh * 60 + mm) * 60_000
        if now < sched:
            day, sched = day - 1, sched - DAY_MS
        if self._summary_day is None:
            saved = _json(self.ds.engine_state(SUMMARY_KEY))
            # First run: the next scheduled time is the first summary (no summary of a day we never saw).
            self._summary_day = int(saved["day"]) if isinstance(saved, dict) and "day" in saved else day
            if not (isinstance(saved, dict) and "day" in saved):
                engine_store.set_state(SUMMARY_KEY, {"day": day}, now_ms=now)
        if day <= self._summary_day:
            return None
        self._summary_day = day
        engine_store.set_state(SUMMARY_KEY, {"day": day}, now_ms=now)
        return sched

    def _check_summary(self) -> int:
        if "daily_summary" not in self.kinds:
            return 0
        end = self._summary_due(self._now())
        if end is None:
            return 0
        return self._emit(fmt.daily_summary(self.summary(end - DAY_MS, end), label=self.label))

    def summary(self, start: int, end: int) -> dict[str, Any]:
        """Figures of [start, end): equity, PnL, fees, funding, decisions, approvals."""
        ds = self.ds
        base, quote = fmt.split_symbol(self.symbol)
        bals = [b for b in ds.balances(quote, limit=100_000, start=start) if int(b["timestamp"]) < end]
        equity = float(bals[0]["total"]) if bals else None
        equity_start = float(bals[-1]["total"]) if bals else None
        trades = [t for t in ds.trades(symbol=self.symbol, start=start, limit=100_000) if int(t["timestamp"]) < end]
        fees = sum(float(t["fee"] or 0) for t in trades)
        realized = sum(float(t["realized_pnl"] or 0) for t in trades)
        decisions = [d for d in ds.decisions(symbol=self.symbol, limit=10_000) if start <= int(d["timestamp"]) < end]
        counts = {"approved": 0, "rejected": 0, "expired": 0}
        for o in ds.orders(symbol=self.symbol, limit=2000):
            if int(o.get("updated_at") or 0) < start:
                continue
            for ev in ds.order_events(o["id"]):
                if ev["status"] in counts and start <= int(ev["timestamp"]) < end:
                    counts[ev["status"]] += 1
        fr = ds.funding_rates(self.symbol, start=start, end=end - 1)
        pos = ds.latest_position_snapshot(self.symbol)
        position = None
        if pos and float(pos.get("size") or 0):
            position = f"{pos['side']} {fmt.amount(pos['size'], base)} @ {fmt.price(pos.get('entry_price'), quote)}"
        pnl = equity - equity_start if equity is not None and equity_start is not None else None
        return {
            "start": start,
            "end": end,
            "quote": quote,
            "equity": equity,
            "equity_start": equity_start,
            "pnl": pnl,
            "pnl_pct": pnl / equity_start if pnl is not None and equity_start else None,
            "fees": fees,
            "realized_pnl": realized,
            "fills": len(trades),
            "decisions": len(decisions),
            "approvals": counts["approved"],
            "rejected": counts["rejected"],
            "expired": counts["expired"],
            "funding_events": len(fr),
            "funding_rate_avg": float(fr["funding_rate"].astype(float).mean()) if len(fr) else None,
            "position": position,
        }

    def _check_dropped(self) -> None:
        for i, w in enumerate(self.workers):
            if w.dropped > self._dropped_seen[i]:
                lost = w.dropped - self._dropped_seen[i]
                self._dropped_seen[i] = w.dropped
                self._record(
                    "WARN",
                    {
                        "destination": w.dest.label,
                        "dropped": lost,
                        "error": f"queue full (notify.queue_size): {lost} oldest message(s) dropped",
                    },
                )
