"""Messages posted by worker threads to the app; the app's @on handlers own every state change.

Names are past tense: something happened in a worker, the main thread decides what it means.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class StatePolled(Message):
    """A poll of the database finished; ``snapshot`` is a cockpit.ui.state.Snapshot."""

    def __init__(self, snapshot: Any) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        # A newer poll supersedes an older one still queued: bursts cost one render.
        return isinstance(message, StatePolled)


class PollFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class CommandSubmitted(Message):
    """An operator command was written to operator_commands (the engine executes it)."""

    def __init__(self, command: str, order_id: int | None, command_id: int) -> None:
        super().__init__()
        self.command = command
        self.order_id = order_id
        self.command_id = command_id


class CommandFailed(Message):
    def __init__(self, command: str, error: str) -> None:
        super().__init__()
        self.command = command
        self.error = error


class BacktestProgressed(Message):
    def __init__(self, done: int, total: int, bars_per_s: float) -> None:
        super().__init__()
        self.done = done
        self.total = total
        self.bars_per_s = bars_per_s

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BacktestProgressed)


class BacktestFinished(Message):
    def __init__(self, result_id: int | None, report: Any, error: str | None = None, cancelled: bool = False) -> None:
        super().__init__()
        self.result_id = result_id
        self.report = report
        self.error = error
        self.cancelled = cancelled


class ScreenDataLoaded(Message):
    """A secondary screen's worker read what it shows (``key`` says which part)."""

    def __init__(self, key: str, data: Any) -> None:
        super().__init__()
        self.key = key
        self.data = data
