"""The entry rules: one object per rule, checked in order by ``RiskManager`` for every order that opens or
adds to a position (NautilusTrader's RiskEngine keeps its checks apart the same way).

Each rule reads an ``EntryContext`` (the intent, the account, the limits, the risk state and the prices
worked out once) and returns a ``Verdict``: pass, warn, rejected, or reduced to the amount that fits.
A rejection does not stop the rules after it (the assessment reports every rule), except a ``final``
one: without a mark price or a positive equity nothing below can be valued.

Before ``check``, a rule may say it does not apply (``not_applicable``: e.g. no take-profit to check),
then whether ``risk.disabled_rules`` turns it off (``switchable`` rules only). The order of
``ENTRY_RULES`` is the order of the checks and of the assessment's rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from cockpit.domain.clock import Clock, clock_rate
from cockpit.domain.orders import AccountState, OrderIntent
from cockpit.domain.signals import RiskLevel
from cockpit.risk.state import RiskState, utc_day

if TYPE_CHECKING:
    from cockpit.risk.manager import RiskLimits

HOUR_MS = 3_600_000
EPS = 1e-12


@dataclass(frozen=True, slots=True)
class Verdict:
    """One rule's outcome: recorded in the assessment; rejected, reduced and warn also as a risk event."""

    status: str  # pass | warn | rejected | reduced
    detail: str = ""
    level: RiskLevel | None = None  # the risk event's level (default: ERROR when rejected, else WARN)
    values: Mapping[str, Any] = field(default_factory=dict)  # the figures the rule looked at
    amount: float | None = None  # reduced: the amount that fits
    final: bool = False  # the entry check ends here (nothing after this rule can be valued)


def passed(detail: str = "", **values: Any) -> Verdict:
    return Verdict("pass", detail, values=values)


def refused(detail: str, *, level: RiskLevel | None = None, final: bool = False, **values: Any) -> Verdict:
    return Verdict("rejected", detail, level, values, final=final)


@dataclass(slots=True)
class EntryContext:
    """What the entry rules read, worked out once per check; ``amount`` shrinks as sizing rules reduce it."""

    intent: OrderIntent
    account: AccountState
    limits: RiskLimits
    state: RiskState
    clock: Clock
    now: int  # exchange clock ms
    mark: float | None  # None: no usable mark price
    entry: float | None  # the limit price, else the mark
    amount: float
    stop_ok: bool = False  # a stop-loss to measure risk by (set by the stop_loss rule)

    @property
    def side_sign(self) -> int:
        return 1 if self.intent.side == "buy" else -1

    @property
    def equity(self) -> float:
        return float(self.account.equity)

    @property
    def pos_signed(self) -> float:
        pos = self.account.position
        return pos.signed_size if pos is not None else 0.0

    @property
    def entry_price(self) -> float:
        """The entry price, for the rules after the mark-price gate (which ends the check without one)."""
        assert self.entry is not None
        return self.entry

    @property
    def exposure(self) -> float:
        """The exposure the caps start from: the larger, in this order's direction, of the exchange's position
        and the ledger's (our own recorded fills), so a reply that forgets a position cannot lift the cap."""
        exposure = self.side_sign * self.pos_signed
        ledger = self.account.ledger_position
        if ledger is not None:
            exposure = max(exposure, self.side_sign * ledger)
        return exposure

    def fit(self, max_amount: float, detail: str, **values: Any) -> Verdict:
        """A sizing rule's verdict: reduced to ``max_amount`` when the amount is larger, rejected when
        nothing fits."""
        if max_amount <= EPS:
            return Verdict("rejected", detail + "; nothing fits", values=values)
        if self.amount > max_amount * (1 + 1e-9):
            return Verdict(
                "reduced",
                detail,
                values={"amount_before": self.amount, "amount_after": max_amount, **values},
                amount=max_amount,
            )
        return passed("", **values)


class RiskRule:
    """One entry rule. ``check`` returns its verdict, or None when it has nothing to record."""

    name: ClassVar[str]
    switchable: ClassVar[bool] = True  # risk.disabled_rules may turn it off

    def not_applicable(self, ctx: EntryContext) -> str | None:
        """Why the rule is skipped for this order (asked before risk.disabled_rules), else None."""
        return None

    def when_disabled(self, ctx: EntryContext) -> None:
        """What the rules after this one still need from it when risk.disabled_rules turns it off."""

    def check(self, ctx: EntryContext) -> Verdict | None:
        raise NotImplementedError


# ---------------------------------------------------------------- halts


class KillSwitch(RiskRule):
    name = "kill_switch"
    switchable = False

    def check(self, ctx: EntryContext) -> Verdict:
        kill = ctx.state.kill_switch()
        if kill is not None:
            return refused(
                "kill switch engaged: no new entries until it is cleared",
                level=RiskLevel.CRITICAL,
                since=kill.get("since"),
                by=kill.get("by"),
            )
        return passed()


class PositionUnconfirmed(RiskRule):
    """A position not confirmed (an empty or unreadable reply the ledger does not back) is no basis for an entry."""

    name = "position_unconfirmed"
    switchable = False

    def check(self, ctx: EntryContext) -> Verdict:
        account = ctx.account
        ledger = account.ledger_position
        if not account.position_confirmed:
            return refused(
                "position not confirmed: "
                + (account.position_note or "no usable position reply")
                + "; no new entries until it is",
                level=RiskLevel.ERROR,
                exchange_position=ctx.pos_signed if account.position is not None else None,
                ledger_position=ledger,
            )
        return passed(account.position_note, ledger_position=ledger)


class StaleData(RiskRule):
    """Position/balance older than max_snapshot_age_s (wall seconds) is no basis for an entry."""

    name = "stale_data"
    switchable = False

    def not_applicable(self, ctx: EntryContext) -> str | None:
        return "no snapshot time given (dry run)" if ctx.account.as_of_ms is None else None

    def check(self, ctx: EntryContext) -> Verdict:
        as_of = ctx.account.as_of_ms
        assert as_of is not None
        lim = ctx.limits
        age_s = (ctx.now - as_of) / clock_rate(ctx.clock) / 1000.0
        if age_s > lim.max_snapshot_age_s:
            return refused(
                f"position/balance read {age_s:.1f} s ago, older than risk.max_snapshot_age_s "
                f"{lim.max_snapshot_age_s:g} s",
                level=RiskLevel.ERROR,
                age_s=age_s,
                as_of=as_of,
                limit_s=lim.max_snapshot_age_s,
            )
        return passed(age_s=age_s, as_of=as_of)


class MaxDrawdown(RiskRule):
    """Equity max_drawdown_pct below its peak engages the drawdown halt, which stays until cleared."""

    name = "max_drawdown"

    def check(self, ctx: EntryContext) -> Verdict:
        lim, equity, now = ctx.limits, ctx.equity, ctx.now
        peak = ctx.state.peak_equity(equity, now_ms=now)
        dd = (peak - equity) / peak if peak > 0 else 0.0
        halt = ctx.state.drawdown_halt()
        if halt is None and dd >= lim.max_drawdown_pct:
            ctx.state.set_drawdown_halt(True, now_ms=now, details={"peak": peak, "equity": equity, "drawdown": dd})
            halt = ctx.state.drawdown_halt()
        if halt is not None:
            return refused(
                f"drawdown halt: equity {equity:.2f} is {dd:.2%} below the peak {peak:.2f} "
                f"(limit {lim.max_drawdown_pct:.2%}); clear with `cockpit kill --clear`",
                level=RiskLevel.CRITICAL,
                drawdown=dd,
                peak=peak,
                limit=lim.max_drawdown_pct,
            )
        return passed(drawdown=dd, peak=peak, limit=lim.max_drawdown_pct)


class DailyLoss(RiskRule):
    name = "daily_loss"

    def check(self, ctx: EntryContext) -> Verdict:
        lim, equity = ctx.limits, ctx.equity
        start = ctx.state.day_start_equity(utc_day(ctx.now), equity, now_ms=ctx.now)
        loss = (start - equity) / start if start > 0 else 0.0
        if loss >= lim.daily_loss_limit_pct:
            return refused(
                f"daily loss {loss:.2%} reached the limit {lim.daily_loss_limit_pct:.2%}: "
                "no new entries until the next UTC day",
                day_start_equity=start,
                loss=loss,
                limit=lim.daily_loss_limit_pct,
            )
        return passed(day_start_equity=start, loss=loss, limit=lim.daily_loss_limit_pct)


class OrderRate(RiskRule):
    name = "order_rate"

    def check(self, ctx: EntryContext) -> Verdict:
        lim = ctx.limits
        n = ctx.state.submissions_since(ctx.now - HOUR_MS)
        if n >= lim.max_orders_per_hour:
            return refused(
                f"{n} orders submitted in the last hour (limit {lim.max_orders_per_hour})",
                count=n,
                limit=lim.max_orders_per_hour,
            )
        return passed(count=n, limit=lim.max_orders_per_hour)


class MaxLeverage(RiskRule):
    name = "max_leverage"

    def check(self, ctx: EntryContext) -> Verdict:
        lev, limit = ctx.intent.leverage, ctx.limits.max_leverage
        if lev > limit + EPS:
            return refused(f"leverage {lev:g} above the limit {limit:g}", leverage=lev, limit=limit)
        return passed(leverage=lev, limit=limit)


# ---------------------------------------------------------------- prices


class MarkPriceKnown(RiskRule):
    """The gate of everything below: without a mark price the order cannot be valued (not switchable)."""

    name = "price_sanity"
    switchable = False

    def check(self, ctx: EntryContext) -> Verdict | None:
        if ctx.mark is None:
            return refused("no mark price: cannot value the order", final=True)
        return None


class PriceSanity(RiskRule):
    name = "price_sanity"

    def check(self, ctx: EntryContext) -> Verdict:
        mark, lim = ctx.mark, ctx.limits
        assert mark is not None
        ref = ctx.intent.price if ctx.intent.price else None
        if ref is None:
            return passed("market order at the mark", mark_price=mark)
        if ref <= 0 or not math.isfinite(ref):
            return refused(f"invalid price {ref!r}")
        dev = abs(ref - mark) / mark
        if dev > lim.price_sanity_pct:
            return refused(
                f"price {ref:g} is {dev:.2%} from the mark {mark:g} (limit {lim.price_sanity_pct:.2%})",
                price=ref,
                mark_price=mark,
                deviation=dev,
                limit=lim.price_sanity_pct,
            )
        return passed(price=ref, mark_price=mark, deviation=dev)


class StopLoss(RiskRule):
    """A stop-loss on the right side of the entry, within [min, max]_stop_distance_pct; it is what the risk
    rules below measure by (``ctx.stop_ok``)."""

    name = "stop_loss"

    def when_disabled(self, ctx: EntryContext) -> None:
        stop, entry, sign = ctx.intent.stop_loss, ctx.entry_price, ctx.side_sign
        if stop is not None and ((sign > 0 and stop < entry) or (sign < 0 and stop > entry)):
            ctx.stop_ok = True

    def check(self, ctx: EntryContext) -> Verdict:
        lim, stop, entry, sign = ctx.limits, ctx.intent.stop_loss, ctx.entry_price, ctx.side_sign
        if stop is None:
            if lim.require_stop_loss:
                return refused("a stop-loss is required for every entry")
            return Verdict("warn", "no stop-loss (risk.require_stop_loss is off)")
        if (sign > 0 and stop >= entry) or (sign < 0 and stop <= entry):
            return refused(
                f"stop-loss {stop:g} on the wrong side of the entry {entry:g} for a {ctx.intent.side}",
                stop_loss=stop,
                entry=entry,
            )
        dist = abs(entry - stop) / entry
        if dist < lim.min_stop_distance_pct:
            return refused(
                f"stop-loss {dist:.3%} from the entry, tighter than {lim.min_stop_distance_pct:.3%}",
                distance=dist,
                min=lim.min_stop_distance_pct,
                max=lim.max_stop_distance_pct,
            )
        if dist > lim.max_stop_distance_pct:
            return refused(
                f"stop-loss {dist:.3%} from the entry, wider than {lim.max_stop_distance_pct:.3%}",
                distance=dist,
                min=lim.min_stop_distance_pct,
                max=lim.max_stop_distance_pct,
            )
        ctx.stop_ok = True
        return passed(distance=dist)


class TakeProfit(RiskRule):
    name = "take_profit"

    def not_applicable(self, ctx: EntryContext) -> str | None:
        return "no take-profit" if ctx.intent.take_profit is None else None

    def check(self, ctx: EntryContext) -> Verdict:
        tp, entry, sign = ctx.intent.take_profit, ctx.entry_price, ctx.side_sign
        assert tp is not None
        if (sign > 0 and tp <= entry) or (sign < 0 and tp >= entry):
            return refused(
                f"take-profit {tp:g} on the wrong side of the entry {entry:g} for a {ctx.intent.side}",
                take_profit=tp,
                entry=entry,
            )
        return passed(take_profit=tp)


# ---------------------------------------------------------------- sizing: each may shrink the amount, never grow it


class EquityPositive(RiskRule):
    """The gate of the sizing rules: they size from the equity (not switchable)."""

    name = "max_position"
    switchable = False

    def check(self, ctx: EntryContext) -> Verdict | None:
        if ctx.equity <= 0:
            return refused(f"equity {ctx.equity:g} is not positive", final=True)
        return None


class MaxPosition(RiskRule):
    name = "max_position"

    def check(self, ctx: EntryContext) -> Verdict:
        lim, equity = ctx.limits, ctx.equity
        cap_notional = min(lim.max_position_notional, lim.max_position_pct_equity * equity)
        cap_size = cap_notional / ctx.entry_price
        return ctx.fit(
            cap_size - ctx.exposure,
            f"resulting position capped at {cap_notional:.2f} USDT "
            f"(min of {lim.max_position_notional:g} and {lim.max_position_pct_equity:g} x equity)",
            cap_notional=cap_notional,
            position=ctx.pos_signed,
            ledger_position=ctx.account.ledger_position,
        )


class EffectiveLeverage(RiskRule):
    name = "effective_leverage"

    def check(self, ctx: EntryContext) -> Verdict:
        lim, entry = ctx.limits, ctx.entry_price
        cap_size = lim.max_leverage * ctx.equity / entry
        return ctx.fit(
            cap_size - ctx.exposure,
            f"resulting position capped at {lim.max_leverage:g}x equity",
            cap_notional=cap_size * entry,
            limit=lim.max_leverage,
        )


class _MeasuredByStop(RiskRule):
    """A rule that measures risk as |entry - stop| x size: it needs a valid stop-loss."""

    def not_applicable(self, ctx: EntryContext) -> str | None:
        ok = ctx.stop_ok and ctx.intent.stop_loss is not None
        return None if ok else "no valid stop-loss to measure risk"

    def per_unit(self, ctx: EntryContext) -> float:
        stop = ctx.intent.stop_loss
        assert stop is not None
        return abs(ctx.entry_price - stop)


class PerTradeRisk(_MeasuredByStop):
    name = "per_trade_risk"

    def check(self, ctx: EntryContext) -> Verdict:
        pct, per_unit = ctx.limits.max_risk_per_trade_pct, self.per_unit(ctx)
        budget = pct * ctx.equity
        return ctx.fit(
            budget / per_unit,
            f"risk |entry-stop| x size capped at {pct:.2%} of equity ({budget:.2f})",
            budget=budget,
            risk=per_unit * ctx.amount,
        )


class TotalRisk(_MeasuredByStop):
    name = "total_risk"

    def check(self, ctx: EntryContext) -> Verdict:
        pct, open_risk = ctx.limits.max_total_risk_pct, ctx.account.open_risk
        budget = pct * ctx.equity - open_risk
        return ctx.fit(
            budget / self.per_unit(ctx),
            f"total open risk capped at {pct:.2%} of equity ({pct * ctx.equity:.2f}); already open {open_risk:.2f}",
            open_risk=open_risk,
            limit=pct * ctx.equity,
        )


# The order of the checks (and of the assessment's rules).
ENTRY_RULES: tuple[RiskRule, ...] = (
    KillSwitch(),
    PositionUnconfirmed(),
    StaleData(),
    MaxDrawdown(),
    DailyLoss(),
    OrderRate(),
    MaxLeverage(),
    MarkPriceKnown(),
    PriceSanity(),
    StopLoss(),
    TakeProfit(),
    EquityPositive(),
    MaxPosition(),
    EffectiveLeverage(),
    PerTradeRisk(),
    TotalRisk(),
)
