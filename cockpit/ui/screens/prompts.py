"""PromptsScreen: prompt versions (with a diff against the previous one) and the strategy score table."""

from __future__ import annotations

import difflib

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from cockpit.ui.messages import ScreenDataLoaded
from cockpit.ui.screens.common import CockpitScreen


def diff_text(old: str, new: str) -> Text:
    t = Text()
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), "previous", "this", lineterm="", n=2):
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
        t.append(line + "\n", style)
    return t or Text("(no change from the previous version)", "dim")


class PromptsScreen(CockpitScreen):
    SCREEN_TITLE = "Prompts & scores"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="pr-top"):
            pv = DataTable(id="pr-versions", classes="pane", cursor_type="row")
            pv.add_columns("id", "name", "version", "status")
            yield pv
            with VerticalScroll(id="pr-diff", classes="pane"):
                yield Static("", id="pr-diff-body")
        sc = DataTable(id="pr-scores", classes="pane", cursor_type="row")
        sc.add_columns("version", "strategy", "regime", "expected reward", "uncertainty", "samples", "status")
        yield sc
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#pr-versions").border_title = "Prompt versions"
        self.query_one("#pr-diff").border_title = "Diff against the previous version"
        self.query_one("#pr-scores").border_title = "Strategy scores (newest published)"
        self.versions: list[dict] = []
        self.run_load()

    def reload_on_return(self) -> None:
        self.run_load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="prompts-load")
    def run_load(self) -> None:
        ds = self.app.ds
        self.load_in_thread("prompts", lambda: (ds.prompt_versions(), ds.strategy_scores()))

    @on(ScreenDataLoaded)
    def _loaded(self, m: ScreenDataLoaded) -> None:
        if m.key == "error":
            self.notify(m.data, severity="error")
            return
        self.versions, scores = m.data
        t = self.query_one("#pr-versions", DataTable)
        t.clear()
        for v in self.versions:
            t.add_row(str(v["id"]), v["name"], v["version"], v.get("status") or "", key=str(v["id"]))
        s = self.query_one("#pr-scores", DataTable)
        s.clear()
        for r in scores:
            s.add_row(r["version"], r["strategy"], r["regime"], f"{float(r['expected_reward']):.3f}",
                      "—" if r.get("uncertainty") is None else f"{float(r['uncertainty']):.3f}", str(r["samples"]),
                      r.get("status") or "")
        if self.versions:
            self._show_diff(self.versions[0]["id"])

    def _show_diff(self, vid: int) -> None:
        v = next((x for x in self.versions if x["id"] == vid), None)
        if v is None:
            return
        older = [x for x in self.versions if x["name"] == v["name"] and x["id"] < vid]
        prev = older[0]["content"] if older else ""
        self.query_one("#pr-diff-body", Static).update(diff_text(prev, v["content"]))
        self.query_one("#pr-diff").border_title = f"{v['name']} {v['version']} vs " + (
            older[0]["version"] if older else "nothing")

    @on(DataTable.RowHighlighted, "#pr-versions")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value:
            self._show_diff(int(event.row_key.value))
