"""Errors more than one layer raises and catches."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration problem; ``str()`` is the one-line message shown to the user."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)
