"""Modals: reject reason, confirmations (kill switch, clear halt), and the typed LIVE confirmation.

Their questions wrap to the dialog's width (never cut at 80 columns): the trader reads them before pressing a key."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 64; max-width: 100%; height: auto; border: thick $warning; background: $surface;
                    padding: 1 2; }}
{name} Label {{ width: 100%; }}
{name} Horizontal {{ height: auto; align-horizontal: right; margin-top: 1; }}
{name} Button {{ margin-left: 1; }}
"""


class RejectModal(ModalScreen[str | None]):
    """Asks why an order is rejected; returns the reason or None when cancelled."""

    DEFAULT_CSS = MODAL_CSS.format(name="RejectModal")
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, order_id: int) -> None:
        super().__init__()
        self.order_id = order_id

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Reject order #{self.order_id} — why? (Enter to reject, Esc to go back)")
            yield Input(placeholder="reason", id="reject-reason")
            with Horizontal():
                yield Button("Back", id="back")
                yield Button("Reject", id="reject", variant="error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _submit(self) -> None:
        reason = self.query_one(Input).value.strip() or "rejected by operator"
        self.dismiss(reason)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "reject":
            self._submit()
        else:
            self.dismiss(None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """y / Enter confirms, n / Esc declines."""

    DEFAULT_CSS = MODAL_CSS.format(name="ConfirmModal")
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            with Horizontal():
                yield Button("No [n]", id="no")
                yield Button(f"{self.yes} [y]", id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class LiveConfirmModal(ModalScreen[bool]):
    """Before the first approval in --live mode the operator types LIVE."""

    DEFAULT_CSS = MODAL_CSS.format(name="LiveConfirmModal") + "LiveConfirmModal > Vertical { border: thick $error; }"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    WORD = "LIVE"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                "[b red]OKX LIVE[/]: this approval sends a real order with real money.\n"
                f"Type {self.WORD} and press Enter to continue, Esc to go back."
            )
            yield Input(placeholder=self.WORD, id="live-word")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.WORD:
            self.dismiss(True)
        else:
            self.notify(f"type {self.WORD} exactly", severity="warning")

    def action_cancel(self) -> None:
        self.dismiss(False)
