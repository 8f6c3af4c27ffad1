"""DataService: the only read API for business code, the engine and the UI.

Queries are built with Peewee's query builder (one query serves SQLite and PostgreSQL) and run on
the Peewee connection (one per thread); rows come back as the driver gives them (no model objects) and
are returned as plain Python objects: DataFrames / numpy arrays for market data, dicts keyed by
column name for everything else. Live panes poll with ``since_id`` ("rows newer than the last one I
saw"), so the UI works the same whether the engine runs in-process or in another process.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import peewee
from peewee import SQL, Case, fn

from cockpit.db import compiled
from cockpit.db import models as m
from cockpit.db.connection import database_proxy
from cockpit.db.portable import list_tables
from cockpit.domain.market import timeframe_ms

CANDLE_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")

# Tables a pane may follow with rows_since(); names are fixed here so no caller builds SQL.
FOLLOWABLE = {
    "decisions",
    "orders",
    "order_lifecycle_events",
    "trades",
    "risk_events",
    "llm_runs",
    "ingestion_runs",
    "position_snapshots",
    "balances",
    "backtest_results",
    "operator_commands",
    "price_snapshots",
}

_MODELS: dict[str, type[m.BaseModel]] = {model._meta.table_name: model for model in m.ALL_MODELS}

# The config columns shown beside a backtest result.
_CONFIG_COLUMNS = (
    m.BacktestConfig.name,
    m.BacktestConfig.symbol,
    m.BacktestConfig.timeframe,
    m.BacktestConfig.start_time,
    m.BacktestConfig.end_time,
    m.BacktestConfig.initial_capital,
    m.BacktestConfig.commission_rate,
    m.BacktestConfig.strategy,
    m.BacktestConfig.strategy_params,
    m.BacktestConfig.slippage_bps,
    m.BacktestConfig.leverage,
)

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
    def __init__(self, db: peewee.Database | peewee.DatabaseProxy | None = None) -> None:
        self._db = db if db is not None else database_proxy

    def _q(self, query: peewee.Query | str, params: tuple | list = ()) -> list[dict[str, Any]]:
        """Rows of ``query`` as dicts keyed by column name, values as the driver returns them. A string
        is run as written (tests dump tables with it); every method here passes a Peewee query."""
        return _rows(self._db.execute(SQL(query, params) if isinstance(query, str) else query))

    def _run(self, key: tuple, build: Callable[..., peewee.Query], *args: Any):
        """``build(*args)``'s cursor, its SQL generated once per database and query shape (cockpit.db.compiled:
        the hot reads of the live loop)."""
        return compiled.run(self._db, key, build, *args)

    def _time_range(
        self,
        name: str,
        select: Callable[..., peewee.Query],
        ts: peewee.Field,
        head: tuple,
        start: int | None,
        end: int | None,
        limit: int | None,
    ):
        """The cursor of ``select(*head)`` narrowed to ``ts`` in [start, end] (inclusive epoch ms; None: open),
        ascending, or with ``limit`` the newest ``limit`` rows descending (the caller reverses them). Compiled
        once per database and per which bounds are given (_run)."""

        def build(*args):
            query = select(*args[: len(head)])
            it = iter(args[len(head) :])
            if start is not None:
                query = query.where(ts >= next(it))
            if end is not None:
                query = query.where(ts <= next(it))
            if limit is not None:
                return query.order_by(ts.desc()).limit(next(it))
            return query.order_by(ts.asc())

        bounds = tuple(int(v) for v in (start, end, limit) if v is not None)
        return self._run((name, start is None, end is None, limit is None), build, *head, *bounds)

    def _one(self, query: peewee.Query) -> tuple | None:
        return self._db.execute(query).fetchone()

    def _aggregate(self, query: peewee.Query) -> tuple:
        """The row of an aggregate query without GROUP BY (SQL always returns exactly one)."""
        row = self._db.execute(query).fetchone()
        assert row is not None, "an aggregate query without GROUP BY returned no row"
        return row

    # ------------------------------------------------------------- candles

    def candle_arrays(
        self, symbol: str, timeframe: str, *, limit: int | None = None, start: int | None = None, end: int | None = None
    ) -> dict[str, np.ndarray]:
        """Candles in ascending time as numpy arrays keyed by column (the fast path).

        ``limit`` keeps the newest N within the range; ``start``/``end`` are inclusive epoch ms.
        """
        c = m.MarketData
        cursor = self._time_range(
            "candle_arrays",
            lambda symbol, tf: c.select(c.timestamp, c.open, c.high, c.low, c.close, c.volume).where(
                (c.symbol == symbol) & (c.timeframe == tf)
            ),
            c.timestamp,
            (str(symbol), str(timeframe)),
            start,
            end,
            limit,
        )
        # The driver's row tuples, not Peewee's per-value conversion: this is the hot read path.
        rows = cursor.fetchall()
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

    def consistent_reads(self):
        """A transaction for reads that must see one state of the database (on SQLite's WAL one snapshot
        from the first read on)."""
        return self._db.atomic()

    def candle_fingerprint(self, symbol: str, timeframe: str, start: int, end: int) -> tuple:
        """(row count, then the sum of each column) of the candles with open time in [start, end]: one
        aggregate query that tells whether a stored range still holds exactly the rows read from it
        (ContextCache compares it with the fingerprint taken when it read them)."""

        def build(symbol, timeframe, start, end):
            c = m.MarketData
            return c.select(fn.COUNT(c.timestamp), *(fn.SUM(getattr(c, k)) for k in CANDLE_COLUMNS)).where(
                (c.symbol == symbol) & (c.timeframe == timeframe) & (c.timestamp >= start) & (c.timestamp <= end)
            )

        row = self._run(("candle_fingerprint",), build, str(symbol), str(timeframe), int(start), int(end)).fetchone()
        return tuple(row) if row else ()

    def candles(
        self, symbol: str, timeframe: str, *, limit: int | None = None, start: int | None = None, end: int | None = None
    ) -> pd.DataFrame:
        """Candles as a DataFrame (columns timestamp, open, high, low, close, volume), oldest first."""
        return pd.DataFrame(
            self.candle_arrays(symbol, timeframe, limit=limit, start=start, end=end), columns=list(CANDLE_COLUMNS)
        )

    def first_candle_time(self, symbol: str, timeframe: str) -> int | None:
        """Open time of the oldest stored candle (the chart's Home)."""
        c = m.MarketData
        r = self._one(c.select(fn.MIN(c.timestamp)).where((c.symbol == symbol) & (c.timeframe == timeframe)))
        return r[0] if r and r[0] is not None else None

    def latest_candle_time(self, symbol: str, timeframe: str, *, end: int | None = None) -> int | None:
        """Open time of the newest stored candle (with ``end``: the newest at or before it, e.g. so that
        a row dated beyond the exchange clock is not taken for the newest bar)."""
        c = m.MarketData
        query = c.select(fn.MAX(c.timestamp)).where((c.symbol == symbol) & (c.timeframe == timeframe))
        if end is not None:
            query = query.where(c.timestamp <= int(end))
        r = self._one(query)
        return r[0] if r and r[0] is not None else None

    def coverage(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Per symbol and timeframe: rows, first, last and the number of missing grid points."""
        c = m.MarketData
        query = c.select(
            c.symbol,
            c.timeframe,
            fn.COUNT(SQL("*")).alias("rows"),
            fn.MIN(c.timestamp).alias("first"),
            fn.MAX(c.timestamp).alias("last"),
        ).group_by(c.symbol, c.timeframe)
        if symbol:
            query = query.where(c.symbol == symbol)
        out = self._q(query)
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

    def gaps(
        self, symbol: str, timeframe: str, *, start: int | None = None, end: int | None = None
    ) -> list[tuple[int, int]]:
        """Missing grid ranges as (first_missing_ts, last_missing_ts), inclusive."""
        ts = self.candle_arrays(symbol, timeframe, start=start, end=end)["timestamp"]
        if len(ts) < 2:
            return []
        step = timeframe_ms(timeframe)
        d = np.diff(ts)
        idx = np.nonzero(d > step)[0]
        return [(int(ts[i] + step), int(ts[i + 1] - step)) for i in idx]

    # ------------------------------------------------------------- derivatives

    def funding_rates(
        self, symbol: str, *, start: int | None = None, end: int | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        f = m.FundingRate
        cursor = self._time_range(
            "funding_rates",
            lambda symbol: f.select(f.timestamp, f.funding_rate, f.next_funding_time).where(f.symbol == symbol),
            f.timestamp,
            (str(symbol),),
            start,
            end,
            limit,
        )
        rows = _rows(cursor)
        if limit is not None:
            rows.reverse()
        return pd.DataFrame(rows, columns=["timestamp", "funding_rate", "next_funding_time"])

    def latest_price_snapshot(self, symbol: str) -> dict[str, Any] | None:
        p = m.PriceSnapshot
        r = self._q(p.select().where(p.symbol == symbol).order_by(p.timestamp.desc()).limit(1))
        return r[0] if r else None

    def latest_index_price(self, symbol: str) -> dict[str, Any] | None:
        """The newest stored index price ({timestamp, index_price}): price rows from the streams carry
        none once the last REST one is over a minute old, so the newest row may have none."""
        p = m.PriceSnapshot
        r = self._q(
            p.select(p.timestamp, p.index_price)
            .where((p.symbol == symbol) & p.index_price.is_null(False))
            .order_by(p.timestamp.desc())
            .limit(1)
        )
        return r[0] if r else None

    def open_interest(self, symbol: str, *, limit: int = 100) -> list[dict[str, Any]]:
        o = m.OpenInterest
        return self._q(o.select().where(o.symbol == symbol).order_by(o.timestamp.desc()).limit(limit))[::-1]

    def long_short_ratio(self, symbol: str, *, limit: int = 100) -> list[dict[str, Any]]:
        r = m.LongShortRatio
        return self._q(r.select().where(r.symbol == symbol).order_by(r.timestamp.desc()).limit(limit))[::-1]

    # ------------------------------------------------------------- decisions, LLM

    def decisions(self, *, symbol: str | None = None, limit: int = 50, since_id: int = 0) -> list[dict[str, Any]]:
        """Newest first."""
        d = m.DecisionRow
        query = d.select().where(d.id > since_id)
        if symbol:
            query = query.where(d.symbol == symbol)
        return _decode(self._q(query.order_by(d.id.desc()).limit(limit)))

    def decision(self, decision_id: int) -> dict[str, Any] | None:
        d = m.DecisionRow
        r = _decode(self._q(d.select().where(d.id == decision_id)))
        return r[0] if r else None

    def decisions_between(
        self, *, start: int | None = None, end: int | None = None, symbol: str | None = None
    ) -> list[dict[str, Any]]:
        """Decisions with start <= timestamp <= end (ms), oldest first (offline training reads these)."""
        d = m.DecisionRow
        query = d.select()
        if start is not None:
            query = query.where(d.timestamp >= start)
        if end is not None:
            query = query.where(d.timestamp <= end)
        if symbol is not None:
            query = query.where(d.symbol == symbol)
        return _decode(self._q(query.order_by(d.timestamp, d.id)))

    def llm_run(self, run_id: int) -> dict[str, Any] | None:
        r = self._q(m.LLMRun.select().where(m.LLMRun.id == run_id))
        return r[0] if r else None

    def llm_runs(self, *, limit: int = 50, since_id: int = 0) -> list[dict[str, Any]]:
        run = m.LLMRun
        return self._q(run.select().where(run.id > since_id).order_by(run.id.desc()).limit(limit))

    def llm_tokens_since(self, since_ms: int) -> int:
        # A negative count (an old row that trusted the provider) never gives budget back.
        run = m.LLMRun
        spent = Case(None, [(run.prompt_tokens > 0, run.prompt_tokens)], 0) + Case(
            None, [(run.completion_tokens > 0, run.completion_tokens)], 0
        )
        r = self._aggregate(run.select(fn.COALESCE(fn.SUM(spent), 0)).where(run.timestamp >= since_ms))
        return int(r[0] or 0)

    def prompt_versions(self, name: str | None = None) -> list[dict[str, Any]]:
        p = m.PromptVersion
        query = p.select()
        if name:
            query = query.where(p.name == name)
        return self._q(query.order_by(p.id.desc()))

    def prompt_version(self, name: str, version: str) -> dict[str, Any] | None:
        p = m.PromptVersion
        r = self._q(p.select().where((p.name == name) & (p.version == version)))
        return r[0] if r else None

    def model_versions(self, name: str | None = None) -> list[dict[str, Any]]:
        """Newest first; ``metadata`` decoded from JSON."""
        v = m.ModelVersion
        query = v.select()
        if name:
            query = query.where(v.name == name)
        return _decode(self._q(query.order_by(v.id.desc())), {"metadata"})

    def model_version(self, name: str, version: str) -> dict[str, Any] | None:
        v = m.ModelVersion
        r = _decode(self._q(v.select().where((v.name == name) & (v.version == version))), {"metadata"})
        return r[0] if r else None

    def strategy_scores(self, *, version: str | None = None, status: str = "published") -> list[dict[str, Any]]:
        """The score table of ``version``, or of the newest version with ``status``."""
        s = m.StrategyScore
        if version is None:
            r = self._one(s.select(s.version).where(s.status == status).order_by(s.id.desc()).limit(1))
            if not r:
                return []
            version = r[0]
        return self._q(s.select().where(s.version == version).order_by(s.strategy, s.regime))

    # ------------------------------------------------------------- orders, fills, positions

    def orders(
        self,
        *,
        status: str | Iterable[str] | None = None,
        limit: int = 100,
        since_id: int = 0,
        symbol: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first."""
        o = m.OrderRow
        query = o.select().where(o.id > since_id)
        if status is not None:
            sts = [status] if isinstance(status, str) else list(status)
            query = query.where(o.status.in_(sts))
        if symbol:
            query = query.where(o.symbol == symbol)
        return _decode(self._q(query.order_by(o.id.desc()).limit(limit)))

    def order(self, order_id: int) -> dict[str, Any] | None:
        r = _decode(self._q(m.OrderRow.select().where(m.OrderRow.id == order_id)))
        return r[0] if r else None

    def order_by_client_id(self, client_order_id: str) -> dict[str, Any] | None:
        r = _decode(self._q(m.OrderRow.select().where(m.OrderRow.client_order_id == client_order_id)))
        return r[0] if r else None

    def order_events(self, order_id: int) -> list[dict[str, Any]]:
        """Oldest first: the order's timeline."""
        e = m.OrderLifecycleEvent
        return self._q(e.select().where(e.order == order_id).order_by(e.id.asc()))

    def trades(
        self,
        *,
        order_id: int | None = None,
        symbol: str | None = None,
        limit: int = 200,
        since_id: int = 0,
        start: int | None = None,
    ) -> list[dict[str, Any]]:
        t = m.TradeRow
        query = t.select().where(t.id > since_id)
        if order_id is not None:
            query = query.where(t.order == order_id)
        if symbol:
            query = query.where(t.symbol == symbol)
        if start is not None:
            query = query.where(t.timestamp >= start)
        return self._q(query.order_by(t.id.desc()).limit(limit))

    def trades_between(
        self, *, start: int | None = None, end: int | None = None, symbol: str | None = None
    ) -> list[dict[str, Any]]:
        """Fills with start <= timestamp < end (ms), oldest first (offline training: fees in a window)."""
        t = m.TradeRow
        query = t.select()
        if start is not None:
            query = query.where(t.timestamp >= start)
        if end is not None:
            query = query.where(t.timestamp < end)
        if symbol is not None:
            query = query.where(t.symbol == symbol)
        return self._q(query.order_by(t.timestamp, t.id))

    def positions(self, symbol: str | None = None) -> list[dict[str, Any]]:
        p = m.PositionRow
        query = p.select()
        if symbol:
            query = query.where(p.symbol == symbol)
        return self._q(query.order_by(p.updated_at.desc(), p.id.desc()))

    def position_snapshots(self, symbol: str, *, limit: int = 100, since_id: int = 0) -> list[dict[str, Any]]:
        p = m.PositionSnapshot
        return self._q(p.select().where((p.symbol == symbol) & (p.id > since_id)).order_by(p.id.desc()).limit(limit))

    def latest_position_snapshot(self, symbol: str) -> dict[str, Any] | None:
        r = self.position_snapshots(symbol, limit=1)
        return r[0] if r else None

    def balances(self, currency: str = "USDT", *, limit: int = 100, start: int | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        b = m.Balance
        query = b.select().where(b.currency == currency)
        if start is not None:
            query = query.where(b.timestamp >= start)
        return self._q(query.order_by(b.timestamp.desc()).limit(limit))

    def latest_balance(self, currency: str = "USDT") -> dict[str, Any] | None:
        r = self.balances(currency, limit=1)
        return r[0] if r else None

    # ------------------------------------------------------------- risk, ingestion, engine state

    def risk_events(
        self,
        *,
        symbol: str | None = None,
        limit: int = 100,
        since_id: int = 0,
        level: str | None = None,
        rule: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first."""
        e = m.RiskEventRow
        query = e.select().where(e.id > since_id)
        for col, v in ((e.symbol, symbol), (e.level, level), (e.rule, rule)):
            if v:
                query = query.where(col == v)
        return self._q(query.order_by(e.id.desc()).limit(limit))

    def ingestion_runs(self, *, limit: int = 50, since_id: int = 0, status: str | None = None) -> list[dict[str, Any]]:
        run = m.IngestionRun
        query = run.select().where(run.id > since_id)
        if status:
            query = query.where(run.status == status)
        return self._q(query.order_by(run.id.desc()).limit(limit))

    def engine_state(self, key: str) -> str | None:
        r = self._one(m.EngineState.select(m.EngineState.value).where(m.EngineState.key == key))
        return r[0] if r else None

    def engine_state_row(self, key: str) -> dict[str, Any] | None:
        r = self._q(m.EngineState.select().where(m.EngineState.key == key))
        return r[0] if r else None

    def operator_commands(
        self, *, status: str | None = "pending", limit: int = 100, since_id: int = 0
    ) -> list[dict[str, Any]]:
        """Oldest first (the order the engine executes them)."""
        c = m.OperatorCommand
        query = c.select().where(c.id > since_id)
        if status:
            query = query.where(c.status == status)
        return _decode(self._q(query.order_by(c.id.asc()).limit(limit)))

    # ------------------------------------------------------------- backtests

    def backtest_results(self, *, limit: int = 50, since_id: int = 0) -> list[dict[str, Any]]:
        """Newest first, with their config, without the large equity/trade JSON."""
        r, c = m.BacktestResult, m.BacktestConfig
        query = (
            r.select(
                r.id,
                r.config,
                r.total_return,
                r.max_drawdown,
                r.sharpe_ratio,
                r.profit_factor,
                r.total_trades,
                r.profitable_trades,
                r.win_rate,
                r.final_equity,
                r.created_at,
                r.status,
                r.metrics,
                *_CONFIG_COLUMNS,
            )
            .join(c, on=(c.id == r.config))
            .where(r.id > since_id)
            .order_by(r.id.desc())
            .limit(limit)
        )
        return _decode(self._q(query))

    def backtest_result(self, result_id: int) -> dict[str, Any] | None:
        r, c = m.BacktestResult, m.BacktestConfig
        rows = self._q(r.select(r, *_CONFIG_COLUMNS).join(c, on=(c.id == r.config)).where(r.id == result_id))
        return _decode(rows, _JSON_COLUMNS | {"equity_curve", "trade_log"})[0] if rows else None

    def backtest_orders(self, result_id: int) -> list[dict[str, Any]]:
        o = m.BacktestOrder
        return self._q(o.select().where(o.backtest == result_id).order_by(o.id))

    def backtest_config(self, config_id: int) -> dict[str, Any] | None:
        r = _decode(self._q(m.BacktestConfig.select().where(m.BacktestConfig.id == config_id)))
        return r[0] if r else None

    # ------------------------------------------------------------- generic follow

    def rows_since(self, table: str, last_id: int = 0, *, limit: int = 500) -> list[dict[str, Any]]:
        """Rows of ``table`` with id > last_id, oldest first: how live panes follow the database."""
        if table not in FOLLOWABLE:
            raise ValueError(f"rows_since: {table!r} is not followable; allowed: {', '.join(sorted(FOLLOWABLE))}")
        t = _MODELS[table]
        return _decode(self._q(t.select().where(t.id > last_id).order_by(t.id.asc()).limit(limit)))

    def max_id(self, table: str) -> int:
        if table not in FOLLOWABLE:
            raise ValueError(f"max_id: {table!r} is not followable")
        t = _MODELS[table]
        r = self._aggregate(t.select(fn.COALESCE(fn.MAX(t.id), 0)))
        return int(r[0])

    def table_counts(self) -> dict[str, int]:
        names = list_tables(self._db)
        return {n: int(self._aggregate(peewee.Table(n).select(fn.COUNT(SQL("*"))))[0]) for n in names}
