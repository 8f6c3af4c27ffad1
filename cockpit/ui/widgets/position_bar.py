"""The position line under the header (two lines wide, one compact: cockpit.tcss); see cockpit.ui.account_view."""

from __future__ import annotations

from textual.widgets import Static


class PositionBar(Static):
    DEFAULT_CSS = """
    PositionBar { height: 2; background: $boost; }
    """
