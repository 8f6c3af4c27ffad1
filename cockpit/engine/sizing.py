"""From a decision's target exposure to order intents.

target size (BTC, signed) = target_exposure x min(risk.max_position_notional, risk.max_position_pct_equity x equity)
/ price, further capped so that the stop distance risks at most risk.max_risk_per_trade_pct of equity.
The difference to the current position becomes at most two intents: a reduce-only close (when the
position shrinks or flips) and an entry with a stop-loss and take-profit taken from the signals that
agree with the new direction, weighted by the decision's weights. The band, as in the backtest engines
(cockpit/backtest/engine.py with ``rebalance_band``), is a fraction of the full-strength size (target
exposure 1, before the per-trade risk cap): within one side (or from flat) nothing is traded while
|target - position| < portfolio.rebalance_band x that size, so a change of exposure is resized, not
only a change of direction; a flat or opposite target always closes the position, and opens the other
side only when that target is at least the band. The RiskManager checks them again;
this sizing only aims inside the limits so that ``auto_within_limits`` approval can pass.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping

from cockpit.domain.orders import OrderIntent
from cockpit.domain.settings import Config
from cockpit.domain.signals import Decision, StrategySignal

MIN_AMOUNT = 0.0001  # OKX BTC-USDT-SWAP: 0.01 contract x 0.01 BTC
REBALANCE_FRACTION = 0.05  # without portfolio.rebalance_band: ignore changes under 5% of the maximum position
FALLBACK_STOP_PCT = 0.02


def _weighted_levels(
    signals: Iterable[StrategySignal], weights: Mapping[str, float], sign: int, price: float
) -> tuple[float | None, float | None]:
    """Weighted stop and take-profit distances (fractions of price) of signals pointing ``sign``."""
    sd = st = sw = tw = 0.0
    for s in signals:
        if s.direction.sign != sign:
            continue
        w = float(weights.get(s.strategy, 0.0)) or 1e-6  # unweighted signals count a little
        ref = s.entry or price
        if s.stop_loss and ref and (s.stop_loss - ref) * sign < 0:
            sd += w * abs(ref - s.stop_loss) / ref
            sw += w
        if s.take_profit and ref and (s.take_profit - ref) * sign > 0:
            st += w * abs(s.take_profit - ref) / ref
            tw += w
    return (sd / sw if sw else None), (st / tw if tw else None)


def plan_intents(
    decision: Decision,
    *,
    decision_id: int | None,
    price: float,
    signals: list[StrategySignal],
    equity: float,
    position_signed: float,
    cfg: Config,
) -> list[OrderIntent]:
    if not (price and price > 0 and math.isfinite(price)) or equity <= 0:
        return []
    risk, ex = cfg["risk"], cfg["execution"]
    symbol = cfg["symbol"]
    leverage = float(ex["leverage"])
    max_notional = min(float(risk["max_position_notional"]), float(risk["max_position_pct_equity"]) * equity)
    max_size = max_notional / price
    target_exposure = max(-1.0, min(1.0, float(decision.target_exposure or 0.0)))
    sign = 1 if target_exposure > 0 else -1 if target_exposure < 0 else 0

    stop_pct, take_pct = _weighted_levels(signals, decision.weights or {}, sign, price) if sign else (None, None)
    lo, hi = float(risk["min_stop_distance_pct"]), float(risk["max_stop_distance_pct"])
    stop_pct = min(max(stop_pct or FALLBACK_STOP_PCT, lo * 1.25), hi * 0.9)
    target = target_exposure * max_size
    capped_by = ""  # what sized the order when it was not the target exposure (said on the order)
    if sign:
        # Per-trade risk: size x stop distance x price <= max_risk_per_trade_pct x equity.
        risk_cap = float(risk["max_risk_per_trade_pct"]) * equity / (stop_pct * price)
        # 10% headroom: the mark moves between this sizing and the risk check (fast on an accelerated sim).
        if risk_cap * 0.9 < abs(target):
            capped_by = (
                f"; per-trade risk cap ({float(risk['max_risk_per_trade_pct']) * 100:g}% of equity at a "
                f"{stop_pct * 100:.2f}% stop) cut {abs(target):.4f} to {risk_cap * 0.9:.4f} BTC "
                f"(-{(1 - risk_cap * 0.9 / abs(target)) * 100:.0f}%)"
            )
        target = sign * min(abs(target), risk_cap * 0.9)
    delta = target - position_signed
    band = float(cfg.get("portfolio", {}).get("rebalance_band", REBALANCE_FRACTION))
    least = max(MIN_AMOUNT, band * max_size)
    leaving = abs(position_signed) >= MIN_AMOUNT and target * position_signed <= 0  # flat or other side: close
    if not leaving and abs(delta) < least:
        return []

    intents: list[OrderIntent] = []
    by_notional = float(risk["max_position_notional"]) <= float(risk["max_position_pct_equity"]) * equity
    limit = "max_position_notional" if by_notional else "max_position_pct_equity"
    why = (
        f"decision {decision_id}: target exposure {target_exposure:+.2f} x max position {max_size:.4f} BTC ({limit})"
        f"{capped_by} -> {target:+.4f} BTC (now {position_signed:+.4f})"
    )
    if position_signed and (target * position_signed <= 0 or abs(target) < abs(position_signed)):
        close = abs(position_signed) if target * position_signed <= 0 else abs(position_signed) - abs(target)
        intents.append(
            OrderIntent(
                symbol=symbol,
                side="sell" if position_signed > 0 else "buy",
                amount=round(close, 8),
                type="market",
                leverage=leverage,
                reduce_only=True,
                decision_id=decision_id,
                leg=0,
                reason="reduce: " + why,
            )
        )
    opening = 0.0
    if sign and target * position_signed >= 0 and abs(target) > abs(position_signed):
        opening = abs(target) - abs(position_signed)
    elif sign and target * position_signed < 0 and abs(target) >= least:  # a new side: at least the band
        opening = abs(target)
    if opening >= MIN_AMOUNT:
        side = "buy" if sign > 0 else "sell"
        stop = price * (1 - sign * stop_pct)
        take = price * (1 + sign * take_pct) if take_pct else price * (1 + sign * 2 * stop_pct)
        intents.append(
            OrderIntent(
                symbol=symbol,
                side=side,
                amount=round(opening, 8),
                type="market",
                stop_loss=round(stop, 1),
                take_profit=round(take, 1),
                leverage=leverage,
                reduce_only=False,
                decision_id=decision_id,
                leg=len(intents),
                reason="entry: " + why,
            )
        )
    return intents
