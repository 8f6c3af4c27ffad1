"""HelpScreen: every key binding."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from cockpit.ui.screens.common import CockpitScreen


class HelpScreen(CockpitScreen):
    SCREEN_TITLE = "Help"

    def compose(self) -> ComposeResult:
        from cockpit.ui.app import KEYMAP

        yield from self.compose_header()
        t = Table(box=None, show_header=True, header_style="bold", padding=(0, 2), expand=False)
        t.add_column("key", style="bold cyan", no_wrap=True)
        t.add_column("what it does")
        for key, _action, desc in KEYMAP:
            t.add_row(key, desc)
        mode = (
            "attached to a running engine: quitting leaves it running" if self.app.attach else "engine in this process"
        )
        with VerticalScroll(id="help-body", classes="pane"):
            yield Static(t)
            yield Static(
                f"\n[dim]Mode: {self.app.mode_label}, {mode}. Approvals, rejections, cancels and the "
                "kill switch are written as operator commands that the engine executes.[/]"
            )
        yield from self.compose_footer()
