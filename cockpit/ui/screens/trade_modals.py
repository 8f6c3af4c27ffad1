"""The price prompt for moving the position's stop-loss / take-profit (``S`` / ``T``).

It shows the position, the mark and the level in force, prefilled; Enter sends the operator command.
A price the risk rules refuse (``cockpit.risk.protection``: a long's stop above the mark, ...) is
explained inside the dialog and nothing is sent; the engine checks again against the exchange's mark.
"""

from __future__ import annotations

from typing import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from cockpit.ui.screens.modals import MODAL_CSS, ConfirmModal


class PriceModal(ModalScreen[float | None]):
    """Asks for a price; returns it, or None when cancelled. ``check(price)`` returns why it is refused."""

    DEFAULT_CSS = MODAL_CSS.format(name="PriceModal") + "PriceModal #price-error { color: $error; height: auto; }"
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(
        self, title: str, about: str, current: float | None, check: Callable[[float], list[str]] | None = None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.about = about
        self.current = current
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            # Static wraps (a Label would cut what the trader must read before pressing Enter).
            yield Static(f"[b]{self.title_text}[/b]\n{self.about}\nEnter to send, Esc to go back.", id="price-about")
            yield Input(value=f"{self.current:.1f}" if self.current else "", placeholder="price", id="price")
            yield Static("", id="price-error")
            with Horizontal():
                yield Button("Back", id="back")
                yield Button("Send", id="send", variant="warning")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _submit(self) -> None:
        raw = self.query_one(Input).value.strip().replace(",", "").replace("_", "")
        err = self.query_one("#price-error", Static)
        try:
            price = float(raw)
        except ValueError:
            err.update(f"not a price: {raw!r}")
            return
        reasons = self.check(price) if self.check else []
        if reasons:
            err.update("Refused: " + "; ".join(reasons))
            return
        self.dismiss(price)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self._submit()
        else:
            self.dismiss(None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class TradeConfirmModal(ConfirmModal):
    """ConfirmModal whose question wraps (closing a position or cancelling everything must be read whole)."""

    DEFAULT_CSS = MODAL_CSS.format(name="TradeConfirmModal")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="confirm-question")
            with Horizontal():
                yield Button("No [n]", id="no")
                yield Button(f"{self.yes} [y]", id="yes", variant="error")
