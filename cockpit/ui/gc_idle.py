"""Garbage collection that stays off the key-press path of the cockpit.

Measured with bench/ui_latency.py: Textual restyles the whole DOM on every screen switch and leaves
thousands of reference cycles behind (virtual nodes for component classes, replaced footer keys,
styles, strips). CPython's automatic full (generation 2) collection walks every tracked object in
the process (~100k after start-up, ~300k after a few dozen screen switches) and stops every thread,
the event loop included, for 30-150 ms whenever the allocation counters trip: that was the whole of
the cockpit's p99 key-press latency.

``IdleCollector`` turns the permanent generation (``gc.freeze``) into a fourth, oldest generation:
- ``install()``: one full collection, then freeze what is alive (imported modules, the widget tree,
  caches). Automatic full collections are switched off; the young generations still run on
  CPython's own schedule (they cost well under a millisecond).
- every ``tick_s`` on the event loop (``tick()``): once a young collection has promoted anything
  (``gc.get_count()[2]``), a *minor* full pass collects what is not frozen (what was allocated and
  survived since the last freeze: a few thousand objects, single-digit ms), and every
  ``freeze_every`` minor passes (~2 s) the survivors are frozen. Most of Textual's garbage dies
  within that window (a restyle's virtual nodes live until the next restyle) and is freed here.
  A minor pass waits ``minor_quiet_s`` after a key press (while it is handled and repainted)
  unless ``minor_force`` young collections are waiting.
- frozen objects are never collected, so cycles that die after being frozen (a replaced footer key
  after a long stay on one screen) wait for a *major* pass: unfreeze, collect everything, freeze
  again (~150-400 ms over a warm heap). It runs when the operator has not typed or used the mouse for
  ``major_idle_s`` and minor passes froze ``major_growth`` objects since the last major pass, and
  regardless of input once they froze ``major_force`` and twice the heap the last major pass left
  (memory stays bounded even while somebody types without pause).
``uninstall()`` restores the thresholds and unfreezes everything so it can be collected again (tests
start many apps in one process). Pure Python; nothing here imports Textual.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

NEVER = 1 << 30  # a generation-2 threshold automatic collection never reaches


@dataclass
class IdleCollector:
    tick_s: float = 0.25
    major_idle_s: float = 10.0  # a major pass takes 150-400 ms: only when nobody has typed for a while
    major_growth: int = 50_000
    major_force: int = 400_000
    minor_quiet_s: float = 0.1  # no minor pass within this long after a key press...
    minor_force: int = 8  # ...unless this many young collections are waiting
    freeze_every: int = 8  # minor passes between two freezes: what dies within ~2 s is never frozen
    last_input: float = field(default_factory=time.monotonic)
    minor_ms: list[float] = field(default_factory=list)
    major_ms: list[float] = field(default_factory=list)
    forced: int = 0
    installed: bool = False
    _saved: tuple[int, int, int] | None = None
    growth: int = 0  # objects frozen by minor passes since the last major pass
    heap_after_major: int = 0
    _minors: int = 0

    def install(self) -> None:
        if self.installed:
            return
        self._saved = gc.get_threshold()
        t0, t1, _ = self._saved
        gc.set_threshold(t0, t1, NEVER)
        self.installed = True
        self._major()

    def uninstall(self) -> None:
        if not self.installed:
            return
        if self._saved is not None:
            gc.set_threshold(*self._saved)
        gc.unfreeze()
        self.installed = False

    def note_input(self) -> None:
        self.last_input = time.monotonic()

    @staticmethod
    def _record(into: list[float], t0: float) -> float:
        ms = (time.perf_counter() - t0) * 1000
        into.append(ms)
        del into[:-1000]
        return ms

    def _major(self) -> float:
        t0 = time.perf_counter()
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.growth = 0
        self.heap_after_major = gc.get_freeze_count()  # walks the frozen list: once per major pass only
        return self._record(self.major_ms, t0)

    def _minor(self) -> float:
        t0 = time.perf_counter()
        gc.collect()  # ignores the frozen objects
        self._minors += 1
        if self._minors % self.freeze_every == 0:
            # Every survivor sits in the oldest generation now; counting them walks only those few
            # (gc.get_freeze_count() would walk the whole frozen set: milliseconds every tick).
            self.growth += len(gc.get_objects(2))
            gc.freeze()
        return self._record(self.minor_ms, t0)

    def tick(self, now: float | None = None) -> str | None:
        """Run what is due now; returns "major", "minor" or None."""
        if not self.installed:
            return None
        now = time.monotonic() if now is None else now
        growth = self.growth
        idle = now - self.last_input >= self.major_idle_s
        # Forced while typing only once the frozen set grew past both the fixed bound and twice the
        # heap the last major pass left (long-lived growth such as an engine starting is not garbage).
        force = max(self.major_force, 2 * self.heap_after_major)
        if growth >= force or (idle and growth >= self.major_growth):
            if not idle:
                self.forced += 1
            self._major()
            return "major"
        pending = gc.get_count()[2]
        # Not while a key press is being handled and repainted (~10-50 ms after it), unless many
        # young collections are waiting.
        if pending > 0 and (now - self.last_input >= self.minor_quiet_s or pending >= self.minor_force):
            self._minor()
            return "minor"
        return None
