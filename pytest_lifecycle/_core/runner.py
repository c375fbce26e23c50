"""Calls into a provider with a deadline.

Every provider call runs on a worker thread of the test's :class:`Runner`;
the test thread waits for it at most the kit's timeout.  A call that does
not come back becomes a :class:`~pytest_lifecycle._core.errors.ProviderHung`
failure (``provider 'x' still inside drain_all_on_shutdown after 5s``)
instead of a hung CI job.  Workers are daemon threads (a truly hung
provider cannot hold the interpreter open) and are reused within a test,
then stopped and joined when it ends.  A call still running then is
abandoned; if it calls the kit again (a provider looping over a test double
after its test ended) it gets :class:`~pytest_lifecycle._core.errors.ThreadAbandoned`,
so that a spinning provider does not slow every later test of the process by
holding the GIL.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar, final

from pytest_lifecycle._core.errors import ProviderHung, ProviderRaised, ThreadAbandoned, escapes_exception

__all__ = ["Runner", "Task", "in_worker"]

T = TypeVar("T")

_local = threading.local()
_STOP: Final = object()
#: How long :meth:`Runner.close` still waits once a hang was reported.
HUNG_GRACE: Final = 0.2


def _name_of(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__name__", None) or repr(fn))


def in_worker() -> bool:
    """Whether the current thread is running a kit call.

    Nested calls (a provider method calling back into a guarded object, or a
    test block that already runs on a worker) run inline, so a lock taken by
    the block is held by the thread that uses it.
    """
    return getattr(_local, "depth", 0) > 0


@final
class Task(Generic[T]):
    """A call running on a worker thread; :meth:`result` waits for it."""

    __slots__ = ("_done", "_error", "_runner", "_value", "reported_hung", "thread_ident", "thread_name", "what")

    def __init__(self, runner: Runner, what: str) -> None:
        self.what = what
        self._runner = runner
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        self.thread_name: str | None = None
        self.thread_ident: int | None = None
        #: A hang of this call was already reported (the test failed on it).
        self.reported_hung = False

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the call to finish; ``False`` if it is still running."""
        return self._done.wait(self._runner.timeout if timeout is None else timeout)

    def result(self, timeout: float | None = None) -> T:
        """The call's return value, re-raising what it raised.

        :raises ProviderHung: it did not finish within *timeout* (default:
            the kit timeout).
        """
        __tracebackhide__ = True
        limit = self._runner.timeout if timeout is None else timeout
        if not self._done.wait(limit):
            self.reported_hung = True
            raise ProviderHung(self._runner.rule, self._runner.provider, self.what, limit)
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]

    def result_while_progressing(self, progress: Callable[[], object], timeout: float | None = None) -> T:
        """:meth:`result` for a long batch of calls (a stress run): hung only
        when ``progress()`` (e.g. the count of events recorded) stays the same
        for *timeout* seconds -- a loaded machine is slow, not hung.
        """
        __tracebackhide__ = True
        limit = self._runner.timeout if timeout is None else timeout
        last = progress()
        while not self._done.wait(limit):  # safety-net: progress is looked at once per timeout
            now = progress()
            if now == last:
                self.reported_hung = True
                raise ProviderHung(self._runner.rule, self._runner.provider, f"{self.what} (no progress)", limit)
            last = now
        return self.result(0)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """What the call raised (``None`` if it returned), waiting like :meth:`result`."""
        __tracebackhide__ = True
        limit = self._runner.timeout if timeout is None else timeout
        if not self._done.wait(limit):
            self.reported_hung = True
            raise ProviderHung(self._runner.rule, self._runner.provider, self.what, limit)
        return self._error

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.thread_name = threading.current_thread().name
        self.thread_ident = threading.get_ident()
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            self._value = fn(*args, **kwargs)
        except BaseException as exc:  # handed to whoever waits on the task
            # Re-raised as is, KeyboardInterrupt or SystemExit would end the
            # whole session in the thread that waits: fail the rule instead.
            self._error = (
                ProviderRaised(self._runner.rule, self._runner.provider, self.what, exc)
                if escapes_exception(exc)
                else exc
            )
        finally:
            _local.depth -= 1
            self._done.set()
            if self._runner.on_done is not None:
                self._runner.on_done()

    def __repr__(self) -> str:
        state = "done" if self.done else "running"
        return f"<Task {self.what} {state}>"


@final
class Runner:
    """The worker threads of one test.

    :param rule: rule ID used in hang messages.
    :param provider: provider name used in hang messages.
    :param timeout: seconds a call may take before it counts as hung.
    :param on_done: called on the worker after each task finishes.
    """

    def __init__(self, *, rule: str, provider: str, timeout: float, on_done: Callable[[], None] | None = None) -> None:
        self.rule = rule
        self.on_done = on_done
        self.provider = provider
        self.timeout = timeout
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._driver_jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._driver: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = 0
        self._workers: list[threading.Thread] = []
        self._tasks: list[Task[Any]] = []
        self._names = itertools.count(1)
        self._closed = False
        #: Threads of the tasks :meth:`close` gave up on.
        self._abandoned: frozenset[int] = frozenset()

    def spawn(self, fn: Callable[..., T], *args: Any, what: str | None = None, **kwargs: Any) -> Task[T]:
        """Start ``fn(*args, **kwargs)`` on a worker and return its task."""
        task: Task[T] = Task(self, what or _name_of(fn))
        with self._lock:
            if self._closed:
                raise RuntimeError("the kit runner is closed (the test is over)")
            self._tasks.append(task)
            if self._idle:
                self._idle -= 1
            else:
                self._workers.append(self._start_thread(self._jobs, f"lifecycle-call-{next(self._names)}"))
        self._jobs.put((task, fn, args, kwargs))
        return task

    def call(
        self, fn: Callable[..., T], *args: Any, what: str | None = None, timeout: float | None = None, **kwargs: Any
    ) -> T:
        """Run ``fn`` on the driver thread and wait for it.

        All calls made from the test thread run on one *driver* thread, so the
        provider sees one consistent caller (a lock entered by one call is
        released by the same thread in the next).  Calls made from a worker
        run inline.
        """
        __tracebackhide__ = True
        if in_worker():
            return fn(*args, **kwargs)
        task: Task[T] = Task(self, what or _name_of(fn))
        with self._lock:
            if self._closed:
                raise RuntimeError("the kit runner is closed (the test is over)")
            self._tasks.append(task)
            if self._driver is None:
                self._driver = self._start_thread(self._driver_jobs, "lifecycle-driver")
        self._driver_jobs.put((task, fn, args, kwargs))
        return task.result(timeout)

    def running(self) -> list[Task[Any]]:
        """Tasks that have not finished yet."""
        with self._lock:
            return [t for t in self._tasks if not t.done]

    def close(self, grace: float | None = None, *, failed: bool = False) -> list[Task[Any]]:
        """Stop the workers; return the tasks still running after *grace*.

        Callers release every gate first, so a well-behaved provider finishes
        at once; what is still running then is a provider that hung on its own.
        A hang the test already reported is not waited for again: it costs
        one timeout, not two -- and once the test *failed*, not even the grace.
        """
        if grace is None:
            grace = HUNG_GRACE if any(t.reported_hung for t in self.running()) else self.timeout
        # One deadline for all: each stuck task must not cost a full timeout.
        # The grace is for calls the opened gates let finish; a hang the failed test reported is stuck.
        deadline = time.monotonic() + grace
        stuck = [
            t
            for t in self.running()
            if (failed and t.reported_hung) or not t.wait(max(0.0, deadline - time.monotonic()))
        ]
        limit = max(0.0, deadline - time.monotonic())
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            driver = self._driver
        for _ in workers:
            self._jobs.put(_STOP)
        self._driver_jobs.put(_STOP)
        for w in workers + ([driver] if driver else []):
            w.join(0 if stuck else limit)
        self._abandoned = frozenset(t.thread_ident for t in stuck if t.thread_ident is not None)
        return stuck

    def stop_if_abandoned(self) -> None:
        """Raise :class:`~pytest_lifecycle._core.errors.ThreadAbandoned` in a thread :meth:`close` gave up on.

        The kit's doubles call it on every use: a provider call that outlived
        its test and loops over them (``while not committed: agent.commit()``)
        stops there, instead of holding the GIL for the rest of the run.
        """
        if threading.get_ident() in self._abandoned:
            raise ThreadAbandoned(f"{self.provider}: the kit abandoned this call when the {self.rule} test ended")

    def _start_thread(self, jobs: queue.SimpleQueue[Any], name: str) -> threading.Thread:
        thread = threading.Thread(target=self._work, args=(jobs,), name=name, daemon=True)
        thread.start()
        return thread

    def _work(self, jobs: queue.SimpleQueue[Any]) -> None:
        try:
            while True:
                job = jobs.get()
                if job is _STOP:
                    return
                task, fn, args, kwargs = job
                task._run(fn, args, kwargs)
                if jobs is self._jobs:
                    with self._lock:
                        self._idle += 1
        except ThreadAbandoned:
            # close() gave up on this thread; the stop may land after the call ended.
            return
