"""The risk rules for moving the stop-loss / take-profit of an open position (an operator's command).

A moved level is checked against the mark price now, not against the entry: a stop on the wrong side of
the price would trigger at once, so it is refused with a message that says which side it belongs on.
A stop must keep risk.min_stop_distance_pct .. risk.max_stop_distance_pct from the mark, and a stop that
widens the loss (or the first stop of a position) may lose at most risk.max_risk_per_trade_pct of equity
from here. Tightening a stop is always allowed within those distances. No Textual, no I/O.
"""

from __future__ import annotations

from cockpit.risk.manager import RiskLimits

KINDS = {"stop_loss": "stop-loss", "take_profit": "take-profit"}


def check_protection(
    limits: RiskLimits,
    *,
    kind: str,
    price: float,
    side: str,
    size: float,
    mark: float | None,
    equity: float | None,
    current: float | None = None,
) -> list[str]:
    """Why moving the ``kind`` level of a ``side`` position of ``size`` BTC to ``price`` is refused
    (empty when it passes). ``current`` is the level in force now (None when there is none)."""
    name = KINDS[kind]
    if side not in ("long", "short") or not size > 0:
        return ["no open position: there is no stop-loss or take-profit to move"]
    if not price > 0:
        return [f"{name} {price:g} is not a positive price"]
    if not mark or mark <= 0:
        return [f"no mark price to check the {name} against (stale or missing market data)"]
    long = side == "long"
    rel = "above" if price > mark else "below" if price < mark else "at"
    if kind == "stop_loss" and (price >= mark if long else price <= mark):
        return [
            f"stop-loss {price:,.1f} is {rel} the mark {mark:,.1f}: a {side}'s stop-loss goes "
            f"{'below' if long else 'above'} the price (it would trigger at once)"
        ]
    if kind == "take_profit" and (price <= mark if long else price >= mark):
        return [
            f"take-profit {price:,.1f} is {rel} the mark {mark:,.1f}: a {side}'s take-profit goes "
            f"{'above' if long else 'below'} the price (to take the profit now, close the position)"
        ]
    if kind == "take_profit":
        return []
    off = set(limits.disabled_rules)
    out = []
    dist = abs(mark - price) / mark
    if "stop_loss" not in off:
        if dist < limits.min_stop_distance_pct:
            out.append(
                f"stop-loss {dist:.3%} from the mark, tighter than {limits.min_stop_distance_pct:.3%} "
                f"(risk.min_stop_distance_pct)"
            )
        elif dist > limits.max_stop_distance_pct:
            out.append(
                f"stop-loss {dist:.3%} from the mark, wider than {limits.max_stop_distance_pct:.3%} "
                f"(risk.max_stop_distance_pct)"
            )
    widens = current is None or abs(mark - price) > abs(mark - current)
    if widens and "per_trade_risk" not in off:
        if not equity or equity <= 0:
            out.append(
                "equity unknown: a stop that widens the loss cannot be checked against risk.max_risk_per_trade_pct"
            )
        else:
            loss = size * abs(mark - price)
            cap = limits.max_risk_per_trade_pct * equity
            if loss > cap:
                out.append(
                    f"loss at the new stop {loss:,.2f} USDT from the mark is more than "
                    f"{limits.max_risk_per_trade_pct:.2%} of equity ({cap:,.2f}, risk.max_risk_per_trade_pct)"
                )
    return out
