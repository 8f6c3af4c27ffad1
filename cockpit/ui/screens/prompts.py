"""PromptsScreen: prompt versions (with a diff against the previous one), the strategy score table, and
the training candidates, one of which ``P`` publishes (after a confirmation).

Publishing goes through the same code as ``cockpit train publish`` (cockpit.training.pipeline): the
candidate's score table becomes the one the scorer reads and its prompt draft is published; like the
CLI without ``--force``, a candidate without a held-out report is refused, and so is a viewer.
"""

from __future__ import annotations

import difflib
from typing import Any

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
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("P", "publish", "Publish candidate"),
        Binding("f5", "reload", "Reload"),
    ]

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="pr-top"):
            pv: DataTable[str] = DataTable(id="pr-versions", classes="pane", cursor_type="row")
            pv.add_columns("id", "name", "version", "status")
            yield pv
            with VerticalScroll(id="pr-diff", classes="pane"):
                yield Static("", id="pr-diff-body")
        with Horizontal(id="pr-bottom"):
            sc: DataTable[str] = DataTable(id="pr-scores", classes="pane", cursor_type="row")
            sc.add_columns("version", "strategy", "regime", "expected reward", "uncertainty", "samples", "status")
            yield sc
            cd: DataTable[str | Text] = DataTable(id="pr-candidates", classes="pane", cursor_type="row")
            cd.add_columns("candidate", "status", "trained on", "held-out report", "by")
            yield cd
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#pr-versions").border_title = "Prompt versions"
        self.query_one("#pr-diff").border_title = "Diff against the previous version"
        self.query_one("#pr-scores").border_title = "Strategy scores (newest published)"
        self.query_one("#pr-candidates").border_title = "Training candidates (P publishes the selected one)"
        self.versions: list[dict] = []
        self.candidates: list[dict[str, Any]] = []
        self.run_load()

    def action_reload(self) -> None:
        self.run_load()

    reload_on_return = action_reload

    @work(thread=True, exclusive=True, exit_on_error=False, group="prompts-load")
    def run_load(self) -> None:
        from cockpit.data.training_store import MODEL_NAME

        ds = self.app.ds
        self.load_in_thread(
            "prompts",
            lambda: (
                ds.prompt_versions(),
                ds.strategy_scores(),
                [candidate_row(r) for r in ds.model_versions(MODEL_NAME)],
            ),
        )

    @on(ScreenDataLoaded)
    def _loaded(self, m: ScreenDataLoaded) -> None:
        if m.key == "error":
            self.notify(m.data, severity="error")
            return
        if m.key == "published":
            ok, text = m.data
            self.notify(text, severity="information" if ok else "error", timeout=10)
            if ok:
                self.run_load()
            return
        self.versions, scores, self.candidates = m.data
        c = self.query_one("#pr-candidates", DataTable)
        c.clear()
        for r in self.candidates:
            c.add_row(
                r["version"],
                Text(r["status"], "bold green" if r["status"] == "published" else ""),
                r["trained"],
                Text(r["verdict"], r["verdict_style"]),
                r["by"],
                key=r["version"],
            )
        c.border_title = (
            "Training candidates (P publishes the selected one)"
            if self.candidates
            else "Training candidates — none yet"
        )
        if not self.candidates:  # the empty state says how to make one
            c.add_row(
                Text("`cockpit train run` makes one", "italic"),
                "",
                Text("then `cockpit train report`", "dim"),
                "",
                "",
                key="none",
            )
        t = self.query_one("#pr-versions", DataTable)
        t.clear()
        for v in self.versions:
            t.add_row(str(v["id"]), v["name"], v["version"], v.get("status") or "", key=str(v["id"]))
        s = self.query_one("#pr-scores", DataTable)
        s.clear()
        for r in scores:
            s.add_row(
                r["version"],
                r["strategy"],
                r["regime"],
                f"{float(r['expected_reward']):.3f}",
                "—" if r.get("uncertainty") is None else f"{float(r['uncertainty']):.3f}",
                str(r["samples"]),
                r.get("status") or "",
            )
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
            older[0]["version"] if older else "nothing"
        )

    @on(DataTable.RowHighlighted, "#pr-versions")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value:
            self._show_diff(int(event.row_key.value))

    # ------------------------------------------------------------- publish a training candidate

    def selected_candidate(self) -> dict[str, Any] | None:
        t = self.query_one("#pr-candidates", DataTable)
        if not self.candidates or t.cursor_row < 0 or t.cursor_row >= len(self.candidates):
            return None
        return self.candidates[t.cursor_row]

    def action_publish(self) -> None:
        from cockpit.ui.screens.modals import ConfirmModal

        c = self.selected_candidate()
        if c is None:
            self.notify("no training candidate to publish (cockpit train run makes one)", severity="warning")
            return
        if c["status"] == "published":
            self.notify(f"{c['version']} is already the published score table", severity="warning")
            return
        if not c["has_report"]:
            self.notify(
                f"{c['version']} has no held-out report: run `cockpit train report {c['version']}` and review it first",
                severity="error",
                timeout=10,
            )
            return

        def after(ok: bool | None) -> None:
            if ok:
                self.run_publish(c["version"])

        self.app.push_screen(
            ConfirmModal(
                f"Publish training candidate [b]{c['version']}[/b]? Held-out report: {c['verdict']}. Its score table "
                "becomes the one the scorer reads from the next decision on, the previously published one is retired, "
                "and its prompt draft is published.",
                yes="Publish",
            ),
            after,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="prompts-publish")
    def run_publish(self, version: str) -> None:
        from cockpit.data.operator import check_allowed
        from cockpit.data.training_store import TrainingStore
        from cockpit.training.pipeline import publish_candidate

        app = self.app
        try:
            check_allowed("publish")
            meta = publish_candidate(
                app.cfg, app.ds, TrainingStore(app.db), version, operator=app.operator, now_ms=app.clock.now_ms()
            )
            p = meta.get("prompt") or {}
            text = f"published {version} by {meta['published_by']}"
            if p.get("version"):
                text += (
                    f"; prompt {p['name']}@{p['version']} is published (set llm.prompt_version: {p['version']} "
                    "in config.yaml to use it)"
                )
            self.post_message(ScreenDataLoaded("published", (True, text)))
        except Exception as e:  # noqa: BLE001 - refused or failed: shown, nothing half-written (one transaction)
            self.post_message(ScreenDataLoaded("published", (False, f"publish failed: {e}")))
        finally:
            app._close_thread_connection()


def candidate_row(row: dict[str, Any]) -> dict[str, Any]:
    """A model_versions row of the training pipeline as the candidates table shows it."""
    m = row.get("metadata")
    if not isinstance(m, dict):
        m = {}
    t = m.get("train") or {}
    rep = m.get("report")
    v = (rep or {}).get("verdict") if isinstance((rep or {}).get("verdict"), dict) else None
    if not rep:
        verdict, style = "none yet", "yellow"
    elif v is not None:  # the held-out report's verdict (cockpit.training.evaluation.verdict)
        if v.get("passes"):
            verdict, style = "passes: beats cash and buy-and-hold", "green"
        elif not v.get("beats_cash"):
            verdict, style = "does not beat cash", "red"
        elif not v.get("within_drawdown_limit"):
            verdict, style = "drawdown beyond the limit", "red"
        else:
            verdict, style = "beats cash, not buy-and-hold's Sharpe", "yellow"
    elif rep.get("candidate_beats_equal"):  # older reports without a verdict
        verdict, style = "beats equal weights", "green"
    else:
        verdict, style = "does not beat equal weights", "red"
    return {
        "version": row["version"],
        "status": str(m.get("status") or "?"),
        "trained": f"{t.get('from', '?')} .. {t.get('to', '?')}",
        "verdict": verdict,
        "verdict_style": style,
        "has_report": bool(rep),
        "by": str(m.get("published_by") or ""),
    }
