"""Panes and small widgets of the cockpit."""
