"""RiskManager: every order intent passes every rule before it can reach an exchange.

``RiskManager.check(intent, account, market)`` returns a ``RiskResult``: approved, reduced (a smaller
intent that fits every limit) or rejected (with reasons). ``RiskResult.assessment`` holds every
rule's outcome as a JSON-able dict (stored in decisions.risk_assessment / orders.risk_assessment).
Each rule that rejects, reduces or warns produces a risk_events row through the risk state. The entry
rules are objects of their own, checked in order: ``cockpit.risk.rules``.

Reduce-only orders (closing a position) skip every entry rule: the kill switch, a daily loss or a
drawdown halt must never stop a position from being closed. They are only clipped to the position
and rounded to the market's precision.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, cast

from cockpit.domain.clock import Clock, clock_rate
from cockpit.domain.orders import AccountState, OrderIntent
from cockpit.domain.settings import Config, RiskConfig
from cockpit.domain.signals import RISK_RULES, RiskEvent, RiskLevel
from cockpit.risk.rules import ENTRY_RULES, EntryContext
from cockpit.risk.rules import EPS as _EPS
from cockpit.risk.state import MemoryRiskState, RiskState, utc_day

RULES = RISK_RULES  # every rule checked here, in order (cockpit.domain.signals: the one list)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_leverage: float = 3.0
    max_position_notional: float = 50000.0
    max_position_pct_equity: float = 1.0
    require_stop_loss: bool = True
    min_stop_distance_pct: float = 0.002
    max_stop_distance_pct: float = 0.1
    max_risk_per_trade_pct: float = 0.01
    max_total_risk_pct: float = 0.03
    daily_loss_limit_pct: float = 0.03
    max_drawdown_pct: float = 0.15
    max_orders_per_hour: int = 12
    price_sanity_pct: float = 0.02
    # Entries are refused when the position/balance they are checked against is older than this (wall
    # seconds: on the accelerated simulator clock it spans proportionally more exchange time, as reads
    # come at wall-clock intervals).
    max_snapshot_age_s: float = 15.0
    disabled_rules: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, cfg: Config | RiskConfig) -> "RiskLimits":
        """From the whole config or its ``risk`` section."""
        r = cast(Mapping[str, Any], cfg.get("risk", cfg))
        names = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in r.items() if k in names}
        if "disabled_rules" in kw:
            kw["disabled_rules"] = tuple(kw["disabled_rules"] or ())
        return cls(**kw)


@dataclass(frozen=True, slots=True)
class MarketState:
    """What the risk rules need from the market: the mark price and the instrument's precision.

    Sizes in base currency (BTC). OKX BTC-USDT-SWAP: ctVal 0.01 BTC, lotSz = minSz = 0.01 contracts,
    so the amount step and minimum are 0.0001 BTC; tick 0.1 USDT.
    """

    symbol: str
    mark_price: float | None
    amount_step: float = 0.0001
    min_amount: float = 0.0001
    price_step: float = 0.1
    timestamp: int = 0


@dataclass(slots=True)
class RiskResult:
    status: str  # approved | reduced | rejected
    intent: OrderIntent  # the intent to execute (smaller than asked when reduced; the original when rejected)
    original: OrderIntent
    reasons: list[str] = field(default_factory=list)
    assessment: dict[str, Any] = field(default_factory=dict)
    events: list[RiskEvent] = field(default_factory=list)

    @property
    def approved(self) -> bool:
        return self.status == "approved"

    @property
    def reduced(self) -> bool:
        return self.status == "reduced"

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"

    def to_json(self) -> str:
        return json.dumps(self.assessment, sort_keys=True)


def floor_to_step(x: float, step: float) -> float:
    if step <= 0:
        return x
    n = math.floor(x / step + 1e-9)
    return round(n * step, 12)


def round_to_step(x: float, step: float) -> float:
    if step <= 0:
        return x
    return round(round(x / step) * step, 12)


class _Check:
    """The working state of one check: the amount shrinks as rules reduce it."""

    def __init__(self, intent: OrderIntent) -> None:
        self.amount = float(intent.amount)
        self.rules: dict[str, dict[str, Any]] = {}
        self.reasons: list[str] = []
        self.events: list[tuple[RiskLevel, str, dict[str, Any]]] = []
        self.reduced = False

    def outcome(self, rule: str, status: str, detail: str = "", level: RiskLevel | None = None, **values: Any) -> None:
        entry = {"status": status, "detail": detail, **{k: _jsonable(v) for k, v in values.items()}}
        self.rules[rule] = entry
        if status == "rejected":
            self.reasons.append(f"{rule}: {detail}")
        if status == "reduced":
            self.reduced = True
        if status in ("rejected", "reduced", "warn"):
            lvl = level or (RiskLevel.ERROR if status == "rejected" else RiskLevel.WARN)
            self.events.append((lvl, rule, {"status": status, "detail": detail, **entry}))

    @property
    def rejected(self) -> bool:
        return bool(self.reasons)


def _jsonable(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    return v


class RiskManager:
    """Checks intents against the limits; holds the kill switch and the drawdown halt."""

    def __init__(
        self, limits: RiskLimits | Config | RiskConfig | None = None, *, clock: Clock, state: RiskState | None = None
    ) -> None:
        if limits is None:
            limits = RiskLimits()
        elif not isinstance(limits, RiskLimits):
            limits = RiskLimits.from_config(limits)
        self.limits = limits
        self.clock = clock
        self.state: RiskState = state if state is not None else MemoryRiskState()

    # ---------------------------------------------------------------- kill switch

    @property
    def kill_switch_active(self) -> bool:
        return self.state.kill_switch() is not None

    def engage_kill_switch(self, symbol: str, *, by: str = "", reason: str = "") -> None:
        now = self.clock.now_ms()
        self.state.set_kill_switch(True, now_ms=now, by=by, reason=reason)
        self.state.record_events(
            [
                RiskEvent(
                    symbol,
                    now,
                    RiskLevel.CRITICAL,
                    "kill_switch",
                    json.dumps({"action": "engaged", "by": by, "reason": reason}),
                )
            ]
        )

    def clear_kill_switch(self, symbol: str, *, by: str = "", equity: float | None = None) -> None:
        """Clear the kill switch and any drawdown halt (the peak restarts from ``equity``)."""
        now = self.clock.now_ms()
        self.state.set_kill_switch(False, now_ms=now)
        self.state.set_drawdown_halt(False, now_ms=now)
        if equity is not None:
            self.state.peak_equity(equity, now_ms=now, reset=True)
        self.state.record_events(
            [RiskEvent(symbol, now, RiskLevel.WARN, "kill_switch", json.dumps({"action": "cleared", "by": by}))]
        )

    @property
    def halted(self) -> bool:
        return self.kill_switch_active or self.state.drawdown_halt() is not None

    def observe(self, symbol: str, equity: float) -> bool:
        """Follow the account between checks (called on every balance read): the day's starting equity,
        the equity peak, and the drawdown halt, which engages here (with a CRITICAL risk event) as soon
        as equity falls max_drawdown_pct below the peak. Returns whether trading is halted."""
        now = self.clock.now_ms()
        if equity is None or not math.isfinite(equity) or equity <= 0:
            return self.halted
        self.state.day_start_equity(utc_day(now), equity, now_ms=now)
        if "max_drawdown" not in self.limits.disabled_rules:
            peak = self.state.peak_equity(equity, now_ms=now)
            dd = (peak - equity) / peak if peak > 0 else 0.0
            if dd >= self.limits.max_drawdown_pct and self.state.drawdown_halt() is None:
                self.state.set_drawdown_halt(True, now_ms=now, details={"peak": peak, "equity": equity, "drawdown": dd})
                self.state.record_events(
                    [
                        RiskEvent(
                            symbol,
                            now,
                            RiskLevel.CRITICAL,
                            "max_drawdown",
                            json.dumps(
                                {
                                    "action": "halted new entries",
                                    "peak": peak,
                                    "equity": equity,
                                    "drawdown": dd,
                                    "limit": self.limits.max_drawdown_pct,
                                }
                            ),
                        )
                    ]
                )
        return self.halted

    def record(self, symbol: str, level: RiskLevel, rule: str, details: dict[str, Any]) -> None:
        """A risk event from outside the rules (reconciliation mismatches, failed submits)."""
        self.state.record_events(
            [RiskEvent(symbol, self.clock.now_ms(), level, rule, json.dumps(details, default=str))]
        )

    # ---------------------------------------------------------------- the check

    def check(
        self, intent: OrderIntent, account: AccountState, market: MarketState, *, record: bool = True
    ) -> RiskResult:
        now = self.clock.now_ms()
        c = _Check(intent)
        mark = market.mark_price if market.mark_price and market.mark_price > 0 else None
        entry = float(intent.price) if intent.type == "limit" and intent.price else mark
        pos = account.position
        pos_signed = pos.signed_size if pos is not None else 0.0
        equity = float(account.equity)

        if intent.side not in ("buy", "sell") or not (intent.amount > 0) or not math.isfinite(intent.amount):
            c.outcome("intent", "rejected", f"malformed intent: side={intent.side!r} amount={intent.amount!r}")
        else:
            c.rules["intent"] = {"status": "pass", "detail": ""}

        if intent.reduce_only:
            # Never blocked by doubt about the position: clipped to the larger of the exchange's and the
            # ledger's position, or left to the exchange (it refuses a reduce-only order with nothing to reduce).
            led = account.ledger_position
            if not account.position_confirmed:
                pos = None
            elif (
                led is not None
                and pos is not None
                and abs(led) > pos.size + 1e-9
                and (pos.side == "flat" or (led > 0) == (pos.side == "long"))
            ):
                pos = replace(pos, side="long" if led > 0 else "short", size=abs(led))
            self._check_reduce_only(c, intent, pos)
        else:
            self._check_entry(
                c, EntryContext(intent, account, self.limits, self.state, self.clock, now, mark, entry, c.amount)
            )

        # Precision and minimum size apply to every order, closing ones included.
        if not c.rejected:
            amt = floor_to_step(c.amount, market.amount_step)
            if amt + _EPS < market.min_amount:
                c.outcome(
                    "precision",
                    "rejected",
                    f"amount {c.amount:.8g} below the market minimum {market.min_amount:g}",
                    amount=c.amount,
                    min_amount=market.min_amount,
                    step=market.amount_step,
                )
            elif abs(amt - c.amount) > _EPS:
                c.outcome(
                    "precision",
                    "adjusted",
                    f"amount rounded down to the step {market.amount_step:g}",
                    amount_before=c.amount,
                    amount_after=amt,
                )
                c.amount = amt
            else:
                c.outcome("precision", "pass", amount=amt)
        else:
            c.rules.setdefault("precision", {"status": "skipped", "detail": "already rejected"})

        final = replace(intent, amount=c.amount)
        if intent.type == "limit" and intent.price:
            final.price = round_to_step(intent.price, market.price_step)
        if intent.stop_loss:
            final.stop_loss = round_to_step(intent.stop_loss, market.price_step)
        if intent.take_profit:
            final.take_profit = round_to_step(intent.take_profit, market.price_step)

        status = "rejected" if c.rejected else "reduced" if c.reduced else "approved"
        if status == "rejected":
            final = intent
        amt = final.amount if status != "rejected" else intent.amount
        risk_amount = abs(entry - intent.stop_loss) * amt if entry and intent.stop_loss else None
        assessment = {
            "status": status,
            "checked_at": now,
            "requested_amount": intent.amount,
            "approved_amount": None if status == "rejected" else final.amount,
            "notional": amt * entry if entry else None,
            "risk_amount": risk_amount,  # loss if the stop is hit (before fees)
            "risk_pct_equity": risk_amount / equity if risk_amount is not None and equity > 0 else None,
            "reasons": list(c.reasons),
            "inputs": {
                "equity": equity,
                "mark_price": mark,
                "entry_price": entry,
                "position": pos_signed,
                "ledger_position": account.ledger_position,
                "position_confirmed": account.position_confirmed,
                "as_of": account.as_of_ms,
                "data_age_s": None
                if account.as_of_ms is None
                else (now - account.as_of_ms) / clock_rate(self.clock) / 1000.0,
                "open_risk": account.open_risk,
            },
            "rules": c.rules,
        }
        events = [
            RiskEvent(
                intent.symbol,
                now,
                lvl,
                rule,
                json.dumps(
                    {
                        **d,
                        "intent": {
                            "side": intent.side,
                            "amount": intent.amount,
                            "decision_id": intent.decision_id,
                            "leg": intent.leg,
                        },
                    },
                    default=str,
                ),
            )
            for lvl, rule, d in c.events
        ]
        if record and events:
            self.state.record_events(events)
        return RiskResult(status, final, intent, list(c.reasons), assessment, events)

    # ---------------------------------------------------------------- rule groups

    def _check_reduce_only(self, c: _Check, intent: OrderIntent, pos) -> None:
        for rule in RULES:
            if rule not in ("precision", "reduce_only"):
                c.rules[rule] = {"status": "skipped", "detail": "reduce-only order"}
        if pos is None:
            c.outcome("reduce_only", "pass", "position unknown; the exchange enforces reduce-only")
            return
        closing = (pos.side == "long" and intent.side == "sell") or (pos.side == "short" and intent.side == "buy")
        if pos.size <= _EPS:
            # An expected race, not a fault: the position closed (stop, take-profit, kill switch) between
            # planning this close and checking it. Refused all the same; recorded as INFO.
            c.outcome(
                "reduce_only",
                "rejected",
                f"nothing to reduce: the position is already flat (order {intent.side})",
                level=RiskLevel.INFO,
            )
        elif not closing:
            c.outcome(
                "reduce_only", "rejected", f"nothing to reduce: position {pos.side} {pos.size:g}, order {intent.side}"
            )
        elif c.amount > pos.size + _EPS:
            before = c.amount
            c.amount = pos.size
            c.outcome(
                "reduce_only", "adjusted", "clipped to the position size", amount_before=before, amount_after=pos.size
            )
        else:
            c.outcome("reduce_only", "pass", position=pos.size)

    def _check_entry(self, c: _Check, ctx: EntryContext) -> None:
        """The entry rules in order (cockpit.risk.rules): each records its verdict; a final one ends the check."""
        c.rules["reduce_only"] = {"status": "skipped", "detail": "entry order"}
        off = self.limits.disabled_rules
        for rule in ENTRY_RULES:
            why = rule.not_applicable(ctx)
            if why is not None:
                c.outcome(rule.name, "skipped", why)
                continue
            if rule.switchable and rule.name in off:
                c.outcome(rule.name, "skipped", "disabled in risk.disabled_rules")
                rule.when_disabled(ctx)
                continue
            v = rule.check(ctx)
            if v is None:
                continue
            if v.amount is not None:
                ctx.amount = v.amount
            c.outcome(rule.name, v.status, v.detail, level=v.level, **v.values)
            if v.final:
                break
        c.amount = ctx.amount
