"""The agent double of the session lifecycle (§1a).

``commit_memory_session()`` walks through a gate (so a commit can be held
in flight), can fail the next N calls on demand, and records every call with
the thread it came from; ``close()`` is counted.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from pytest_lifecycle._core.kit import Kit
    from pytest_lifecycle._core.runner import Task

__all__ = ["GatedAgent", "InjectedFailure"]


class InjectedFailure(RuntimeError):
    """What a double raises when the kit asked it to fail."""


@final
class GatedAgent:
    """An agent whose commits the kit can hold, fail and count.

    :ivar commit_threads: the thread name of every ``commit_memory_session`` call.
    :ivar close_calls: how many times ``close()`` was called.
    """

    def __init__(self, kit: Kit, name: str | None = None) -> None:
        self.name = name or kit.label("agent", numbered=True)
        self._kit = kit
        self.gate = kit.gate(f"{self.name}.commit_memory_session")
        self._lock = threading.Lock()
        self._failures = 0
        self.commit_threads: list[str] = []
        self.close_calls = 0

    # -- the surface the provider calls ------------------------------------

    def commit_memory_session(self) -> None:
        thread = threading.current_thread().name
        with self._lock:
            self.commit_threads.append(thread)
            n = len(self.commit_threads)
        self._kit.note(f"{self.name}.commit_memory_session() #{n} [{thread}]")
        with self.gate.passage(), self._lock:
            fail = self._failures > 0
            self._failures -= fail
        if fail:
            self._kit.note(f"{self.name}.commit_memory_session() #{n} failed (injected)")
            raise InjectedFailure(f"{self.name}: injected commit failure")

    def close(self) -> None:
        with self._lock:
            self.close_calls += 1
        self._kit.note(f"{self.name}.close() [{threading.current_thread().name}]")

    # -- what the kit controls ---------------------------------------------

    @property
    def calls(self) -> int:
        """How many commits reached this agent."""
        with self._lock:
            return len(self.commit_threads)

    def fail_next(self, n: int = 1) -> GatedAgent:
        """Make the next *n* commits raise :class:`InjectedFailure`."""
        with self._lock:
            self._failures = n
        return self

    def block(self) -> GatedAgent:
        """Hold later commits inside the provider call until :meth:`release`."""
        self.gate.close()
        return self

    def release(self) -> None:
        """Let held and later commits finish."""
        self.gate.open()

    def wait_entered(self, n: int = 1, *, unless: Task[Any] | None = None) -> None:
        """Wait until *n* commits have reached the agent."""
        __tracebackhide__ = True
        self.gate.wait_entered(n, unless=unless)

    def __repr__(self) -> str:
        return self.name
