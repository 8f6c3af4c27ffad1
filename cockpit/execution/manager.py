"""OrderManager: from an order intent to an order on the exchange, and back into the database.

    intent -> RiskManager.check -> orders row (rejected | pending_approval | approved)
           -> operator approves (manual) or the policy does (auto_within_limits, auto)
           -> risk check again at submit time -> OrderExecutor.place -> submitted -> fills -> filled

Everything the exchange says is written as it happens: lifecycle events (with the status, in one
transaction), fills (once each: UNIQUE(order_id, exchange_trade_id)), position snapshots, balances.
The exchange is the truth: ``reconcile()`` (start-up and periodic) adopts the exchange's state of
every order in flight, marks orders the exchange never saw as failed, records every mismatch as a
risk event, and stores the exchange's position.

Approval policy (``execution.approval``): ``manual`` (every order waits for an operator),
``auto_within_limits`` (orders that passed every rule unchanged go straight out; reduced ones wait),
``auto`` (everything the risk manager allows goes out). A pending order expires after
``execution.approval_ttl_s``. Kill-switch closes are reduce-only market orders and never wait.

Not thread-safe by itself: the engine serialises calls with one lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

from cockpit.config import redactor
from cockpit.data.data_service import DataService
from cockpit.data.operator import finish_command
from cockpit.data.order_store import OrderStore
from cockpit.data.risk_store import RiskStore
from cockpit.domain.clock import Clock
from cockpit.domain.orders import AccountState, Fill, IllegalTransition, Order, OrderIntent, OrderStatus, Position
from cockpit.domain.settings import Config
from cockpit.domain.signals import RiskLevel
from cockpit.execution import trade_actions
from cockpit.execution.base import ExecutionReport, OrderExecutor
from cockpit.execution.ids import decision_client_id, namespace_prefix, system_client_id
from cockpit.risk.manager import MarketState, RiskLimits, RiskManager, RiskResult

S = OrderStatus
IN_FLIGHT = (S.APPROVED, S.SUBMITTED, S.PARTIALLY_FILLED)
# How long (operator seconds) an approved order whose placement outcome is unknown is retried under its
# client id before it is marked failed. Far above ccxt's request timeout, so a request cannot still be
# on its way to the exchange when we give up on it.
IN_FLIGHT_GRACE_S = 60
WORKING = (S.SUBMITTED, S.PARTIALLY_FILLED)
_EPS = 1e-9

# One sender per order in this process: the kill switch sends its close on its own thread and exchange
# connection while the fast loop's sync() sends every approved order it finds. Both would place the same
# client id (the exchange refuses the second, harmlessly) and then race to apply the same fill ("filled ->
# submitted"). A worker that finds an order's lock taken leaves the order to the one holding it. (One small
# lock per order this process has sent: a few bytes each, kept for the life of the process.)
_submit_locks: dict[str, threading.RLock] = {}
_submit_locks_guard = threading.Lock()


def _submit_lock(client_order_id: str) -> threading.RLock:
    with _submit_locks_guard:
        return _submit_locks.setdefault(client_order_id, threading.RLock())


# Fills are re-read this far (exchange ms) behind the newest one seen: one listed late is still found.
FILLS_OVERLAP_MS = 60_000
_POS_EPS = 1e-7  # BTC: positions closer than this agree (the lot is 1e-4)


@dataclass(slots=True)
class PositionCheck:
    """One reading of the position and whether it can be trusted (see ``OrderManager.check_position``)."""

    position: Position | None  # the exchange's reading; None when its reply was unreadable
    ledger: float | None  # signed BTC from our recorded fills; None before the ledger has started
    confirmed: bool
    note: str
    read_at: int

    def worst_signed(self) -> float:
        """The larger |position| of the exchange's and the ledger's (what caps and kill-switch closes use)."""
        ex = self.position.signed_size if self.position is not None else 0.0
        led = self.ledger if self.ledger is not None else 0.0
        return ex if abs(ex) >= abs(led) else led


class OrderManager:
    def __init__(
        self,
        cfg: Config,
        executor: OrderExecutor,
        store: OrderStore | None = None,
        risk: RiskManager | None = None,
        clock: Clock | None = None,
        *,
        ds: DataService | None = None,
        symbol: str | None = None,
    ) -> None:
        if clock is None:
            raise TypeError("OrderManager needs a clock")
        self.cfg = cfg
        self.executor = executor
        # Exchange error text goes into lifecycle events and risk events: configured secrets are blanked first.
        red = redactor(cfg) if store is None or risk is None else None
        self.store = store if store is not None else OrderStore(redactor=red)
        self.risk = (
            risk
            if risk is not None
            else RiskManager(RiskLimits.from_config(cfg), clock=clock, state=RiskStore(redactor=red))
        )
        self.clock = clock
        self.data = ds if ds is not None else DataService()
        self.symbol = symbol or cfg["symbol"]
        ex = cfg.get("execution", {})
        self.approval = ex.get("approval", "manual")
        self.ttl_ms = int(ex.get("approval_ttl_s", 900)) * 1000
        self.mode = cfg.get("exchange", {}).get("mode")
        self._ns: str | None = None
        self.reconcile_ms = int(ex.get("reconcile_interval_s", 30)) * 1000
        self._last_reconcile: int | None = None
        self._reported_foreign: set[str] = set()
        self._position_state: tuple[str, float | None] = ("ok", None)  # what the last position risk event said
        self.last_position_check: PositionCheck | None = None
        # True when another manager (the engine's kill worker, on its own exchange connection) runs the
        # operators' kill commands: process_commands then stops at a pending kill and leaves it to that one.
        self.kill_delegated = False

    # ---------------------------------------------------------------- helpers

    @property
    def namespace(self) -> str:
        if self._ns is None:
            self._ns = self.store.client_id_namespace(now_ms=self.clock.now_ms())
        return self._ns

    def ttl_clock_ms(self) -> int:
        """execution.approval_ttl_s is operator (wall) time; on an accelerated simulator clock it spans
        proportionally more exchange milliseconds, so a person always gets the configured time."""
        return self._scaled_ms(self.ttl_ms)

    def _scaled_ms(self, wall_ms: float) -> int:
        rate = 1.0
        for attr in ("speed", "rate"):
            v = getattr(self.clock, attr, None)
            if isinstance(v, (int, float)) and v > 0:
                rate = float(v)
                break
        return int(wall_ms * rate)

    def client_order_id(self, intent: OrderIntent, decision_id: int | None) -> str:
        if decision_id is not None:
            return decision_client_id(self.namespace, decision_id, intent.leg)
        return system_client_id(self.namespace, "m", self.clock.now_ms(), intent.leg)

    def _event(self, level: RiskLevel, rule: str, details: dict[str, Any]) -> None:
        self.risk.record(self.symbol, level, rule, details)

    def market_state(self) -> MarketState:
        info = self.executor.instrument(self.symbol)
        mark = None
        try:
            mark = self.executor.mark_price(self.symbol)
        except Exception:  # noqa: BLE001 - fall back to stored prices; the risk rule rejects without any
            mark = None
        if not mark:
            snap = self.data.latest_price_snapshot(self.symbol)
            mark = (snap or {}).get("mark_price") or (snap or {}).get("last_price")
        if not mark:
            tfs = self.cfg.get("timeframes") or ["1m"]
            for tf in tfs:
                c = self.data.candle_arrays(self.symbol, tf, limit=1)
                if len(c["close"]):
                    mark = float(c["close"][-1])
                    break
        return MarketState(
            self.symbol,
            float(mark) if mark else None,
            info.amount_step,
            info.min_amount,
            info.price_step,
            self.clock.now_ms(),
        )

    def open_risk(self, position: Position | None, exclude_order: int | None = None) -> float:
        """Money at risk: the position to its protective stop plus working entry orders to theirs."""
        max_stop = float(self.cfg.get("risk", {}).get("max_stop_distance_pct", 0.1))
        risk = 0.0
        if position is not None and position.size > _EPS and position.side in ("long", "short"):
            stop = None
            side = "buy" if position.side == "long" else "sell"
            for o in reversed(self.store.with_status((S.FILLED, S.PARTIALLY_FILLED), symbol=self.symbol)):
                if o.side == side and not o.reduce_only and o.stop_loss:
                    stop = o.stop_loss
                    break
            entry = position.entry_price or position.mark_price or 0.0
            dist = abs(entry - stop) if stop else entry * max_stop
            risk += position.size * dist
        for o in self.store.with_status(IN_FLIGHT, symbol=self.symbol):
            if o.reduce_only or o.id == exclude_order:
                continue
            ref = o.price or o.average_price
            if ref and o.stop_loss:
                risk += max(0.0, o.amount - o.filled) * abs(ref - o.stop_loss)
            elif ref:
                risk += max(0.0, o.amount - o.filled) * ref * max_stop
        return risk

    def account_state(self, exclude_order: int | None = None) -> AccountState:
        """The account as the risk check sees it: balance and position read now (``as_of_ms``), whether the
        position is confirmed, and the ledger's position, so the exposure cap takes the larger of the two."""
        acct = self.executor.account()
        check = self.check_position()
        pos = check.position
        worst = check.worst_signed()
        if pos is None or abs(worst) > pos.size + _POS_EPS:  # open risk of the larger position
            pos_for_risk = Position(
                self.symbol,
                "long" if worst > 0 else "short" if worst < 0 else "flat",
                abs(worst),
                entry_price=(pos.entry_price if pos else 0.0) or 0.0,
                mark_price=pos.mark_price if pos else None,
            )
        else:
            pos_for_risk = pos
        if pos_for_risk.mark_price is None and not pos_for_risk.entry_price and pos_for_risk.size > _EPS:
            pos_for_risk = replace(pos_for_risk, mark_price=self.market_state().mark_price)
        return replace(
            acct,
            position=pos,
            open_risk=self.open_risk(pos_for_risk, exclude_order),
            position_confirmed=check.confirmed,
            position_note=check.note,
            ledger_position=check.ledger,
            as_of_ms=check.read_at,
        )

    # ---------------------------------------------------------------- position confirmation and the ledger

    def _ledger_key(self) -> str:
        return f"ledger:{self.symbol}"

    def ledger_position(self) -> float | None:
        """Signed BTC the ledger holds: the position when the ledger started plus every fill in ``trades``
        since (reconciled from the exchange's fills by trade id). None before the ledger has started."""
        led = self.store.state(self._ledger_key())
        if not isinstance(led, dict) or "baseline" not in led:
            return None
        return round(float(led["baseline"]) + self.store.fills_signed(self.symbol), 10)

    def _start_ledger(self, pos: Position, now: int) -> bool:
        """The first readable position of this database starts the ledger: its baseline is that position less
        the fills already in ``trades``; fills the exchange lists up to now are part of the baseline (their
        ids are kept and skipped), later ones are reconciled. Started only when the position reads the same
        before and after the fills are read (no fill in between); returns whether it started."""
        lookback = max(FILLS_OVERLAP_MS, self._scaled_ms(10_000))  # covers the offset between our clock and theirs
        try:
            listed = self.executor.account_fills(self.symbol, now - lookback)
        except ValueError:
            return False
        again, _ = self._read_position()
        if again is None or abs(again.signed_size - pos.signed_size) > _POS_EPS:
            return False
        skip = [str(a.fill.trade_id) for a in listed if not self.store.has_trade(self.symbol, str(a.fill.trade_id))]
        cursor = max([a.fill.timestamp for a in listed], default=now - lookback)
        baseline = pos.signed_size - self.store.fills_signed(self.symbol)
        self.store.set_state(
            self._ledger_key(),
            {"baseline": baseline, "started": now, "cursor": cursor, "skip": skip[-1000:]},
            now_ms=now,
        )
        self._event(
            RiskLevel.INFO,
            "ledger",
            {
                "action": "ledger started",
                "exchange_position": pos.signed_size,
                "baseline": baseline,
                "fills_in_baseline": len(skip),
            },
        )
        return True

    def _read_position(self) -> tuple[Position | None, str]:
        try:
            return self.executor.position(self.symbol), ""
        except ValueError as e:  # MalformedReply: the reply could not be read; never taken as flat
            return None, str(e)[:300]

    def check_position(self) -> PositionCheck:
        """Read the exchange's position and decide whether it can be trusted.

        An empty, malformed or unreadable position reply is not evidence of a flat position. The reading is
        compared with the ledger (our recorded fills); when they differ, the exchange's fills are reconciled
        into the ledger (fills evidence) and the position is read a second time. Confirmed when exchange and
        ledger agree, or when the exchange reports an actual position (the exposure cap still takes the larger
        of the two). Not confirmed: unreadable, or the exchange says flat while the ledger holds a position;
        then no new entry passes the risk check, and a risk event says why (once per change)."""
        now = self.clock.now_ms()
        pos, err = self._read_position()
        ledger = self.ledger_position()
        if ledger is None and pos is not None and self._start_ledger(pos, now):
            ledger = self.ledger_position()
        if pos is not None and ledger is not None and abs(pos.signed_size - ledger) <= _POS_EPS:
            return self._checked(PositionCheck(pos, ledger, True, "exchange and ledger agree", now))
        # Disagreement or an unreadable reply: bring the ledger up to date from the exchange's fills ...
        fills_note = ""
        if ledger is not None:
            try:
                added = self.reconcile_fills()
                fills_note = f"; {added} fill(s) reconciled" if added else ""
            except Exception as e:  # noqa: BLE001 - no fills evidence this time; stay unconfirmed
                fills_note = f"; fills unreadable: {type(e).__name__}: {e}"[:200]
            ledger = self.ledger_position()
        # ... and read the position a second time.
        pos2, err2 = self._read_position()
        if pos2 is not None:
            pos, err = pos2, ""
        elif pos is None:
            err = err2 or err
        if pos is None:
            return self._checked(
                PositionCheck(None, ledger, False, f"position reply unreadable twice: {err}" + fills_note, now)
            )
        if ledger is not None and abs(pos.signed_size - ledger) <= _POS_EPS:
            return self._checked(
                PositionCheck(pos, ledger, True, "exchange and ledger agree after reconciling fills" + fills_note, now)
            )
        if ledger is None:  # nothing to confirm against yet: the ledger starts at the next steady reading
            if self._start_ledger(pos, now):
                return self._checked(PositionCheck(pos, self.ledger_position(), True, "ledger started", now))
            return self._checked(
                PositionCheck(
                    pos,
                    None,
                    False,
                    "the ledger could not start yet (the position "
                    "moved, or the fills were unreadable, while it was read)",
                    now,
                )
            )
        if pos.size > _EPS:
            return self._checked(
                PositionCheck(
                    pos,
                    ledger,
                    True,
                    f"exchange reports {pos.signed_size:+g} BTC; the "
                    f"ledger holds {ledger:+g} BTC (the cap takes the larger)" + fills_note,
                    now,
                ),
                mismatch=True,
            )
        return self._checked(
            PositionCheck(
                pos,
                ledger,
                False,
                f"the exchange reports no position (empty reply, read "
                f"twice) but our recorded fills hold {ledger:+g} BTC: not evidence of "
                f"flat" + fills_note,
                now,
            )
        )

    def _checked(self, check: PositionCheck, *, mismatch: bool = False) -> PositionCheck:
        """Remember the check; a risk event when the state changes (not at every poll)."""
        key = (
            "ok" if check.confirmed and not mismatch else "mismatch" if check.confirmed else "unconfirmed",
            round(check.worst_signed(), 6) if not check.confirmed or mismatch else None,
        )
        if key != self._position_state:
            details = {
                "exchange_position": check.position.signed_size if check.position is not None else None,
                "ledger_position": check.ledger,
                "note": check.note,
            }
            if not check.confirmed:
                self._event(
                    RiskLevel.ERROR,
                    "position_unconfirmed",
                    {
                        **details,
                        "action": "no new entries until the position is confirmed; reduce-only closes still go out",
                    },
                )
            elif mismatch:
                self._event(
                    RiskLevel.WARN,
                    "position_unconfirmed",
                    {**details, "action": "took the exchange's position; entries capped by the larger"},
                )
            else:
                self._event(RiskLevel.INFO, "position_unconfirmed", {**details, "action": "position confirmed again"})
            self._position_state = key
        self.last_position_check = check
        return check

    def reconcile_fills(self) -> int:
        """Make the ledger complete: every fill the exchange lists for the symbol since the ledger's cursor is
        stored once (by trade id) under its order; orders the exchange made itself (a triggered stop-loss or
        take-profit, also one partly filled then canceled; a liquidation) or that were placed outside the
        cockpit get an order row. Idempotent. Returns how many fills were added. Raises ValueError when the
        exchange's fills cannot be read (nothing is changed then)."""
        led = self.store.state(self._ledger_key())
        if not isinstance(led, dict) or "cursor" not in led:
            return 0
        since = int(led["cursor"])
        skip = set(led.get("skip") or ())
        fills = [a for a in self.executor.account_fills(self.symbol, since) if str(a.fill.trade_id) not in skip]
        added, complete, newest = 0, True, None
        touched: dict[int, int] = {}
        for af in fills:
            f = af.fill
            newest = f.timestamp if newest is None else max(newest, f.timestamp)
            if self.store.has_trade(self.symbol, str(f.trade_id)):
                continue
            order = self.store.by_exchange_id(af.exchange_order_id, self.symbol)
            if order is None and af.client_order_id:
                order = self.store.by_client_id(af.client_order_id)
            if order is None:
                order = self._adopt_exchange_order(af.exchange_order_id, f.side, f.price, amount=f.amount)
                if order is None:
                    complete = False
                    continue
                if self.store.has_trade(self.symbol, str(f.trade_id)):
                    added += 1  # adopting the order recorded its fills
                    continue
            if self.store.has_synthetic_fills(order.row_id):
                # Recorded earlier without the exchange's fill list: swap in the real fills, never add to them.
                try:
                    rep = self.executor.fetch(order)
                except ValueError:
                    complete = False
                    continue
                if not any(x.trade_id == f.trade_id for x in rep.fills):
                    complete = False
                    continue
                n = self.store.replace_synthetic_fills(order.row_id, self.symbol, rep.fills)
            else:
                n = int(
                    self.store.record_fill(
                        order.row_id,
                        self.symbol,
                        replace(f, order_client_id=order.client_order_id or f.order_client_id),
                    )
                )
            added += n
            touched[order.row_id] = touched.get(order.row_id, 0) + n
        now = self.clock.now_ms()
        for oid, n in touched.items():
            o = self.store.get(oid)
            if not o.status.is_terminal or not n:
                continue  # a working order: sync brings its status and totals
            filled, avg, fee = self.store.fill_totals(oid)
            self.store.update(oid, now_ms=now, filled=filled, average_price=avg, fee=fee)
            self._event(
                RiskLevel.ERROR,
                "ledger",
                {
                    "order_id": oid,
                    "client_order_id": o.client_order_id,
                    "db_status": o.status.value,
                    "fills_recorded": n,
                    "filled": filled,
                    "action": "recorded fills missing from the ledger",
                },
            )
        if complete and newest is not None:
            cursor = max(since, newest - FILLS_OVERLAP_MS)
            if cursor != since:
                self.store.set_state(self._ledger_key(), {**led, "cursor": cursor}, now_ms=now)
        return added

    def _adopted(self, o: Order) -> bool:
        """An order this database adopted from the exchange (client id ck<ns>x<exchange id>, not the exchange's)."""
        return bool(o.exchange_order_id) and (o.client_order_id or "").startswith(
            namespace_prefix(self.namespace) + "x"
        )

    def _fetch(self, o: Order) -> ExecutionReport:
        """The exchange's view of ``o``; an adopted order is looked up by its exchange id alone (the exchange
        knows it under its own client id, or none)."""
        return self.executor.fetch(replace(o, client_order_id=None) if self._adopted(o) else o)

    def _adopt_exchange_order(
        self,
        exchange_order_id: str,
        side: str | None = None,
        price: float | None = None,
        report: ExecutionReport | None = None,
        amount: float = 0.0,
    ) -> Order | None:
        """Store an order the exchange has and this database does not (client id ck<ns>x<exchange id>): made by
        the exchange itself (a triggered stop-loss/take-profit, a liquidation) or placed by hand. It is stored
        as submitted, never approved, so it can never be sent again; its state and fills come from the
        exchange now (or at the next sync when that read fails)."""
        cid = f"{namespace_prefix(self.namespace)}x{exchange_order_id}"[:32]
        existing = self.store.by_client_id(cid)
        if existing is not None:
            return existing
        now = self.clock.now_ms()
        if report is None:
            try:
                report = self.executor.fetch(
                    Order(self.symbol, side or "sell", "market", 0.0, exchange_order_id=exchange_order_id)
                )
            except ValueError:
                report = None
            if report is not None and not report.found:
                report = None
        info = (report.raw or {}) if report is not None else {}
        side = info.get("side") or side
        if side not in ("buy", "sell"):
            return None
        if info.get("algoId"):
            kind = self._trigger_kind(str(info["algoId"])) or self._protective_kind(
                side, (report.average_price if report else None) or price
            )
            what, why = f"{kind} triggered on the exchange (algo {info.get('algoId')})", f"{kind} triggered"
        elif info.get("category") in ("full_liquidation", "partial_liquidation", "adl"):
            what = why = f"{info.get('category')} by the exchange"
        elif report is None:
            what, why = "found in the exchange's fills (order not readable yet)", "exchange fill"
        else:
            what, why = "placed outside this cockpit", "outside order"
        if report is not None and report.filled > _EPS:
            amount = report.filled
        reduce_only = str(info.get("reduceOnly", "")).lower() == "true" or bool(info.get("algoId"))
        order = Order(
            self.symbol,
            side,
            "market",
            amount,
            reduce_only=reduce_only,
            client_order_id=cid,
            exchange_order_id=exchange_order_id,
        )
        oid, created = self.store.create(order, now_ms=now, mode=self.mode, status=S.APPROVED, message=what, reason=why)
        if created:
            self.store.update(oid, now_ms=now, decided_by="exchange", decided_at=now)
            self.store.transition(oid, S.SUBMITTED, now_ms=now, message="on the exchange already; not sent by us")
            if report is not None:
                self._apply(oid, report, context=why)
            # A triggered stop/take-profit is routine; a liquidation is not; an order nobody here placed is odd.
            level = (
                RiskLevel.INFO if info.get("algoId") else RiskLevel.ERROR if "liquidation" in what else RiskLevel.WARN
            )
            self._event(
                level,
                "ledger",
                {
                    "order_id": oid,
                    "exchange_order_id": exchange_order_id,
                    "action": "adopted an exchange order: " + what,
                },
            )
        return self.store.get(oid)

    # ---------------------------------------------------------------- intents

    def submit_intent(self, intent: OrderIntent, decision_id: int | None = None) -> int:
        """Risk-check ``intent`` and store it as an order (rejected, pending approval or approved and sent).
        Idempotent: the same decision and leg return the existing order without a second check."""
        if self._last_reconcile is None:  # nothing goes out before the start-up reconcile
            self.reconcile()
        decision_id = decision_id if decision_id is not None else intent.decision_id
        intent = replace(intent, decision_id=decision_id)
        cid = self.client_order_id(intent, decision_id)
        existing = self.store.by_client_id(cid)
        if existing is not None:
            return int(existing.row_id)
        now = self.clock.now_ms()
        result = self.risk.check(intent, self.account_state(), self.market_state())
        if result.rejected:
            status, msg = S.REJECTED, "; ".join(result.reasons)
        elif intent.reduce_only and self.risk.kill_switch_active:
            status, msg = S.APPROVED, "kill switch: closing orders need no approval"
        elif self.approval == "auto" or (self.approval == "auto_within_limits" and result.approved):
            status, msg = S.APPROVED, f"auto-approved ({self.approval}, risk {result.status})"
        else:
            status, msg = S.PENDING_APPROVAL, f"waiting for approval ({self.approval}, risk {result.status})"
        order = _order_from(result, cid)
        oid, created = self.store.create(
            order,
            now_ms=now,
            leg=intent.leg,
            mode=self.mode,
            status=status,
            message=msg,
            expires_at=now + self.ttl_clock_ms() if status == S.PENDING_APPROVAL else None,
            reason=intent.reason or None,
            risk_assessment=result.assessment,
        )
        if created and decision_id is not None:
            self.store.attach_decision_risk(decision_id, intent.leg, result.assessment)
        if created and status == S.APPROVED:
            self.store.update(oid, now_ms=now, decided_by=f"policy:{self.approval}", decided_at=now)
            self._submit(oid)
        return oid

    def approve(self, order_id: int, *, by: str) -> Order:
        """An operator approves a pending order: re-check the risk now, then send it."""
        order = self.store.get(order_id)
        now = self.clock.now_ms()
        if order.status != S.PENDING_APPROVAL:
            raise IllegalTransition(f"order {order_id} is {order.status.value}, not pending approval")
        row = self.store.row(order_id) or {}
        if row.get("expires_at") and row["expires_at"] <= now:
            self.store.transition(order_id, S.EXPIRED, now_ms=now, message="approval came after the TTL")
            raise IllegalTransition(f"order {order_id} expired before it was approved")
        intent = OrderIntent(
            order.symbol,
            order.side,
            order.amount,
            order.type,
            order.price,
            order.stop_loss,
            order.take_profit,
            order.leverage,
            order.reduce_only,
            order.decision_id,
            int(row.get("leg") or 0),
        )
        result = self.risk.check(intent, self.account_state(exclude_order=order_id), self.market_state())
        if result.rejected:
            self.store.transition(
                order_id,
                S.REJECTED,
                now_ms=now,
                decided_by=by,
                decided_at=now,
                message="approved by " + by + " but risk now rejects: " + "; ".join(result.reasons),
                risk_assessment=result.assessment,
            )
            return self.store.get(order_id)
        msg = f"approved by {by}"
        if result.intent.amount < order.amount - _EPS:
            msg += f"; risk reduced the amount {order.amount:g} -> {result.intent.amount:g}"
        self.store.transition(
            order_id,
            S.APPROVED,
            now_ms=now,
            message=msg,
            decided_by=by,
            decided_at=now,
            amount=result.intent.amount,
            risk_assessment=result.assessment,
        )
        return self._submit(order_id)

    def reject(self, order_id: int, *, by: str, reason: str = "") -> Order:
        now = self.clock.now_ms()
        order = self.store.get(order_id)
        if order.status != S.PENDING_APPROVAL:
            raise IllegalTransition(f"order {order_id} is {order.status.value}, not pending approval")
        return self.store.transition(
            order_id,
            S.REJECTED,
            now_ms=now,
            message=f"rejected by {by}: {reason}".rstrip(": "),
            decided_by=by,
            decided_at=now,
            reason=reason or None,
        )

    def cancel(self, order_id: int, *, by: str = "", reason: str = "") -> Order:
        now = self.clock.now_ms()
        order = self.store.get(order_id)
        if order.status in (S.PENDING_APPROVAL, S.APPROVED):
            return self.store.transition(order_id, S.CANCELED, now_ms=now, message=f"canceled by {by} {reason}".strip())
        if order.status in WORKING:
            rep = self.executor.cancel(order)
            self._apply(order_id, rep, context=f"cancel by {by}")
            return self.store.get(order_id)
        raise IllegalTransition(f"order {order_id} is {order.status.value}: nothing to cancel")

    def supersede_pending(self, decision_id: int) -> list[int]:
        """Cancel orders still waiting for approval from earlier decisions (a newer decision has
        re-planned the position); return their ids. Orders already on the exchange are left alone."""
        now = self.clock.now_ms()
        done = []
        for o in self.store.with_status([S.PENDING_APPROVAL], symbol=self.symbol):
            if o.decision_id == decision_id:
                continue
            try:
                self.store.transition(o.row_id, S.CANCELED, now_ms=now, message=f"superseded by decision {decision_id}")
                done.append(o.row_id)
            except IllegalTransition:  # approved or expired meanwhile
                pass
        return done

    def uncommitted_signed_amount(self) -> float:
        """Signed base amount (+buy, -sell) of orders that may still execute but are not in the
        position yet: waiting for approval, approved, or working on the exchange (unfilled part)."""
        total = 0.0
        for o in self.store.with_status([S.PENDING_APPROVAL, S.APPROVED, *WORKING], symbol=self.symbol):
            left = max(float(o.amount) - float(o.filled or 0.0), 0.0)
            total += left if o.side == "buy" else -left
        return total

    def expire_pending(self) -> int:
        now = self.clock.now_ms()
        n = 0
        for o in self.store.expired_pending(now):
            try:
                self.store.transition(o.row_id, S.EXPIRED, now_ms=now, message="approval TTL passed")
                n += 1
            except IllegalTransition:
                pass
        return n

    # ---------------------------------------------------------------- talking to the exchange

    def _submit(self, order_id: int) -> Order:
        order = self.store.get(order_id)
        if order.status != S.APPROVED:
            return order
        lock = _submit_lock(order.client_id)
        if not lock.acquire(blocking=False):
            return order  # another worker of this process is sending it (see _submit_locks)
        try:
            return self._submit_locked(order_id)
        finally:
            lock.release()

    def _submit_locked(self, order_id: int) -> Order:
        order = self.store.get(order_id)  # again, under the lock: another worker may have sent it meanwhile
        now = self.clock.now_ms()
        if order.status != S.APPROVED:
            return order
        if not order.reduce_only and self.risk.halted:
            return self.store.transition(
                order_id,
                S.REJECTED,
                now_ms=now,
                message="trading halted (kill switch or drawdown halt) before the order was sent",
            )
        self.risk.state.note_submission(now)
        try:
            rep = self.executor.place(order)
        except Exception as e:  # noqa: BLE001 - transport failure: did the exchange get it? Ask.
            return self._resolve_unknown(order, f"place failed: {type(e).__name__}: {e}")
        if rep.status == S.FAILED and not rep.found:
            self._event(
                RiskLevel.WARN,
                "submit",
                {
                    "order_id": order.id,
                    "client_order_id": order.client_order_id,
                    "error": rep.message or "place returned no order",
                    "action": "looking the order up by client id",
                },
            )
            return self._resolve_unknown(order, rep.message or "place returned no order")
        done = self._apply(order_id, rep, context="place")
        self._after_fill(done)
        return done

    def _after_fill(self, order: Order) -> None:
        """Keep the stored position and balance in step with our own fills (so a later reconcile only
        reports changes made outside the cockpit's orders)."""
        if order.filled > _EPS:
            try:
                self.record_account()
            except Exception as e:  # noqa: BLE001 - the next sync records them
                self._event(RiskLevel.WARN, "sync", {"error": f"position/balance read failed: {e}"})

    def _resolve_unknown(self, order: Order, why: str) -> Order:
        """The exchange may or may not have the order: look it up by client id and adopt it when found.
        When it is not found (or the lookup fails) a young order stays approved and the next sync sends it
        again under the same client id (the exchange refuses a duplicate, and we adopt the one it has);
        an order older than the in-flight grace period is marked failed."""
        now = self.clock.now_ms()
        try:
            rep = self.executor.find(order.client_id, order.symbol)
            lookup = rep.message or "not found"
        except Exception as e:  # noqa: BLE001 - unreachable or unreadable: we know nothing yet
            rep, lookup = None, f"{type(e).__name__}: {e}"
        if rep is not None and rep.found and rep.exchange_order_id:
            done = self._apply(order.row_id, rep, context=why + "; found by client id")
            self._after_fill(done)
            return done
        young = self._in_grace(order.row_id)
        self._event(
            RiskLevel.ERROR if not young else RiskLevel.WARN,
            "submit",
            {
                "order_id": order.id,
                "client_order_id": order.client_order_id,
                "error": why,
                "lookup": lookup,
                "action": "kept approved; resent with the same client id" if young else "marked failed",
            },
        )
        if young:
            return self.store.get(order.row_id)
        return self.store.transition(order.row_id, S.FAILED, now_ms=now, message=f"{why}; not on the exchange")

    def _in_grace(self, order_id: int) -> bool:
        """True while an approved order may still be in flight to the exchange (IN_FLIGHT_GRACE_S of
        operator time since it was approved)."""
        row = self.store.row(order_id) or {}
        since = row.get("updated_at") or 0
        return self.clock.now_ms() - int(since) < self._scaled_ms(IN_FLIGHT_GRACE_S * 1000)

    def _apply(self, order_id: int, rep: ExecutionReport, *, context: str = "") -> Order:
        """Bring the stored order to what the exchange reports: fills first, then the status path."""
        now = self.clock.now_ms()
        order = self.store.get(order_id)
        if rep.exchange_order_id and rep.exchange_order_id != order.exchange_order_id:
            order = self.store.update(order_id, now_ms=now, exchange_order_id=str(rep.exchange_order_id))
        self._record_fills(order, rep)
        target = S(rep.status)
        fields: dict[str, Any] = {}
        filled, avg, fee = self.store.fill_totals(order_id)
        if rep.filled > filled + _EPS:
            filled = rep.filled
        if filled > _EPS:
            fields.update(filled=filled, average_price=rep.average_price or avg, fee=rep.fee or fee)
        msg = (context + ": " if context else "") + (rep.message or target.value)
        cur = order.status
        if cur.is_terminal:
            if cur != target:
                self._event(
                    RiskLevel.WARN,
                    "reconcile",
                    {
                        "order_id": order_id,
                        "client_order_id": order.client_order_id,
                        "db_status": cur.value,
                        "exchange_status": target.value,
                    },
                )
            if fields:
                self.store.update(order_id, now_ms=now, **fields)
            return self.store.get(order_id)
        path: list[OrderStatus] = []
        if (
            cur == S.APPROVED
            and target in (S.PARTIALLY_FILLED, S.FILLED, S.EXPIRED, S.CANCELED)
            and rep.exchange_order_id
        ):
            path.append(S.SUBMITTED)
        if target == S.SUBMITTED and filled > _EPS:
            target = S.PARTIALLY_FILLED
        if target == S.PARTIALLY_FILLED and cur == S.PARTIALLY_FILLED and filled <= order.filled + _EPS:
            target = cur  # nothing new
        if target != cur or (target == S.PARTIALLY_FILLED and filled > order.filled + _EPS):
            path.append(target)
        elif target == cur and target == S.SUBMITTED and not path:
            pass
        if not path:
            if fields:
                self.store.update(order_id, now_ms=now, **fields)
            return self.store.get(order_id)
        for i, st in enumerate(path):
            last = i == len(path) - 1
            try:
                order = self.store.transition(
                    order_id, st, now_ms=now, message=msg if last else context or st.value, **(fields if last else {})
                )
            except IllegalTransition as e:
                now_status = self.store.get(order_id).status
                if now_status == path[-1] or now_status.is_terminal:
                    # Another worker applied the same report first (an expected race, nothing lost).
                    self._event(
                        RiskLevel.INFO,
                        "order_state",
                        {"order_id": order_id, "status": now_status.value, "note": "already applied by another worker"},
                    )
                else:
                    self._event(
                        RiskLevel.ERROR, "order_state", {"order_id": order_id, "error": str(e), "report": rep.message}
                    )
                if fields:
                    self.store.update(order_id, now_ms=now, **fields)
                return self.store.get(order_id)
        return order

    def _record_fills(self, order: Order, rep: ExecutionReport) -> int:
        """Store the report's fills once each; when the venue gives no fill list, one synthetic fill per
        increase of the cumulative filled amount (its id is the cumulative amount, so it is recorded once)."""
        n = 0
        for f in rep.fills:
            n += self.store.record_fill(order.row_id, order.symbol, f)
        if rep.fills:
            return n
        stored, stored_avg, stored_fee = self.store.fill_totals(order.row_id)
        delta = rep.filled - stored
        if delta > _EPS and rep.average_price:
            price = (rep.average_price * rep.filled - (stored_avg or 0.0) * stored) / delta
            fee = max(0.0, (rep.fee or 0.0) - stored_fee)
            tid = f"{rep.exchange_order_id or order.client_order_id}:{rep.filled:.8f}"
            n += self.store.record_fill(
                order.row_id,
                order.symbol,
                Fill(order.client_id, order.side, price, delta, fee, "USDT", self.clock.now_ms(), tid),
            )
        return n

    def sync(self) -> dict[str, int] | None:
        """Poll working orders (status, fills), submit approved ones, record the position and balance.
        Reconciles before anything else on the first call (start-up: orders in flight at a crash are
        resolved before any is sent again), then after the poll every execution.reconcile_interval_s."""
        out: dict[str, int] = {}
        if self._last_reconcile is None:
            out.update({k: v for k, v in self.reconcile().items() if v})
        out.update(updated=0, submitted=0)
        for o in self.store.with_status((S.APPROVED,), symbol=self.symbol):
            self._submit(o.row_id)
            out["submitted"] += 1
        for o in self.store.with_status(WORKING, symbol=self.symbol):
            before = (o.status, o.filled)
            try:
                rep = self._fetch(o)
            except ValueError as e:  # an unreadable reply: nothing learned, ask again next time
                self._event(RiskLevel.WARN, "sync", {"order_id": o.id, "error": str(e)[:300]})
                continue
            if not rep.found:
                self._event(
                    RiskLevel.WARN,
                    "reconcile",
                    {
                        "order_id": o.id,
                        "client_order_id": o.client_order_id,
                        "error": "working order not found on the exchange",
                    },
                )
                self.store.transition(
                    o.row_id, S.FAILED, now_ms=self.clock.now_ms(), message="not found on the exchange"
                )
                out["updated"] += 1
                continue
            after = self._apply(o.row_id, rep, context="sync")
            if (after.status, after.filled) != before:
                out["updated"] += 1
        out["triggered"] = self.adopt_triggered()
        self.record_account()
        if self.clock.now_ms() - (self._last_reconcile or 0) >= self.reconcile_ms:
            out.update({k: v for k, v in self.reconcile().items() if v})
        return {k: v for k, v in out.items() if v} or None

    def adopt_triggered(self) -> int:
        """Orders the exchange made itself when an attached stop-loss/take-profit triggered: stored once
        each (client id ck<ns>x<exchange id>) with their fills, so every fill on the account is recorded.
        (Ones that ended canceled after a partial fill are not listed here; ``reconcile_fills`` finds them.)"""
        n = 0
        prefix = namespace_prefix(self.namespace)
        for rep in self.executor.recent_closed(self.symbol):
            info = rep.raw or {}
            if (
                rep.filled <= _EPS
                or not info.get("algoId")
                or (rep.client_order_id or "").startswith(prefix)
                or not rep.exchange_order_id
            ):
                continue
            cid = f"{prefix}x{rep.exchange_order_id}"[:32]
            if self.store.by_client_id(cid) is not None:
                continue
            try:
                full = self.executor.fetch(
                    Order(
                        self.symbol, info.get("side") or "sell", "market", 0.0, exchange_order_id=rep.exchange_order_id
                    )
                )
            except ValueError:
                continue  # unreadable now: the next sync (or reconcile_fills) adopts it
            if (
                self._adopt_exchange_order(
                    rep.exchange_order_id, info.get("side"), rep.average_price, report=full if full.found else rep
                )
                is not None
            ):
                n += 1
        return n

    def _trigger_kind(self, algo_id: str) -> str | None:
        """'stop-loss' or 'take-profit' as the exchange says (the algo order's triggered leg); None when it cannot."""
        try:
            return self.executor.trigger_kind(self.symbol, algo_id)
        except Exception:  # noqa: BLE001 - fall back to the nearest level
            return None

    def _protective_kind(self, close_side: str, price: float | None) -> str:
        """'stop-loss' or 'take-profit': which level of the latest entry the close price is nearer to."""
        entry_side = "buy" if close_side == "sell" else "sell"
        for o in reversed(self.store.with_status((S.FILLED, S.PARTIALLY_FILLED, S.CANCELED), symbol=self.symbol)):
            if o.side == entry_side and not o.reduce_only and (o.stop_loss or o.take_profit) and price:
                ds = abs(price - o.stop_loss) if o.stop_loss else float("inf")
                dt = abs(price - o.take_profit) if o.take_profit else float("inf")
                return "stop-loss" if ds <= dt else "take-profit"
        return "stop-loss/take-profit"

    def record_account(self) -> tuple[Position | None, AccountState]:
        """Store the balance, and the position when it is confirmed (an unconfirmed reading is never written:
        the stored snapshot then ages, and sizing refuses it past risk.max_snapshot_age_s)."""
        now = self.clock.now_ms()
        check = self.check_position()
        acct = self.executor.account()
        if check.confirmed and check.position is not None:
            self.store.record_position(check.position, now_ms=now)
        self.store.record_balance(acct.currency, acct.equity, acct.free, acct.used, now_ms=now)
        self.risk.observe(self.symbol, acct.equity)
        return (check.position if check.confirmed else None), acct

    def reconcile(self) -> dict[str, int]:
        """Match the database to the exchange (at start-up and every execution.reconcile_interval_s).

        Orders in flight (approved, submitted, partially filled) adopt the exchange's state, or are marked
        failed when the exchange has never seen their client id; open exchange orders of this database that
        the database thinks are closed are canceled; every mismatch is a risk_events row. The position
        stored is the exchange's."""
        now = self.clock.now_ms()
        self._last_reconcile = now
        out = {
            "adopted": 0,
            "failed": 0,
            "retry": 0,
            "late_fills": 0,
            "unknown_canceled": 0,
            "foreign": 0,
            "position_mismatch": 0,
            "fills": 0,
        }
        open_by_cid = {r.client_order_id: r for r in self.executor.open_orders(self.symbol) if r.client_order_id}
        for o in self.store.with_status(IN_FLIGHT, symbol=self.symbol):
            try:
                rep = open_by_cid.get(o.client_id) or (
                    self._fetch(o) if self._adopted(o) else self.executor.find(o.client_id, o.symbol)
                )
            except ValueError as e:  # unreadable reply: decide at the next reconcile, never guess
                self._event(RiskLevel.WARN, "reconcile", {"order_id": o.id, "error": str(e)[:300]})
                continue
            if rep.found and (rep.exchange_order_id or rep.status != S.FAILED):
                before = o.status
                after = self._apply(o.row_id, rep, context="reconcile")
                if after.status != before:
                    out["adopted"] += 1
                    self._event(
                        RiskLevel.WARN,
                        "reconcile",
                        {
                            "order_id": o.id,
                            "client_order_id": o.client_order_id,
                            "db_status": before.value,
                            "exchange_status": after.status.value,
                            "action": "adopted the exchange's state",
                        },
                    )
            elif o.status == S.APPROVED and self._in_grace(o.row_id):
                out["retry"] += 1  # may still be on its way: sync resends it under the same client id
                self._event(
                    RiskLevel.WARN,
                    "reconcile",
                    {
                        "order_id": o.id,
                        "client_order_id": o.client_order_id,
                        "db_status": o.status.value,
                        "action": "not on the exchange yet; resending with the same client id",
                    },
                )
            else:
                self.store.transition(
                    o.row_id, S.FAILED, now_ms=now, message="reconcile: the exchange has no order with this client id"
                )
                out["failed"] += 1
                self._event(
                    RiskLevel.WARN,
                    "reconcile",
                    {
                        "order_id": o.id,
                        "client_order_id": o.client_order_id,
                        "db_status": o.status.value,
                        "action": "marked failed: not on the exchange",
                    },
                )
        prefix = namespace_prefix(self.namespace)
        for cid, rep in open_by_cid.items():
            mine = self.store.by_client_id(cid)
            if mine is not None and mine.status in IN_FLIGHT:
                continue
            if cid.startswith(prefix):
                # Ours but closed (or unknown) in the database: nothing tracks it, so take it off the book.
                try:
                    self.executor.cancel(
                        Order(
                            self.symbol,
                            "buy",
                            "market",
                            0.0,
                            client_order_id=cid,
                            exchange_order_id=rep.exchange_order_id,
                        )
                    )
                except Exception as e:  # noqa: BLE001 - reported below either way
                    rep.message = f"cancel failed: {e}"
                out["unknown_canceled"] += 1
                self._event(
                    RiskLevel.ERROR,
                    "reconcile",
                    {
                        "client_order_id": cid,
                        "exchange_order_id": rep.exchange_order_id,
                        "db_status": mine.status.value if mine else None,
                        "action": "canceled untracked open order",
                        "note": rep.message,
                    },
                )
            else:
                out["foreign"] += 1
                if cid not in self._reported_foreign:  # once per process, not at every reconcile
                    self._reported_foreign.add(cid)
                    self._event(
                        RiskLevel.WARN,
                        "reconcile",
                        {
                            "client_order_id": cid,
                            "exchange_order_id": rep.exchange_order_id,
                            "action": "left alone: open order not placed by this cockpit",
                        },
                    )
        out["late_fills"] = self._late_fills()
        try:
            out["fills"] = self.reconcile_fills()
        except ValueError as e:  # unreadable fills: the cursor stays; read again at the next reconcile
            self._event(RiskLevel.WARN, "ledger", {"error": str(e)[:300], "action": "fills not reconciled this time"})
        stored = self.data.positions(self.symbol)
        pos, _ = self.record_account()
        if stored and pos is not None:
            s = stored[0]
            ssize = float(s["size"] or 0.0) * (1 if s["side"] == "long" else -1 if s["side"] == "short" else 0)
            if abs(ssize - pos.signed_size) > 1e-9:
                out["position_mismatch"] += 1
                self._event(
                    RiskLevel.WARN,
                    "reconcile",
                    {
                        "db_position": ssize,
                        "exchange_position": pos.signed_size,
                        "note": "changed outside this cockpit's orders (stop-loss/take-profit, liquidation, manual trade)",
                        "action": "stored the exchange's position",
                    },
                )
        return out

    def _late_fills(self) -> int:
        """Fills of our orders that the database had already closed (failed/canceled/...): a request that
        reached the exchange after we gave up on it. The status stays final; the fills are recorded
        (once), the order's filled amount updated, and an ERROR risk event raised."""
        n = 0
        prefix = namespace_prefix(self.namespace)
        for rep in self.executor.recent_closed(self.symbol):
            cid = rep.client_order_id or ""
            if not cid.startswith(prefix) or rep.filled <= _EPS:
                continue
            mine = self.store.by_client_id(cid)
            if mine is None or not mine.status.is_terminal or mine.filled >= rep.filled - _EPS:
                continue
            full = self.executor.fetch(
                Order(
                    mine.symbol,
                    mine.side,
                    mine.type,
                    mine.amount,
                    client_order_id=cid,
                    exchange_order_id=rep.exchange_order_id,
                )
            )
            added = self._record_fills(mine, full)
            filled, avg, fee = self.store.fill_totals(mine.row_id)
            self.store.update(
                mine.row_id,
                now_ms=self.clock.now_ms(),
                filled=filled,
                average_price=avg,
                fee=fee,
                exchange_order_id=rep.exchange_order_id,
            )
            self._event(
                RiskLevel.ERROR,
                "reconcile",
                {
                    "order_id": mine.id,
                    "client_order_id": cid,
                    "db_status": mine.status.value,
                    "exchange_status": full.status.value,
                    "filled": full.filled,
                    "fills_recorded": added,
                    "action": "recorded fills of an order the database had closed",
                },
            )
            n += 1
        return n

    # ---------------------------------------------------------------- kill switch

    def kill_switch_active(self) -> bool:
        return self.risk.kill_switch_active

    def kill_switch(self, *, by: str = "", reason: str = "") -> dict[str, Any]:
        """Halt: persist the switch, cancel every open order, close the position with reduce-only market orders."""
        self.risk.engage_kill_switch(self.symbol, by=by, reason=reason)
        out: dict[str, Any] = {"canceled": 0, "close_order": None, "errors": []}
        for o in self.store.with_status(
            (S.PENDING_APPROVAL, S.APPROVED, S.SUBMITTED, S.PARTIALLY_FILLED), symbol=self.symbol
        ):
            if o.reduce_only and o.status in WORKING:
                continue  # closing orders already on their way stay
            try:
                self.cancel(o.row_id, by=by or "kill switch", reason="kill switch")
                out["canceled"] += 1
            except Exception as e:  # noqa: BLE001 - keep going: closing the position matters more
                out["errors"].append(f"cancel {o.id}: {e}")
        try:
            # The larger of the exchange's and the ledger's position: an empty reply must not leave a position
            # open (a reduce-only close of a position that is not there is refused by the exchange, harmlessly).
            check = self.check_position()
            worst = check.worst_signed()
            pos = Position(self.symbol, "long" if worst > 0 else "short" if worst < 0 else "flat", abs(worst))
            if not check.confirmed:
                out["errors"].append(f"position unconfirmed ({check.note}); closing {worst:+g} BTC")
        except Exception as e:  # noqa: BLE001
            out["errors"].append(f"position: {e}")
            pos = None
        if pos is not None and pos.size > _EPS and pos.side in ("long", "short"):
            now = self.clock.now_ms()
            intent = OrderIntent(
                self.symbol,
                "sell" if pos.side == "long" else "buy",
                pos.size,
                "market",
                reduce_only=True,
                reason="kill switch: close position",
            )
            result = self.risk.check(intent, self.account_state(), self.market_state())
            if result.rejected:
                out["errors"].append("close rejected: " + "; ".join(result.reasons))
            else:
                cid = system_client_id(self.namespace, "k", now)
                with _submit_lock(cid):  # stored approved and sent by this thread, not by the fast loop's sync
                    oid, created = self.store.create(
                        _order_from(result, cid),
                        now_ms=now,
                        mode=self.mode,
                        status=S.APPROVED,
                        message="kill switch close",
                        reason=intent.reason,
                        risk_assessment=result.assessment,
                    )
                    if created:
                        self.store.update(oid, now_ms=now, decided_by=by or "kill switch", decided_at=now)
                        self._submit(oid)
                out["close_order"] = oid
        if out["errors"]:
            self._event(RiskLevel.CRITICAL, "kill_switch", {"action": "errors while halting", "errors": out["errors"]})
        return out

    def clear_kill_switch(self, *, by: str = "") -> None:
        equity = None
        try:
            equity = self.executor.account().equity
        except Exception:  # noqa: BLE001 - clearing must work even when the exchange is unreachable
            pass
        self.risk.clear_kill_switch(self.symbol, by=by, equity=equity)

    def confirm_position(self, *, by: str) -> str:
        """An operator vouches for the exchange's position (checked on the exchange's own page, say): the ledger
        is re-based to it. Only a reply that reads the same twice is taken; the risk event names who did it."""
        self.reconcile_fills()
        first, err = self._read_position()
        second, err2 = self._read_position()
        if first is None or second is None:
            raise ValueError(f"the exchange's position reply is unreadable: {err or err2}")
        if abs(first.signed_size - second.signed_size) > _POS_EPS:
            raise ValueError("the exchange's position changed between two reads; try again")
        now = self.clock.now_ms()
        before = self.ledger_position()
        led = self.store.state(self._ledger_key())
        led = led if isinstance(led, dict) else {"cursor": now, "started": now}
        led["baseline"] = second.signed_size - self.store.fills_signed(self.symbol)
        self.store.set_state(self._ledger_key(), led, now_ms=now)
        self._event(
            RiskLevel.WARN,
            "ledger",
            {
                "action": "ledger re-based to the exchange's position by the operator",
                "by": by,
                "ledger_before": before,
                "exchange_position": second.signed_size,
            },
        )
        self.check_position()
        return f"ledger set to the exchange's position {second.signed_size:+g} BTC (was {before})"

    # ---------------------------------------------------------------- operator commands

    def process_commands(self) -> list[dict[str, Any]] | None:
        """Execute pending operator_commands rows in order, marking each done or failed."""
        done = []
        for cmd in self.data.operator_commands(status="pending"):
            if cmd["command"] == "kill" and self.kill_delegated:
                break  # the kill worker runs it; commands queued after it wait until it is done
            who = cmd.get("operator") or "operator"
            given = cmd.get("payload")
            payload: dict[str, Any] = given if isinstance(given, dict) else {}
            oid: Any = cmd.get("order_id")  # None for an order command without an order: int() fails, reported below
            ok, result = True, ""
            try:
                if cmd["command"] == "approve":
                    o = self.approve(int(oid), by=who)
                    ok = o.status not in (S.REJECTED, S.FAILED, S.EXPIRED)
                    result = f"order {oid} {o.status.value}"
                elif cmd["command"] == "reject":
                    o = self.reject(int(oid), by=who, reason=str(payload.get("reason", "")))
                    result = f"order {oid} rejected"
                elif cmd["command"] == "cancel":
                    o = self.cancel(int(oid), by=who, reason=str(payload.get("reason", "")))
                    result = f"order {oid} {o.status.value}"
                elif cmd["command"] == "kill":
                    ok, result = self._kill_command(who, payload)
                elif cmd["command"] == "clear_kill":
                    self.clear_kill_switch(by=who)
                    result = "kill switch cleared"
                elif cmd["command"] == "confirm_position":
                    result = self.confirm_position(by=who)
                elif cmd["command"] in trade_actions.COMMANDS:
                    ok, result = trade_actions.run(self, cmd["command"], who, payload, command_id=int(cmd["id"]))
                else:
                    ok, result = False, f"unknown command {cmd['command']!r}"
            except (IllegalTransition, KeyError, ValueError, TypeError) as e:
                ok, result = False, str(e).strip("'\"")
            finish_command(int(cmd["id"]), now_ms=self.clock.now_ms(), ok=ok, result=result)
            done.append({"id": cmd["id"], "command": cmd["command"], "ok": ok, "result": result})
        return done or None

    def _kill_command(self, who: str, payload: dict[str, Any]) -> tuple[bool, str]:
        r = self.kill_switch(by=who, reason=str(payload.get("reason", "")))
        close = self.store.find(r["close_order"]) if r["close_order"] else None
        result = (
            f"kill switch engaged; canceled {r['canceled']} order(s); "
            + (f"position closed by order {close.id} ({close.status.value})" if close else "no position to close")
            + (f"; errors: {'; '.join(r['errors'])}" if r["errors"] else "")
        )
        return not r["errors"], result

    def process_kill_commands(self) -> list[dict[str, Any]] | None:
        """Execute pending ``kill`` commands only (the engine's kill worker; see ``kill_delegated``)."""
        done = []
        for cmd in self.data.operator_commands(status="pending"):
            if cmd["command"] != "kill":
                continue
            who = cmd.get("operator") or "operator"
            given = cmd.get("payload")
            payload: dict[str, Any] = given if isinstance(given, dict) else {}
            try:
                ok, result = self._kill_command(who, payload)
            except Exception as e:  # noqa: BLE001 - the switch is persisted first; say what failed
                ok, result = False, f"kill switch engaged, but: {type(e).__name__}: {e}"[:500]
            finish_command(int(cmd["id"]), now_ms=self.clock.now_ms(), ok=ok, result=result)
            done.append({"id": cmd["id"], "command": "kill", "ok": ok, "result": result})
        return done or None


def _order_from(result: RiskResult, client_order_id: str) -> Order:
    i = result.intent
    return Order(
        symbol=i.symbol,
        side=i.side,
        type=i.type,
        amount=i.amount,
        price=i.price,
        stop_loss=i.stop_loss,
        take_profit=i.take_profit,
        leverage=i.leverage,
        reduce_only=i.reduce_only,
        client_order_id=client_order_id,
        decision_id=i.decision_id,
    )
