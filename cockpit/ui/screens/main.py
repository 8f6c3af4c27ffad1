"""MainScreen: header, candles, strategy weights, LLM rationale, risk events, orders.

At 160x48 all five panes are visible at once (a 2x3 grid, orders spanning the width). Below
120 columns or 40 rows the screen turns compact: candles take the top half and the four other
panes become tabs (Tab cycles; w / l / e / o jump). A pending approval always shows as a
one-line banner above the footer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable

from cockpit.domain import approval
from cockpit.ui import render
from cockpit.ui.account_view import position_text
from cockpit.ui.widgets.candles import CandlesChart, chart_title
from cockpit.ui.widgets.footer import CockpitFooter
from cockpit.ui.widgets.position_bar import PositionBar
from cockpit.ui.widgets.panes import (
    ApprovalBanner,
    CockpitHeader,
    ModeBadge,
    OrdersPane,
    RationalePane,
    RiskEventsPane,
    TabStrip,
    WeightsPane,
)

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp
    from cockpit.ui.state import Snapshot

LOWER = ("weights", "rationale", "risk", "orders")
COMPACT_BELOW = (120, 40)  # columns, rows
# In the compact layout the chart keeps 12 rows of price (plus its time axis and border), however short
# the terminal: at 80x24 that is 15 of the 21 rows between the header and the footer.
COMPACT_CHART_ROWS = 15
# While an order waits for approval the compact chart gives rows to the order's risk verdict and sizing:
# what the trader must read before pressing a or r comes before the plot (at 80x24 the chart keeps 9 rows).
APPROVAL_RESERVE_ROWS = 15
APPROVAL_CHART_ROWS = 8
COUNTDOWN_S = 1.0  # the approval countdown is redrawn this often (seconds)
NOTE_SHOWN_MS = 120_000  # the banner says why the last order left the approval queue for this long (operator ms)


class MainScreen(Screen):
    BINDINGS = [
        Binding("a", "app.approve", "Approve"),
        Binding("r", "app.reject", "Reject"),
        Binding("c", "app.cancel_order", "Cancel order"),
        Binding("K", "app.kill", "Kill switch"),
        Binding("U", "clear_halt", "Clear halt"),  # in the footer while halted (check_action)
        Binding("X", "app.close_position", "Close position", show=False),
        Binding("S", "app.move_stop", "Move stop", show=False),
        Binding("T", "app.move_take_profit", "Move take-profit", show=False),
        Binding("C", "app.cancel_all", "Cancel all", show=False),
        Binding("1", "app.timeframe('15m')", "15m", show=False),
        Binding("2", "app.timeframe('1h')", "1h", show=False),
        Binding("3", "app.timeframe('4h')", "4h", show=False),
        Binding("4", "app.timeframe('1d')", "1d", show=False),
        Binding("tab", "cycle_tab", "Next pane", show=False, priority=True),
        Binding("w", "tab('weights')", "Weights", show=False),
        Binding("l", "tab('rationale')", "Rationale", show=False),
        Binding("e", "tab('risk')", "Events", show=False),
        Binding("o", "tab('orders')", "Orders", show=False),
        Binding("v", "chart_focus", "Chart", show=False),
        Binding("m", "overlay('ema')", "EMA", show=False),
        Binding("B", "overlay('bb')", "Bollinger", show=False),
        Binding("V", "overlay('volume')", "Volume", show=False),
    ]

    app: "CockpitApp"

    def __init__(self) -> None:
        super().__init__(id="main")
        self.active_tab = "orders"
        self._halted_shown = False
        self._body_rows: int | None = None  # the compact grid's chart rows as last set

    def compose(self) -> ComposeResult:
        yield CockpitHeader(self.app.mode_label, id="header")
        yield PositionBar("", id="position-bar")
        with Container(id="body"):
            chart = CandlesChart(id="candles", classes="pane")
            chart.border_title = chart_title(self.app.timeframe)
            yield chart
            yield TabStrip("", id="tabstrip")
            yield WeightsPane("Strategy weights", id="weights", classes="pane lower")
            yield RationalePane("LLM rationale", id="rationale", classes="pane lower")
            yield RiskEventsPane("Risk events", id="risk", classes="pane lower")
            yield OrdersPane(id="orders", classes="pane lower")
        yield ApprovalBanner("", id="approval-banner")
        yield CockpitFooter()

    def on_mount(self) -> None:
        self._apply_tabs()
        self.focus_default()
        if self.app.snapshot is not None:  # a poll landed before the panes were mounted
            self.show(self.app.snapshot, set(self.app.snapshot.sigs))
        # The approval countdown runs on the operator's clock: redrawn every second, not only when a
        # poll brings a changed order list.
        self.set_interval(COUNTDOWN_S, self.tick, name="approval-countdown")

    def on_resize(self, event: events.Resize) -> None:
        w, h = event.size
        compact = w < COMPACT_BELOW[0] or h < COMPACT_BELOW[1]
        self.set_class(compact, "-compact")
        self._size_body(compact, h)
        if self.app.snapshot is not None:
            self.show_header(self.app.snapshot)
            self.show_position(self.app.snapshot)
        self.call_after_refresh(self.focus_default)

    def _size_body(self, compact: bool, h: int) -> None:
        """The compact layout's rows: chart, tab strip, lower pane (see APPROVAL_RESERVE_ROWS)."""
        body = self.query_one("#body")
        if not compact:
            if self._body_rows is not None:
                body.styles.clear_rule("grid_rows")
                self._body_rows = None
            return
        rows = max(COMPACT_CHART_ROWS, (h - 4) // 2)
        snap = self.app.snapshot
        if snap is not None and snap.pending:
            rows = max(APPROVAL_CHART_ROWS, min(rows, h - APPROVAL_RESERVE_ROWS))
        if rows != self._body_rows:
            body.styles.grid_rows = f"{rows} 1 1fr"
            self._body_rows = rows

    def on_screen_resume(self) -> None:
        # Back from a dialog (kill, reject, confirmations) or another screen: the keys act on orders again.
        self.call_after_refresh(self.focus_default)
        self.call_after_refresh(self.tick)

    def focus_default(self) -> None:
        """The orders list has the focus (↑/↓ select orders), or in the compact layout the open tab's
        pane when it is not the orders tab (↑/↓ scroll it)."""
        if self.app.screen is not self:
            return
        if self.compact and self.active_tab != "orders":
            self.query_one(f"#{self.active_tab}").focus(scroll_visible=False)
        else:
            self.query_one("#orders-table", DataTable).focus(scroll_visible=False)

    @property
    def compact(self) -> bool:
        return self.has_class("-compact")

    # ------------------------------------------------------------- tabs (compact layout)

    def action_tab(self, name: str) -> None:
        self.active_tab = name
        self._apply_tabs()
        self.focus_default()

    def action_chart_focus(self) -> None:
        chart = self.query_one(CandlesChart)
        if chart.has_focus:
            chart.action_leave()
        else:
            chart.focus()

    def action_overlay(self, name: str) -> None:
        self.query_one(CandlesChart).toggle(name)

    def action_cycle_tab(self) -> None:
        if not self.compact:
            self.focus_next()
            return
        self.active_tab = LOWER[(LOWER.index(self.active_tab) + 1) % len(LOWER)]
        self._apply_tabs()
        self.focus_default()

    def _apply_tabs(self) -> None:
        for name in LOWER:
            self.query_one(f"#{name}").set_class(name == self.active_tab, "-active")
        snap = self.app.snapshot
        self.query_one(TabStrip).show_active(self.active_tab, len(snap.pending) if snap else 0)

    # ------------------------------------------------------------- rendering (main thread only)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_halt":  # U is offered (and works) while trading is halted
            snap = self.app.snapshot
            return bool(snap and snap.halted)
        return True

    def action_clear_halt(self) -> None:
        self.app.action_clear_kill()

    def show_header(self, snap: "Snapshot") -> None:
        now = self.app.clock.now_ms()
        if snap.halted != self._halted_shown:
            self._halted_shown = snap.halted
            self.refresh_bindings()
        self.query_one(ModeBadge).set_state(snap.halted, snap.halt_reason)
        self.query_one(CockpitHeader).set_info(
            render.header_text(
                snap,
                self.app.symbol,
                now,
                compact=self.compact,
                initial_equity=self.app.initial_equity,
                note="attached to a headless engine" if self.app.attach else "",
            )
        )

    def show_position(self, snap: "Snapshot") -> None:
        bal = snap.balance
        self.query_one(PositionBar).update(
            position_text(
                snap.position,
                (snap.price or {}).get("mark_price"),
                snap.levels,
                snap.account,
                compact=self.compact,
                equity_now=float(bal["total"]) if bal else None,
                initial_equity=self.app.initial_equity,
            )
        )

    def show(self, snap: "Snapshot", changed: set[str]) -> None:
        """Re-render the panes whose section changed since the last poll."""
        app = self.app
        now = app.clock.now_ms()
        if "header" in changed:
            self.show_header(snap)
        if "account" in changed:
            self.show_position(snap)
        if "candles" in changed:
            self.query_one(CandlesChart).show(
                snap.timeframe,
                snap.candles,
                snap.levels,
                snap.chart,
                snap.chart_size,
                view=snap.chart_view,
                fills=snap.chart_fills,
                first=snap.chart_first,
                last=snap.chart_last,
                sig=snap.sigs.get("candles"),
            )
        if "decisions" in changed:
            latest = snap.decisions[0] if snap.decisions else None
            self.query_one(WeightsPane).show_decision(latest)
            run = snap.llm_runs.get((latest or {}).get("llm_run_id") or -1)
            prompt = snap.prompt_names.get((latest or {}).get("prompt_version_id") or -1)
            self.query_one(RationalePane).set_text(
                render.rationale_text(snap.decisions, snap.llm_runs), render.rationale_title(latest, run, prompt)
            )
        if "risk" in changed:
            self.query_one(RiskEventsPane).set_text(
                render.risk_text(snap.risk_events), f"Risk events — {len(snap.risk_events)}"
            )
        if "orders" in changed:
            pane = self.query_one(OrdersPane)
            xnow = render.exchange_now(snap, now)
            speed = approval.heartbeat_speed(snap.heartbeat)
            pane.set_orders(snap.orders, app.selected_order_id, xnow, speed, snap.outcomes)
            sel = next((o for o in snap.orders if o["id"] == app.selected_order_id), None)
            pane.set_timeline(
                render.timeline_text(
                    sel,
                    snap.timeline if sel and snap.selected_order_id == sel["id"] else [],
                    snap.fills,
                    snap.selected_decision,
                )
            )
            self.show_banner(snap)
            self._apply_tabs()
            self._size_body(self.compact, self.size.height)

    def show_banner(self, snap: "Snapshot") -> None:
        app = self.app
        now = app.clock.now_ms()
        note = app.queue_note if app.queue_note and now - app.queue_note[1] < NOTE_SHOWN_MS else None
        if note is None:
            app.queue_note = None
        banner = self.query_one(ApprovalBanner)
        banner.update(
            render.banner_text(
                snap.pending,
                render.exchange_now(snap, now),
                approval.heartbeat_speed(snap.heartbeat),
                target=app.approval_target(),
                outcome=note[0] if note else "",
            )
        )
        banner.set_class(bool(snap.pending or note), "-shown")

    def tick(self) -> None:
        """Once a second: the pending orders' countdowns (banner and rows) from the operator's clock,
        and the banner's note about the last order that left the queue, until it is old."""
        snap = self.app.snapshot
        shown = self.app.screen is self or isinstance(self.app.screen, ModalScreen)
        if snap is None or not self.is_mounted or not shown:
            return  # under another screen: redrawn when it comes back (on_screen_resume); under a dialog it shows
        if snap.pending:
            now = self.app.clock.now_ms()
            self.query_one(OrdersPane).tick_pending(
                snap.pending,
                self.app.selected_order_id,
                render.exchange_now(snap, now),
                approval.heartbeat_speed(snap.heartbeat),
            )
        if snap.pending or self.app.queue_note:
            self.show_banner(snap)

    @on(DataTable.RowHighlighted, "#orders-table")
    def _order_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return
        oid = int(event.row_key.value)
        if oid != self.app.selected_order_id:
            self.app.select_order(oid)
