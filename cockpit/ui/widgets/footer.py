"""CockpitFooter: Textual's Footer, recomposed only when the keys it shows change.

Textual's Footer removes and re-mounts every key on each bindings update: every screen switch (help,
backtest, data, ... and back) and every focus change. Mounting a key restyles it (its `compact`
binding toggles a class), so a recompose costs the event loop 10-30 ms, more on a busy machine, and it
fell inside the key-to-screen time of `?` and Esc (bench/ui_latency.py). Coming back to a screen whose
keys did not change now costs nothing; when they change (a halt offers U, a dialog, a focused widget
with its own keys) the footer is rebuilt as before.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer


class CockpitFooter(Footer):
    _shown: Any = None  # what the mounted keys were composed from

    def _signature(self) -> Any:
        """Everything Footer.compose reads: the shown bindings, enabled or not, with their tooltips,
        in order, and the command palette's key."""
        active = self.screen.active_bindings
        shown = tuple((b.binding, b.enabled, b.tooltip) for b in active.values() if b.binding.show)
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        return (
            shown,
            self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE,
            (palette.binding, palette.enabled) if palette else None,
        )

    async def recompose(self) -> None:
        if not self.is_attached or not self._bindings_ready:
            await super().recompose()
            return
        sig = self._signature()
        if sig == self._shown:
            return
        self._shown = sig
        await super().recompose()
