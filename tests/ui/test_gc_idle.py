"""IdleCollector: full collections only on its own schedule; frozen cycles freed by major passes."""

from __future__ import annotations

import gc
import weakref

import pytest

from cockpit.ui.gc_idle import NEVER, IdleCollector


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def collector():
    saved = gc.get_threshold()
    c = IdleCollector(major_growth=1, major_force=10**9, major_idle_s=2.0, freeze_every=1)
    c.install()
    try:
        yield c
    finally:
        c.uninstall()
    assert gc.get_threshold() == saved
    assert gc.get_freeze_count() == 0


def typing(c: IdleCollector) -> float:
    """A moment shortly after the last key press: too soon for a major pass, late enough for a minor one.

    The margin matters: ``(t + 0.1) - t`` is below 0.1 for many monotonic readings ``t`` (a flaky
    failure in CI before the margin was added)."""
    return c.last_input + c.minor_quiet_s + 0.01


def promote(obj) -> None:
    """Make ``obj`` survive two young collections so it lands in the oldest (non-frozen) generation."""
    gc.collect(0)
    gc.collect(1)


def test_install_freezes_the_heap_and_stops_automatic_full_collections(collector):
    assert collector.installed
    assert gc.get_threshold()[2] == NEVER
    assert gc.get_freeze_count() > 1000
    assert collector.major_ms, "install runs one major pass"


def test_nothing_runs_when_nothing_was_promoted(collector):
    gc.collect(0)  # young collection only: generation 2's counter is untouched
    while gc.get_count()[2]:
        collector.tick(now=typing(collector))  # clear anything the test runner promoted
    assert collector.tick(now=typing(collector)) is None


def test_minor_pass_frees_promoted_garbage_and_freezes_survivors(collector):
    collector.note_input()
    dead, alive = Node(), Node()
    ref_dead, ref_alive = weakref.ref(dead), weakref.ref(alive)
    promote(dead)
    del dead
    frozen = gc.get_freeze_count()
    assert collector.tick(now=typing(collector)) == "minor"  # typing: no major pass
    assert ref_dead() is None
    assert ref_alive() is not None
    assert gc.get_freeze_count() > frozen  # `alive` survived and is frozen now
    assert gc.get_count()[2] == 0


def test_frozen_cycles_wait_for_a_major_pass_when_idle(collector):
    collector.note_input()
    obj = Node()
    ref = weakref.ref(obj)
    promote(obj)
    assert collector.tick(now=typing(collector)) == "minor"  # obj is frozen now
    del obj
    promote(None)
    assert collector.tick(now=typing(collector)) == "minor"
    assert ref() is not None, "a frozen cycle is not collected by a minor pass"
    idle_now = collector.last_input + collector.major_idle_s + 0.1
    assert collector.tick(now=idle_now) == "major"
    assert ref() is None
    assert collector.forced == 0


def test_major_pass_is_forced_while_typing_once_the_frozen_set_grew_enough(collector):
    collector.major_force = 1
    collector.heap_after_major = 10**9  # a huge heap: the growth is small next to it, so no forced pass
    collector.note_input()
    keep = [Node() for _ in range(10)]
    promote(keep)
    assert collector.tick(now=typing(collector)) == "minor"  # freezes `keep`: the frozen set grew
    assert collector.growth >= 10
    assert collector.tick(now=typing(collector)) is None and collector.forced == 0
    collector.heap_after_major = 0  # now the growth is over both bounds
    assert collector.tick(now=typing(collector)) == "major"  # still typing, but forced
    assert collector.forced == 1 and collector.growth == 0
    assert collector.heap_after_major > 1000


def test_what_dies_between_two_freezes_is_freed_by_minor_passes(collector):
    collector.freeze_every = 3
    collector._minors = 0
    collector.note_input()
    obj = Node()
    ref = weakref.ref(obj)
    promote(obj)
    assert collector.tick(now=typing(collector)) == "minor"  # 1st pass: survivors not frozen yet
    del obj
    promote(None)
    assert collector.tick(now=typing(collector)) == "minor"
    assert ref() is None, "freed without a major pass"
    assert collector.growth == 0 and not collector.major_ms[1:]


def test_a_minor_pass_waits_while_a_key_press_is_handled_unless_too_much_waits(collector):
    collector.note_input()
    promote(None)
    assert collector.tick(now=collector.last_input + 0.01) is None  # just typed: not now
    assert collector.tick(now=typing(collector)) == "minor"
    collector.note_input()
    for _ in range(collector.minor_force):
        promote(None)
    assert collector.tick(now=collector.last_input) == "minor", "too much waiting: runs even while typing"
