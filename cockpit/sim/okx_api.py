"""OKX v5 REST endpoints of the simulator: request parameters in, OKX-shaped ``data`` out.

Each handler takes the parsed query/body and returns the ``data`` list of OKX's envelope
``{"code": "0", "msg": "", "data": [...]}`` or raises ``ApiError`` (whole-request failure, e.g.
51603) / returns per-item ``sCode`` results (order placement) as OKX does. Field names and
formats follow OKX's documentation for what ccxt's ``okx`` class reads.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from cockpit.sim.accounts import (
    CCY,
    CT_VAL,
    INST_FAMILY,
    INST_ID,
    INST_ID_CODE,
    LOT_SZ,
    MAKER_FEE,
    MAX_LEVER,
    MIN_SZ,
    MMR,
    TAKER_FEE,
    TICK_SZ,
    AlgoOrder,
    Fill,
    Order,
    Position,
)
from cockpit.sim import book as sim_book
from cockpit.sim.exchange import OrderError, SimExchange
from cockpit.sim.market import FUNDING_INTERVAL_MS

BARS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1H": 3_600_000,
    "2H": 7_200_000,
    "4H": 14_400_000,
    "6H": 21_600_000,
    "12H": 43_200_000,
    "1D": 86_400_000,
}


class ApiError(Exception):
    def __init__(self, code: str, msg: str, http: int = 200, data: list | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.http, self.data = code, msg, http, data or []


def n(x: float | None) -> str:
    """An OKX number string ('' for none)."""
    if x is None:
        return ""
    # Shortest decimal of the value rounded to 8 places, as OKX prints it: no float noise
    # ("2906969.82", not "2906969.8199999998"), no exponent, no trailing zeros.
    s = format(Decimal(repr(round(float(x), 8))), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _int(params: dict, key: str, default: int | None = None) -> int | None:
    v = params.get(key)
    if v in (None, ""):
        return default
    try:
        return int(float(v))
    except ValueError:
        raise ApiError("51000", f"Parameter {key} error") from None


def _bar(s: str | None) -> int:
    b = (s or "1m").removesuffix("utc")
    if b not in BARS:
        raise ApiError("51000", "Parameter bar error")
    return BARS[b]


def _check_inst(params: dict) -> None:
    inst = params.get("instId")
    if inst is not None and inst != INST_ID:
        raise ApiError("51001", "Instrument ID does not exist")


def _window(
    rows: list,
    key: Callable[[Any], int],
    params: dict,
    limit_max: int,
    *,
    before_key="before",
    after_key="after",
    default_limit: int = 100,
) -> list:
    """OKX pagination over rows sorted newest first: after = older than, before = newer than."""
    after, before = _int(params, after_key), _int(params, before_key)
    limit = max(1, min(_int(params, "limit", default_limit) or default_limit, limit_max))
    out = [r for r in rows if (after is None or key(r) < after) and (before is None or key(r) > before)]
    return out[:limit]


class OkxApi:
    def __init__(self, ex: SimExchange, clock) -> None:
        self.ex = ex
        self.clock = clock
        self.public: dict[tuple[str, str], Callable[[dict], list]] = {
            ("GET", "public/time"): self.time,
            ("GET", "system/status"): self.system_status,
            ("GET", "public/position-tiers"): self.position_tiers,
            ("GET", "public/price-limit"): self.price_limit,
            ("GET", "public/underlying"): self.underlying,
            ("GET", "public/insurance-fund"): self.insurance_fund,
            ("GET", "public/convert-contract-coin"): self.convert_contract_coin,
            ("GET", "market/mark-price-candles"): self.mark_candles,
            ("GET", "market/history-mark-price-candles"): self.mark_candles_history,
            ("GET", "market/index-candles"): self.index_candles,
            ("GET", "market/history-index-candles"): self.index_candles_history,
            ("GET", "market/platform-24-volume"): self.platform_volume,
            ("GET", "market/exchange-rate"): self.exchange_rate,
            ("GET", "market/index-components"): self.index_components,
            ("GET", "rubik/stat/trading-data/support-coin"): self.support_coin,
            ("GET", "rubik/stat/taker-volume"): self.taker_volume,
            ("GET", "rubik/stat/taker-volume-contract"): self.taker_volume,
            ("GET", "rubik/stat/contracts/open-interest-volume"): self.oi_volume,
            ("GET", "public/instruments"): self.instruments,
            ("GET", "market/candles"): self.candles,
            ("GET", "market/history-candles"): self.history_candles,
            ("GET", "market/ticker"): self.ticker,
            ("GET", "market/books"): self.books,
            ("GET", "market/books-full"): self.books,
            ("GET", "market/trades"): self.trades,
            ("GET", "market/history-trades"): self.history_trades,
            ("GET", "market/tickers"): self.tickers,
            ("GET", "market/index-tickers"): self.index_tickers,
            ("GET", "public/mark-price"): self.mark_price,
            ("GET", "public/funding-rate"): self.funding_rate,
            ("GET", "public/funding-rate-history"): self.funding_history,
            ("GET", "public/open-interest"): self.open_interest,
            ("GET", "rubik/stat/contracts/long-short-account-ratio-contract"): self.ls_ratio,
            ("GET", "rubik/stat/contracts/long-short-account-ratio"): self.ls_ratio,
            ("GET", "rubik/stat/contracts/open-interest-history"): self.oi_history,
        }
        self.private: dict[tuple[str, str], Callable[[Any], list]] = {
            ("GET", "account/balance"): self.balance,
            ("GET", "account/bills"): self.bills,
            ("GET", "account/bills-archive"): self.bills_archive,
            ("GET", "account/positions-history"): self.positions_history,
            ("GET", "account/position-tiers"): self.account_position_tiers,
            ("GET", "account/max-size"): self.max_size,
            ("GET", "account/max-avail-size"): self.max_avail_size,
            ("GET", "account/max-withdrawal"): self.max_withdrawal,
            ("GET", "account/account-position-risk"): self.position_risk,
            ("GET", "account/instruments"): self.account_instruments,
            ("POST", "account/position/margin-balance"): self.margin_balance,
            ("POST", "account/set-isolated-mode"): self.set_isolated_mode,
            ("POST", "trade/amend-order"): self.amend_one,
            ("POST", "trade/amend-batch-orders"): self.amend_batch,
            ("POST", "trade/amend-algos"): self.amend_algo,
            ("POST", "trade/close-position"): self.close_position,
            ("POST", "trade/cancel-all-after"): self.cancel_all_after,
            ("GET", "account/positions"): self.positions,
            ("GET", "account/config"): self.config,
            ("GET", "account/leverage-info"): self.leverage_info,
            ("GET", "account/trade-fee"): self.trade_fee,
            ("GET", "asset/currencies"): self.currencies,
            ("POST", "account/set-leverage"): self.set_leverage,
            ("POST", "account/set-position-mode"): self.set_position_mode,
            ("POST", "trade/order"): self.place_one,
            ("POST", "trade/batch-orders"): self.place_batch,
            ("POST", "trade/cancel-order"): self.cancel_one,
            ("POST", "trade/cancel-batch-orders"): self.cancel_batch,
            ("GET", "trade/order"): self.get_order,
            ("GET", "trade/orders-pending"): self.orders_pending,
            ("GET", "trade/orders-history"): self.orders_history,
            ("GET", "trade/orders-history-archive"): self.orders_history,
            ("GET", "trade/fills"): self.fills,
            ("GET", "trade/fills-history"): self.fills,
            ("POST", "trade/order-algo"): self.place_algo,
            ("POST", "trade/cancel-algos"): self.cancel_algos,
            ("GET", "trade/order-algo"): self.get_algo,
            ("GET", "trade/orders-algo-pending"): self.algos_pending,
            ("GET", "trade/orders-algo-history"): self.algos_history,
        }
        # Set by the server for the next order placement (fault injection: one-off rejection).
        self.reject_next: Callable[[], str | None] = lambda: None

    def now(self) -> int:
        t = self.clock.now_ms()
        self.ex.advance(t)
        return t

    # ------------------------------------------------------------ public

    def time(self, p: dict) -> list:
        return [{"ts": str(self.clock.now_ms())}]

    def instruments(self, p: dict) -> list:
        if p.get("instType", "SWAP") != "SWAP":
            return []
        if p.get("instId") not in (None, INST_ID):
            return []
        return [
            {
                "instType": "SWAP",
                "instId": INST_ID,
                "instIdCode": INST_ID_CODE,
                "instFamily": INST_FAMILY,
                "uly": INST_FAMILY,
                "category": "1",
                "baseCcy": "",
                "quoteCcy": "",
                "settleCcy": CCY,
                "ctVal": n(CT_VAL),
                "ctMult": "1",
                "ctValCcy": "BTC",
                "ctType": "linear",
                "optType": "",
                "stk": "",
                "listTime": "1573557408000",
                "expTime": "",
                "lever": str(MAX_LEVER),
                "tickSz": n(TICK_SZ),
                "lotSz": n(LOT_SZ),
                "minSz": n(MIN_SZ),
                "maxLmtSz": "100000000",
                "maxMktSz": "12000",
                "maxLmtAmt": "20000000",
                "maxMktAmt": "",
                "alias": "",
                "state": "live",
                "ruleType": "normal",
                "contTdSwTime": "1573557408000",
            }
        ]

    def _bars(self, p: dict, limit_max: int):
        tf = _bar(p.get("bar"))
        now = self.clock.now_ms()
        limit = max(1, min(_int(p, "limit", 100) or 100, limit_max))
        try:
            return tf, self.ex.market.candles(tf, now, after=_int(p, "after"), before=_int(p, "before"), limit=limit)
        except ValueError as e:
            raise ApiError("51000", f"Parameter bar error: {e}") from None

    def candles(self, p: dict, limit_max: int = 300) -> list:
        """market/candles (at most 300 a page); market/history-candles caps at 100 like OKX."""
        _check_inst(p)
        _, bars = self._bars(p, limit_max)
        return [
            [
                str(b.ts),
                n(b.open),
                n(b.high),
                n(b.low),
                n(b.close),
                n(b.volume / CT_VAL),
                n(b.volume),
                n(b.volume * b.close),
                "1" if b.confirmed else "0",
            ]
            for b in bars
        ]

    def history_candles(self, p: dict) -> list:
        return self.candles(p, 100)

    def _derived_candles(self, p: dict, factor: Callable[[int], float], limit_max: int) -> list:
        """Mark or index candles: the last-price candles scaled by the premium wave at each end.

        The wave moves less than a basis point per candle, so high/low take the larger/smaller factor of
        the candle's two ends (and never cut inside open/close)."""
        tf, bars = self._bars(p, limit_max)
        now = self.clock.now_ms()
        out = []
        for b in bars:
            f0, f1 = factor(b.ts), factor(min(b.ts + tf, now))
            o, c = round(b.open * f0, 1), round(b.close * f1, 1)
            h = max(round(b.high * max(f0, f1), 1), o, c)
            l = min(round(b.low * min(f0, f1), 1), o, c)  # noqa: E741
            out.append([str(b.ts), n(o), n(h), n(l), n(c), "1" if b.confirmed else "0"])
        return out

    def mark_candles(self, p: dict, limit_max: int = 100) -> list:
        _check_inst(p)
        return self._derived_candles(p, self.ex.market.mark_factor, limit_max)

    def mark_candles_history(self, p: dict) -> list:
        return self.mark_candles(p, 100)

    def index_candles(self, p: dict, limit_max: int = 100) -> list:
        if p.get("instId") not in (INST_FAMILY, INST_ID):
            raise ApiError("51001", "Instrument ID does not exist")
        return self._derived_candles(p, self.ex.market.index_factor, limit_max)

    def index_candles_history(self, p: dict) -> list:
        return self.index_candles(p, 100)

    def _ticker(self) -> dict:
        now = self.now()
        m = self.ex.market
        with self.ex.lock:
            b = sim_book.book(self.ex, INST_ID, 1, now_ms=now)
            tape = sim_book.recent_trades(self.ex, INST_ID, 1, now_ms=now)
        # One rolling window (now - 24 h, now] for open, high, low and volume, as OKX computes them.
        o, hi, lo, vol = m.rolling(now - 86_400_000, now)
        day0 = now // 86_400_000 * 86_400_000
        day8 = day0 - 8 * 3_600_000 if now - day0 < 16 * 3_600_000 else day0 + 16 * 3_600_000
        return {
            "instType": "SWAP",
            "instId": INST_ID,
            "last": n(self.ex.last()),
            "lastSz": n(tape[0]["sz"]) if tape else "0",
            "askPx": n(b["asks"][0][0]),
            "askSz": n(b["asks"][0][1]),
            "bidPx": n(b["bids"][0][0]),
            "bidSz": n(b["bids"][0][1]),
            "open24h": n(o),
            "high24h": n(hi),
            "low24h": n(lo),
            "volCcy24h": n(vol),
            "vol24h": n(vol / CT_VAL),
            "sodUtc0": n(m.price_at(day0)),
            "sodUtc8": n(m.price_at(day8)),
            "ts": str(now),
        }

    def books(self, p: dict) -> list:
        if not p.get("instId"):
            raise ApiError("50014", "Parameter instId can not be empty")
        _check_inst(p)
        depth = _int(p, "sz", 1) or 1
        if not 1 <= depth <= 5000:
            raise ApiError("51000", "Parameter sz error")
        now = self.now()
        with self.ex.lock:
            b = sim_book.book(self.ex, INST_ID, depth, now_ms=now)
        return [
            {
                "asks": [[n(px), n(sz), "0", "1"] for px, sz in b["asks"]],
                "bids": [[n(px), n(sz), "0", "1"] for px, sz in b["bids"]],
                "ts": str(b["ts"]),
            }
        ]

    def _trade(self, r: dict) -> dict:
        return {
            "instId": INST_ID,
            "side": r["side"],
            "sz": n(r["sz"]),
            "px": n(r["px"]),
            "source": "0",
            "tradeId": r["tradeId"],
            "ts": str(r["ts"]),
        }

    def trades(self, p: dict) -> list:
        if not p.get("instId"):
            raise ApiError("50014", "Parameter instId can not be empty")
        _check_inst(p)
        limit = max(1, min(_int(p, "limit", 100) or 100, 500))
        now = self.now()
        return [self._trade(r) for r in sim_book.recent_trades(self.ex, INST_ID, limit, now_ms=now)]

    def history_trades(self, p: dict) -> list:
        """OKX pages by tradeId (type 1, default) or by ts (type 2); ``after`` = older than."""
        if not p.get("instId"):
            raise ApiError("50014", "Parameter instId can not be empty")
        _check_inst(p)
        limit = max(1, min(_int(p, "limit", 100) or 100, 100))
        now = self.now()
        after, before = _int(p, "after"), _int(p, "before")
        by_ts = str(p.get("type") or "1") == "2"

        def ts_of(ref: int | None) -> int | None:
            if ref is None or by_ts:
                return ref
            with self.ex.lock:
                own = next((f.ts for f in self.ex.fills if f.trade_id == str(ref)), None)
            return own if own is not None else ref * sim_book.TRADE_STEP_MS  # synthetic id = its second

        if before is not None:
            lo = ts_of(before)
            rows = [r for r in sim_book.recent_trades(self.ex, INST_ID, 100 + limit, now_ms=now) if r["ts"] > lo]
            return [self._trade(r) for r in rows[-limit:]]
        rows = sim_book.recent_trades(
            self.ex, INST_ID, limit, now_ms=now, before_ms=ts_of(after) if after is not None else None
        )
        return [self._trade(r) for r in rows]

    def ticker(self, p: dict) -> list:
        _check_inst(p)
        return [self._ticker()]

    def tickers(self, p: dict) -> list:
        return [self._ticker()] if p.get("instType", "SWAP") == "SWAP" else []

    def index_tickers(self, p: dict) -> list:
        """OKX's index ticker of the swap's underlying (instId BTC-USDT, or quoteCcy USDT for all)."""
        inst, quote = p.get("instId"), p.get("quoteCcy")
        if inst not in (None, "", INST_FAMILY) or (inst in (None, "") and quote not in (None, "", CCY)):
            return []
        if inst in (None, "") and quote in (None, ""):
            raise ApiError("50014", "Parameter instId or quoteCcy can not be empty")
        now = self.now()
        m = self.ex.market
        day0 = now // 86_400_000 * 86_400_000
        day8 = day0 - 8 * 3_600_000 if now - day0 < 16 * 3_600_000 else day0 + 16 * 3_600_000
        # The same rolling 24 h window as the swap's ticker, scaled by the index's premium wave.
        _, hi, lo, _ = m.rolling(now - 86_400_000, now)
        fs = [m.index_factor(now - k * 900_000) for k in range(97)]
        o, last = m.index_price(now - 86_400_000), m.index_price(now)
        return [
            {
                "instId": INST_FAMILY,
                "idxPx": n(last),
                "open24h": n(o),
                "high24h": n(max(round(hi * max(fs), 1), o, last)),
                "low24h": n(min(round(lo * min(fs), 1), o, last)),
                "sodUtc0": n(m.index_price(day0)),
                "sodUtc8": n(m.index_price(day8)),
                "ts": str(now),
            }
        ]

    def mark_price(self, p: dict) -> list:
        _check_inst(p)
        now = self.now()
        return [{"instType": "SWAP", "instId": INST_ID, "markPx": n(self.ex.market.mark_price(now)), "ts": str(now)}]

    def funding_rate(self, p: dict) -> list:
        if p.get("instId") != "ANY":  # OKX: instId=ANY answers every perpetual
            _check_inst(p)
        now = self.now()
        nxt = (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
        rate = self.ex.market.funding_rate(nxt, as_of=now)
        return [
            {
                "instType": "SWAP",
                "instId": INST_ID,
                "method": "current_period",
                "formulaType": "withRate",
                "fundingRate": n(rate),
                "nextFundingRate": "",
                "fundingTime": str(nxt),
                "nextFundingTime": str(nxt + FUNDING_INTERVAL_MS),
                "minFundingRate": "-0.00375",
                "maxFundingRate": "0.00375",
                "settState": "settled",
                "settFundingRate": "",
                "premium": "0",
                "interestRate": "0.0001",
                "impactValue": "",
                "sign": "",
                "ts": str(now),
            }
        ]

    def funding_history(self, p: dict) -> list:
        _check_inst(p)
        now = self.now()
        m = self.ex.market
        last = now // FUNDING_INTERVAL_MS * FUNDING_INTERVAL_MS
        first = -(-m.first_ms // FUNDING_INTERVAL_MS) * FUNDING_INTERVAL_MS + FUNDING_INTERVAL_MS
        after, before = _int(p, "after"), _int(p, "before")
        limit = max(1, min(_int(p, "limit", 100) or 100, 100))
        hi = min(last, after - 1) if after is not None else last
        hi = hi // FUNDING_INTERVAL_MS * FUNDING_INTERVAL_MS
        lo = max(first, (before + 1) if before is not None else first)
        out: list[dict[str, Any]] = []
        t = hi
        while t >= lo and len(out) < limit:
            r = m.funding_rate(t)
            out.append(
                {
                    "instType": "SWAP",
                    "instId": INST_ID,
                    "formulaType": "withRate",
                    "fundingRate": n(r),
                    "realizedRate": n(r),
                    "fundingTime": str(t),
                    "method": "current_period",
                }
            )
            t -= FUNDING_INTERVAL_MS
        return out

    def open_interest(self, p: dict) -> list:
        if p.get("instId") not in (None, INST_ID):
            raise ApiError("51001", "Instrument ID does not exist")
        now = self.now()
        oi = self.ex.market.open_interest(now)
        return [
            {
                "instType": "SWAP",
                "instId": INST_ID,
                "oi": n(oi),
                "oiCcy": n(oi * CT_VAL),
                "oiUsd": n(oi * CT_VAL * self.ex.last()),
                "ts": str(now // 300_000 * 300_000),
            }
        ]

    def _stat_series(self, p: dict, value: Callable[[int], list]) -> list:
        _check_inst(p)
        now = self.now()
        period = _bar(p.get("period") or "5m")
        if period < 300_000:
            raise ApiError("51000", "Parameter period error")
        begin, end = _int(p, "begin"), _int(p, "end")
        limit = max(1, min(_int(p, "limit", 100) or 100, 100))
        # Only completed periods (OKX publishes a period's statistic once it ends).
        t = (min(now, end - 1 if end is not None else now) // period) * period
        if t + period > now:
            t -= period
        lo = max(self.ex.market.first_ms, (begin + 1) if begin is not None else 0)
        out: list[list[str]] = []
        while t >= lo and len(out) < limit:
            out.append([str(t), *value(t)])
            t -= period
        return out

    def ls_ratio(self, p: dict) -> list:
        return self._stat_series(p, lambda t: [n(self.ex.market.long_short_ratio(t))])

    def oi_history(self, p: dict) -> list:
        m = self.ex.market

        def row(t: int) -> list:
            oi = m.open_interest(t)
            return [n(oi), n(oi * CT_VAL), n(oi * CT_VAL * m.price_at(t))]

        return self._stat_series(p, row)

    # ------------------------------------------------------------ account

    def balance(self, p: Any) -> list:
        now = self.now()
        ex = self.ex
        with ex.lock:
            last = ex.last()
            upl = sum(pos.upl(last) for pos in ex.positions.values() if pos.pos)
            iso = sum(pos.margin for pos in ex.positions.values() if pos.pos and pos.mgn_mode == "isolated")
            eq = ex.equity(last)
            frozen = ex.ord_frozen()
            avail = ex.available(last)
            imr = iso + ex.cross_imr(last)
            mmr = sum(pos.notional(last) * MMR for pos in ex.positions.values() if pos.pos)
            detail = {
                "ccy": CCY,
                "eq": n(eq),
                "cashBal": n(ex.cash),
                "availBal": n(avail),
                "availEq": n(avail),
                "frozenBal": n(eq - avail - upl),
                "ordFrozen": n(frozen),
                "isoEq": n(iso),
                "upl": n(upl),
                "disEq": n(eq),
                "eqUsd": n(eq),
                "isoUpl": n(upl),
                "imr": n(imr),
                "mmr": n(mmr),
                "uTime": str(now),
            }
            return [
                {
                    "adjEq": n(eq),
                    "totalEq": n(eq),
                    "isoEq": n(iso),
                    "imr": n(imr),
                    "mmr": n(mmr),
                    "ordFroz": n(frozen),
                    "upl": n(upl),
                    "notionalUsd": n(sum(pos.notional(last) for pos in ex.positions.values() if pos.pos)),
                    "mgnRatio": n(eq / mmr) if mmr else "",
                    "uTime": str(now),
                    "details": [detail],
                }
            ]

    def _position(self, pos: Position, now: int) -> dict:
        ex = self.ex
        mark = ex.market.mark_price(now)
        last = ex.last()
        upl = pos.upl(mark)
        margin = pos.margin if pos.mgn_mode == "isolated" else 0.0
        imr = pos.imr(mark)
        return {
            "instType": "SWAP",
            "instId": INST_ID,
            "mgnMode": pos.mgn_mode,
            "posId": pos.pos_id,
            "posSide": pos.pos_side,
            "pos": n(pos.pos if pos.pos_side == "net" else abs(pos.pos)),
            "posCcy": "",
            "availPos": n(abs(pos.pos)),
            "avgPx": n(pos.avg_px),
            "markPx": n(mark),
            "last": n(last),
            "upl": n(upl),
            "uplRatio": n(upl / (margin or imr)) if (margin or imr) else "0",
            "lever": n(pos.lever),
            "liqPx": n(pos.liq_px(ex.cash)),
            "imr": n(imr if pos.mgn_mode == "cross" else 0.0),
            "margin": n(margin) if pos.mgn_mode == "isolated" else "",
            "mmr": n(pos.notional(mark) * MMR),
            "notionalUsd": n(pos.notional(mark)),
            "ccy": CCY,
            "adl": "1",
            "realizedPnl": n(pos.realized_pnl),
            "fee": n(pos.fee),
            "fundingFee": n(pos.funding_fee),
            "cTime": str(pos.c_time),
            "uTime": str(pos.u_time),
        }

    def positions(self, p: Any) -> list:
        inst = (p or {}).get("instId")
        if inst and INST_ID not in inst.split(","):
            return []
        now = self.now()
        with self.ex.lock:
            return [self._position(pos, now) for pos in self.ex.positions.values() if pos.pos]

    def config(self, p: Any) -> list:
        return [
            {
                "uid": "44705892343619584",
                "mainUid": "44705892343619584",
                "acctLv": "2",
                "posMode": self.ex.pos_mode,
                "autoLoan": False,
                "greeksType": "PA",
                "level": "Lv1",
                "levelTmp": "",
                "ctIsoMode": "automatic",
                "mgnIsoMode": "automatic",
                "label": "cockpit-sim",
                "perm": "read_only,trade",
                "roleType": "0",
                "ip": "",
                "kycLv": "1",
                "settleCcy": CCY,
                "settleCcyList": [CCY],
            }
        ]

    def leverage_info(self, p: Any) -> list:
        mode = p.get("mgnMode", "cross")
        sides = ("long", "short") if self.ex.pos_mode == "long_short_mode" and mode == "isolated" else ("net",)
        return [
            {"instId": INST_ID, "mgnMode": mode, "posSide": s, "lever": n(self.ex.lever.get(mode, 1))} for s in sides
        ]

    def trade_fee(self, p: Any) -> list:
        return [
            {
                "category": "1",
                "instType": "SWAP",
                "level": "Lv1",
                "maker": n(-MAKER_FEE),
                "taker": n(-TAKER_FEE),
                "makerU": n(-MAKER_FEE),
                "takerU": n(-TAKER_FEE),
                "ts": str(self.clock.now_ms()),
            }
        ]

    def currencies(self, p: Any) -> list:
        return [
            {
                "ccy": c,
                "name": c,
                "chain": f"{c}-{c}",
                "canDep": False,
                "canWd": False,
                "canInternal": False,
                "minWd": "0",
                "maxWd": "0",
                "minFee": "0",
                "maxFee": "0",
                "wdTickSz": "8",
                "mainNet": True,
            }
            for c in ("BTC", CCY)
        ]

    def set_leverage(self, p: Any) -> list:
        _check_inst(p)
        try:
            lever = float(p.get("lever"))
        except (TypeError, ValueError):
            raise ApiError("51000", "Parameter lever error") from None
        mode = p.get("mgnMode", "cross")
        try:
            self.ex.set_leverage(lever, mode, self.clock.now_ms())
        except OrderError as e:
            raise ApiError(e.code, e.msg) from None
        return [{"lever": n(lever), "mgnMode": mode, "instId": INST_ID, "posSide": p.get("posSide", "net")}]

    def set_position_mode(self, p: Any) -> list:
        try:
            self.ex.set_pos_mode(p.get("posMode"), self.clock.now_ms())
        except OrderError as e:
            raise ApiError(e.code, e.msg) from None
        return [{"posMode": self.ex.pos_mode}]

    # ------------------------------------------------------------ orders

    def _place(self, req: dict) -> dict:
        cl, tag = str(req.get("clOrdId") or ""), str(req.get("tag") or "")
        now = self.clock.now_ms()
        for k in ("instId", "tdMode", "side", "ordType", "sz"):
            if req.get(k) in (None, ""):  # a missing required parameter fails the whole request, as on OKX
                raise ApiError("50014", f"Parameter {k} can not be empty")
        try:
            if req.get("instId") != INST_ID:
                raise OrderError("51001", "Instrument ID does not exist")
            code = self.reject_next()
            if code:
                raise OrderError(code, "Order rejected (injected fault)")
            o = self.ex.place(req, now)
        except OrderError as e:
            return {"ordId": "", "clOrdId": cl, "tag": tag, "ts": str(now), "sCode": e.code, "sMsg": e.msg}
        return {
            "ordId": o.ord_id,
            "clOrdId": o.cl_ord_id,
            "tag": o.tag,
            "ts": str(now),
            "sCode": "0",
            "sMsg": "Order placed",
        }

    @staticmethod
    def _batch_result(results: list[dict]) -> list:
        failed = [r for r in results if r["sCode"] != "0"]
        if failed and len(failed) == len(results):
            raise ApiError("1", "All operations failed", data=results)
        if failed:
            raise ApiError("2", "Bulk operation partially succeeded", data=results)
        return results

    def place_one(self, body: Any) -> list:
        if not isinstance(body, dict):
            raise ApiError("50000", "Body can not be empty")
        return self._batch_result([self._place(body)])

    def place_batch(self, body: Any) -> list:
        if not isinstance(body, list) or not body:
            raise ApiError("50000", "Body can not be empty")
        if len(body) > 20:
            raise ApiError("51000", "Parameter count exceeds the limit 20")
        return self._batch_result([self._place(r) for r in body])

    def _cancel(self, req: dict) -> dict:
        try:
            o = self.ex.cancel(req.get("ordId"), req.get("clOrdId"), self.clock.now_ms())
        except OrderError as e:
            return {"ordId": req.get("ordId", ""), "clOrdId": req.get("clOrdId", ""), "sCode": e.code, "sMsg": e.msg}
        return {"ordId": o.ord_id, "clOrdId": o.cl_ord_id, "sCode": "0", "sMsg": "", "ts": str(self.clock.now_ms())}

    def cancel_one(self, body: Any) -> list:
        return self._batch_result([self._cancel(body or {})])

    def cancel_batch(self, body: Any) -> list:
        return self._batch_result([self._cancel(r) for r in (body or [])])

    def _order(self, o: Order) -> dict:
        ex = self.ex
        attached = []
        for aid in o.attached_algo_ids:
            a = ex.algos[aid]
            attached.append(
                {
                    "attachAlgoId": a.algo_id,
                    "attachAlgoClOrdId": a.algo_cl_ord_id,
                    "slTriggerPx": n(a.sl_trigger_px),
                    "slOrdPx": n(a.sl_ord_px),
                    "slTriggerPxType": a.sl_px_type if a.sl_trigger_px is not None else "",
                    "tpTriggerPx": n(a.tp_trigger_px),
                    "tpOrdPx": n(a.tp_ord_px),
                    "tpTriggerPxType": a.tp_px_type if a.tp_trigger_px is not None else "",
                    "sz": n(a.sz),
                    "state": a.state,
                }
            )
        if not attached:
            attached = [dict(a) for a in o.attach]
        first = attached[0] if attached else {}
        return {
            "instType": "SWAP",
            "instId": INST_ID,
            "ccy": "",
            "ordId": o.ord_id,
            "clOrdId": o.cl_ord_id,
            "tag": o.tag,
            "px": n(o.px),
            "pxUsd": "",
            "pxVol": "",
            "pxType": "",
            "sz": n(o.sz),
            "pnl": n(o.pnl),
            "ordType": o.ord_type,
            "side": o.side,
            "posSide": o.pos_side,
            "tdMode": o.td_mode,
            "accFillSz": n(o.acc_fill_sz),
            "fillPx": n(o.fill_px) if o.fill_sz else "",
            "tradeId": o.trade_id,
            "fillSz": n(o.fill_sz) if o.fill_sz else "0",
            "fillTime": str(o.fill_time) if o.fill_time else "",
            "avgPx": n(o.avg_px) if o.acc_fill_sz else "",
            "state": o.state,
            "lever": n(o.lever),
            "tpTriggerPx": str(first.get("tpTriggerPx", "") or ""),
            "tpTriggerPxType": (first.get("tpTriggerPxType") or "last") if first.get("tpTriggerPx") else "",
            "tpOrdPx": str(first.get("tpOrdPx", "") or ""),
            "slTriggerPx": str(first.get("slTriggerPx", "") or ""),
            "slTriggerPxType": (first.get("slTriggerPxType") or "last") if first.get("slTriggerPx") else "",
            "slOrdPx": str(first.get("slOrdPx", "") or ""),
            "attachAlgoOrds": attached,
            "feeCcy": CCY,
            "fee": n(o.fee),
            "rebateCcy": CCY,
            "rebate": "0",
            "source": "",
            "category": o.category,
            "reduceOnly": "true" if o.reduce_only else "false",
            "cancelSource": o.cancel_source,
            "cancelSourceReason": "",
            "isTpLimit": "false",
            "algoId": o.source_algo_id,
            "algoClOrdId": "",
            "quickMgnType": "",
            "stpMode": "cancel_maker",
            "tgtCcy": "",
            "execType": o.exec_type,
            "uTime": str(o.u_time),
            "cTime": str(o.c_time),
        }

    def get_order(self, p: Any) -> list:
        _check_inst(p)
        self.now()
        if not p.get("ordId") and not p.get("clOrdId"):
            raise ApiError("51003", "Either client order ID or order ID is required")
        with self.ex.lock:
            o = self.ex.find(p.get("ordId"), p.get("clOrdId"))
            if o is None:
                raise ApiError("51603", "Order does not exist")
            return [self._order(o)]

    def _orders(self, p: Any, pred: Callable[[Order], bool]) -> list:
        with self.ex.lock:
            rows = sorted((o for o in self.ex.orders.values() if pred(o)), key=lambda o: int(o.ord_id), reverse=True)
            begin, end = _int(p, "begin"), _int(p, "end")
            rows = [o for o in rows if (begin is None or o.c_time >= begin) and (end is None or o.c_time <= end)]
            rows = _window(rows, lambda o: int(o.ord_id), p, 100)
            return [self._order(o) for o in rows]

    def orders_pending(self, p: Any) -> list:
        self.now()
        return self._orders(p, lambda o: o.is_open and (not p.get("ordType") or o.ord_type == p["ordType"]))

    def orders_history(self, p: Any) -> list:
        self.now()
        state = p.get("state")
        return self._orders(p, lambda o: not o.is_open and (not state or o.state == state))

    def _fill(self, f: Fill) -> dict:
        return {
            "instType": "SWAP",
            "instId": INST_ID,
            "tradeId": f.trade_id,
            "ordId": f.ord_id,
            "clOrdId": f.cl_ord_id,
            "billId": f.bill_id,
            "subType": "1" if f.side == "buy" else "2",
            "tag": f.tag,
            "fillPx": n(f.fill_px),
            "fillSz": n(f.fill_sz),
            "fillIdxPx": "",
            "fillPnl": n(f.fill_pnl),
            "fillPxVol": "",
            "fillPxUsd": "",
            "fillMarkVol": "",
            "fillFwdPx": "",
            "fillMarkPx": "",
            "side": f.side,
            "posSide": "net",
            "execType": f.exec_type,
            "feeCcy": CCY,
            "fee": n(f.fee),
            "ts": str(f.ts),
            "fillTime": str(f.ts),
        }

    def fills(self, p: Any) -> list:
        self.now()
        with self.ex.lock:
            rows = list(reversed(self.ex.fills))
            if p.get("ordId"):
                rows = [f for f in rows if f.ord_id == p["ordId"]]
            begin, end = _int(p, "begin"), _int(p, "end")
            rows = [f for f in rows if (begin is None or f.ts >= begin) and (end is None or f.ts <= end)]
            rows = _window(rows, lambda f: int(f.bill_id), p, 100)
            return [self._fill(f) for f in rows]

    # ------------------------------------------------------------ algo orders

    def _algo(self, a: AlgoOrder) -> dict:
        return {
            "instType": "SWAP",
            "instId": INST_ID,
            "algoId": a.algo_id,
            "algoClOrdId": a.algo_cl_ord_id,
            "clOrdId": a.algo_cl_ord_id,
            "ordType": a.ord_type,
            "side": a.side,
            "posSide": a.pos_side,
            "tdMode": a.td_mode,
            "sz": n(a.sz),
            "state": a.state,
            "lever": n(self.ex.lever[a.td_mode]),
            "slTriggerPx": n(a.sl_trigger_px),
            "slOrdPx": n(a.sl_ord_px),
            "slTriggerPxType": a.sl_px_type,
            "tpTriggerPx": n(a.tp_trigger_px),
            "tpOrdPx": n(a.tp_ord_px),
            "tpTriggerPxType": a.tp_px_type,
            "reduceOnly": "true" if a.reduce_only else "false",
            "closeFraction": a.close_fraction,
            "triggerTime": str(a.trigger_time) if a.trigger_time else "",
            "actualSide": a.actual_side,
            "ordId": a.ord_id,
            "ordIdList": [a.ord_id] if a.ord_id else [],
            "ordPx": n(a.order_px) if a.ord_type == "trigger" else "",
            "triggerPx": n(a.trigger_px),
            "triggerPxType": a.trigger_px_type if a.ord_type == "trigger" else "",
            "attachedOrdId": a.parent_ord_id,
            "cTime": str(a.c_time),
            "uTime": str(a.u_time),
        }

    def place_algo(self, body: Any) -> list:
        if not isinstance(body, dict):
            raise ApiError("50000", "Body can not be empty")
        cl = str(body.get("algoClOrdId") or body.get("clOrdId") or "")
        try:
            if body.get("instId") != INST_ID:
                raise OrderError("51001", "Instrument ID does not exist")
            code = self.reject_next()
            if code:
                raise OrderError(code, "Order rejected (injected fault)")
            a = self.ex.place_algo(body, self.clock.now_ms())
        except OrderError as e:
            raise ApiError(
                "1",
                "Operation failed.",
                data=[{"algoId": "", "clOrdId": cl, "algoClOrdId": cl, "sCode": e.code, "sMsg": e.msg, "tag": ""}],
            ) from None
        return [{"algoId": a.algo_id, "clOrdId": cl, "algoClOrdId": cl, "sCode": "0", "sMsg": "", "tag": ""}]

    def cancel_algos(self, body: Any) -> list:
        items = body if isinstance(body, list) else [body or {}]
        out = []
        for it in items:
            try:
                a = self.ex.cancel_algo(it.get("algoId"), self.clock.now_ms())
                out.append({"algoId": a.algo_id, "sCode": "0", "sMsg": ""})
            except OrderError as e:
                out.append({"algoId": it.get("algoId", ""), "sCode": e.code, "sMsg": e.msg})
        return self._batch_result(out)

    def get_algo(self, p: Any) -> list:
        self.now()
        with self.ex.lock:
            a = self.ex.algos.get(str(p.get("algoId") or ""))
            if a is None and p.get("algoClOrdId"):
                aid = self.ex.algo_by_cl.get(p["algoClOrdId"])
                a = self.ex.algos.get(aid) if aid else None
            if a is None:
                raise ApiError("51603", "Order does not exist")
            return [self._algo(a)]

    def _algos(self, p: Any, pred: Callable[[AlgoOrder], bool]) -> list:
        types = set((p.get("ordType") or "").split(",")) - {""}
        with self.ex.lock:
            rows = sorted(
                (a for a in self.ex.algos.values() if pred(a) and (not types or a.ord_type in types)),
                key=lambda a: int(a.algo_id),
                reverse=True,
            )
            return [self._algo(a) for a in _window(rows, lambda a: int(a.algo_id), p, 100)]

    def algos_pending(self, p: Any) -> list:
        self.now()
        return self._algos(p, lambda a: a.state == "live")

    def algos_history(self, p: Any) -> list:
        self.now()
        state = p.get("state")
        if state == "filled":  # ccxt's fetch_closed_orders sends this for algo types too
            state = "effective"
        return self._algos(p, lambda a: a.state != "live" and (not state or a.state == state))

    # ------------------------------------------------------------ public: status, tiers, limits, reference data

    def system_status(self, p: dict) -> list:
        return []  # no maintenance scheduled or running

    def _tiers(self) -> list:
        """One tier: the simulator's single maintenance-margin rate and maximum leverage apply at any size."""
        return [
            {
                "uly": INST_FAMILY,
                "instFamily": INST_FAMILY,
                "instId": "",
                "tier": "1",
                "minSz": "0",
                "maxSz": "100000000",
                "mmr": n(MMR),
                "imr": n(1 / MAX_LEVER),
                "maxLever": str(MAX_LEVER),
                "optMgnFactor": "0",
                "quoteMaxLoan": "",
                "baseMaxLoan": "",
                "ccy": "",
            }
        ]

    def position_tiers(self, p: dict) -> list:
        if p.get("instType") in (None, ""):
            raise ApiError("50014", "Parameter instType can not be empty")
        if p.get("tdMode") in (None, ""):
            raise ApiError("50014", "Parameter tdMode can not be empty")
        fam = p.get("instFamily") or p.get("uly") or ""
        if p.get("instType") != "SWAP" or fam not in ("", INST_FAMILY):
            return []
        if not fam and not p.get("instId"):
            raise ApiError("50015", "Either parameter instFamily or uly is required")
        return self._tiers()

    def price_limit(self, p: dict) -> list:
        if not p.get("instId"):
            raise ApiError("50014", "Parameter instId can not be empty")
        _check_inst(p)
        now = self.now()
        mark = self.ex.market.mark_price(now)
        return [
            {
                "instType": "SWAP",
                "instId": INST_ID,
                "buyLmt": n(round(mark * 1.02, 1)),
                "sellLmt": n(round(mark * 0.98, 1)),
                "ts": str(now),
                "enabled": False,
            }
        ]

    def underlying(self, p: dict) -> list:
        return [[INST_FAMILY]] if p.get("instType") == "SWAP" else [[]]

    def insurance_fund(self, p: dict) -> list:
        now = self.now()
        return [
            {
                "total": "100000000",
                "instFamily": INST_FAMILY,
                "instType": "SWAP",
                "details": [
                    {
                        "amt": "0",
                        "balance": "100000000",
                        "ccy": CCY,
                        "ts": str(now // 3_600_000 * 3_600_000),
                        "type": "regular_update",
                        "maxBal": "",
                        "maxBalTs": "",
                        "decRate": "",
                        "adlType": "",
                    }
                ],
            }
        ]

    def convert_contract_coin(self, p: dict) -> list:
        _check_inst(p)
        try:
            given: Any = p.get("sz")  # a missing or unreadable size is refused below
            sz = float(given)
        except (TypeError, ValueError):
            raise ApiError("51000", "Parameter sz error") from None
        unit = p.get("unit") or "coin"
        conv = p.get("type") or "1"  # 1: coin -> contracts, 2: contracts -> coin
        px = _int(p, "px") and float(p["px"]) or self.ex.last()
        base = sz / px if unit == "usds" else sz
        out = base / CT_VAL if conv == "1" else sz * CT_VAL * (px if unit == "usds" else 1)
        return [
            {"instId": INST_ID, "px": n(px), "sz": n(round(out, 2) if conv == "1" else out), "type": conv, "unit": unit}
        ]

    def platform_volume(self, p: dict) -> list:
        now = self.now()
        _, _, _, vol = self.ex.market.rolling(now - 86_400_000, now)
        usd = vol * self.ex.last()
        return [{"volUsd": n(round(usd, 2)), "volCny": n(round(usd * 7.1, 2)), "ts": str(now)}]

    def exchange_rate(self, p: dict) -> list:
        return [{"usdCny": "7.1"}]

    def index_components(self, p: dict) -> list:
        if p.get("index") != INST_FAMILY:
            raise ApiError("51001", "Instrument ID does not exist")
        now = self.now()
        last = self.ex.market.index_price(now)
        return [
            {
                "index": INST_FAMILY,
                "last": n(last),
                "ts": str(now),
                "components": [
                    {"exch": "Simulator", "symbol": "BTC/USDT", "symPx": n(last), "wgt": "1", "cnvPx": n(last)}
                ],
            }
        ]

    def support_coin(self, p: dict) -> list:
        return [{"contract": ["BTC"], "option": [], "spot": []}]

    def taker_volume(self, p: dict) -> list:
        """Taker buy/sell volume per period: the bar volume split by the direction of the price."""
        m = self.ex.market

        def row(t: int) -> list:
            o, hi, lo, vol = m.rolling(t, t + _bar(p.get("period") or "5m"))
            up = m.price_at(t + _bar(p.get("period") or "5m")) >= o
            share = 0.55 if up else 0.45
            return [n(round(vol * share, 4)), n(round(vol * (1 - share), 4))]

        return self._stat_series({k: v for k, v in p.items() if k != "instId"}, row)

    def oi_volume(self, p: dict) -> list:
        m = self.ex.market
        period = _bar(p.get("period") or "5m")

        def row(t: int) -> list:
            oi = m.open_interest(t)
            return [n(oi * CT_VAL * m.price_at(t)), n(m.rolling(t, t + period)[3] * m.price_at(t))]

        return self._stat_series({k: v for k, v in p.items() if k != "instId"}, row)

    # ------------------------------------------------------------ private: bills, history, limits, margin

    BILL_TYPES = {"trade": "2", "liquidation": "5", "margin": "6", "funding": "8"}

    def _bills(self, p: Any, window_ms: int) -> list:
        now = self.now()
        if p.get("instType") not in (None, "", "SWAP") or p.get("ccy") not in (None, "", CCY):
            return []
        if p.get("instId") not in (None, "", INST_ID):
            return []
        want_type, want_sub = p.get("type") or "", p.get("subType") or ""
        mode = p.get("mgnMode") or ""
        begin, end = _int(p, "begin"), _int(p, "end")
        with self.ex.lock:
            rows = [
                b
                for b in reversed(self.ex.bills)
                if b.ts >= now - window_ms
                and (not want_type or self.BILL_TYPES.get(b.type) == want_type)
                and (not want_sub or b.sub_type == want_sub)
                and (not mode or b.mgn_mode == mode)
                and (begin is None or b.ts >= begin)
                and (end is None or b.ts <= end)
            ]
            rows = _window(rows, lambda b: int(b.bill_id), p, 100)
            return [
                {
                    "billId": b.bill_id,
                    "ccy": CCY,
                    "bal": n(b.bal),
                    "balChg": n(b.bal_chg),
                    "type": self.BILL_TYPES.get(b.type, "2"),
                    "subType": b.sub_type,
                    "ts": str(b.ts),
                    "fillTime": str(b.ts),
                    "instType": "SWAP",
                    "instId": INST_ID,
                    "mgnMode": b.mgn_mode,
                    "pnl": n(b.pnl),
                    "fee": n(b.fee),
                    "sz": n(b.sz),
                    "px": n(b.px),
                    "ordId": b.ord_id,
                    "tradeId": b.trade_id,
                    "execType": b.exec_type,
                    "posBal": "",
                    "posBalChg": n(b.pos_bal_chg),
                    "notes": b.note,
                    "interest": "0",
                    "from": "",
                    "to": "",
                    "clOrdId": "",
                    "tag": "",
                    "fillPx": n(b.px) if b.trade_id else "",
                    "fillIdxPx": "",
                    "fillMarkPx": "",
                    "fillFwdPx": "",
                    "fillPxVol": "",
                    "fillPxUsd": "",
                    "fillMarkVol": "",
                    "earnAmt": "",
                    "earnApr": "",
                }
                for b in rows
            ]

    def bills(self, p: Any) -> list:
        """The last 7 days of the ledger (OKX's account/bills); newest first, paged by billId."""
        return self._bills(p, 7 * 86_400_000)

    def bills_archive(self, p: Any) -> list:
        """The last 3 months (OKX's account/bills-archive)."""
        return self._bills(p, 92 * 86_400_000)

    def positions_history(self, p: Any) -> list:
        self.now()
        if p.get("instType") not in (None, "", "SWAP") or p.get("instId") not in (None, "", INST_ID):
            return []
        mode, typ, pos_id = p.get("mgnMode") or "", p.get("type") or "", p.get("posId") or ""
        with self.ex.lock:
            rows = [
                r
                for r in reversed(self.ex.pos_history)
                if (not mode or r["mgnMode"] == mode)
                and (not typ or r["type"] == typ)
                and (not pos_id or r["posId"] == pos_id)
            ]
        rows = _window(rows, lambda r: r["uTime"], p, 100)
        return [
            {
                "instType": "SWAP",
                "instId": INST_ID,
                "mgnMode": r["mgnMode"],
                "type": r["type"],
                "cTime": str(r["cTime"]),
                "uTime": str(r["uTime"]),
                "openAvgPx": n(r["openAvgPx"]),
                "nonSettleAvgPx": "",
                "closeAvgPx": n(r["closeAvgPx"]),
                "posId": r["posId"],
                "openMaxPos": n(r["openMaxPos"]),
                "closeTotalPos": n(r["closeTotalPos"]),
                "realizedPnl": n(r["realizedPnl"]),
                "settledPnl": "",
                "pnlRatio": n(r["realizedPnl"] / (r["openMaxPos"] * CT_VAL * r["openAvgPx"] / r["lever"]))
                if r["openMaxPos"] and r["openAvgPx"]
                else "0",
                "fee": n(r["fee"]),
                "fundingFee": n(r["fundingFee"]),
                "liqPenalty": n(r["liqPenalty"]),
                "pnl": n(r["pnl"]),
                "posSide": r["posSide"],
                "lever": n(r["lever"]),
                "direction": r["direction"],
                "triggerPx": "",
                "uly": INST_FAMILY,
                "ccy": CCY,
            }
            for r in rows
        ]

    def account_position_tiers(self, p: Any) -> list:
        if p.get("instType") in (None, ""):
            raise ApiError("50014", "Parameter instType can not be empty")
        fam = p.get("instFamily") or p.get("uly") or INST_FAMILY
        if p.get("instType") != "SWAP" or fam != INST_FAMILY:
            return []
        return [{"uly": INST_FAMILY, "instFamily": INST_FAMILY, "maxSz": "100000000", "posType": "1"}]

    def _mode_param(self, p: Any) -> str:
        mode = p.get("tdMode")
        if mode in (None, ""):
            raise ApiError("50014", "Parameter tdMode can not be empty")
        if mode not in ("isolated", "cross"):
            raise ApiError("51000", "Parameter tdMode error")
        return mode

    def max_size(self, p: Any) -> list:
        if not p.get("instId"):
            raise ApiError("50014", "Parameter instId can not be empty")
        _check_inst(p)
        mode = self._mode_param(p)
        self.now()
        px = float(p["px"]) if p.get("px") not in (None, "") else None
        buy, sell = self.ex.max_size(mode, px)
        return [{"instId": INST_ID, "ccy": CCY, "maxBuy": n(buy), "maxSell": n(sell)}]

    def max_avail_size(self, p: Any) -> list:
        """Margin available to open (plus what closing the opposite position frees), in USDT."""
        if not p.get("instId"):
            raise ApiError("50014", "Parameter instId can not be empty")
        _check_inst(p)
        mode = self._mode_param(p)
        self.now()
        ex = self.ex
        with ex.lock:
            last = ex.last()
            avail = max(0.0, ex.available(last))
            pos = ex.positions.get(mode)
            held = pos.margin if pos and pos.pos and mode == "isolated" else (pos.imr(last) if pos and pos.pos else 0.0)
            buy = avail + (held if pos and pos.pos < 0 else 0.0)
            sell = avail + (held if pos and pos.pos > 0 else 0.0)
            if str(p.get("reduceOnly", "")).lower() == "true":
                buy, sell = (held if pos and pos.pos < 0 else 0.0), (held if pos and pos.pos > 0 else 0.0)
        return [{"instId": INST_ID, "availBuy": n(round(buy, 8)), "availSell": n(round(sell, 8))}]

    def max_withdrawal(self, p: Any) -> list:
        self.now()
        with self.ex.lock:
            avail = max(0.0, self.ex.available(self.ex.last()))
        return [{"ccy": CCY, "maxWd": n(avail), "maxWdEx": n(avail), "spotOffsetMaxWd": "", "spotOffsetMaxWdEx": ""}]

    def position_risk(self, p: Any) -> list:
        now = self.now()
        ex = self.ex
        with ex.lock:
            last = ex.last()
            eq = ex.equity(last)
            return [
                {
                    "adjEq": n(eq),
                    "ts": str(now),
                    "balData": [{"ccy": CCY, "eq": n(eq), "disEq": n(eq)}],
                    "posData": [
                        {
                            "instType": "SWAP",
                            "instId": INST_ID,
                            "mgnMode": pos.mgn_mode,
                            "posId": pos.pos_id,
                            "pos": n(pos.pos),
                            "baseBal": "",
                            "quoteBal": "",
                            "posSide": pos.pos_side,
                            "posCcy": "",
                            "ccy": CCY,
                            "notionalCcy": n(abs(pos.pos) * CT_VAL),
                            "notionalUsd": n(pos.notional(last)),
                        }
                        for pos in ex.positions.values()
                        if pos.pos
                    ],
                }
            ]

    def account_instruments(self, p: Any) -> list:
        if p.get("instType") in (None, ""):
            raise ApiError("50014", "Parameter instType can not be empty")
        return self.instruments({**p, "instType": p["instType"]})

    def set_isolated_mode(self, p: Any) -> list:
        if p.get("isoMode") not in ("automatic", "autonomy") or p.get("type") not in ("MARGIN", "CONTRACTS"):
            raise ApiError("51000", "Parameter isoMode or type error")
        return [{"isoMode": p["isoMode"]}]

    def margin_balance(self, p: Any) -> list:
        _check_inst(p)
        if p.get("posSide") in (None, ""):
            raise ApiError("50014", "Parameter posSide can not be empty")
        kind = p.get("type")
        try:
            amt = float(p.get("amt"))
        except (TypeError, ValueError):
            raise ApiError("51000", "Parameter amt error") from None
        try:
            pos = self.ex.adjust_margin("isolated", kind, amt, self.clock.now_ms(), p["posSide"])
        except OrderError as e:
            raise ApiError(e.code, e.msg) from None
        return [
            {
                "instId": INST_ID,
                "posSide": p["posSide"],
                "amt": n(amt),
                "type": kind,
                "leverage": n(pos.notional(self.ex.market.mark_price(self.ex.t)) / pos.margin) if pos.margin else "",
                "ccy": CCY,
            }
        ]

    def _amend(self, req: dict) -> dict:
        cl, req_id = str(req.get("clOrdId") or ""), str(req.get("reqId") or "")
        now = self.clock.now_ms()
        if req.get("instId") != INST_ID:
            return {
                "ordId": req.get("ordId", ""),
                "clOrdId": cl,
                "reqId": req_id,
                "ts": str(now),
                "sCode": "51001",
                "sMsg": "Instrument ID does not exist",
            }
        if not req.get("ordId") and not req.get("clOrdId"):
            return {
                "ordId": "",
                "clOrdId": "",
                "reqId": req_id,
                "ts": str(now),
                "sCode": "51003",
                "sMsg": "Either client order ID or order ID is required",
            }
        try:
            o = self.ex.amend(req, now)
        except OrderError as e:
            return {
                "ordId": req.get("ordId", ""),
                "clOrdId": cl,
                "reqId": req_id,
                "ts": str(now),
                "sCode": e.code,
                "sMsg": e.msg,
            }
        return {"ordId": o.ord_id, "clOrdId": o.cl_ord_id, "reqId": req_id, "ts": str(now), "sCode": "0", "sMsg": ""}

    def amend_one(self, body: Any) -> list:
        if not isinstance(body, dict):
            raise ApiError("50000", "Body can not be empty")
        return self._batch_result([self._amend(body)])

    def amend_batch(self, body: Any) -> list:
        if not isinstance(body, list) or not body:
            raise ApiError("50000", "Body can not be empty")
        if len(body) > 20:
            raise ApiError("51501", "Maximum 20 orders can be modified")
        return self._batch_result([self._amend(r) for r in body])

    def amend_algo(self, body: Any) -> list:
        if not isinstance(body, dict):
            raise ApiError("50000", "Body can not be empty")
        _check_inst(body)
        req_id = str(body.get("reqId") or "")
        try:
            a = self.ex.amend_algo(body, self.clock.now_ms())
        except OrderError as e:
            raise ApiError(
                "1",
                "Operation failed.",
                data=[
                    {
                        "algoId": body.get("algoId", ""),
                        "algoClOrdId": body.get("algoClOrdId", ""),
                        "reqId": req_id,
                        "sCode": e.code,
                        "sMsg": e.msg,
                    }
                ],
            ) from None
        return [{"algoId": a.algo_id, "algoClOrdId": a.algo_cl_ord_id, "reqId": req_id, "sCode": "0", "sMsg": ""}]

    def close_position(self, body: Any) -> list:
        if not isinstance(body, dict):
            raise ApiError("50000", "Body can not be empty")
        if not body.get("instId"):
            raise ApiError("50014", "Parameter instId can not be empty")
        _check_inst(body)
        mode = body.get("mgnMode")
        if mode in (None, ""):
            raise ApiError("50014", "Parameter mgnMode can not be empty")
        auto = str(body.get("autoCxl", "false")).lower() == "true"
        try:
            self.ex.close_position(mode, auto, self.clock.now_ms(), body.get("posSide") or "net")
        except OrderError as e:
            raise ApiError(e.code, e.msg) from None
        return [
            {
                "instId": INST_ID,
                "posSide": body.get("posSide") or "net",
                "clOrdId": body.get("clOrdId") or "",
                "tag": body.get("tag") or "",
            }
        ]

    def cancel_all_after(self, body: Any) -> list:
        if not isinstance(body, dict) or body.get("timeOut") in (None, ""):
            raise ApiError("50014", "Parameter timeOut can not be empty")
        try:
            timeout = int(body["timeOut"])
        except (TypeError, ValueError):
            raise ApiError("51000", "Parameter timeOut error") from None
        now = self.clock.now_ms()
        try:
            deadline = self.ex.set_cancel_after(timeout, now)
        except OrderError as e:
            raise ApiError(e.code, e.msg) from None
        return [{"triggerTime": str(deadline) if deadline else "0", "tag": body.get("tag") or "", "ts": str(now)}]
