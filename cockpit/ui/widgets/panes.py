"""The cockpit's panes. Each is handed ready data by the app (main thread) and never reads the DB."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from cockpit.ui import render


class ModeBadge(Static):
    """SIM grey / OKX DEMO blue / OKX LIVE red; replaced by a red HALTED banner while halted."""

    DEFAULT_CSS = """
    ModeBadge { width: auto; height: 100%; padding: 0 1; content-align: center middle; text-style: bold;
                color: white; background: ansi_bright_black; }
    ModeBadge.-demo { background: ansi_blue; }
    ModeBadge.-live { background: ansi_red; }
    ModeBadge.-halted { background: ansi_red; text-style: bold reverse; }
    """

    def __init__(self, mode: str, **kw: Any) -> None:
        from cockpit.data.operator import operator_role

        super().__init__(mode, **kw)
        self.mode = mode
        # A viewer (e.g. an SSH key without the trader role) sees it on every screen: its
        # approvals, rejections, cancels and kill switch are refused where commands are written.
        self.role_note = " · VIEWER" if operator_role() == "viewer" else ""
        self.set_state(False, "")

    def set_state(self, halted: bool, reason: str) -> None:
        self.set_class(self.mode == "OKX DEMO", "-demo")
        self.set_class(self.mode == "OKX LIVE", "-live")
        self.set_class(halted, "-halted")
        if halted:
            live = " LIVE" if self.mode == "OKX LIVE" else ""
            self.update(f"HALTED{live}: {reason}{self.role_note}")
        else:
            self.update(self.mode + self.role_note)


class CockpitHeader(Horizontal):
    DEFAULT_CSS = """
    CockpitHeader { height: 1; dock: top; background: $panel; }
    CockpitHeader #header-info { height: 100%; width: 1fr; }
    """
    # The header is as tall as its text has lines (the text never wraps), set in ``set_info``. Not
    # ``height: auto``: the badge is ``height: 100%`` of the header, so an auto header measured once
    # while narrow (the badge's words wrapped) kept that height for good, badge and header holding
    # each other up.

    def __init__(self, mode: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.mode = mode
        self.badge = ModeBadge(mode, id="mode-badge")
        self.info = Static("", id="header-info")
        self._rows = 1

    def compose(self) -> ComposeResult:
        yield self.badge
        yield self.info

    def set_info(self, text: Text) -> None:
        rows = text.plain.count("\n") + 1
        if rows != self._rows:
            self._rows = rows
            self.styles.height = rows
        self.info.update(text)


class TextPane(VerticalScroll):
    """A bordered pane holding one Static body; Tab focuses it and ↑/↓/PgUp/PgDn scroll it."""

    DEFAULT_CSS = """
    TextPane > Static { width: 1fr; }
    """

    def __init__(self, title: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.border_title = title
        self.body = Static("", classes="pane-body")

    def compose(self) -> ComposeResult:
        yield self.body

    def set_text(self, text: Text, title: str | None = None) -> None:
        self.body.update(text)
        if title is not None:
            self.border_title = title


class WeightsPane(TextPane):
    """Bars are as wide as the pane allows, so the text is rebuilt when the pane is resized."""

    decision: dict[str, Any] | None = None

    def show_decision(self, decision: dict[str, Any] | None) -> None:
        self.decision = decision
        self._render_weights()

    def on_resize(self) -> None:
        self._render_weights()

    def _render_weights(self) -> None:
        w = self.size.width
        bar_width = max(6, min(24, w - 48)) if w else 10
        self.set_text(
            render.weights_text(self.decision, bar_width=bar_width),
            f"Strategy weights — regime: {render.regime_label(self.decision)}",
        )


class RationalePane(TextPane):
    pass


class RiskEventsPane(TextPane):
    pass


class OrdersPane(Vertical):
    """Orders (newest first, pending highlighted) and the selected order's detail: for a pending order
    the risk verdict first, wrapped (never cut: the trader reads it before pressing a key), then its
    timeline; the detail scrolls when it is longer than the pane."""

    DEFAULT_CSS = """
    OrdersPane DataTable { height: 1fr; min-height: 2; overflow-x: hidden; }
    OrdersPane #order-detail { height: auto; max-height: 8; }
    OrdersPane #order-timeline { width: 1fr; height: auto; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.border_title = "Orders"
        self._row_ids: list[int] = []

    def compose(self) -> ComposeResult:
        t: DataTable[Text] = DataTable(id="orders-table", show_header=False, cursor_type="row", zebra_stripes=False)
        t.add_column("order", key="order")
        yield t
        with VerticalScroll(id="order-detail"):
            yield Static("", id="order-timeline")

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#orders-table", DataTable)

    def _row(self, o: dict[str, Any], selected: int | None, now_ms: int, speed: float, outcome: str) -> Text:
        marker = Text("▶ " if o["id"] == selected else "  ", "bold")
        # The footer and the banner carry the keys; a narrow pane keeps the row for the order itself.
        keys = not self.size.width or self.size.width >= 110
        return marker + render.order_summary(o, now_ms, speed, outcome=outcome, keys=keys)

    def set_orders(
        self,
        orders: list[dict[str, Any]],
        selected: int | None,
        now_ms: int,
        speed: float = 1.0,
        outcomes: dict[int, str] | None = None,
    ) -> None:
        outcomes = outcomes or {}
        t = self.table
        with t.prevent(DataTable.RowHighlighted):
            t.clear()
            self._row_ids = []
            for o in orders:
                t.add_row(self._row(o, selected, now_ms, speed, outcomes.get(o["id"], "")), key=str(o["id"]))
                self._row_ids.append(o["id"])
            if selected in self._row_ids:
                # scrolled into view: a new pending order is selected wherever it lands in the list
                t.move_cursor(row=self._row_ids.index(selected), animate=False, scroll=True)
        if not orders:
            self.border_title = "Orders — none yet"
        else:
            n = sum(1 for o in orders if o["status"] == "pending_approval")
            self.border_title = f"Orders — {n} pending approval" if n else "Orders"

    def tick_pending(self, orders: list[dict[str, Any]], selected: int | None, now_ms: int, speed: float) -> None:
        """Redraw only the pending rows (their countdown), once a second between polls."""
        t = self.table
        for o in orders:
            if o["status"] == "pending_approval" and o["id"] in self._row_ids:
                t.update_cell(str(o["id"]), "order", self._row(o, selected, now_ms, speed, ""))

    def set_timeline(self, text: Text) -> None:
        self.query_one("#order-timeline", Static).update(text)


class ApprovalBanner(Static):
    """One line above the footer whenever an order waits for approval, whatever tab is open."""

    DEFAULT_CSS = """
    ApprovalBanner { height: auto; max-height: 3; background: $warning 30%; display: none; }
    ApprovalBanner.-shown { display: block; }
    """


class TabStrip(Static):
    """In compact layouts: which of the four lower panes is shown (Tab cycles; w/l/e/o jump)."""

    TABS = (
        ("weights", "w", "Weights"),
        ("rationale", "l", "Rationale"),
        ("risk", "e", "Events"),
        ("orders", "o", "Orders"),
    )

    def show_active(self, active: str, pending: int) -> None:
        t = Text(no_wrap=True)
        for key, k, label in self.TABS:
            style = "bold reverse" if key == active else "dim"
            t.append(f" {label}", style)
            t.append(f"[{k}] ", style)
            if key == "orders" and pending:
                t.append(f"({pending}!) ", "bold yellow")
        t.append(" Tab cycles", "dim")
        self.update(t)
