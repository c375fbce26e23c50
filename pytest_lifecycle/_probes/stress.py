"""Helpers for *stress* rules: make races likely, then judge a recorded history.

A stress rule can only find bugs, never prove their absence (see the rule kinds in
``pytest_lifecycle/contract/README.md``), so it tries to make a race as likely as the kit can:

- :func:`switch_interval` shrinks the interpreter's thread switch interval
  for the duration of a block.  On a GIL build a thread otherwise runs
  5 ms before another gets a turn, and a check-then-act window a few
  bytecodes wide is almost never interrupted; at 1 µs it often is.  The
  interval is process-wide, so the original is restored when the last
  overlapping user leaves.
- :func:`yield_thread` hands the processor to another thread at a chosen
  point (inside a critical section, between a read and its write).
- :class:`History` records who entered and left which critical section, in
  one global order, and :meth:`History.overlaps` finds two threads inside
  the same logical section at once — checked *after* the run, so the
  recording itself stays a short append.

None of this sleeps: the only waits are the caller's barriers and gates.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final, final

__all__ = ["STRESS_SWITCH_INTERVAL", "Event", "History", "describe_overlap", "switch_interval", "yield_thread"]

#: The switch interval stress rules run under (seconds).
STRESS_SWITCH_INTERVAL: Final = 1e-6

_interval_lock = threading.Lock()
_interval_users = 0
_interval_saved = 0.0


@contextmanager
def switch_interval(seconds: float = STRESS_SWITCH_INTERVAL) -> Iterator[None]:
    """Run the block with ``sys.setswitchinterval(seconds)``, then restore it.

    Safe to nest and to overlap from several threads: the first user saves
    the interval in force and the last one to leave restores it.  On a
    free-threaded build the interval changes nothing, which is harmless.

    Example::

        with switch_interval():
            run_the_hammering_threads()
    """
    global _interval_users, _interval_saved
    with _interval_lock:
        if _interval_users == 0:
            _interval_saved = sys.getswitchinterval()
        _interval_users += 1
        sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        with _interval_lock:
            _interval_users -= 1
            if _interval_users == 0:
                sys.setswitchinterval(_interval_saved)


def yield_thread() -> None:
    """Offer the processor (and the GIL) to another thread, without sleeping."""
    sched_yield = getattr(os, "sched_yield", None)
    if sched_yield is not None:
        sched_yield()


@final
@dataclass(frozen=True, slots=True)
class Event:
    """One recorded entry into or exit from a critical section."""

    #: Position in the history's global order.
    seq: int
    #: The logical section (for locks: the logical lock, whatever key was used).
    section: Hashable
    #: Who entered or left, e.g. ``"T2"``.
    actor: str
    #: ``"enter"`` (recorded just after acquiring) or ``"exit"`` (just before releasing).
    kind: str
    #: Free text for the failure message, e.g. the key the actor came through.
    detail: str = ""

    def __str__(self) -> str:
        via = f" ({self.detail})" if self.detail else ""
        return f"#{self.seq} {self.actor} {self.kind}s {self.section!r}{via}"


def describe_overlap(inside: Event, entered: Event) -> str:
    """One line for a pair of :meth:`History.overlaps`."""
    via = f" via {entered.detail}" if entered.detail else ""
    since = f" via {inside.detail}" if inside.detail else ""
    return (
        f"{entered.actor} entered {entered.section!r}{via} (event #{entered.seq}) "
        f"while {inside.actor} was inside{since} (since event #{inside.seq})"
    )


@final
class History:
    """A thread-safe log of critical-section entries and exits.

    Record ``enter`` right *after* the lock was acquired and ``exit`` right
    *before* it is released: with a lock that excludes, the events of one
    section then strictly alternate, whatever the scheduling.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []

    def enter(self, section: Hashable, actor: str, detail: str = "") -> None:
        self._record(section, actor, "enter", detail)

    def exit(self, section: Hashable, actor: str, detail: str = "") -> None:
        self._record(section, actor, "exit", detail)

    def _record(self, section: Hashable, actor: str, kind: str, detail: str) -> None:
        with self._lock:
            self._events.append(Event(len(self._events), section, actor, kind, detail))

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def events(self, start: int = 0) -> list[Event]:
        """The events recorded from position *start* on."""
        with self._lock:
            return self._events[start:]

    def overlaps(self, start: int = 0) -> list[tuple[Event, Event]]:
        """Every entry made while another actor was inside the same section.

        Each pair is (the actor already inside, the entry that overlapped
        it); :func:`describe_overlap` words one for a failure message.
        """
        inside: dict[Hashable, list[Event]] = {}
        found: list[tuple[Event, Event]] = []
        for event in self.events(start):
            occupants = inside.setdefault(event.section, [])
            if event.kind == "enter":
                if occupants:
                    found.append((occupants[0], event))
                occupants.append(event)
            else:
                mine = next((e for e in occupants if e.actor == event.actor), None)
                if mine is not None:
                    occupants.remove(mine)
        return found
