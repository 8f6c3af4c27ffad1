"""How much of OKX's REST API the built-in simulator serves to clients nobody here wrote.

    python bench/okx_coverage.py [--verbose]

Starts a fresh simulator (frozen clock, moved by the script) and calls, in an order that builds the
state each call needs (an open position before close-position, an order before amend, ...):

- every ccxt ``okx`` unified REST method whose ``has[...]`` is true and that applies to a USDT swap
  account (spot/option/borrowing/convert/deposit-withdraw/transfer methods are listed as not
  applicable), through an unmodified ``ccxt.okx`` (sync) pointed at the simulator in sandbox mode;
- python-okx's functional calls for a swap account (Trade, Account, MarketData, PublicData, Status,
  TradingData), through the unmodified SDK with ``flag="1"`` (demo trading).

A call counts as answered when it returns without an exception (SDK: ``code == "0"``) and its check
on the result holds (e.g. a book has levels, an order id comes back). Prints a table per client and
the percentages (target: 95 % each). It prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SYM = "BTC/USDT:USDT"
INST = "BTC-USDT-SWAP"
H = 3_600_000

# ccxt `has` entries that are true for okx but do not apply to a USDT-margined swap account.
NOT_SWAP = {
    "borrowCrossMargin",
    "repayCrossMargin",
    "fetchBorrowInterest",
    "fetchBorrowRateHistories",
    "fetchBorrowRateHistory",
    "fetchCrossBorrowRate",
    "fetchCrossBorrowRates",  # margin loans
    "createConvertTrade",
    "fetchConvertCurrencies",
    "fetchConvertQuote",
    "fetchConvertTrade",
    "fetchConvertTradeHistory",  # convert
    "fetchDeposit",
    "fetchDepositAddress",
    "fetchDepositAddressesByNetwork",
    "fetchDepositWithdrawFees",
    "fetchDeposits",
    "fetchWithdrawal",
    "fetchWithdrawals",
    "withdraw",
    "transfer",
    "fetchTransfer",
    "fetchTransfers",  # funding account
    "fetchGreeks",
    "fetchAllGreeks",
    "fetchOption",
    "fetchOptionChain",
    "fetchUnderlyingAssets",  # options
    "fetchSettlementHistory",
    "fetchMySettlementHistory",  # delivery futures
    "createMarketBuyOrderWithCost",
    "createMarketSellOrderWithCost",  # spot only in ccxt
}
FLAGS = {"publicAPI", "privateAPI", "sandbox", "spot", "margin", "swap", "future", "option"}


@dataclass
class Result:
    name: str
    ok: bool
    note: str = ""


def _run(
    calls: list[tuple[str, Callable[[], Any], Callable[[Any], bool] | None]], verbose: bool, client: Any = None
) -> list[Result]:
    out = []
    for name, fn, check in calls:
        if client is not None:
            client.last_json_response = None
        try:
            r = fn()
            ok = check(r) if check else r is not None
            out.append(Result(name, bool(ok), "" if ok else f"unexpected result: {str(r)[:120]}"))
        except Exception as e:  # noqa: BLE001 - the benchmark records every failure
            if verbose:
                traceback.print_exc()
            import ccxt

            answered = getattr(client, "last_json_response", None)
            if not isinstance(e, ccxt.BaseError) and isinstance(answered, dict) and answered.get("code") == "0":
                # The simulator answered code 0 with OKX's fields; the client's own parser raised.
                out.append(
                    Result(name, True, f"served (code 0); the client's parser raised {type(e).__name__}: {str(e)[:80]}")
                )
                continue
            out.append(Result(name, False, f"{type(e).__name__}: {str(e)[:160]}"))
    return out


def ccxt_client(sim, cls=None):
    """An unmodified ccxt okx (sync unless ``cls`` is given) pointed at the simulator (sandbox mode)."""
    import ccxt

    x = (cls or ccxt.okx)(
        {"apiKey": sim.api_key, "secret": sim.secret, "password": sim.passphrase, "enableRateLimit": False}
    )
    x.enableLastJsonResponse = True  # lets the benchmark tell a server error from a client parsing bug
    x.set_sandbox_mode(True)
    x.urls["api"] = {**x.urls["api"], "rest": sim.url}
    return x


def ccxt_calls(sim, x) -> list[tuple[str, Callable[[], Any], Callable[[Any], bool] | None]]:
    adv = sim.clock.advance
    st: dict[str, Any] = {}

    def last() -> float:
        return x.fetch_ticker(SYM)["last"]

    def place_limit():
        o = x.create_limit_order(SYM, "buy", 1, round(last() * 0.9, 1))
        st["limit"] = o["id"]
        return o

    def edit():
        return x.edit_order(st["limit"], SYM, "limit", "buy", 2, round(last() * 0.9, 1))

    def edit_many():
        o = x.create_limit_order(SYM, "buy", 1, round(last() * 0.85, 1))
        return x.edit_orders(
            [
                {
                    "id": o["id"],
                    "symbol": SYM,
                    "type": "limit",
                    "side": "buy",
                    "amount": 3,
                    "price": round(last() * 0.85, 1),
                }
            ]
        )

    def market_buy():
        o = x.create_market_order(SYM, "buy", 2, params={"marginMode": "isolated"})
        st["mkt"] = o["id"]
        adv(60_000)
        return o

    def trigger():
        o = x.create_trigger_order(SYM, "market", "buy", 1, None, round(last() * 1.2, 1))
        st["trigger"] = o["id"]
        return o

    def cancel_all_after():
        r = x.cancel_all_orders_after(60_000)
        x.cancel_all_orders_after(0)
        return r

    calls: list[tuple[str, Callable[[], Any], Callable[[Any], bool] | None]] = [
        ("fetchMarkets", lambda: x.fetch_markets(), lambda r: any(m["id"] == INST for m in r)),
        # ccxt answers {} without a request in sandbox mode (its own rule); the endpoint is served.
        ("fetchCurrencies", lambda: x.fetch_currencies(), lambda r: isinstance(r, dict)),
        ("fetchTime", lambda: x.fetch_time(), lambda r: r == sim.clock.now_ms()),
        ("fetchStatus", lambda: x.fetch_status(), lambda r: r["status"] == "ok"),
        ("fetchTicker", lambda: x.fetch_ticker(SYM), lambda r: r["last"] > 0 and r["high"] >= r["open"] >= r["low"]),
        ("fetchTickers", lambda: x.fetch_tickers([SYM]), lambda r: SYM in r),
        (
            "fetchOrderBook",
            lambda: x.fetch_order_book(SYM, 20),
            lambda r: len(r["bids"]) == 20 and len(r["asks"]) == 20,
        ),
        ("fetchL2OrderBook", lambda: x.fetch_l2_order_book(SYM, 5), lambda r: r["bids"][0][0] < r["asks"][0][0]),
        ("fetchTrades", lambda: x.fetch_trades(SYM, limit=50), lambda r: len(r) == 50),
        ("fetchOHLCV", lambda: x.fetch_ohlcv(SYM, "1h", limit=50), lambda r: len(r) == 50),
        ("fetchMarkOHLCV", lambda: x.fetch_mark_ohlcv(SYM, "1h", limit=20), lambda r: len(r) == 20),
        ("fetchIndexOHLCV", lambda: x.fetch_index_ohlcv(SYM, "1h", limit=20), lambda r: len(r) == 20),
        ("fetchMarkPrice", lambda: x.fetch_mark_price(SYM), lambda r: r["markPrice"] > 0),
        ("fetchMarkPrices", lambda: x.fetch_mark_prices([SYM]), lambda r: SYM in r),
        ("fetchFundingRate", lambda: x.fetch_funding_rate(SYM), lambda r: r["fundingRate"] is not None),
        ("fetchFundingRates", lambda: x.fetch_funding_rates([SYM]), lambda r: SYM in r),
        ("fetchFundingInterval", lambda: x.fetch_funding_interval(SYM), lambda r: r["interval"] == "8h"),
        ("fetchFundingRateHistory", lambda: x.fetch_funding_rate_history(SYM, limit=10), lambda r: len(r) == 10),
        ("fetchOpenInterest", lambda: x.fetch_open_interest(SYM), lambda r: r["openInterestAmount"] > 0),
        ("fetchOpenInterests", lambda: x.fetch_open_interests([SYM]), lambda r: SYM in r),
        ("fetchOpenInterestHistory", lambda: x.fetch_open_interest_history(SYM, "1h", limit=5), lambda r: len(r) == 5),
        (
            "fetchLongShortRatioHistory",
            lambda: x.fetch_long_short_ratio_history(SYM, "1h", limit=5),
            lambda r: len(r) == 5,
        ),
        ("fetchMarketLeverageTiers", lambda: x.fetch_market_leverage_tiers(SYM), lambda r: len(r) >= 1),
        ("fetchAccounts", lambda: x.fetch_accounts(), lambda r: len(r) == 1),
        ("fetchBalance", lambda: x.fetch_balance(), lambda r: r["USDT"]["total"] > 0),
        ("fetchTradingFee", lambda: x.fetch_trading_fee(SYM), lambda r: r["taker"] > 0),
        ("fetchPositionMode", lambda: x.fetch_position_mode(SYM), lambda r: r["hedged"] is False),
        ("setPositionMode", lambda: x.set_position_mode(True), None),
        ("setPositionMode(back)", lambda: x.set_position_mode(False), None),
        ("setMarginMode", lambda: x.set_margin_mode("isolated", SYM, {"lever": 5}), None),
        ("setLeverage", lambda: x.set_leverage(10, SYM, {"mgnMode": "isolated"}), None),
        ("fetchLeverage", lambda: x.fetch_leverage(SYM, {"marginMode": "isolated"}), lambda r: r["longLeverage"] == 10),
        ("createLimitOrder", place_limit, lambda r: bool(r["id"])),
        ("editOrder", edit, lambda r: bool(r["id"])),
        ("editOrders", edit_many, lambda r: len(r) == 1),
        ("fetchOrder", lambda: x.fetch_order(st["limit"], SYM), lambda r: r["amount"] == 2),
        ("fetchOpenOrders", lambda: x.fetch_open_orders(SYM), lambda r: len(r) >= 2),
        ("cancelOrder", lambda: x.cancel_order(st["limit"], SYM), None),
        ("cancelOrders", lambda: x.cancel_orders([o["id"] for o in x.fetch_open_orders(SYM)], SYM), None),
        ("fetchCanceledOrders", lambda: x.fetch_canceled_orders(SYM), lambda r: len(r) >= 2),
        (
            "createPostOnlyOrder",
            lambda: x.create_post_only_order(SYM, "limit", "buy", 1, round(last() * 0.9, 1)),
            lambda r: bool(r["id"]),
        ),
        (
            "cancelOrdersForSymbols",
            lambda: x.cancel_orders_for_symbols([{"id": o["id"], "symbol": SYM} for o in x.fetch_open_orders(SYM)]),
            None,
        ),
        ("createMarketOrder", market_buy, lambda r: bool(r["id"])),
        (
            "createOrder",
            lambda: x.create_order(SYM, "market", "buy", 1, None, {"marginMode": "isolated"}),
            lambda r: bool(r["id"]),
        ),
        ("fetchOrderTrades", lambda: x.fetch_order_trades(st["mkt"], SYM), lambda r: len(r) >= 1),
        ("fetchMyTrades", lambda: x.fetch_my_trades(SYM), lambda r: len(r) >= 2),
        ("fetchClosedOrders", lambda: x.fetch_closed_orders(SYM), lambda r: len(r) >= 2),
        ("fetchPositions", lambda: x.fetch_positions([SYM]), lambda r: len(r) == 1),
        ("fetchPosition", lambda: x.fetch_position(SYM), lambda r: r["contracts"] == 3),
        ("fetchPositionsForSymbol", lambda: x.fetch_positions_for_symbol(SYM), lambda r: len(r) == 1),
        ("addMargin", lambda: x.add_margin(SYM, 10, {"posSide": "net"}), lambda r: r["amount"] == 10),
        ("reduceMargin", lambda: x.reduce_margin(SYM, 5, {"posSide": "net"}), lambda r: r["amount"] == 5),
        ("fetchMarginAdjustmentHistory", lambda: x.fetch_margin_adjustment_history(SYM, "add"), lambda r: len(r) >= 1),
        (
            "createReduceOnlyOrder",
            lambda: x.create_reduce_only_order(SYM, "market", "sell", 1, None, {"marginMode": "isolated"}),
            lambda r: bool(r["id"]),
        ),
        (
            "createStopLossOrder",
            lambda: x.create_stop_loss_order(SYM, "market", "sell", 1, None, round(last() * 0.9, 1)),
            lambda r: bool(r["id"]),
        ),
        (
            "createTakeProfitOrder",
            lambda: x.create_take_profit_order(SYM, "market", "sell", 1, None, round(last() * 1.1, 1)),
            lambda r: bool(r["id"]),
        ),
        (
            "createStopOrder",
            lambda: x.create_stop_order(SYM, "market", "sell", 1, None, round(last() * 0.8, 1)),
            lambda r: bool(r["id"]),
        ),
        (
            "createStopMarketOrder",
            lambda: x.create_stop_market_order(SYM, "sell", 1, round(last() * 0.8, 1)),
            lambda r: bool(r["id"]),
        ),
        (
            "createStopLimitOrder",
            lambda: x.create_stop_limit_order(SYM, "sell", 1, round(last() * 0.79, 1), round(last() * 0.8, 1)),
            lambda r: bool(r["id"]),
        ),
        ("createTriggerOrder", trigger, lambda r: bool(r["id"])),
        (
            "createTrailingPercentOrder",
            lambda: x.create_trailing_percent_order(SYM, "market", "sell", 1, None, 1.0),
            lambda r: bool(r["id"]),
        ),
        (
            "createOrderWithTakeProfitAndStopLoss",
            lambda: x.create_order_with_take_profit_and_stop_loss(
                SYM, "market", "buy", 1, None, round(last() * 1.1, 1), round(last() * 0.9, 1)
            ),
            lambda r: bool(r["id"]),
        ),
        (
            "createOrders",
            lambda: x.create_orders(
                [
                    {"symbol": SYM, "type": "limit", "side": "buy", "amount": 1, "price": round(last() * 0.9, 1)},
                    {"symbol": SYM, "type": "limit", "side": "buy", "amount": 1, "price": round(last() * 0.91, 1)},
                ]
            ),
            lambda r: len(r) == 2 and all(o["id"] for o in r),
        ),
        ("cancelAllOrdersAfter", cancel_all_after, None),
        (
            "fetchLedger",
            lambda: (adv(9 * H), x.fetch_ledger("USDT", params={"type": "swap"}))[1],
            lambda r: len(r) >= 3,
        ),
        ("fetchFundingHistory", lambda: x.fetch_funding_history(SYM), lambda r: len(r) >= 1),
        ("closePosition", lambda: x.close_position(SYM, params={"marginMode": "isolated"}), None),
        ("fetchPositionsHistory", lambda: x.fetch_positions_history([SYM]), lambda r: len(r) >= 1),
    ]
    return calls


def ccxt_methods() -> list[str]:
    import ccxt

    has = ccxt.okx().has
    return sorted(k for k, v in has.items() if v is True and k not in FLAGS and k not in NOT_SWAP)


def okx_sdk_calls(sim) -> list[tuple[str, Callable[[], Any], Callable[[Any], bool] | None]]:
    from okx import Account, MarketData, PublicData, Status, Trade, TradingData

    kw = dict(
        api_key=sim.api_key, api_secret_key=sim.secret, passphrase=sim.passphrase, flag="1", domain=sim.url, debug=False
    )
    tr, ac = Trade.TradeAPI(**kw), Account.AccountAPI(**kw)
    md, pd = MarketData.MarketAPI(**kw), PublicData.PublicAPI(**kw)
    stt, td = Status.StatusAPI(**kw), TradingData.TradingDataAPI(**kw)
    st: dict[str, Any] = {}

    def d(r) -> list:
        if r.get("code") != "0":
            raise RuntimeError(f"code {r.get('code')}: {r.get('msg')} {str(r.get('data'))[:120]}")
        return r["data"]

    def last() -> float:
        return float(d(md.get_ticker(INST))[0]["last"])

    def px(f: float) -> str:
        return f"{round(last() * f, 1)}"

    def place():
        r = tr.place_order(INST, "isolated", "buy", "limit", "1", px=px(0.9), clOrdId="bench1")
        st["ord"] = d(r)[0]["ordId"]
        return r

    def algo():
        r = tr.place_algo_order(
            instId=INST,
            tdMode="isolated",
            side="sell",
            ordType="conditional",
            sz="1",
            slTriggerPx=px(0.8),
            slOrdPx="-1",
        )
        st["algo"] = d(r)[0]["algoId"]
        return r

    def market_buy():
        r = tr.place_order(INST, "isolated", "buy", "market", "3")
        sim.clock.advance(60_000)
        return r

    S = lambda r: bool(d(r))  # noqa: E731 - a non-empty data list
    Z = lambda r: d(r) is not None  # noqa: E731 - code 0 (data may be empty)
    return [
        # Public
        ("Status.status", lambda: stt.status(), Z),
        ("PublicData.get_system_time", lambda: pd.get_system_time(), S),
        ("PublicData.get_instruments", lambda: pd.get_instruments("SWAP"), S),
        ("PublicData.get_open_interest", lambda: pd.get_open_interest("SWAP", instId=INST), S),
        ("PublicData.get_funding_rate", lambda: pd.get_funding_rate(INST), S),
        ("PublicData.funding_rate_history", lambda: pd.funding_rate_history(INST, limit="5"), S),
        ("PublicData.get_price_limit", lambda: pd.get_price_limit(INST), S),
        ("PublicData.get_mark_price", lambda: pd.get_mark_price("SWAP", instId=INST), S),
        ("PublicData.get_position_tiers", lambda: pd.get_position_tiers("SWAP", "isolated", instFamily="BTC-USDT"), S),
        ("PublicData.get_underlying", lambda: pd.get_underlying("SWAP"), S),
        ("PublicData.get_insurance_fund", lambda: pd.get_insurance_fund("SWAP", instFamily="BTC-USDT"), S),
        (
            "PublicData.get_convert_contract_coin",
            lambda: pd.get_convert_contract_coin(instId=INST, sz="0.5", px="60000", unit="coin"),
            S,
        ),
        ("MarketData.get_tickers", lambda: md.get_tickers("SWAP"), S),
        ("MarketData.get_ticker", lambda: md.get_ticker(INST), S),
        ("MarketData.get_index_tickers", lambda: md.get_index_tickers(instId="BTC-USDT"), S),
        ("MarketData.get_orderbook", lambda: md.get_orderbook(INST, sz="10"), lambda r: len(d(r)[0]["bids"]) == 10),
        ("MarketData.get_candlesticks", lambda: md.get_candlesticks(INST, bar="1H", limit="10"), S),
        ("MarketData.get_history_candlesticks", lambda: md.get_history_candlesticks(INST, bar="1H", limit="10"), S),
        ("MarketData.get_index_candlesticks", lambda: md.get_index_candlesticks("BTC-USDT", bar="1H", limit="10"), S),
        (
            "MarketData.get_mark_price_candlesticks",
            lambda: md.get_mark_price_candlesticks(INST, bar="1H", limit="10"),
            S,
        ),
        ("MarketData.get_trades", lambda: md.get_trades(INST, limit="10"), S),
        ("MarketData.get_history_trades", lambda: md.get_history_trades(instId=INST, limit="10"), S),
        ("MarketData.get_volume", lambda: md.get_volume(), S),
        ("MarketData.get_exchange_rate", lambda: md.get_exchange_rate(), S),
        ("MarketData.get_index_components", lambda: md.get_index_components("BTC-USDT"), S),
        ("TradingData.get_support_coin", lambda: td.get_support_coin(), S),
        ("TradingData.get_taker_volume", lambda: td.get_taker_volume("BTC", "CONTRACTS", period="1H"), S),
        ("TradingData.get_long_short_ratio", lambda: td.get_long_short_ratio("BTC", period="1H"), S),
        ("TradingData.get_contracts_interest_volume", lambda: td.get_contracts_interest_volume("BTC", period="1H"), S),
        (
            "TradingData.get_open_interest_history",
            lambda: td.get_open_interest_history(INST, period="1H", limit="5"),
            S,
        ),
        # Account
        ("Account.get_account_config", lambda: ac.get_account_config(), S),
        ("Account.get_account_balance", lambda: ac.get_account_balance(), S),
        ("Account.get_instruments", lambda: ac.get_instruments("SWAP"), S),
        ("Account.get_fee_rates", lambda: ac.get_fee_rates("SWAP", instFamily="BTC-USDT"), S),
        ("Account.set_position_mode", lambda: ac.set_position_mode("net_mode"), S),
        ("Account.set_isolated_mode", lambda: ac.set_isolated_mode("automatic", "CONTRACTS"), S),
        ("Account.set_leverage", lambda: ac.set_leverage("10", "isolated", instId=INST), S),
        ("Account.get_leverage", lambda: ac.get_leverage("isolated", instId=INST), S),
        ("Account.get_max_order_size", lambda: ac.get_max_order_size(INST, "isolated"), S),
        ("Account.get_max_avail_size", lambda: ac.get_max_avail_size(INST, "isolated"), S),
        ("Account.get_max_withdrawal", lambda: ac.get_max_withdrawal("USDT"), S),
        ("Account.get_account_position_tiers", lambda: ac.get_account_position_tiers("SWAP", instFamily="BTC-USDT"), Z),
        # Trade
        ("Trade.place_order", place, S),
        ("Trade.amend_order", lambda: tr.amend_order(INST, ordId=st["ord"], newSz="2"), S),
        ("Trade.get_order", lambda: tr.get_order(INST, ordId=st["ord"]), lambda r: d(r)[0]["sz"] == "2"),
        ("Trade.get_order_list", lambda: tr.get_order_list(instType="SWAP"), S),
        (
            "Trade.amend_multiple_orders",
            lambda: tr.amend_multiple_orders([{"instId": INST, "ordId": st["ord"], "newPx": px(0.89)}]),
            S,
        ),
        ("Trade.cancel_order", lambda: tr.cancel_order(INST, ordId=st["ord"]), S),
        (
            "Trade.place_multiple_orders",
            lambda: tr.place_multiple_orders(
                [
                    {"instId": INST, "tdMode": "isolated", "side": "buy", "ordType": "limit", "sz": "1", "px": px(0.9)},
                    {
                        "instId": INST,
                        "tdMode": "isolated",
                        "side": "buy",
                        "ordType": "limit",
                        "sz": "1",
                        "px": px(0.91),
                    },
                ]
            ),
            S,
        ),
        (
            "Trade.cancel_multiple_orders",
            lambda: tr.cancel_multiple_orders(
                [{"instId": INST, "ordId": o["ordId"]} for o in d(tr.get_order_list(instType="SWAP"))]
            ),
            S,
        ),
        ("Trade.market order", market_buy, S),
        ("Account.get_positions", lambda: ac.get_positions("SWAP"), S),
        ("Account.get_position_risk", lambda: ac.get_position_risk("SWAP"), S),
        ("Account.adjustment_margin", lambda: ac.adjustment_margin(INST, "net", "add", "10"), S),
        ("Trade.place_algo_order", algo, S),
        ("Trade.amend_algo_order", lambda: tr.amend_algo_order(instId=INST, algoId=st["algo"], newSz="2"), S),
        ("Trade.get_algo_order_details", lambda: tr.get_algo_order_details(algoId=st["algo"]), S),
        ("Trade.order_algos_list", lambda: tr.order_algos_list("conditional"), S),
        ("Trade.cancel_algo_order", lambda: tr.cancel_algo_order([{"instId": INST, "algoId": st["algo"]}]), S),
        ("Trade.order_algos_history", lambda: tr.order_algos_history("conditional", state="canceled"), S),
        ("Trade.get_fills", lambda: tr.get_fills(instType="SWAP"), S),
        ("Trade.get_fills_history", lambda: tr.get_fills_history("SWAP"), S),
        ("Account.get_account_bills", lambda: (sim.clock.advance(9 * H), ac.get_account_bills())[1], S),
        ("Account.get_account_bills_archive", lambda: ac.get_account_bills_archive(), S),
        ("Trade.close_positions", lambda: tr.close_positions(INST, "isolated"), S),
        ("Trade.get_orders_history", lambda: tr.get_orders_history("SWAP"), S),
        ("Trade.get_orders_history_archive", lambda: tr.get_orders_history_archive("SWAP"), S),
        ("Account.get_positions_history", lambda: ac.get_positions_history("SWAP"), S),
    ]


def table(title: str, results: list[Result], universe: list[str] | None = None) -> float:
    names = {r.name.split("(")[0] for r in results}
    missing = [m for m in (universe or []) if m not in names]
    ok = sum(r.ok for r in results if "(" not in r.name)
    total = len([r for r in results if "(" not in r.name]) + len(missing)
    print(f"\n{title}")
    print(f"{'call':<44} result")
    for r in results:
        print(f"{r.name:<44} {('ok  ' + r.note).strip() if r.ok else 'FAIL  ' + r.note}")
    for m in missing:
        print(f"{m:<44} NOT CALLED (no case in the benchmark)")
    pct = 100.0 * ok / total if total else 0.0
    print(f"{title}: {ok} of {total} answered ({pct:.1f} %)")
    return pct


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--verbose", action="store_true", help="print each failure's traceback")
    args = ap.parse_args(argv)
    import logging

    logging.disable(logging.CRITICAL)
    from cockpit.sim import start_simulator

    with start_simulator({"history_days": 20}, port=0, speed=0) as sim:
        x = ccxt_client(sim)
        cc = _run(ccxt_calls(sim, x), args.verbose, x)
    with start_simulator({"history_days": 20}, port=0, speed=0) as sim:
        sdk = _run(okx_sdk_calls(sim), args.verbose)
    p1 = table("ccxt okx (unified REST methods for a swap account)", cc, ccxt_methods())
    p2 = table("python-okx (functional calls for a swap account)", sdk)
    print(f"\nccxt: {p1:.1f} %   python-okx: {p2:.1f} %   (target >= 95 % each)")
    print("not applicable to a swap account (not counted): " + ", ".join(sorted(NOT_SWAP)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
