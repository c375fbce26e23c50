"""A gate: where a test double can be held until the kit lets it go.

The double walks through :meth:`Gate.passage`; the test closes the gate
before the race it wants to drive, waits until the provider is inside
(:meth:`Gate.wait_entered`), does what must happen meanwhile, and opens it.
Nothing sleeps: waits are condition waits whose timeout is only a safety net
that turns into a clear failure.  The kit opens every gate at teardown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, Protocol, final

from pytest_lifecycle._core.catalogue import Rule
from pytest_lifecycle._core.errors import ProviderHung, RuleViolation
from pytest_lifecycle._core.provider import Provider
from pytest_lifecycle._core.runner import Task

__all__ = ["Gate", "GateOwner"]


class GateOwner(Protocol):
    """What a gate needs from the test that owns it (the :class:`~pytest_lifecycle.Kit`):
    the deadline of its waits, and how to fail the rule."""

    @property
    def timeout(self) -> float: ...

    @property
    def rule(self) -> Rule: ...

    @property
    def provider(self) -> Provider: ...

    def fail(self, message: str) -> NoReturn: ...


@final
class Gate:
    """A closable passage that counts who went through and who is inside.

    :ivar entered: passages started so far.
    :ivar inside: passages in progress now.
    :ivar max_inside: the most passages ever in progress at once.
    """

    def __init__(self, kit: GateOwner, name: str, *, closed: bool = False) -> None:
        self.name = name
        self._kit = kit
        self._cond = threading.Condition()
        self._closed = closed
        self._permits = 0
        self.entered = 0
        self.inside = 0
        self.max_inside = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Hold every later passage until :meth:`open`."""
        with self._cond:
            self._closed = True

    def open(self) -> None:
        """Let every held and later passage through."""
        with self._cond:
            self._closed = False
            self._cond.notify_all()

    def admit(self, n: int = 1) -> None:
        """Let *n* more passages through while the gate is closed.

        Whichever held (or later) callers get there first use the permits;
        after them the gate holds again.  Unused permits stay for later.
        """
        with self._cond:
            self._permits += n
            self._cond.notify_all()

    @contextmanager
    def passage(self) -> Iterator[None]:
        """Used by the double: enter, wait while closed, run the body, leave."""
        with self._cond:
            self.entered += 1
            self.inside += 1
            self.max_inside = max(self.max_inside, self.inside)
            self._cond.notify_all()
            while self._closed and not self._permits:
                self._cond.wait()
            if self._closed:
                self._permits -= 1
        try:
            yield
        finally:
            with self._cond:
                self.inside -= 1
                self._cond.notify_all()

    def wait_entered(self, n: int = 1, *, unless: Task[Any] | None = None, timeout: float | None = None) -> None:
        """Wait until *n* passages have started.

        Fails the test's rule if *unless* (the task expected to get here)
        finishes first, or after the timeout.
        """
        __tracebackhide__ = True
        self._wait(lambda: self.entered >= n, f"{n} passage(s) through {self.name}", unless, timeout)

    def wait_inside(self, n: int = 1, *, unless: Task[Any] | None = None, timeout: float | None = None) -> None:
        """Wait until *n* passages are in progress at once."""
        __tracebackhide__ = True
        self._wait(lambda: self.inside >= n, f"{n} caller(s) inside {self.name} at once", unless, timeout)

    def poke(self) -> None:
        """Wake waiters so they re-check (a task finished)."""
        with self._cond:
            self._cond.notify_all()

    def _wait(self, ready: Any, goal: str, unless: Task[Any] | None, timeout: float | None) -> None:
        __tracebackhide__ = True
        limit = self._kit.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._cond:
            while not ready():
                if unless is not None and unless.done:
                    # The cause first: a call that raised is reported as that,
                    # not as the passage it never made.
                    error = unless.exception(0)
                    if isinstance(error, RuleViolation):
                        raise error
                    if error is not None:
                        self._kit.fail(f"{unless.what} raised {type(error).__name__}: {error} before {goal}")
                    self._kit.fail(f"expected {goal}, but {unless.what} finished first (entered {self.entered})")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if unless is not None:
                        # The call that never got here hung: say so, once.
                        getattr(unless, "task", unless).reported_hung = True
                        raise ProviderHung(self._kit.rule.id, self._kit.provider.name, unless.what, limit)
                    self._kit.fail(f"expected {goal} within {limit:g}s, got {self.entered} passage(s)")
                self._cond.wait(remaining)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Gate {self.name} {state} entered={self.entered} inside={self.inside}>"
