"""BacktestScreen: a form, a run in a thread worker (progress, bars/s, Cancel), the result (metrics,
equity and drawdown charts, trades), earlier runs from the database, and a side-by-side compare.

The backtest engine is another package's work; this screen calls whatever ``run_backtest`` it
exposes (``find_backtest_runner``) as ``run_backtest(cfg, ds, request, progress=cb, cancel=event,
store=db)``. Until one exists the screen shows stored results and says so — never fake results.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Select, Static, TextArea
from textual_plotext import PlotextPlot

from cockpit.domain.signals import STRATEGY_NAMES
from cockpit.ui import render
from cockpit.ui.backtest_proc import BacktestCancelledError, find_backtest_runner, result_id, run_in_process
from cockpit.ui.messages import BacktestFinished, BacktestProgressed, ScreenDataLoaded
from cockpit.ui.screens.common import CockpitScreen


def build_request(runner: Callable[..., Any], req: dict[str, Any]) -> Any:
    """The backtest engine's BacktestRequest for the form's values (``portfolio`` runs every enabled
    strategy through the scorer and scheduler)."""
    import dataclasses

    from cockpit.backtest.api import BacktestRequest

    names = {f.name for f in dataclasses.fields(BacktestRequest)}
    values = {k: v for k, v in req.items() if k in names}
    if values.get("strategy") is None:
        values.pop("strategy", None)
    return BacktestRequest(**values)


def parse_day(text: str) -> int:
    return int(datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp() * 1000)


def parse_params(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        k, _, v = part.partition("=")
        v = v.strip()
        try:
            out[k.strip()] = int(v)
        except ValueError:
            try:
                out[k.strip()] = float(v)
            except ValueError:
                out[k.strip()] = {"true": True, "false": False}.get(v.lower(), v)
    return out


def metric_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    m = r.get("metrics")
    if not isinstance(m, dict):
        m = {}

    def pct(v: Any) -> str:
        return "—" if v is None else f"{float(v) * 100:+.2f}%"

    rows = [
        ("run", f"#{r['id']} {r.get('name') or r.get('strategy') or ''}"),
        ("range", f"{r.get('timeframe')} {render.day(r.get('start_time'))} → {render.day(r.get('end_time'))}"),
        ("total return", pct(r.get("total_return"))),
        ("max drawdown", pct(r.get("max_drawdown"))),
        ("sharpe", render.num(r.get("sharpe_ratio"), 2)),
        ("profit factor", render.num(r.get("profit_factor"), 2)),
        ("trades", f"{r.get('total_trades') or 0} ({r.get('profitable_trades') or 0} won)"),
        ("win rate", "—" if r.get("win_rate") is None else f"{float(r['win_rate']) * 100:.1f}%"),
        ("final equity", render.num(r.get("final_equity"), 2)),
        (
            "capital/fee/slip",
            f"{render.num(r.get('initial_capital'), 0)} / {r.get('commission_rate')} / {r.get('slippage_bps')}bps",
        ),
    ]
    shown = {
        "total_return",
        "max_drawdown",
        "sharpe",
        "sharpe_ratio",
        "profit_factor",
        "trades",
        "total_trades",
        "win_rate",
        "final_equity",
        "profitable_trades",
    }
    for k in sorted(m):
        v = m[k]
        if k in shown or isinstance(v, (list, dict)):
            continue
        if isinstance(v, float) and any(w in k for w in ("return", "drawdown", "cagr", "exposure")):
            v = f"{v * 100:+.2f}%"
        elif isinstance(v, float):
            v = f"{v:,.4g}"
        rows.append((k.replace("_", " "), str(v)))
    return rows


SIGNED = ("total return", "max drawdown", "sharpe", "cagr", "sortino", "calmar", "return", "pnl", "excess")


def signed(label: str, value: str) -> Text:
    """A metric's value, green when positive and red when negative for the figures that have a sign
    (returns, drawdown, risk-adjusted ratios); others plain."""
    v = value.strip()
    if any(w in label for w in SIGNED) and v not in ("—", ""):
        try:
            x = float(v.rstrip("%").replace(",", ""))
        except ValueError:
            return Text(value)
        return Text(value, "green" if x > 0 else "red" if x < 0 else "")
    return Text(value)


def metrics_table(a: dict[str, Any] | None, b: dict[str, Any] | None = None) -> Table | Text:
    if a is None:
        return Text("no result open — pick a run on the left (Enter) or run one", style="dim")
    t = Table(box=None, padding=(0, 1), show_header=b is not None, header_style="bold")
    t.add_column("metric", style="dim", no_wrap=True)
    t.add_column(f"#{a['id']}" if b else "", no_wrap=True)
    ra = dict(metric_rows(a))
    if b is None:
        for k, v in ra.items():
            t.add_row(k, signed(k, v))
        return t
    t.add_column(f"#{b['id']}", no_wrap=True)
    rb = dict(metric_rows(b))
    for k in list(ra) + [k for k in rb if k not in ra]:
        t.add_row(k, signed(k, ra.get(k, "—")), signed(k, rb.get(k, "—")))
    return t


def run_params(r: dict[str, Any]) -> str:
    """The strategy parameters a run was made with (engine settings, kept under ``_`` keys, left out)."""
    p = r.get("strategy_params")
    if isinstance(p, str):
        try:
            p = json.loads(p)
        except ValueError:
            return p
    if not isinstance(p, dict):
        return ""
    return ",".join(f"{k}={v}" for k, v in p.items() if not str(k).startswith("_"))


def run_label(r: dict[str, Any]) -> str:
    """What the runs list says about a run: its strategy, and for a sweep or walk-forward row its rank
    and the parameters it was scored with (those rows keep metrics only, no curve or trades)."""
    p = r.get("strategy_params")
    if isinstance(p, str):
        try:
            p = json.loads(p)
        except ValueError:
            p = {}
    p = p if isinstance(p, dict) else {}
    strategy = r.get("strategy") or ("portfolio" if "portfolio" in (r.get("name") or "") else r.get("name") or "")
    params = run_params(r)
    if r.get("status") == "sweep" or "_sweep_rank" in p:
        m = r.get("metrics")
        if not isinstance(m, dict):
            m = {}
        kind = "wf" if m.get("walk_forward") else "sweep"
        return f"{kind}#{p.get('_sweep_rank', '?')} {strategy} {params}".strip()
    return f"{strategy} {params}".strip() if params else (r.get("name") or strategy)


def is_sweep(r: dict[str, Any]) -> bool:
    return r.get("status") == "sweep"


def equity_series(r: dict[str, Any]) -> tuple[np.ndarray | None, np.ndarray]:
    """(timestamps in ms or None, equity) of a stored result's curve: [[ts, equity], ...] as the
    engine stores it; a bare list of values (older rows) has no timestamps."""
    curve = r.get("equity_curve")
    if isinstance(curve, str):
        try:
            curve = json.loads(curve)
        except ValueError:
            curve = None
    if isinstance(curve, dict):
        curve = curve.get("equity") or list(curve.values())
    if not curve:
        return None, np.empty(0)
    if all(isinstance(p, (list, tuple)) and len(p) >= 2 and p[-1] is not None for p in curve):
        return (np.asarray([float(p[0]) for p in curve]), np.asarray([float(p[-1]) for p in curve]))
    vals = [p.get("equity") if isinstance(p, dict) else p for p in curve]
    return None, np.asarray([float(v) for v in vals if v is not None], dtype=float)


DAY_MS = 86_400_000


def date_ticks(lo_ms: float, hi_ms: float) -> tuple[list[float], list[str]]:
    """First, middle and last x positions (in days since the epoch) between two times, labelled as dates."""
    if hi_ms <= lo_ms:
        return [lo_ms / DAY_MS], [render.day(lo_ms)]
    fmt = "%Y-%m-%d" if hi_ms - lo_ms > 2 * DAY_MS else "%m-%d %H:%M"
    pos = np.linspace(lo_ms, hi_ms, 3)
    return [float(p) / DAY_MS for p in pos], [time.strftime(fmt, time.gmtime(p / 1000)) for p in pos]


class DatedPlot(PlotextPlot):
    """A plotext chart over time: x in days since the epoch, labelled with as many dates (first, last,
    middle) as its width holds. Chosen at render time from the widget's own width, so the labels do
    not depend on when the data arrived relative to layout."""

    span_ms: tuple[float, float] | None = None

    def render(self):
        if self.span_ms is not None:
            ticks, labels = date_ticks(*self.span_ms)
            w = self.size.width  # the last date only, then first and last, then all three
            keep = slice(-1, None) if w < 36 else slice(None, None, 2) if w < 52 else slice(None)
            self.plt.xticks(ticks[keep], labels[keep])
        return super().render()


class BacktestScreen(CockpitScreen):
    SCREEN_TITLE = "Backtest"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+r", "run", "Run"),
        Binding("ctrl+x", "cancel_run", "Cancel run"),
        Binding("c", "compare", "Compare"),
    ]

    def __init__(self) -> None:
        super().__init__(id="backtest")
        self.results: list[dict[str, Any]] = []
        self.current: dict[str, Any] | None = None
        self.compare_with: dict[str, Any] | None = None
        self.cancel_event = threading.Event()
        self.running = False
        self.runner: Callable[..., Any] | None = None
        self.in_process = False
        self.coverage: dict[str, tuple[int, int]] = {}  # timeframe -> (first, last) stored candle
        self._auto_range = ("", "")  # the dates the form holds until the operator edits them

    def compose(self) -> ComposeResult:
        cfg = self.app.cfg
        self._auto_range = self._range_ending(None)  # until the stored candles' span is known
        yield from self.compose_header()
        with Horizontal(id="bt-main"):
            with VerticalScroll(id="bt-form", classes="pane"):
                yield Label("strategy / portfolio")
                yield Select(
                    [("portfolio (all enabled)", "portfolio")] + [(n, n) for n in STRATEGY_NAMES],
                    value="ema_trend",
                    allow_blank=False,
                    id="bt-strategy",
                )
                yield Label("timeframe")
                yield Select(
                    [(tf, tf) for tf in cfg["timeframes"]],
                    value=cfg["decision_timeframe"],
                    allow_blank=False,
                    id="bt-timeframe",
                )
                yield Label("from / to (UTC days)")
                with Horizontal(classes="row"):
                    yield Input(self._auto_range[0], id="bt-from", placeholder="from YYYY-MM-DD")
                    yield Input(self._auto_range[1], id="bt-to", placeholder="to YYYY-MM-DD")
                yield Label("parameters")
                # Wrapped, never clipped: a strategy's parameters are longer than the column.
                yield TextArea(self._params_text("ema_trend"), id="bt-params", soft_wrap=True, compact=True)
                yield Label("capital / fee / slippage bps")
                with Horizontal(classes="row"):
                    yield Input(f"{cfg['backtest']['capital']:g}", id="bt-capital", placeholder="capital")
                    yield Input(f"{cfg['backtest']['taker_fee']:g}", id="bt-fee", placeholder="fee")
                    yield Input(f"{cfg['backtest']['slippage_bps']:g}", id="bt-slippage", placeholder="slip bps")
                with Horizontal(classes="row"):
                    yield Button("Run ^r", id="bt-run", variant="primary")
                    yield Button("Cancel ^x", id="bt-cancel", disabled=True)
                yield ProgressBar(total=100, show_eta=False, id="bt-progress")
                yield Static("", id="bt-status")
                yield Label("runs: Enter opens · c compares")
                runs: DataTable[str | Text] = DataTable(id="bt-runs", cursor_type="row")
                runs.add_columns("id", "tf", "ret", "DD", "SR", "n", "run")
                yield runs
                yield Static("", id="bt-run-detail")
            with Vertical(id="bt-result"):
                yield Static("", id="bt-metrics", classes="pane")
                with Horizontal(id="bt-charts"):
                    yield DatedPlot(id="bt-equity", classes="pane")
                    yield DatedPlot(id="bt-drawdown", classes="pane")
                trades: DataTable[str | Text] = DataTable(id="bt-trades", classes="pane", cursor_type="row")
                trades.add_columns("time", "side", "price", "amount", "reason", "pnl", "fee", "funding")
                yield trades
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        injected = getattr(self.app, "backtest_runner", None)
        self.runner = injected or find_backtest_runner()
        # The engine's own runner goes to a child process when the database is a file it can open.
        url = self.app.cfg["database"]["url"]
        self.in_process = injected is None and self.runner is not None and ":memory:" not in url
        self.query_one("#bt-metrics").border_title = "Metrics"
        self.query_one("#bt-equity").border_title = "Equity"
        self.query_one("#bt-drawdown").border_title = "Drawdown"
        self.query_one("#bt-trades").border_title = "Trades"
        self.query_one("#bt-form").border_title = "Backtest"
        for pid in ("#bt-equity", "#bt-drawdown"):
            self.query_one(pid, PlotextPlot).theme = "clear"
        self.query_one("#bt-metrics", Static).update(metrics_table(None))
        self._status("" if self.runner else "[yellow]backtest engine unavailable in this build: stored results only[/]")
        self.run_load_results(open_latest=True)
        self.run_load_coverage()

    def on_resize(self, event) -> None:
        self.set_class(event.size.width < 120, "-compact")

    def reload_on_return(self) -> None:
        # Runs stored meanwhile (the training loop, another cockpit) join the list; the open result stays.
        self.run_load_results()
        self.run_load_coverage()  # candles ingested meanwhile move the default range (unless typed)

    # ------------------------------------------------------------- form helpers

    DEFAULT_DAYS = 90

    def _range_ending(self, span: tuple[int, int] | None) -> tuple[str, str]:
        """The last DEFAULT_DAYS days of the stored candles ``span`` (first, last), or of the clock
        when nothing is stored: the simulator's market, a replay or an import can lie anywhere in time."""
        if span is None:
            last = self.app.clock.now_ms()
            first = last - self.DEFAULT_DAYS * DAY_MS
        else:
            first, last = span
            first = max(first, last - self.DEFAULT_DAYS * DAY_MS)
        return render.day(first), render.day(last)

    def _apply_default_range(self) -> None:
        """Follow the stored data for the chosen timeframe, unless the operator typed dates."""
        f, t = self.query_one("#bt-from", Input), self.query_one("#bt-to", Input)
        if (f.value, t.value) != self._auto_range:
            return
        tf = str(self.query_one("#bt-timeframe", Select).value)
        self._auto_range = self._range_ending(self.coverage.get(tf))
        f.value, t.value = self._auto_range

    @work(thread=True, exclusive=True, exit_on_error=False, group="bt-coverage")
    def run_load_coverage(self) -> None:
        self.load_in_thread(
            "coverage",
            lambda: {
                r["timeframe"]: (int(r["first"]), int(r["last"]))
                for r in self.app.ds.coverage(self.app.symbol)
                if r["rows"]
            },
        )

    def _params_text(self, strategy: str) -> str:
        sc = self.app.cfg["strategies"].get(strategy)
        p = sc.get("params", {}) if sc else {}
        return ", ".join(f"{k}={v}" for k, v in p.items())

    def _status(self, text: str) -> None:
        self.query_one("#bt-status", Static).update(text)

    @on(Select.Changed, "#bt-timeframe")
    def _timeframe_changed(self, event: Select.Changed) -> None:
        self._apply_default_range()

    @on(Select.Changed, "#bt-strategy")
    def _strategy_changed(self, event: Select.Changed) -> None:
        self.query_one("#bt-params", TextArea).text = (
            "" if event.value == "portfolio" else self._params_text(str(event.value))
        )

    def request(self) -> dict[str, Any]:
        q = lambda i: self.query_one(i, Input).value  # noqa: E731
        strategy = str(self.query_one("#bt-strategy", Select).value)
        start, end = q("#bt-from").strip(), q("#bt-to").strip()
        parse_day(start), parse_day(end)  # check the form before a worker starts
        return {
            "strategy": None if strategy == "portfolio" else strategy,
            "portfolio": strategy == "portfolio",
            "symbol": self.app.symbol,
            "timeframe": str(self.query_one("#bt-timeframe", Select).value),
            "start": start,
            "end": end,
            "params": parse_params(self.query_one("#bt-params", TextArea).text.replace("\n", ",")),
            "capital": float(q("#bt-capital")),
            "fee": float(q("#bt-fee")),
            "slippage_bps": float(q("#bt-slippage")),
        }

    # ------------------------------------------------------------- stored results

    @work(thread=True, exclusive=True, exit_on_error=False, group="bt-load")
    def run_load_results(self, open_latest: bool = False, open_id: int | None = None) -> None:
        """Reload the runs list; with ``open_id`` open that run (the one the trader just ran), with
        ``open_latest`` the newest full run (a sweep row has metrics only: no curve, no trades)."""
        try:
            rows = self.app.ds.backtest_results(limit=100)
            self.post_message(ScreenDataLoaded("results", rows))
            if open_id is not None:
                self._load_one(open_id, "result")
            elif open_latest and rows:
                full = next((r for r in rows if not is_sweep(r)), rows[0])
                self._load_one(full["id"], "result")
        except Exception as e:  # noqa: BLE001
            self.post_message(ScreenDataLoaded("error", f"{type(e).__name__}: {e}"))
        finally:
            self.app._close_thread_connection()

    def _fetch_one(self, rid: int) -> dict[str, Any] | None:
        r = self.app.ds.backtest_result(rid)
        if r is not None:
            r["orders"] = self.app.ds.backtest_orders(rid)
        return r

    def _load_one(self, rid: int, key: str) -> None:
        self.post_message(ScreenDataLoaded(key, self._fetch_one(rid)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="bt-open")
    def run_open_result(self, rid: int, key: str = "result") -> None:
        self.load_in_thread(key, lambda: self._fetch_one(rid))

    @on(ScreenDataLoaded)
    def _loaded(self, m: ScreenDataLoaded) -> None:
        if m.key == "error":
            self.notify(f"backtest screen: {m.data}", severity="error")
        elif m.key == "coverage":
            self.coverage = m.data
            self._apply_default_range()
        elif m.key == "results":
            self.results = m.data
            t = self.query_one("#bt-runs", DataTable)
            t.clear()
            for r in m.data:
                ret = "—" if r.get("total_return") is None else f"{r['total_return'] * 100:+.1f}%"
                t.add_row(
                    str(r["id"]),
                    r.get("timeframe"),
                    signed("return", ret),
                    signed("drawdown", "—" if r.get("max_drawdown") is None else f"{r['max_drawdown'] * 100:.1f}%"),
                    signed("sharpe", render.num(r.get("sharpe_ratio"), 2)),
                    str(r.get("total_trades") or 0),
                    run_label(r),
                    key=str(r["id"]),
                )
        elif m.key == "result" and m.data:
            self.current = m.data
            self.compare_with = None
            self.show_result()
        elif m.key == "compare" and m.data:
            self.compare_with = m.data
            self.show_result()

    def show_result(self) -> None:
        a, b = self.current, self.compare_with
        if a is None:  # nothing opened yet
            return
        self.query_one("#bt-metrics", Static).update(metrics_table(a, b))
        self.query_one("#bt-metrics").border_title = f"Metrics #{a['id']}" + (f" vs #{b['id']}" if b else "")
        eq_plot = self.query_one("#bt-equity", DatedPlot)
        dd_plot = self.query_one("#bt-drawdown", DatedPlot)
        for p in (eq_plot, dd_plot):
            p.plt.clear_data()
            p.plt.clear_figure()
            p.plt.theme("clear")
        series = [(r, color, *equity_series(r)) for r, color in ((a, "cyan"), (b, "yellow")) if r is not None]
        dated = all(ts is not None for _, _, ts, eq in series if len(eq))
        span: list[float] = []
        for r, color, ts, eq in series:
            if not len(eq):
                continue
            # On a time axis two compared runs line up by date even when their ranges differ.
            if dated and ts is not None:
                x = (ts / DAY_MS).tolist()
                span += [float(ts[0]), float(ts[-1])]
            else:
                x = list(range(1, len(eq) + 1))
            eq_plot.plt.plot(x, eq.tolist(), color=color, marker="braille", label=f"#{r['id']}")
            peak = np.maximum.accumulate(eq)
            dd_plot.plt.plot(
                x,
                ((eq / peak - 1) * 100).tolist(),
                color="red" if r is a else "yellow",
                marker="braille",
                label=f"#{r['id']} %",
            )
        for p in (eq_plot, dd_plot):
            p.span_ms = (min(span), max(span)) if span else None
        eq_plot.refresh()
        dd_plot.refresh()
        t = self.query_one("#bt-trades", DataTable)
        t.clear()
        for o in (a.get("orders") or [])[:500]:
            t.add_row(
                render.day(o["timestamp"]) + " " + render.hms(o["timestamp"]),
                Text(o["side"], render.side_style(o["side"])),
                render.num(o["price"]),
                f"{float(o['amount']):g}",
                o.get("reason") or "",
                render.num(o.get("pnl"), 2, sign=True) if o.get("pnl") is not None else "",
                render.num(o.get("fee"), 2),
                render.num(o.get("funding"), 2),
            )
        n = len(a.get("orders") or [])
        self.query_one("#bt-trades").border_title = (
            f"Trades #{a['id']}: none stored for a sweep row ({a.get('total_trades') or 0} trades counted)"
            if is_sweep(a) and not n
            else f"Trades #{a['id']} ({n})"
        )

    @on(DataTable.RowHighlighted, "#bt-runs")
    def _run_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted run in full under the list (the table's columns cut long labels)."""
        if event.row_key is None or event.row_key.value is None:
            return
        r = next((r for r in self.results if str(r["id"]) == event.row_key.value), None)
        if r is not None:
            note = " · metrics only (no curve or trades stored)" if is_sweep(r) else ""
            self.query_one("#bt-run-detail", Static).update(
                Text(
                    f"#{r['id']} {run_label(r)} · {r.get('timeframe')} {render.day(r.get('start_time'))} → "
                    f"{render.day(r.get('end_time'))}{note}",
                    "dim",
                )
            )

    @on(DataTable.RowSelected, "#bt-runs")
    def _run_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.run_open_result(int(event.row_key.value))

    def action_compare(self) -> None:
        t = self.query_one("#bt-runs", DataTable)
        if self.current is None or not self.results or t.row_count == 0:
            self.notify("open a result first, then highlight another run and press c", severity="warning")
            return
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        if key is None or int(key) == self.current["id"]:
            self.notify("highlight a different run to compare with", severity="warning")
            return
        self.run_open_result(int(key), "compare")

    # ------------------------------------------------------------- running

    @on(Button.Pressed, "#bt-run")
    def action_run(self) -> None:
        if self.running:
            return
        runner = self.runner
        if runner is None:
            self.notify("backtest engine unavailable in this build: stored results only", severity="warning")
            return
        try:
            req = build_request(runner, self.request())
        except ValueError as e:
            self.notify(f"check the form: {e}", severity="error")
            return
        self.cancel_event = threading.Event()
        self.running = True
        self.query_one("#bt-run", Button).disabled = True
        self.query_one("#bt-cancel", Button).disabled = False
        self.query_one("#bt-progress", ProgressBar).update(total=100, progress=0)
        self._status("running…")
        self.run_backtest(runner, req, self.cancel_event)

    @on(Button.Pressed, "#bt-cancel")
    def action_cancel_run(self) -> None:
        if self.running:
            self.cancel_event.set()
            self._status("cancelling…")

    @work(thread=True, exclusive=True, exit_on_error=False, group="backtest")
    def run_backtest(self, runner: Callable[..., Any], req: Any, cancel: threading.Event) -> None:
        t0 = time.perf_counter()
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= 0.05 or done >= total:  # at most 20 UI updates a second
                last[0] = now
                self.post_message(BacktestProgressed(done, total, done / max(now - t0, 1e-9)))

        try:
            if self.in_process:
                # A child process: the backtest never competes with the UI for the GIL.
                rid = run_in_process(self.app.cfg, req, progress=progress, cancel=cancel)
            else:
                rid = result_id(
                    runner(self.app.cfg, self.app.ds, req, progress=progress, cancel=cancel, store=self.app.db)
                )
            self.post_message(BacktestFinished(rid, None, cancelled=cancel.is_set()))
        except BacktestCancelledError:
            self.post_message(BacktestFinished(None, None, cancelled=True))
        except Exception as e:  # noqa: BLE001 - shown, never fatal
            cancelled = cancel.is_set() or type(e).__name__ in ("BacktestCancelled", "CancelledError")
            self.post_message(
                BacktestFinished(
                    None, None, error=None if cancelled else f"{type(e).__name__}: {e}", cancelled=cancelled
                )
            )
        finally:
            self.app._close_thread_connection()

    @on(BacktestProgressed)
    def _progressed(self, m: BacktestProgressed) -> None:
        self.query_one("#bt-progress", ProgressBar).update(total=max(m.total, 1), progress=m.done)
        self._status(f"{m.done:,}/{m.total:,} bars · {m.bars_per_s:,.0f} bars/s")

    @on(BacktestFinished)
    def _finished(self, m: BacktestFinished) -> None:
        self.running = False
        self.query_one("#bt-run", Button).disabled = False
        self.query_one("#bt-cancel", Button).disabled = True
        if m.cancelled:
            self._status("[yellow]cancelled[/]")
        elif m.error:
            self._status(f"[red]failed: {m.error}[/]")
            self.notify(f"backtest failed: {m.error}", severity="error")
        else:
            self._status(f"[green]done[/] (result #{m.result_id})" if m.result_id else "[green]done[/]")
        ok = not m.cancelled and not m.error
        self.run_load_results(open_latest=ok and m.result_id is None, open_id=m.result_id if ok else None)
