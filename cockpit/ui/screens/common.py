"""Pieces every secondary screen shares: a header with the mode badge (LIVE on every screen)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from cockpit.ui.widgets.footer import CockpitFooter
from cockpit.ui.widgets.panes import CockpitHeader, ModeBadge

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp


class CockpitScreen(Screen):
    """A secondary screen: Esc goes back to the main screen; the mode badge follows halts."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]
    SCREEN_TITLE = ""
    _shown_before = False
    _styled_for: Any = None  # what the styles of this screen's widgets were last computed under

    app: "CockpitApp"

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Runs before Screen._on_screen_resume (handlers run from the subclass up). Textual restyles a
        # pushed screen's whole tree each time it comes back (10-30 ms for the help screen, then every
        # widget redraws from scratch) in case the theme or the app's classes changed while it was away.
        # These screens are kept between visits: restyle only when something their styles depend on changed.
        app = self.app
        under = (
            app.theme,
            app.ansi_color,
            getattr(app, "_css_update_count", None),
            app.size,
            app.get_pseudo_classes(),
            app.classes,
        )
        if event.refresh_styles:
            if under == self._styled_for:
                event.refresh_styles = False
            self._styled_for = under
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
        yield CockpitFooter()

    def on_mount(self) -> None:
        from rich.text import Text

        snap = getattr(self.app, "snapshot", None)
        self.query_one(ModeBadge).set_state(bool(snap and snap.halted), snap.halt_reason if snap else "")
        self.query_one(CockpitHeader).set_info(Text(f" {self.SCREEN_TITLE}  ·  {self.app.symbol}  ·  Esc back", "bold"))
