"""Pieces every secondary screen shares: a header with the mode badge (LIVE on every screen)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from cockpit.ui.widgets.panes import CockpitHeader, ModeBadge

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp


class CockpitScreen(Screen):
    """A secondary screen: Esc goes back to the main screen; the mode badge follows halts."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]
    SCREEN_TITLE = ""
    _shown_before = False

    app: "CockpitApp"

    def on_screen_resume(self) -> None:
        # Screens are kept between visits (CockpitApp._push_named): the first visit loads in on_mount,
        # later ones reload what may have changed meanwhile.
        if self._shown_before:
            self.reload_on_return()
        self._shown_before = True

    def reload_on_return(self) -> None:
        """Re-read this screen's data when the trader comes back to it (default: nothing to read)."""

    def load_in_thread(self, key: str, fetch: Callable[[], Any]) -> None:
        """From a thread worker: post ScreenDataLoaded(key, fetch()), or ("error", text) when the read
        fails (shown, never fatal); the worker thread's database connection is closed either way."""
        from cockpit.ui.messages import ScreenDataLoaded

        try:
            self.post_message(ScreenDataLoaded(key, fetch()))
        except Exception as e:  # noqa: BLE001 - a failed read is shown on the screen
            self.post_message(ScreenDataLoaded("error", f"{type(e).__name__}: {e}"))
        finally:
            self.app._close_thread_connection()

    def compose_header(self) -> ComposeResult:
        yield CockpitHeader(self.app.mode_label, classes="screen-header")

    def compose_footer(self) -> ComposeResult:
        yield Footer()

    def on_mount(self) -> None:
        from rich.text import Text

        snap = getattr(self.app, "snapshot", None)
        self.query_one(ModeBadge).set_state(bool(snap and snap.halted), snap.halt_reason if snap else "")
        self.query_one(CockpitHeader).set_info(Text(f" {self.SCREEN_TITLE}  ·  {self.app.symbol}  ·  Esc back",
                                                    "bold"))
