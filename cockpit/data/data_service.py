"""DataService: the only read API for business code, the engine and the UI.

Reads go straight to SQLite through the Peewee connection (one per thread) and return plain
Python objects: DataFrames / numpy arrays for market data, dicts for everything else. Live panes
poll with ``since_id`` ("rows newer than the last one I saw"), so the UI works the same whether
the engine runs in-process or in another process.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import numpy as np
import pandas as pd
import peewee

from cockpit.db.connection import database_proxy
from cockpit.db.dialect import list_tables
from cockpit.domain.market import timeframe_ms

CANDLE_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")

# Tables a pane may follow with rows_since(); names are fixed here so no caller builds SQL.
FOLLOWABLE = {
    "decisions", "orders", "order_lifecycle_events", "trades", "risk_events", "llm_runs", "ingestion_runs",
    "position_snapshots", "balances", "backtest_results", "operator_commands", "price_snapshots",
}

_JSON_COLUMNS = {"technical_analysis", "risk_assessment", "weights", "metrics", "payload", "strategy_params"}


def _rows(cursor) -> list[dict[str, Any]]:
    cols = [d[0] for d in cursor.description]
    return [dict(zip(cols, r)) for r in cursor.fetchall()]


def _decode(rows: list[dict[str, Any]], columns: Iterable[str] = _JSON_COLUMNS) -> list[dict[str, Any]]:
    for r in rows:
        for c in columns:
            v = r.get(c)
            if isinstance(v, str) and v[:1] in "[{":
                try:
                    r[c] = json.loads(v)
                except ValueError:
                    pass
    return rows


class DataService:
    def __init__(self, db: peewee.Database | None = None) -> None:
        self._db = db if db is not None else database_proxy

    def _q(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        return _rows(self._db.execute_sql(sql, params))

    # ------------------------------------------------------------- candles

    def candle_arrays(self, symbol: str, timeframe: str, *, limit: int | None = None, start: int | None = None,
                      end: int | None = None) -> dict[str, np.ndarray]:
        """Candles in ascending time as numpy arrays keyed by column (the fast path).

        ``limit`` keeps the newest N within the range; ``start``/``end`` are inclusive epoch ms.
        """
        where = ["symbol = ?", "timeframe = ?"]
        params: list[Any] = [symbol, timeframe]
        if start is not None:
            where.append("timestamp >= ?")
            params.append(int(start))
        if end is not None:
            where.append("timestamp <= ?")
            params.append(int(end))
        sql = f"SELECT timestamp, open, high, low, close, volume FROM market_data WHERE {' AND '.join(where)}"
        if limit is not None:
            sql += " ORDER BY timestamp DESC LIMIT ?"
            params.append(int(limit))
        else:
            sql += " ORDER BY timestamp ASC"
        rows = self._db.execute_sql(sql, params).fetchall()
        if limit is not None:
            rows.reverse()
        if not rows:
            return {c: np.empty(0, dtype=np.int64 if c == "timestamp" else np.float64) for c in CANDLE_COLUMNS}
        # One conversion of the row tuples, one transpose so each column is contiguous (epoch ms are
        # exact in float64 up to 2**53).
        cols = np.array(rows, dtype=np.float64).T.copy()
        out = {c: cols[i] for i, c in enumerate(CANDLE_COLUMNS)}
        out["timestamp"] = cols[0].astype(np.int64)
        return out

    def candles(self, symbol: str, timeframe: str, *, limit: int | None = None, start: int | None = None,
                end: int | None = None) -> pd.DataFrame:
        """Candles as a DataFrame (columns timestamp, open, high, low, close, volume), oldest first."""
        return pd.DataFrame(self.candle_arrays(symbol, timeframe, limit=limit, start=start, end=end),
                            columns=list(CANDLE_COLUMNS))

    def first_candle_time(self, symbol: str, timeframe: str) -> int | None:
        """Open time of the oldest stored candle (the chart's Home)."""
        r = self._db.execute_sql("SELECT MIN(timestamp) FROM market_data WHERE symbol=? AND timeframe=?",
                                 [symbol, timeframe]).fetchone()
        return r[0] if r and r[0] is not None else None

    def latest_candle_time(self, symbol: str, timeframe: str, *, end: int | None = None) -> int | None:
        """Open time of the newest stored candle (with ``end``: the newest at or before it, e.g. so that
        a row dated beyond the exchange clock is not taken for the newest bar)."""
        sql, params = "SELECT MAX(timestamp) FROM market_data WHERE symbol=? AND timeframe=?", [symbol, timeframe]
        if end is not None:
            sql += " AND timestamp <= ?"
            params.append(int(end))
        r = self._db.execute_sql(sql, params).fetchone()
        return r[0] if r and r[0] is not None else None

    def coverage(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Per symbol and timeframe: rows, first, last and the number of missing grid points."""
        sql = ("SELECT symbol, timeframe, COUNT(*) AS rows, MIN(timestamp) AS first, MAX(timestamp) AS last "
               "FROM market_data" + (" WHERE symbol = ?" if symbol else "") + " GROUP BY symbol, timeframe")
        out = self._q(sql, (symbol,) if symbol else ())
        for r in out:
            try:
                step = timeframe_ms(r["timeframe"])
            except ValueError:
                r["gaps"] = None
                continue
            expected = (r["last"] - r["first"]) // step + 1
            r["gaps"] = int(expected - r["rows"])
        out.sort(key=lambda r: (r["symbol"], timeframe_ms(r["timeframe"]) if r.get("gaps") is not None else 0))
        return out

    def gaps(self, symbol: str, timeframe: str, *, start: int | None = None, end: int | None = None) -> list[tuple[int, int]]:
        """Missing grid ranges as (first_missing_ts, last_missing_ts), inclusive."""
        ts = self.candle_arrays(symbol, timeframe, start=start, end=end)["timestamp"]
        if len(ts) < 2:
            return []
        step = timeframe_ms(timeframe)
        d = np.diff(ts)
        idx = np.nonzero(d > step)[0]
        return [(int(ts[i] + step), int(ts[i + 1] - step)) for i in idx]

    # ------------------------------------------------------------- derivatives

    def funding_rates(self, symbol: str, *, start: int | None = None, end: int | None = None,
                      limit: int | None = None) -> pd.DataFrame:
        where, params = ["symbol = ?"], [symbol]
        if start is not None:
            where.append("timestamp >= ?")
            params.append(int(start))
        if end is not None:
            where.append("timestamp <= ?")
            params.append(int(end))
        sql = f"SELECT timestamp, funding_rate, next_funding_time FROM funding_rates WHERE {' AND '.join(where)}"
        if limit is not None:
            rows = self._q(sql + " ORDER BY timestamp DESC LIMIT ?", params + [int(limit)])[::-1]
        else:
            rows = self._q(sql + " ORDER BY timestamp ASC", params)
        return pd.DataFrame(rows, columns=["timestamp", "funding_rate", "next_funding_time"])

    def latest_price_snapshot(self, symbol: str) -> dict[str, Any] | None:
        r = self._q("SELECT * FROM price_snapshots WHERE symbol=? ORDER BY timestamp DESC LIMIT 1", (symbol,))
        return r[0] if r else None

    def open_interest(self, symbol: str, *, limit: int = 100) -> list[dict[str, Any]]:
        return self._q("SELECT * FROM open_interest WHERE symbol=? ORDER BY timestamp DESC LIMIT ?", (symbol, limit))[::-1]

    def long_short_ratio(self, symbol: str, *, limit: int = 100) -> list[dict[str, Any]]:
        return self._q("SELECT * FROM long_short_ratio WHERE symbol=? ORDER BY timestamp DESC LIMIT ?",
                       (symbol, limit))[::-1]

    # ------------------------------------------------------------- decisions, LLM

    def decisions(self, *, symbol: str | None = None, limit: int = 50, since_id: int = 0) -> list[dict[str, Any]]:
        """Newest first."""
        sql = "SELECT * FROM decisions WHERE id > ?" + (" AND symbol = ?" if symbol else "") + " ORDER BY id DESC LIMIT ?"
        params = [since_id] + ([symbol] if symbol else []) + [limit]
        return _decode(self._q(sql, params))

    def decision(self, decision_id: int) -> dict[str, Any] | None:
        r = _decode(self._q("SELECT * FROM decisions WHERE id = ?", (decision_id,)))
        return r[0] if r else None

    def decisions_between(self, *, start: int | None = None, end: int | None = None,
                          symbol: str | None = None) -> list[dict[str, Any]]:
        """Decisions with start <= timestamp <= end (ms), oldest first (offline training reads these)."""
        where, params = ["1 = 1"], []
        for cond, v in (("timestamp >= ?", start), ("timestamp <= ?", end), ("symbol = ?", symbol)):
            if v is not None:
                where.append(cond)
                params.append(v)
        return _decode(self._q(f"SELECT * FROM decisions WHERE {' AND '.join(where)} ORDER BY timestamp, id", params))

    def llm_run(self, run_id: int) -> dict[str, Any] | None:
        r = self._q("SELECT * FROM llm_runs WHERE id = ?", (run_id,))
        return r[0] if r else None

    def llm_runs(self, *, limit: int = 50, since_id: int = 0) -> list[dict[str, Any]]:
        return self._q("SELECT * FROM llm_runs WHERE id > ? ORDER BY id DESC LIMIT ?", (since_id, limit))

    def llm_tokens_since(self, since_ms: int) -> int:
        # A negative count (an old row that trusted the provider) never gives budget back.
        r = self._db.execute_sql("SELECT COALESCE(SUM(CASE WHEN prompt_tokens > 0 THEN prompt_tokens ELSE 0 END"
                                 " + CASE WHEN completion_tokens > 0 THEN completion_tokens ELSE 0 END),0) "
                                 "FROM llm_runs WHERE timestamp >= ?", (since_ms,)).fetchone()
        return int(r[0] or 0)

    def prompt_versions(self, name: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM prompt_versions" + (" WHERE name = ?" if name else "") + " ORDER BY id DESC"
        return self._q(sql, (name,) if name else ())

    def prompt_version(self, name: str, version: str) -> dict[str, Any] | None:
        r = self._q("SELECT * FROM prompt_versions WHERE name = ? AND version = ?", (name, version))
        return r[0] if r else None

    def model_versions(self, name: str | None = None) -> list[dict[str, Any]]:
        """Newest first; ``metadata`` decoded from JSON."""
        sql = "SELECT * FROM model_versions" + (" WHERE name = ?" if name else "") + " ORDER BY id DESC"
        return _decode(self._q(sql, (name,) if name else ()), {"metadata"})

    def model_version(self, name: str, version: str) -> dict[str, Any] | None:
        r = _decode(self._q("SELECT * FROM model_versions WHERE name = ? AND version = ?", (name, version)),
                    {"metadata"})
        return r[0] if r else None

    def strategy_scores(self, *, version: str | None = None, status: str = "published") -> list[dict[str, Any]]:
        """The score table of ``version``, or of the newest version with ``status``."""
        if version is None:
            r = self._db.execute_sql("SELECT version FROM strategy_scores WHERE status = ? ORDER BY id DESC LIMIT 1",
                                     (status,)).fetchone()
            if not r:
                return []
            version = r[0]
        return self._q("SELECT * FROM strategy_scores WHERE version = ? ORDER BY strategy, regime", (version,))

    # ------------------------------------------------------------- orders, fills, positions

    def orders(self, *, status: str | Iterable[str] | None = None, limit: int = 100, since_id: int = 0,
               symbol: str | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        where, params = ["id > ?"], [since_id]
        if status is not None:
            sts = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({','.join('?' * len(sts))})")
            params += sts
        if symbol:
            where.append("symbol = ?")
            params.append(symbol)
        return _decode(self._q(f"SELECT * FROM orders WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                               params + [limit]))

    def order(self, order_id: int) -> dict[str, Any] | None:
        r = _decode(self._q("SELECT * FROM orders WHERE id = ?", (order_id,)))
        return r[0] if r else None

    def order_by_client_id(self, client_order_id: str) -> dict[str, Any] | None:
        r = _decode(self._q("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)))
        return r[0] if r else None

    def order_events(self, order_id: int) -> list[dict[str, Any]]:
        """Oldest first: the order's timeline."""
        return self._q("SELECT * FROM order_lifecycle_events WHERE order_id = ? ORDER BY id ASC", (order_id,))

    def trades(self, *, order_id: int | None = None, symbol: str | None = None, limit: int = 200,
               since_id: int = 0, start: int | None = None) -> list[dict[str, Any]]:
        where, params = ["id > ?"], [since_id]
        if order_id is not None:
            where.append("order_id = ?")
            params.append(order_id)
        if symbol:
            where.append("symbol = ?")
            params.append(symbol)
        if start is not None:
            where.append("timestamp >= ?")
            params.append(start)
        return self._q(f"SELECT * FROM trades WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", params + [limit])

    def trades_between(self, *, start: int | None = None, end: int | None = None,
                       symbol: str | None = None) -> list[dict[str, Any]]:
        """Fills with start <= timestamp < end (ms), oldest first (offline training: fees in a window)."""
        where, params = ["1 = 1"], []
        for cond, v in (("timestamp >= ?", start), ("timestamp < ?", end), ("symbol = ?", symbol)):
            if v is not None:
                where.append(cond)
                params.append(v)
        return self._q(f"SELECT * FROM trades WHERE {' AND '.join(where)} ORDER BY timestamp, id", params)

    def positions(self, symbol: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM positions" + (" WHERE symbol = ?" if symbol else "") + " ORDER BY updated_at DESC, id DESC"
        return self._q(sql, (symbol,) if symbol else ())

    def position_snapshots(self, symbol: str, *, limit: int = 100, since_id: int = 0) -> list[dict[str, Any]]:
        return self._q("SELECT * FROM position_snapshots WHERE symbol = ? AND id > ? ORDER BY id DESC LIMIT ?",
                       (symbol, since_id, limit))

    def latest_position_snapshot(self, symbol: str) -> dict[str, Any] | None:
        r = self.position_snapshots(symbol, limit=1)
        return r[0] if r else None

    def balances(self, currency: str = "USDT", *, limit: int = 100, start: int | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        if start is not None:
            return self._q("SELECT * FROM balances WHERE currency=? AND timestamp >= ? ORDER BY timestamp DESC LIMIT ?",
                           (currency, start, limit))
        return self._q("SELECT * FROM balances WHERE currency=? ORDER BY timestamp DESC LIMIT ?", (currency, limit))

    def latest_balance(self, currency: str = "USDT") -> dict[str, Any] | None:
        r = self.balances(currency, limit=1)
        return r[0] if r else None

    # ------------------------------------------------------------- risk, ingestion, engine state

    def risk_events(self, *, symbol: str | None = None, limit: int = 100, since_id: int = 0,
                    level: str | None = None, rule: str | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        where, params = ["id > ?"], [since_id]
        for col, v in (("symbol", symbol), ("level", level), ("rule", rule)):
            if v:
                where.append(f"{col} = ?")
                params.append(v)
        return self._q(f"SELECT * FROM risk_events WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                       params + [limit])

    def ingestion_runs(self, *, limit: int = 50, since_id: int = 0, status: str | None = None) -> list[dict[str, Any]]:
        where, params = ["id > ?"], [since_id]
        if status:
            where.append("status = ?")
            params.append(status)
        return self._q(f"SELECT * FROM ingestion_runs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                       params + [limit])

    def engine_state(self, key: str) -> str | None:
        r = self._db.execute_sql("SELECT value FROM engine_state WHERE key = ?", (key,)).fetchone()
        return r[0] if r else None

    def engine_state_row(self, key: str) -> dict[str, Any] | None:
        r = self._q("SELECT * FROM engine_state WHERE key = ?", (key,))
        return r[0] if r else None

    def operator_commands(self, *, status: str | None = "pending", limit: int = 100,
                          since_id: int = 0) -> list[dict[str, Any]]:
        """Oldest first (the order the engine executes them)."""
        where, params = ["id > ?"], [since_id]
        if status:
            where.append("status = ?")
            params.append(status)
        return _decode(self._q(f"SELECT * FROM operator_commands WHERE {' AND '.join(where)} ORDER BY id ASC LIMIT ?",
                               params + [limit]))

    # ------------------------------------------------------------- backtests

    def backtest_results(self, *, limit: int = 50, since_id: int = 0) -> list[dict[str, Any]]:
        """Newest first, with their config, without the large equity/trade JSON."""
        return _decode(self._q(
            "SELECT r.id, r.config_id, r.total_return, r.max_drawdown, r.sharpe_ratio, r.profit_factor, r.total_trades,"
            " r.profitable_trades, r.win_rate, r.final_equity, r.created_at, r.status, r.metrics, c.name, c.symbol,"
            " c.timeframe, c.start_time, c.end_time, c.initial_capital, c.commission_rate, c.strategy,"
            " c.strategy_params, c.slippage_bps, c.leverage"
            " FROM backtest_results r JOIN backtest_configs c ON c.id = r.config_id"
            " WHERE r.id > ? ORDER BY r.id DESC LIMIT ?", (since_id, limit)))

    def backtest_result(self, result_id: int) -> dict[str, Any] | None:
        r = self._q("SELECT r.*, c.name, c.symbol, c.timeframe, c.start_time, c.end_time, c.initial_capital,"
                    " c.commission_rate, c.strategy, c.strategy_params, c.slippage_bps, c.leverage"
                    " FROM backtest_results r JOIN backtest_configs c ON c.id = r.config_id WHERE r.id = ?",
                    (result_id,))
        return _decode(r, _JSON_COLUMNS | {"equity_curve", "trade_log"})[0] if r else None

    def backtest_orders(self, result_id: int) -> list[dict[str, Any]]:
        return self._q("SELECT * FROM backtest_orders WHERE backtest_id = ? ORDER BY id", (result_id,))

    def backtest_config(self, config_id: int) -> dict[str, Any] | None:
        r = _decode(self._q("SELECT * FROM backtest_configs WHERE id = ?", (config_id,)))
        return r[0] if r else None

    # ------------------------------------------------------------- generic follow

    def rows_since(self, table: str, last_id: int = 0, *, limit: int = 500) -> list[dict[str, Any]]:
        """Rows of ``table`` with id > last_id, oldest first: how live panes follow the database."""
        if table not in FOLLOWABLE:
            raise ValueError(f"rows_since: {table!r} is not followable; allowed: {', '.join(sorted(FOLLOWABLE))}")
        return _decode(self._q(f"SELECT * FROM {table} WHERE id > ? ORDER BY id ASC LIMIT ?", (last_id, limit)))

    def max_id(self, table: str) -> int:
        if table not in FOLLOWABLE:
            raise ValueError(f"max_id: {table!r} is not followable")
        r = self._db.execute_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()
        return int(r[0])

    def table_counts(self) -> dict[str, int]:
        names = list_tables(self._db)
        return {n: int(self._db.execute_sql(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]) for n in names}
