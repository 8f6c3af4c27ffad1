"""TradesScreen (``t``): closed trades (entry, exit, exit reason, realised P&L, fees, funding, net) and what
each strategy's weight earned (every trade's net split by the weights of the decision that opened it)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from cockpit.ui import render
from cockpit.ui.messages import ScreenDataLoaded
from cockpit.ui.screens.common import CockpitScreen

LIMIT = 500
REASON_STYLE = {
    "stop-loss": "red",
    "liquidation": "bold red",
    "kill switch": "bold red",
    "take-profit": "green",
    "manual": "yellow",
}


def _money(v: float | None, nd: int = 2) -> str:
    if v is None:
        return "[dim]—[/]"
    return f"[{'green' if v >= 0 else 'red'}]{v:+,.{nd}f}[/]"


class TradesScreen(CockpitScreen):
    SCREEN_TITLE = "Closed trades"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("f5", "reload", "Reload")]

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(id="trades-body"):
            yield Static("loading…", id="trades-summary")
            t: DataTable[str] = DataTable(id="trades-table", classes="pane", cursor_type="row", zebra_stripes=True)
            # Net right after the reason: at 80 columns the columns past it scroll (→).
            t.add_columns("closed UTC", "side", "size", "entry", "exit", "exit reason", "net", "P&L", "fees", "funding")
            yield t
            s: DataTable[str] = DataTable(id="trades-strategies", classes="pane", cursor_type="row")
            s.add_columns("strategy", "trades", "won", "weight", "net earned")
            yield s
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#trades-table").border_title = "Closed trades — newest first"
        by_strategy = self.query_one("#trades-strategies")
        by_strategy.border_title = "By strategy — each trade's net split by the weights of the decision that opened it"
        self.query_one("#trades-table", DataTable).focus()
        self.action_reload()

    def action_reload(self) -> None:
        self.run_load()

    reload_on_return = action_reload

    @work(thread=True, exclusive=True, exit_on_error=False, group="trades-load")
    def run_load(self) -> None:
        from cockpit.data.account import AccountReads, by_strategy, closed_trades

        def fetch():
            reads = AccountReads(self.app.db)
            trades, open_trade = closed_trades(reads, self.app.symbol, limit=LIMIT)
            weights = reads.decision_weights([t["decision_id"] for t in trades])
            return trades, open_trade, by_strategy(trades, weights)

        self.load_in_thread("trades", fetch)

    @on(ScreenDataLoaded)
    def _loaded(self, m: ScreenDataLoaded) -> None:
        summary = self.query_one("#trades-summary", Static)
        if m.key == "error":
            summary.update(f"[red]{m.data}[/]")
            return
        trades, open_trade, strategies = m.data
        t = self.query_one("#trades-table", DataTable)
        t.clear()
        for x in trades:
            reason = x["exit_reason"]
            style = REASON_STYLE.get(reason)
            t.add_row(
                f"{render.day(x['closed_at'])[5:]} {render.hms(x['closed_at'])}",
                f"[{render.side_style(x['side'].upper())}]{x['side']}[/]",
                f"{x['size']:g}",
                render.num(x["entry_price"]),
                render.num(x["exit_price"]),
                f"[{style}]{reason}[/]" if style else reason,
                _money(x["net"]),
                _money(x["pnl"]),
                f"{x['fees']:,.2f}",
                _money(x["funding"]),
            )
        s = self.query_one("#trades-strategies", DataTable)
        s.clear()
        for a in strategies:
            s.add_row(
                a["strategy"], str(a["trades"]), f"{a['wins']}/{a['trades']}", f"{a['weight']:.2f}", _money(a["net"])
            )
        if not trades:
            summary.update(
                " No closed trade yet: a trade closes when the position returns to flat."
                + (f"  Open: {open_trade['side']} {open_trade['size']:g} BTC." if open_trade else "")
            )
            return
        net = sum(x["net"] for x in trades)
        wins = sum(x["net"] > 0 for x in trades)
        reasons: dict[str, int] = {}
        for x in trades:
            reasons[x["exit_reason"]] = reasons.get(x["exit_reason"], 0) + 1
        summary.update(
            f" {len(trades)} closed trade(s) · won {wins} ({wins / len(trades):.0%}) · net {_money(net)} "
            f"after fees and funding · exits: "
            + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
        )
