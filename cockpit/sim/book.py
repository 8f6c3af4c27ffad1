"""The simulator's synthetic order book and public trade tape, derived from the market's price path.

One book, used by everything: ``market/books`` (REST), the books channels (WebSocket) and the
matching engine (a market or marketable order walks these very levels). At time t the best bid is
the last price on the path and the best ask one tick above it; each side then has a level every
half basis point (at least one tick) of ``DEPTH`` contracts. The account's own resting orders are
not shown in it (they never cross it: a marketable order takes from it at once).

The tape has one public trade per simulated second at the path's price (so the newest trade is the
ticker's ``last``), sized from the base bar's volume, its side from the price's direction, merged
with the account's own fills when an exchange is given. Both are pure functions of (market, time,
account), so any number of readers agree.

Stable API (the WebSocket server imports it): ``book``, ``levels``, ``best``, ``recent_trades``,
``DEPTH``, ``LEVEL_BPS``, ``TRADE_STEP_MS``.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterator

from cockpit.sim.accounts import CT_VAL, INST_ID, LOT_SZ, TICK_SZ

DEPTH = 100.0  # contracts per book level (1 BTC)
LEVEL_BPS = 0.5  # price step between levels
TRADE_STEP_MS = 1_000  # one synthetic public trade per simulated second
MAX_BOOK_DEPTH = 400  # OKX's books endpoint serves at most 400 levels a side


def _parts(src: Any, now_ms: int | None) -> tuple[Any, Any, int]:
    """(market, exchange or None, time) from an exchange or a bare market."""
    market = getattr(src, "market", None)
    if market is not None:  # a SimExchange
        return market, src, int(src.t if now_ms is None else now_ms)
    if now_ms is None:
        raise ValueError("a bare market needs now_ms")
    return src, None, int(now_ms)


def _check_inst(inst_id: str) -> None:
    if inst_id != INST_ID:
        raise ValueError(f"unknown instrument {inst_id!r}: the simulator lists {INST_ID} only")


def best(market: Any, t_ms: int) -> tuple[float, float]:
    """Best bid and ask at t: the path's last price and one tick above it."""
    p = market.price_at(t_ms)
    return p, round(p + TICK_SZ, 1)


def levels(market: Any, side: str, t_ms: int) -> Iterator[tuple[float, float]]:
    """The levels a taker on ``side`` (buy: the asks, sell: the bids) walks, best first, without end."""
    bid, ask = best(market, t_ms)
    first = ask if side == "buy" else bid
    step = max(TICK_SZ, first * LEVEL_BPS / 10_000)
    for k in itertools.count():
        yield (round(first + k * step, 1) if side == "buy" else round(first - k * step, 1)), DEPTH


def book(src: Any, inst_id: str = INST_ID, depth: int = 400, *, now_ms: int | None = None) -> dict[str, Any]:
    """The book at ``now_ms`` (default: the exchange's time): ``{"bids": [(px, sz), ...], "asks": [...],
    "ts": ms}``, best first, ``depth`` levels a side (1..400)."""
    _check_inst(inst_id)
    market, _, t = _parts(src, now_ms)
    depth = max(1, min(int(depth), MAX_BOOK_DEPTH))
    asks = list(itertools.islice(levels(market, "buy", t), depth))
    bids = [lv for lv in itertools.islice(levels(market, "sell", t), depth) if lv[0] > 0]
    return {"bids": bids, "asks": asks, "ts": t}


def _synthetic(market: Any, slot: int) -> dict[str, Any]:
    t = slot * TRADE_STEP_MS
    px = market.price_at(t)
    prev = market.price_at(t - TRADE_STEP_MS)
    # Size: the base bar's volume spread over its seconds, varied by a deterministic hash of the slot.
    per_trade = market.volume_at(t) * TRADE_STEP_MS / market.step_ms / CT_VAL
    jitter = 0.25 + 1.5 * (((slot * 2654435761) ^ market.seed) % 1000) / 1000
    sz = max(LOT_SZ, round(per_trade * jitter / LOT_SZ) * LOT_SZ)
    side = "buy" if px > prev or (px == prev and slot % 2) else "sell"
    return {"tradeId": str(slot), "px": px, "sz": round(sz, 2), "side": side, "ts": t, "own": False}


def recent_trades(
    src: Any, inst_id: str = INST_ID, limit: int = 100, *, now_ms: int | None = None, before_ms: int | None = None
) -> list[dict[str, Any]]:
    """Public trades at or before ``now_ms``, newest first: ``{"tradeId", "px", "sz", "side", "ts"}``
    (px/sz floats, ts ms). ``before_ms`` pages back: only trades strictly older than it."""
    _check_inst(inst_id)
    market, ex, t = _parts(src, now_ms)
    limit = max(1, int(limit))
    top = t if before_ms is None else min(t, int(before_ms) - 1)
    lo = market.first_ms + TRADE_STEP_MS
    out: list[dict[str, Any]] = []
    slot = top // TRADE_STEP_MS
    while len(out) < limit and slot * TRADE_STEP_MS >= lo:
        out.append(_synthetic(market, slot))
        slot -= 1
    if ex is not None:
        with ex.lock:
            own = [f for f in ex.fills if f.ts <= top and f.fill_sz > 0]
        own = own[-limit:]
        out += [
            {"tradeId": f.trade_id, "px": f.fill_px, "sz": f.fill_sz, "side": f.side, "ts": f.ts, "own": True}
            for f in own
        ]
        out.sort(key=lambda r: (r["ts"], r["own"]), reverse=True)
    return out[:limit]
