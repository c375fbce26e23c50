"""Knowing, without sleeping, that a call has *parked* inside the provider.

Some rules are about the order of calls that the provider makes wait:
"concurrent respawns of one key run in call order" (RS-05) only means
something if respawn #2 is already waiting inside the provider when #3 is
called.  Nothing on a provider's surface says "I am queued", so the kit
looks at the worker thread instead.

:func:`spawn_watched` runs a call on a kit worker with a profile hook
(``sys.setprofile``, that thread only, for that call only) which records
whether the built-in the thread is entering blocks.  A call is **parked**
when its thread is inside a blocking primitive:

- a ``threading`` lock or ``RLock`` being acquired -- which covers
  ``Condition.wait``, ``Event.wait``, ``Semaphore``, ``Barrier``,
  ``queue.Queue.get`` and plain ``lock.acquire()``;
- ``queue.SimpleQueue.get`` or ``time.sleep`` (a poll loop);
- a ``with lock:`` statement whose C ``__enter__`` is running (entering a
  ``with`` fires no profile event, so this is read from the thread's top
  frame: it is executing ``BEFORE_WITH``).

Why this is exact rather than a guess: the sampling thread holds the GIL
when it looks, so a worker seen *inside* one of those C calls has released
the GIL there -- it is blocked in it (or has just been let through), and
everything the provider did before waiting (taking a ticket, joining a
queue) is done.  The hook stores its verdict (a bool) as its last
bytecode, so a thread cannot be seen "entering" a primitive it has not
reached.  The only
pause is between two samples: a bounded wait marked ``# safety-net``.

Limits: it needs a GIL build of CPython (3.11+).  A provider that spins
(``while not my_turn: pass``) never parks; :meth:`WatchedTask.wait_parked`
then returns ``False`` after the timeout and the caller fails the rule with
a message saying so.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, final

from pytest_lifecycle._compat import cpython

if TYPE_CHECKING:
    from pytest_lifecycle._core.kit import Kit
    from pytest_lifecycle._core.runner import Runner, Task

__all__ = ["WatchedTask", "check_still_waiting", "spawn_watched"]

T = TypeVar("T")

#: How long the sampler waits between two looks at a worker (a safety net:
#: a well-behaved provider parks within a few samples).
SAMPLE_INTERVAL: Final = 0.0005

_LOCK_TYPES: Final = (type(threading.Lock()), type(threading.RLock()))
_LOCK_ENTRIES: Final = frozenset({"acquire", "acquire_lock", "__enter__"})


def _blocks(fn: object) -> bool:
    """Whether *fn* (a built-in being called) is a blocking primitive."""
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", "")
    if isinstance(owner, _LOCK_TYPES):
        return name in _LOCK_ENTRIES
    if isinstance(owner, queue.SimpleQueue):
        return name == "get"
    return fn is time.sleep


@final
class _Watch:
    """The per-call state the profile hook writes and the sampler reads."""

    __slots__ = ("_hook", "entering", "ident")

    def __init__(self) -> None:
        cpython.check_parking_supported()
        #: ``[True]`` while the thread is entering (or inside) a blocking built-in.
        self.entering: list[bool] = [False]
        self.ident: int | None = None
        slot = self.entering

        def hook(frame: FrameType, event: str, arg: Any) -> None:
            # Whatever runs while deciding (it may switch threads) runs before
            # the store; the store of a bool is the last thing, frees nothing
            # and keeps no reference: a thread is never seen "entering" a
            # primitive it has not reached.
            blocking = _blocks(arg) if event == "c_call" else False
            slot[0] = blocking

        self._hook = hook

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self.ident = threading.get_ident()
        previous = sys.getprofile()
        sys.setprofile(self._hook)
        try:
            return fn(*args, **kwargs)
        finally:
            sys.setprofile(previous)
            self.entering[0] = False

    def parked(self) -> bool:
        if self.entering[0]:
            return True
        ident = self.ident
        if ident is None:
            return False
        frame = cpython.thread_frame(ident)
        return frame is not None and cpython.entering_with(frame)


@final
class WatchedTask(Generic[T]):
    """A :class:`~pytest_lifecycle._core.runner.Task` whose worker the kit can see park.

    Everything a task offers (``what``, ``done``, ``wait``, ``result``,
    ``exception``, ``thread_name``) is passed through, so it can be given as
    ``unless=`` to gate waits.
    """

    __slots__ = ("_watch", "task")

    def __init__(self, task: Task[T], watch: _Watch) -> None:
        self.task = task
        self._watch = watch

    @property
    def what(self) -> str:
        return self.task.what

    @property
    def done(self) -> bool:
        return self.task.done

    @property
    def thread_name(self) -> str | None:
        return self.task.thread_name

    def wait(self, timeout: float | None = None) -> bool:
        return self.task.wait(timeout)

    def result(self, timeout: float | None = None) -> T:
        __tracebackhide__ = True
        return self.task.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        __tracebackhide__ = True
        return self.task.exception(timeout)

    @property
    def parked(self) -> bool:
        """Whether the call is blocked in a lock, condition, queue or sleep right now."""
        return not self.task.done and self._watch.parked()

    def wait_parked(self, timeout: float) -> bool:
        """Wait until the call is parked or has finished.

        :param timeout: seconds to wait before giving up.
        :returns: ``True`` once parked or finished (check :attr:`done`),
            ``False`` if it kept running for *timeout* seconds (it spins).
        """
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while not self.task.done:
            if self._watch.parked():
                return True
            if time.monotonic() >= deadline:
                return False
            pause.wait(SAMPLE_INTERVAL)  # safety-net: the next look at the worker
        return True

    def __repr__(self) -> str:
        return f"<WatchedTask {self.what} {'done' if self.done else 'running'}>"


def spawn_watched(
    runner: Runner, fn: Callable[..., T], *args: Any, what: str | None = None, **kwargs: Any
) -> WatchedTask[T]:
    """Run ``fn(*args, **kwargs)`` on a worker of *runner*, watched for parking.

    The profile hook is installed on the worker for the duration of the call
    only (and the thread's previous profile function restored after).
    """
    watch = _Watch()
    task = runner.spawn(watch.run, fn, *args, what=what or getattr(fn, "__name__", repr(fn)), **kwargs)
    return WatchedTask(task, watch)


def check_still_waiting(kit: Kit, task: WatchedTask[Any] | Task[Any], held: str, *, where: str, why: str) -> None:
    """*task* must not have returned while *held* is still *where*.

    Used after :meth:`WatchedTask.wait_parked`: a call that finished instead
    of parking did not wait for what it had to wait for.
    """
    __tracebackhide__ = True
    if task.done:
        error = task.exception()
        outcome = f"raised {type(error).__name__}: {error}" if error else f"returned {task.result()!r}"
        kit.fail(f"{task.what} {outcome} while {held} was still {where} ({why})")
