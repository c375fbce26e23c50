"""Forcing a race between two lines of one provider method, without sleeping.

Some races have no boundary the kit controls: the creation race of an
unguarded check-then-insert in ``lock_for`` (LK-02) is a few bytecodes wide,
between the provider's lookup and its insert.  A stress run finds it now and
then; :func:`interleavings` finds it every time, by trying each point.

For ``n = 1, 2, …`` the *first* call runs on a kit worker with a trace
function (that thread, that call only) that stops it before its *n*-th line
of code outside the kit.  While it is stopped there the *second* call runs on
another worker until it returns, or until it parks (it waits for something
the stopped call holds, which :mod:`pytest_lifecycle._probes.parking` sees exactly);
then the first call goes on, and both results are handed to the caller.  The
exploration ends when the first call returns before its *n*-th line: every
point of it has been tried.

Waits are bounded by the kit timeout as a safety net only; every step waits
for an event (stopped, returned, parked), never for time to pass.

Limits: the trace function replaces any other in that thread for the call
(coverage.py's on Python 3.11: those lines of the first call are not
measured), and a C implementation has no lines to stop at.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from pytest_lifecycle._probes.parking import spawn_watched

if TYPE_CHECKING:
    from pytest_lifecycle._core.kit import Kit

__all__ = ["Interleaving", "interleavings"]

S = TypeVar("S")
T = TypeVar("T")

#: The most points tried in one call (a provider whose first call runs more
#: lines than this is explored up to here).
MAX_POINTS: Final = 400

#: The kit's package directory (this module is in ``pytest_lifecycle/_probes/``).
_KIT_DIR: Final = str(Path(__file__).resolve().parents[1])
#: The suites ship next to the kit, in the same distribution.
_SUITES_DIR: Final = str(Path(__file__).resolve().parents[2] / "conformance")
_THREADING: Final = str(Path(threading.__file__).resolve())


def _harness(filename: str) -> bool:
    # The kit's own frames (proxies, guards, suites) and threading's internals are
    # not the provider: stopping there says nothing about its code.
    return filename.startswith((_KIT_DIR, _SUITES_DIR)) or filename == _THREADING


def _where(frame: FrameType) -> str:
    """``file:line in function`` of the provider's outermost frame (and the innermost, if deeper)."""

    def at(f: FrameType) -> str:
        return f"{Path(f.f_code.co_filename).name}:{f.f_lineno} in {f.f_code.co_name}"

    outer = frame
    while (
        outer.f_back is not None
        and not _harness(outer.f_back.f_code.co_filename)
        and outer.f_back.f_code is not _RUN_CODE
    ):
        outer = outer.f_back
    return at(outer) if outer is frame else f"{at(outer)}, inside {at(frame)}"


@dataclass(frozen=True)
class Interleaving(Generic[S, T]):
    """One tried point: where the first call stopped, and what each call returned."""

    #: The fresh state both calls acted on.
    state: S
    #: The first call stopped before its *point*-th line of provider code.
    point: int
    #: ``file:line`` of that line.
    where: str
    first: T
    second: T
    #: Whether the second call had to wait for the first (it parked).
    second_waited: bool


class _StopBefore:
    """The trace function of the first call: stop before line *point*."""

    def __init__(self, point: int, timeout: float) -> None:
        self.point = point
        self.timeout = timeout
        self.lines = 0
        self.where = ""
        #: Set when the call stopped at its point, or returned before it.
        self.stopped = threading.Event()
        self.resume = threading.Event()

    def call(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event != "call" or _harness(frame.f_code.co_filename):
            return None
        return self.line

    def line(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line" and not self.resume.is_set():
            self.lines += 1
            if self.lines == self.point:
                self.where = _where(frame)
                self.stopped.set()
                self.resume.wait(self.timeout)  # safety-net: the kit resumes it
        return self.line

    def run(self, fn: Callable[[], T]) -> T:
        # (its code object marks where the provider's frames start: see _where)
        previous = sys.gettrace()
        sys.settrace(self.call)
        try:
            return fn()
        finally:
            sys.settrace(previous)
            self.stopped.set()


def interleavings(
    kit: Kit,
    fresh: Callable[[], S],
    first: Callable[[S], T],
    second: Callable[[S], T],
    *,
    what: str,
    max_points: int = MAX_POINTS,
) -> Iterator[Interleaving[S, T]]:
    """Run *second* whole at every line of *first*, on fresh state each time.

    :param kit: the test's kit (workers, timeout).
    :param fresh: makes the state of one point (e.g. a new registry).
    :param first: the call stopped line by line.
    :param second: the call run while the first is stopped.
    :param what: how failure messages name the calls.
    :raises ProviderHung: a call that neither stops, returns nor parks in
        time (through :meth:`~pytest_lifecycle._core.runner.Task.result`).
    """
    __tracebackhide__ = True
    for point in range(1, max_points + 1):
        state = fresh()
        stop = _StopBefore(point, kit.timeout)
        one = kit.spawn(stop.run, lambda: first(state), what=f"{what} (first caller, stopped before line {point})")
        if not stop.stopped.wait(kit.timeout):  # safety-net
            one.result()  # names the hang
        if stop.lines < point:
            one.result()  # re-raises what the provider raised, if it did
            return  # it returned before this line: every point was tried
        two = spawn_watched(kit.runner, second, state, what=f"{what} (second caller, first stopped at {stop.where})")
        two.wait_parked(kit.timeout)
        waited = not two.done
        stop.resume.set()
        yield Interleaving(state, point, stop.where, one.result(), two.result(), waited)


_RUN_CODE: Final = _StopBefore.run.__code__
