"""What the panes show, read from the database: a plain state object and the poll that fills it.

Nothing here imports Textual: the poll runs in a worker thread, fills a ``Snapshot`` and the app
renders it on the main thread (Dolphie style). Each section carries a signature so the app only
re-renders panes whose data changed; a burst of engine writes between two polls costs one render.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cockpit.data import DataService
from cockpit.domain.market import timeframe_ms
from cockpit.domain import approval
from cockpit.ui import chart
from cockpit.ui.chart import DEFAULT_VIEW, View as ChartView

CHART_TIMEFRAMES = ("15m", "1h", "4h", "1d")
PENDING = "pending_approval"
OPEN_STATUSES = ("new", "pending_approval", "approved", "submitted", "partially_filled")
# Statuses an order can leave the approval queue to without being sent: their last lifecycle message
# (superseded by decision N, rejected by whom and why, ...) is read once per status and shown with the order.
ENDED = ("rejected", "canceled", "expired", "failed")
RISK_EVENTS_KEPT = 200
DECISIONS_KEPT = 30


def _json(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def halt_state(ds: DataService) -> tuple[bool, str]:
    """(halted, why) from engine_state 'kill_switch' / 'halt' (JSON or plain text)."""
    # kill_switch / drawdown_halt: JSON objects while engaged, absent when clear (cockpit.data.risk_store).
    for key in ("kill_switch", "drawdown_halt", "halt"):
        raw = ds.engine_state(key)
        if raw is None:
            continue
        val = _json(raw)
        if isinstance(val, dict):
            active = bool(val.get("active", val.get("on", True)))
            why = str(val.get("reason") or val.get("rule") or key.replace("_", " "))
        else:
            s = str(val).strip().lower()
            active = s not in ("", "0", "false", "off", "null", "none", "cleared", "inactive")
            why = key.replace("_", " ") if s in ("1", "true", "on", "active") else str(val)
        if active:
            return True, why
    return False, ""


def heartbeat(ds: DataService) -> dict[str, Any] | None:
    row = ds.engine_state_row("heartbeat")
    if not row:
        return None
    val = _json(row.get("value"))
    return val if isinstance(val, dict) else {"ts": row.get("updated_at")}


def heartbeat_ms(ds: DataService) -> int | None:
    """Wall-clock time of the engine's last heartbeat (its exchange clock may run faster in the simulator)."""
    row = ds.engine_state_row("heartbeat")
    if not row:
        return None
    val = _json(row.get("value"))
    if isinstance(val, dict):
        for k in ("wall_ms", "ts", "timestamp", "now_ms"):
            if isinstance(val.get(k), (int, float)):
                return int(val[k])
    if isinstance(val, (int, float)) or (isinstance(val, str) and val.isdigit()):
        return int(val)
    return int(row["updated_at"]) if row.get("updated_at") is not None else None


@dataclass
class Snapshot:
    """One poll's result. ``sigs`` maps a section to a value that changes when its data changes."""

    halted: bool = False
    halt_reason: str = ""
    heartbeat_ms: int | None = None
    heartbeat: dict[str, Any] | None = None
    price: dict[str, Any] | None = None
    index_read: dict[str, Any] | None = None  # the newest stored index price, when ``price`` has none
    funding: dict[str, Any] | None = None
    open_interest: dict[str, Any] | None = None
    long_short: dict[str, Any] | None = None
    balance: dict[str, Any] | None = None
    position: dict[str, Any] | None = None
    timeframe: str = "1h"
    candles: dict[str, np.ndarray] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    llm_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    prompt_names: dict[int, str] = field(default_factory=dict)
    risk_events: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    selected_order_id: int | None = None
    outcomes: dict[int, str] = field(default_factory=dict)  # order id -> why it is no longer waiting
    timeline: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    selected_decision: dict[str, Any] | None = None
    levels: dict[str, Any] = field(default_factory=dict)
    chart: Any = None  # Rich Text of the chart, built in the worker for ``chart_size`` and ``chart_view``
    chart_size: tuple[int, int] | None = None
    chart_view: ChartView = DEFAULT_VIEW
    chart_fills: list[dict[str, Any]] = field(default_factory=list)  # fills in the loaded candles' span
    chart_first: int | None = None  # open time of the oldest / newest stored candle of the timeframe
    chart_last: int | None = None
    account: Any = None  # cockpit.ui.account_view.AccountView: realised P&L, equity history, closed trades
    sigs: dict[str, Any] = field(default_factory=dict)


class Poller:
    """Reads what changed since the last poll. Called from one worker thread at a time."""

    def __init__(self, ds: DataService, symbol: str, *, chart_bars: int = 120) -> None:
        self.ds = ds
        self.symbol = symbol
        self.chart_bars = chart_bars
        self._risk: list[dict[str, Any]] = []
        self._risk_last = 0
        self._decisions: list[dict[str, Any]] = []
        self._decision_last = 0
        self._llm: dict[int, dict[str, Any]] = {}
        self._prompts: dict[int, str] = {}
        self._chart_sig: Any = None
        self._reduce_only: dict[int, bool] = {}  # order id -> reduce-only (never changes once written)
        from cockpit.ui.account_view import AccountPoller

        self._account = AccountPoller(getattr(ds, "_db", None), symbol)
        self._last_message: dict[tuple[int, str], str] = {}

    def poll(
        self,
        timeframe: str,
        selected_order_id: int | None,
        chart_size: tuple[int, int] | None = None,
        view: chart.View = chart.DEFAULT_VIEW,
    ) -> Snapshot:
        ds, sym = self.ds, self.symbol
        s = Snapshot(timeframe=timeframe, chart_view=view)
        s.halted, s.halt_reason = halt_state(ds)
        s.heartbeat = heartbeat(ds)
        s.heartbeat_ms = heartbeat_ms(ds)
        s.price = ds.latest_price_snapshot(sym)
        if s.price is not None and s.price.get("index_price") is None:
            s.index_read = ds.latest_index_price(sym)
        f = ds.funding_rates(sym, limit=1)
        s.funding = f.iloc[-1].to_dict() if len(f) else None
        oi = ds.open_interest(sym, limit=1)
        s.open_interest = oi[-1] if oi else None
        ls = ds.long_short_ratio(sym, limit=1)
        s.long_short = ls[-1] if ls else None
        s.balance = ds.latest_balance("USDT")
        s.position = ds.latest_position_snapshot(sym)

        s.chart_first, s.chart_last = ds.first_candle_time(sym, timeframe), ds.latest_candle_time(sym, timeframe)
        s.candles = self._chart_candles(timeframe, view, chart_size, s.chart_first)

        new = ds.decisions(symbol=sym, since_id=self._decision_last, limit=DECISIONS_KEPT)
        if new:
            self._decision_last = new[0]["id"]
            self._decisions = (new + self._decisions)[:DECISIONS_KEPT]
        s.decisions = self._decisions
        for d in self._decisions:
            rid = d.get("llm_run_id")
            if rid and rid not in self._llm:
                run = ds.llm_run(rid)
                if run:
                    self._llm[rid] = run
            pid = d.get("prompt_version_id")
            if pid and pid not in self._prompts:
                self._prompts.update({p["id"]: p["version"] for p in ds.prompt_versions()})
        s.llm_runs, s.prompt_names = dict(self._llm), dict(self._prompts)

        new_risk = ds.risk_events(since_id=self._risk_last, limit=RISK_EVENTS_KEPT)
        if new_risk:
            self._risk_last = new_risk[0]["id"]
            self._risk = (new_risk + self._risk)[:RISK_EVENTS_KEPT]
        s.risk_events = self._risk

        # Orders change status in place, so the newest ones are re-read each poll (one indexed query).
        s.orders = ds.orders(symbol=sym, limit=50)
        s.pending = sorted((o for o in s.orders if o["status"] == PENDING), key=lambda o: o["id"])
        if selected_order_id is None and s.orders:
            selected_order_id = (s.pending[-1] if s.pending else s.orders[0])["id"]  # the newest pending
        s.selected_order_id = selected_order_id
        s.outcomes = self._outcomes(s.orders)
        if selected_order_id is not None:
            s.timeline = ds.order_events(selected_order_id)
            s.fills = ds.trades(order_id=selected_order_id, limit=50)
            o = next((o for o in s.orders if o["id"] == selected_order_id), None) or ds.order(selected_order_id)
            if o and o.get("decision_id"):
                s.selected_decision = ds.decision(o["decision_id"])

        xms = (s.heartbeat or {}).get("ts") or (s.price or {}).get("timestamp")
        s.account = self._account.poll(ds, int(xms) if isinstance(xms, (int, float)) else None, s.balance)
        c = s.candles
        pos = s.position
        s.levels = chart.levels(pos, s.orders)
        s.chart_fills = self._chart_fills(s.orders, int(c["timestamp"][0]) if len(c["timestamp"]) else None)
        s.sigs = {
            "header": (
                s.halted,
                s.halt_reason,
                s.heartbeat_ms,
                (s.heartbeat or {}).get("state"),
                _sig(s.price),
                _sig(s.index_read),
                _sig(s.funding),
                _sig(s.open_interest),
                _sig(s.long_short),
                _sig(s.balance),
                _sig(pos),
            ),
            "candles": (
                timeframe,
                len(c["timestamp"]),
                int(c["timestamp"][-1]) if len(c["timestamp"]) else 0,
                float(c["close"][-1]) if len(c["close"]) else 0.0,
                float(c["high"][-1]) if len(c["high"]) else 0,
                float(c["low"][-1]) if len(c["low"]) else 0,
                tuple(sorted(s.levels.items())),
                int(c["timestamp"][0]) if len(c["timestamp"]) else 0,
                view,
                s.chart_first,
                s.chart_last,
                tuple(f["id"] for f in s.chart_fills),
            ),
            "decisions": (self._decision_last, len(self._llm)),
            "risk": self._risk_last,
            "account": (s.account.sig, _sig(pos), _sig(s.balance), _sig(s.price), tuple(sorted(s.levels.items()))),
            "orders": (
                tuple((o["id"], o["status"], o.get("updated_at"), o.get("filled")) for o in s.orders),
                selected_order_id,
                len(s.timeline),
                len(s.fills),
            ),
        }
        if chart_size and chart_size[0] > 0 and chart_size[1] > 0 and s.sigs["candles"] != self._chart_sig:
            # Built here, in the worker: the event loop only swaps in the finished Text.
            s.chart = chart.build(
                s.candles,
                s.levels,
                timeframe,
                *chart_size,
                view=view,
                fills=s.chart_fills,
                timeframe_ms=timeframe_ms(timeframe),
            )
            s.chart_size = chart_size
            self._chart_sig = s.sigs["candles"]
        return s

    def _chart_candles(
        self, timeframe: str, view: chart.View, size: tuple[int, int] | None, first: int | None
    ) -> dict[str, np.ndarray]:
        """The candles the chart needs for ``view``: the window, the overlays' warm-up to its left and a
        page to its right (so scrolling forward needs no read); clamped to the oldest stored candle."""
        ds, sym = self.ds, self.symbol
        width = size[0] if size and size[0] > 0 else 0
        need = max(self.chart_bars, chart.candles_needed(width, view))
        if view.end is None:
            return ds.candle_arrays(sym, timeframe, limit=need)
        step = timeframe_ms(timeframe)
        page = chart.bars_shown(width, view) * view.merge
        c = ds.candle_arrays(sym, timeframe, limit=need + page, end=view.end + page * step)
        if first is not None and int(np.searchsorted(c["timestamp"], view.end, side="right")) < page:
            # Scrolled to (or past) the oldest candle: the oldest pages there are.
            c = ds.candle_arrays(sym, timeframe, start=first, end=first + (need + page) * step)
        return c

    def _chart_fills(self, orders: list[dict[str, Any]], since: int | None) -> list[dict[str, Any]]:
        """Fills from the first loaded candle on, each marked reduce-only (an exit) or not (an entry)."""
        if since is None:
            return []
        fills = self.ds.trades(symbol=self.symbol, start=since, limit=500)
        for o in orders:
            self._reduce_only.setdefault(o["id"], bool(o.get("reduce_only")))
        out = []
        for f in fills:
            oid = f.get("order_id")
            if oid is not None and oid not in self._reduce_only:
                row = self.ds.order(oid)
                self._reduce_only[oid] = bool(row and row.get("reduce_only"))
            out.append(
                {
                    "id": f["id"],
                    "timestamp": f["timestamp"],
                    "side": f["side"],
                    "price": f["price"],
                    "amount": f["amount"],
                    "reduce_only": oid is not None and self._reduce_only.get(oid, False),
                }
            )
        return out

    def _outcomes(self, orders: list[dict[str, Any]]) -> dict[int, str]:
        """Why each order that went through approval is no longer waiting (approved by whom, rejected,
        superseded, expired). An ended order's last lifecycle message is read once per status."""
        out: dict[int, str] = {}
        for o in orders:
            msg = None
            if o["status"] in ENDED:
                key = (o["id"], o["status"])
                if key not in self._last_message:
                    events = self.ds.order_events(o["id"])
                    self._last_message[key] = str(events[-1].get("message") or "") if events else ""
                msg = self._last_message[key]
            elif o["status"] == PENDING or not o.get("decided_by") or o["decided_by"] == "exchange":
                continue
            out[o["id"]] = approval.left_queue_reason(o, msg)
        return out


def _sig(row: dict[str, Any] | None) -> Any:
    if not row:
        return None
    return (row.get("id"), row.get("timestamp"))
