"""Driving an async provider deterministically: the kit's own event loop.

A :class:`LoopDriver` runs a private ``asyncio`` loop on a kit thread
(``lifecycle-loop``), so it never meets the loop of pytest-asyncio, anyio or
the test itself.  The test thread hands it work and then waits until the
loop is **idle**: nothing ready to run and no thread the provider handed
work to (``asyncio.to_thread``, ``loop.run_in_executor(None, ...)``) still
busy.  Only then does the test take its next step, so an interleaving is
forced, not hoped for: "a read is pending, then an event is emitted" means
exactly that for every provider.

How idleness is known, without sleeping:

- The loop runs on a selector of ours.  asyncio calls ``select(timeout)``
  with ``timeout=0`` while callbacks are ready; with ``None`` (or a timer's
  delay) when it has nothing to do.  Before blocking, our selector polls
  once more and records the *wake count* it saw; the loop is idle while it
  blocks with that count unchanged.
- Everything the kit hands to the loop, and every executor job that
  finishes, bumps the wake count after waking the loop: an idle state
  recorded before the bump does not count.
- The loop's default executor is ours.  Its jobs run under the profile hook
  of :mod:`pytest_lifecycle._probes.parking`: a job that blocks on a lock, a queue or
  a kit gate counts as parked (the loop is idle around it); a job that runs
  (an fsync) is waited for.

The kit can also step through thread work: after :meth:`LoopDriver.hold_jobs`
every job waits at its start until :meth:`LoopDriver.admit_job` lets it run,
so between two writes of one call the loop is idle and the kit can look (a
crash image of the directory, a new subscriber).

Wall-clock time is only a safety net (the kit timeout): a call that does not
finish, a loop blocked by synchronous code, or a thread that never parks
fails the rule under test with what was waited for and where the loop is.
A provider coroutine raising ``CancelledError`` (the kit cancelled nothing)
or ``KeyboardInterrupt``/``SystemExit`` fails the rule too; the run goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import queue
import selectors
import threading
import time
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, Final, Generic, NoReturn, TypeVar, final

from pytest_lifecycle._compat import cpython
from pytest_lifecycle._core.errors import RuleViolation
from pytest_lifecycle._probes.parking import _Watch

if TYPE_CHECKING:
    from pytest_lifecycle._core.kit import Kit

__all__ = ["LoopDriver", "LoopHung", "Pending", "ProviderCancelled", "where_is"]

T = TypeVar("T")

#: Pause between two looks at a busy executor job (a safety net: the loop
#: wakes the waiter itself when a job ends).
SAMPLE_INTERVAL: Final = 0.001
#: How long an executor job must stay parked before the loop counts as idle
#: around it (a lock acquired without contention looks parked for an instant).
PARK_SETTLE: Final = 0.002

#: The kit's package directory (this module is in ``pytest_lifecycle/_probes/``).
_HERE: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ASYNCIO: Final = os.path.dirname(os.path.abspath(asyncio.__file__))
_STDLIB_NOISE: Final = (_ASYNCIO, os.path.abspath(selectors.__file__), os.path.abspath(threading.__file__), _HERE)


def where_is(frame: FrameType | None) -> str:
    """``file:line in function()`` of the innermost frame that is not the loop's or the kit's."""
    chosen = None
    while frame is not None:
        name = os.path.abspath(frame.f_code.co_filename)
        if not name.startswith(_STDLIB_NOISE):
            chosen = chosen or frame
        frame = frame.f_back
    if chosen is None:
        return "the event loop itself"
    return f"{os.path.basename(chosen.f_code.co_filename)}:{chosen.f_lineno} in {chosen.f_code.co_name}()"


@final
class _Hub:
    """What the loop thread, the executor threads and the test thread share."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.wakes = 0
        self.idle = False
        self.idle_wakes = -1
        self.inflight: dict[int, _Job] = {}
        #: Wakes the loop from another thread (set by the driver).
        self.wake: Callable[[], None] = lambda: None

    def bump(self, *, wake: bool = True) -> None:
        """Something was handed to the loop: an idle state seen before does not count.

        Called *after* the work was handed over (its wake-up byte written).
        The loop is woken once more after the count moved: had it gone idle
        in between, with the old count, it now goes idle again with the new
        one (a snapshot of the new count implies the work was seen).
        """
        with self.cond:
            self.wakes += 1
            self.cond.notify_all()
        if wake:
            self.wake()


@final
class _IdleSelector(selectors.DefaultSelector):
    """The loop's selector: it records when the loop has nothing to do."""

    def __init__(self, hub: _Hub) -> None:
        super().__init__()
        self._hub = hub

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout <= 0:
            return super().select(0)
        hub = self._hub
        with hub.cond:
            seen = hub.wakes
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready:
            return ready
        with hub.cond:
            if hub.wakes == seen:
                hub.idle, hub.idle_wakes = True, seen
                hub.cond.notify_all()
        try:
            return super().select(timeout)
        finally:
            with hub.cond:
                hub.idle = False


@final
class _Job:
    __slots__ = ("admitted", "held", "parked_since", "watch", "what")

    def __init__(self, what: str) -> None:
        self.what = what
        self.watch = _Watch()
        self.parked_since: float | None = None
        #: Waiting for the kit to admit it (see :meth:`LoopDriver.hold_jobs`).
        self.held = False
        self.admitted = False


@final
class _Executor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor: a small pool whose jobs the kit can see park."""

    def __init__(self, hub: _Hub) -> None:
        super().__init__(max_workers=1)
        self._hub_ = hub
        self._jobs_q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads_: list[threading.Thread] = []
        self._idle_workers = 0
        self._lock_ = threading.Lock()
        self._ids = itertools.count(1)
        self._down = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        inner: Any = fn
        while hasattr(inner, "func"):  # to_thread: partial(context.run, function, ...)
            args_ = getattr(inner, "args", ())
            inner = args_[0] if getattr(inner.func, "__name__", "") == "run" and args_ else inner.func
        job = _Job(getattr(inner, "__qualname__", None) or repr(inner))
        key = next(self._ids)
        with self._lock_:
            if self._down:
                raise RuntimeError("cannot schedule new futures after shutdown")
            with self._hub_.cond:
                self._hub_.inflight[key] = job
            if self._idle_workers:
                self._idle_workers -= 1
            else:
                name = f"lifecycle-loop-thread-{len(self._threads_) + 1}"
                thread = threading.Thread(target=self._work, name=name, daemon=True)
                self._threads_.append(thread)
                thread.start()
        self._jobs_q.put((key, job, future, fn, args, kwargs))
        return future

    def _work(self) -> None:
        while True:
            item = self._jobs_q.get()
            if item is None:
                return
            key, job, future, fn, args, kwargs = item
            try:
                self._wait_admitted(job)
                if future.set_running_or_notify_cancel():
                    try:
                        result = job.watch.run(fn, *args, **kwargs)
                    except BaseException as exc:  # handed to the awaiting coroutine
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                # The loop was woken (by the future's callback) before the
                # count moves: an idle state seen before it does not count.
                with self._hub_.cond:
                    self._hub_.inflight.pop(key, None)
                self._hub_.bump()
                with self._lock_:
                    self._idle_workers += 1

    #: Jobs wait to be admitted before they run (the kit steps through them).
    holding = False

    def _wait_admitted(self, job: _Job) -> None:
        hub = self._hub_
        with hub.cond:
            while self.holding and not job.admitted and not self._down:
                if not job.held:
                    job.held = True
                    hub.cond.notify_all()
                hub.cond.wait()
            job.held = False

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._hub_.cond:
            self.holding = False
            self._hub_.cond.notify_all()
        with self._lock_:
            if self._down:
                return
            self._down = True
            threads = list(self._threads_)
        for _ in threads:
            self._jobs_q.put(None)
        if wait:
            for thread in threads:
                thread.join(0.5)  # safety-net: a job stuck in the provider is abandoned


_UNSET: Final = object()


@final
class Pending(Generic[T]):
    """An awaitable the kit started on its loop; read it once the loop is idle."""

    def __init__(self, driver: LoopDriver, what: str) -> None:
        self.what = what
        self._driver = driver
        self._done = threading.Event()
        self._value: Any = _UNSET
        self._error: BaseException | None = None
        self.task: asyncio.Task[Any] | None = None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def _finish(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value, self._error = value, error
        self._done.set()

    def result(self) -> T:
        """What the awaitable returned; re-raises what it raised.  It must be done."""
        if not self.done:
            raise RuntimeError(f"{self.what} is still pending")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]

    def exception(self) -> BaseException | None:
        if not self.done:
            raise RuntimeError(f"{self.what} is still pending")
        return self._error

    def cancel(self) -> None:
        """Cancel it (the kit's decision, never reported as the provider's)."""
        self._driver._cancel(self)

    def __repr__(self) -> str:
        return f"<Pending {self.what} {'done' if self.done else 'pending'}>"


class LoopHung(RuleViolation):
    """The kit waited its whole timeout for the loop (a hang: not worth shrinking)."""


class ProviderCancelled(RuleViolation):
    """A provider coroutine raised ``CancelledError`` that the kit did not cause."""


@final
class LoopDriver:
    """A private event loop on a kit thread, stepped by the test thread.

    :param kit: the test's kit (rule, provider, timeout, trace).
    :param name: what the loop is driving, for messages (``stream registry``).
    """

    def __init__(self, kit: Kit, name: str = "the provider") -> None:
        self.kit = kit
        self.name = name
        self._hub = _Hub()
        self.loop = asyncio.SelectorEventLoop(_IdleSelector(self._hub))
        self._executor = _Executor(self._hub)
        self.loop.set_default_executor(self._executor)
        self._hub.wake = self._wake
        self._pending: set[Pending[Any]] = set()
        self._kit_cancelled: set[int] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="lifecycle-loop", daemon=True)
        self._thread.start()
        kit.on_close(self.close)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            asyncio.set_event_loop(None)

    # -- handing work to the loop ------------------------------------------------------

    def _wake(self) -> None:
        with _suppress():  # a loop closed at teardown needs no waking
            self.loop.call_soon_threadsafe(_noop)

    def _submit(self, callback: Callable[[], None]) -> None:
        if self._closed:
            raise RuntimeError("the kit's event loop is closed (the test is over)")
        self.loop.call_soon_threadsafe(callback)
        self._hub.bump()

    def start(self, make: Callable[[], Awaitable[T]], what: str) -> Pending[T]:
        """Start ``await make()`` on the loop, run the loop until idle, return the handle.

        The handle is done if the awaitable finished by then (a read with an
        item ready, an emit); otherwise it is waiting for something.
        """
        __tracebackhide__ = True
        (pending,) = self.start_many([(make, what)])
        return pending

    def start_many(
        self, calls: list[tuple[Callable[[], Awaitable[Any]], str]], *, settle: bool = True
    ) -> list[Pending[Any]]:
        """Start every ``await make()`` in one loop step (in order), then run the loop until idle."""
        __tracebackhide__ = True
        started = [self._task(make, what) for make, what in calls]

        def begin() -> None:
            for pending, body in started:
                pending.task = self.loop.create_task(body(), name=f"lifecycle: {pending.what}")

        self._submit(begin)
        if settle:
            self.settle(f"{', '.join(p.what for p, _ in started)} to finish or wait")
        return [p for p, _ in started]

    def _task(self, make: Callable[[], Awaitable[Any]], what: str) -> tuple[Pending[Any], Callable[[], Any]]:
        pending: Pending[Any] = Pending(self, what)
        self._pending.add(pending)

        async def body() -> None:
            try:
                value = await make()
            except asyncio.CancelledError as exc:
                if id(pending) in self._kit_cancelled:
                    pending._finish(error=exc)
                    return
                pending._finish(
                    error=ProviderCancelled(
                        self.kit.rule.id,
                        f"provider {self.kit.provider.name!r} raised CancelledError in {what}, though the kit cancelled "
                        f"nothing (a provider must not leak cancellation) after {self.kit.steps()}",
                    )
                )
            except BaseException as exc:  # KeyboardInterrupt/SystemExit too: the rule's failure, not the run's
                pending._finish(error=exc)
            else:
                pending._finish(value)
            finally:
                self._pending.discard(pending)
                self._hub.bump(wake=False)  # on the loop: it selects afresh anyway

        return pending, body

    def run(self, make: Callable[[], Awaitable[T]], what: str) -> T:
        """``await make()`` on the loop: wait until it finishes, then until idle; its result."""
        __tracebackhide__ = True
        pending = self.complete(make, what)
        return pending.result()

    def complete(self, make: Callable[[], Awaitable[T]], what: str) -> Pending[T]:
        """Start ``await make()``, wait until it finishes, then until the loop is idle; the finished handle."""
        __tracebackhide__ = True
        (pending,) = self.start_many([(make, what)], settle=False)
        self.finish(pending)
        return pending

    def finish(self, pending: Pending[Any], why: str = "") -> None:
        """Wait for *pending* to finish (the kit timeout is a safety net), then until idle."""
        __tracebackhide__ = True
        deadline = time.monotonic() + self.kit.timeout
        with self._hub.cond:
            while not pending.done:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._hub.cond.wait(left)  # safety-net: the finishing task wakes us
        if not pending.done:
            self._hung(f"{pending.what} to finish{why}")
        self.settle(f"the loop to settle after {pending.what}")

    def call(self, fn: Callable[[], T], what: str) -> T:
        """Run the synchronous ``fn()`` on the loop thread (``subscribe()``, a factory)."""
        __tracebackhide__ = True

        async def inline() -> T:
            return fn()

        return self.run(inline, what)

    def _cancel(self, pending: Pending[Any]) -> None:
        if pending.done or pending.task is None or self._closed:
            return
        self._kit_cancelled.add(id(pending))
        task = pending.task

        def cancel() -> None:
            task.cancel()

        self._submit(cancel)
        self.settle(f"{pending.what} to be cancelled")

    # -- idleness ----------------------------------------------------------------------

    def _quiet(self) -> tuple[bool, list[str]]:
        """Whether the loop is idle now (with the cond held) and the busy jobs if not."""
        hub = self._hub
        if not (hub.idle and hub.idle_wakes == hub.wakes):
            return False, []
        now = time.monotonic()
        busy = []
        for job in hub.inflight.values():
            if job.held:
                continue  # held by the kit itself
            if job.watch.parked():
                job.parked_since = job.parked_since or now
                if now - job.parked_since >= PARK_SETTLE:
                    continue
            else:
                job.parked_since = None
            busy.append(job.what)
        return not busy, busy

    def settle(self, what: str = "the loop to settle") -> None:
        """Wait until the loop is idle (every task blocked, every thread job done or parked)."""
        __tracebackhide__ = True
        if self._closed:
            return
        deadline = time.monotonic() + self.kit.timeout
        hub = self._hub
        with hub.cond:
            while True:
                quiet, busy = self._quiet()
                if quiet:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                # Jobs are looked at again shortly; everything else notifies.
                hub.cond.wait(min(left, SAMPLE_INTERVAL) if hub.inflight else left)  # safety-net
        self._hung(what, busy)

    def _hung(self, what: str, busy: list[str] | None = None) -> NoReturn:
        __tracebackhide__ = True
        frame = cpython.thread_frame(self._thread.ident)
        with self._hub.cond:
            idle = self._hub.idle
            jobs = [j.what for j in self._hub.inflight.values()]
        if not idle and frame is not None:
            state = (
                f"the event loop is blocked at {where_is(frame)}: synchronous work (blocking I/O, a sleep, "
                "a loop that never awaits) in a coroutine stops every other task"
            )
        elif jobs:
            state = f"a thread the provider handed work to is still busy ({', '.join(busy or jobs)})"
        else:
            state = "every task is waiting and nothing will wake them"
        raise LoopHung(
            self.kit.rule.id,
            f"{self.name}: waited {self.kit.timeout:g}s for {what} ({state}; --lifecycle-timeout) "
            f"after {self.kit.steps()}",
        )

    # -- stepping through thread work --------------------------------------------------

    def hold_jobs(self) -> None:
        """From now on, each job handed to a thread waits until :meth:`admit_job` lets it run."""
        with self._hub.cond:
            self._executor.holding = True

    def held_jobs(self) -> list[str]:
        with self._hub.cond:
            return [j.what for j in self._hub.inflight.values() if j.held]

    def admit_job(self) -> bool:
        """Let one held job run, then run the loop until idle; ``False`` if none was held."""
        __tracebackhide__ = True
        with self._hub.cond:
            held = [j for j in self._hub.inflight.values() if j.held]
            if not held:
                return False
            held[0].held, held[0].admitted = False, True  # the oldest first
            self._hub.cond.notify_all()
        self._hub.bump()
        self.settle("an admitted thread job to finish")
        return True

    def release_jobs(self) -> None:
        """Stop holding jobs: every held and later one runs."""
        with self._hub.cond:
            self._executor.holding = False
            self._hub.cond.notify_all()
        self._hub.bump()

    @property
    def busy_jobs(self) -> list[str]:
        with self._hub.cond:
            return [j.what for j in self._hub.inflight.values()]

    # -- teardown ----------------------------------------------------------------------

    def close(self) -> None:
        """Cancel what is still pending, stop the loop and its threads (abandoned if stuck)."""
        if self._closed:
            return
        for pending in list(self._pending):
            if not pending.done and pending.task is not None:
                self._kit_cancelled.add(id(pending))
                task = pending.task
                with _suppress():
                    self.loop.call_soon_threadsafe(task.cancel)
        self._closed = True

        async def stop() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=self.kit.prompt)  # safety-net
            await self.loop.shutdown_asyncgens()
            self.loop.stop()

        with _suppress():
            self.loop.call_soon_threadsafe(lambda: self.loop.create_task(stop()))
        self._thread.join(self.kit.prompt + 0.5)  # safety-net
        self._executor.shutdown(wait=True)
        if self._thread.is_alive():
            self.kit.abandoned.append(
                f"lifecycle-loop: the event loop of {self.name} is still blocked at "
                f"{where_is(cpython.thread_frame(self._thread.ident))}"
            )
            return
        self.loop.close()


def _noop() -> None:
    return None


class _suppress:
    """``contextlib.suppress(RuntimeError)`` for calls into a loop that may be closed."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *rest: Any) -> bool:
        return kind is not None and issubclass(kind, RuntimeError)
