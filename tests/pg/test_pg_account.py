"""The position line's and the closed-trades list's reads (cockpit.data.account, migration 003) give the same
on PostgreSQL as on SQLite."""

from __future__ import annotations


def _write() -> None:
    from cockpit.data.order_store import OrderStore
    from cockpit.db import models as m
    from cockpit.domain.orders import Fill, Order, OrderStatus, Position

    st = OrderStore()
    a, _ = st.create(
        Order("BTC/USDT:USDT", "buy", "market", 0.02, client_order_id="ckpg01d1l0"),
        now_ms=1_000,
        status=OrderStatus.APPROVED,
    )
    b, _ = st.create(
        Order("BTC/USDT:USDT", "sell", "market", 0.02, reduce_only=True, client_order_id="ckpg01xE1"),
        now_ms=5_000,
        status=OrderStatus.APPROVED,
        reason="stop-loss triggered",
    )
    st.record_fill(a, "BTC/USDT:USDT", Fill("ckpg01d1l0", "buy", 60_000.0, 0.02, 0.6, "USDT", 1_000, "t1", 0.0))
    st.record_position(
        Position(
            "BTC/USDT:USDT",
            "long",
            0.02,
            60_000.0,
            2.0,
            5.0,
            600.0,
            30_000.0,
            60_250.0,
            funding_fee=-0.42,
            margin_ratio=0.031,
        ),
        now_ms=3_000,
    )
    st.record_fill(b, "BTC/USDT:USDT", Fill("", "sell", 59_000.0, 0.02, 0.59, "USDT", 5_000, "t2", -20.0))
    for i, eq in enumerate((10_000.0, 10_010.0, 9_990.0, 9_978.8)):
        m.Balance.create(currency="USDT", timestamp=1_000 + i * 1_000, total=eq, free=eq, used=0.0)


def _read(db) -> dict:
    from cockpit.data import DataService
    from cockpit.data.account import AccountReads, closed_trades, realised

    r = AccountReads(db)
    trades, open_trade = closed_trades(r, "BTC/USDT:USDT")
    return {
        "trades": trades,
        "open": open_trade,
        "realised": round(realised(r.fills_with_orders("BTC/USDT:USDT")), 6),
        "equity": [round(x, 6) for x in r.equity_series(buckets=4)],
        "snapshot": {
            k: DataService(db).latest_position_snapshot("BTC/USDT:USDT")[k] for k in ("funding_fee", "margin_ratio")
        },
    }


def test_account_reads_match_sqlite(db, pg_db):
    from cockpit.db import database_proxy

    database_proxy.initialize(db)
    _write()
    on_sqlite = _read(db)
    database_proxy.initialize(pg_db)
    _write()
    on_pg = _read(pg_db)
    assert on_pg == on_sqlite
    (t,) = on_pg["trades"]
    assert (t["exit_reason"], t["pnl"], t["funding"]) == ("stop-loss", -20.0, -0.42)
    assert on_pg["realised"] == round(-20.0 - 0.6 - 0.59, 6)
    assert on_pg["snapshot"] == {"funding_fee": -0.42, "margin_ratio": 0.031}
    assert len(on_pg["equity"]) == 4 and on_pg["equity"][0] == 10_000.0
