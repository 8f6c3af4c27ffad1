"""DataScreen: ingestion runs, per-timeframe coverage and gaps, and a repair action.

The repair writes nothing until the market ingest exposes one (``cockpit.market.ingest.repair``
or ``repair_gaps``); until then it lists the gaps it would fill.
"""

from __future__ import annotations

import importlib
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from cockpit.domain.settings import Config
from cockpit.ui import render
from cockpit.ui.messages import ScreenDataLoaded
from cockpit.ui.screens.common import CockpitScreen


def find_repair() -> Any:
    """``repair(cfg, db, timeframes) -> str`` over the market ingest, or None when it is not in this build."""
    try:
        ingest = importlib.import_module("cockpit.market.ingest")
        exchange = importlib.import_module("cockpit.engine.exchange")
    except ImportError:
        return None
    if not (hasattr(ingest, "MarketIngestor") and hasattr(exchange, "open_exchange")):
        return None

    def repair(cfg: Config, db: Any, timeframes: list[str]) -> str:
        from cockpit.data.venue import venue_refusal

        mode = cfg["exchange"]["mode"]
        refusal = venue_refusal(db, cfg, mode, action=f"repair its gaps with {mode} market data")
        if refusal:
            return f"refused, nothing was written: {refusal}"
        x, clock, close = exchange.open_exchange(cfg, mode)
        try:
            steps = ingest.MarketIngestor(x, cfg, clock, db=db, timeframes=timeframes, source=mode).repair(timeframes)
        finally:
            close()
        return "; ".join(
            f"{s.timeframe}: {s.status}, {s.rows} row(s)" + (f" ({s.error})" if s.error else "") for s in steps
        )

    return repair


class DataScreen(CockpitScreen):
    SCREEN_TITLE = "Data"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("R", "repair", "Repair gaps"),
        Binding("f5", "reload", "Reload"),
    ]

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(id="data-body"):
            cov: DataTable[str] = DataTable(id="data-coverage", classes="pane", cursor_type="row")
            cov.add_columns("symbol", "tf", "rows", "first", "last", "gaps")
            yield cov
            runs: DataTable[str] = DataTable(id="data-runs", classes="pane", cursor_type="row")
            runs.add_columns("id", "source", "type", "tf", "started", "rows", "status", "error")
            yield runs
            yield Static("", id="data-status")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#data-coverage").border_title = "Coverage (gaps = missing grid points)"
        self.query_one("#data-runs").border_title = "Ingestion runs"
        self.action_reload()

    def action_reload(self) -> None:
        self.run_load()

    reload_on_return = action_reload

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-load")
    def run_load(self) -> None:
        ds = self.app.ds
        self.load_in_thread("data", lambda: (ds.coverage(), ds.ingestion_runs(limit=100)))

    @on(ScreenDataLoaded)
    def _loaded(self, m: ScreenDataLoaded) -> None:
        if m.key == "error":
            self.query_one("#data-status", Static).update(f"[red]{m.data}[/]")
            return
        if m.key == "repair":
            self.query_one("#data-status", Static).update(m.data)
            return
        coverage, runs = m.data
        cov = self.query_one("#data-coverage", DataTable)
        cov.clear()
        for r in coverage:
            gaps = r.get("gaps")
            cov.add_row(
                r["symbol"],
                r["timeframe"],
                f"{r['rows']:,}",
                render.day(r["first"]),
                render.day(r["last"]),
                "—" if gaps is None else (f"[yellow]{gaps:,}[/]" if gaps else "0"),
            )
        t = self.query_one("#data-runs", DataTable)
        t.clear()
        for r in runs:
            st = r.get("status") or ""
            t.add_row(
                str(r["id"]),
                r.get("source") or "",
                r.get("data_type") or "",
                r.get("timeframe") or "",
                f"{render.day(r['started_at'])} {render.hms_s(r['started_at'])}",
                str(r.get("rows_inserted") or 0),
                f"[red]{st}[/]" if st not in ("success", "ok", "done") else st,
                (r.get("error") or "")[:60],
            )

    def action_repair(self) -> None:
        from cockpit.ui.screens.modals import ConfirmModal

        def after(ok: bool | None) -> None:
            if ok:
                self.query_one("#data-status", Static).update("repairing…")
                self.run_repair()

        self.app.push_screen(
            ConfirmModal(f"Refetch every candle gap from the exchange ({self.app.mode_label})?", yes="Repair"), after
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-repair")
    def run_repair(self) -> None:
        ds, sym = self.app.ds, self.app.symbol
        try:
            tfs = list(self.app.cfg["timeframes"])
            gaps = {tf: ds.gaps(sym, tf) for tf in tfs}
            n = sum(len(g) for g in gaps.values())
            found = ", ".join(f"{tf}: {len(g)}" for tf, g in gaps.items())
            repair = find_repair()
            if repair is None:
                msg = f"{n} gap range(s) ({found}); repair is not available in this build, nothing was written"
            elif n == 0:
                msg = "no gaps: nothing to repair"
            else:
                msg = f"{n} gap range(s) ({found}) → {repair(self.app.cfg, self.app.db, tfs)}"
            self.post_message(ScreenDataLoaded("repair", msg))
            self.post_message(ScreenDataLoaded("data", (ds.coverage(), ds.ingestion_runs(limit=100))))
        except Exception as e:  # noqa: BLE001
            self.post_message(ScreenDataLoaded("error", f"repair failed: {type(e).__name__}: {e}"))
        finally:
            self.app._close_thread_connection()
