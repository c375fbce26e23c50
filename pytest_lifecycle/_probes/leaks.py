"""Measuring what a provider leaves behind in memory (LC-16, RS-07, LK-07).

Only the provider is measured.  ``tracemalloc`` sees every allocation of the
process, and while a churn runs the test harness keeps things too: pytest's
log capture holds every record the provider logs (and its stderr capture
holds what ``logging.lastResort`` prints when no handler is installed), the
kit notes calls in its trace, xdist receives work, Hypothesis records
coverage.  None of that is the provider's.  :func:`provider_growth` keeps it
out of the measurement in two ways:

- **Records never reach the harness while memory is measured.**  A record's
  ``args`` tuple is built in the provider's own frame, so no allocation
  site tells it apart from a real leak; what decides is who *keeps* it.  The
  handlers of the harness (pytest's, ``logging.lastResort``, and any stream
  handler writing into pytest's capture) get a filter that drops every
  record for the duration of the measurement, so a dropped record is
  garbage like any other temporary.  They are counted, and the first one is
  quoted in the kit's trace and in one log record afterwards.  Handlers of
  the provider's own keep working, and what they keep is counted.
- **Allocations are attributed to whoever asked for them.**  Each traced
  block's traceback is read from its innermost frame outwards, skipping the
  standard library: a block first reached from the harness' own packages
  (:data:`HARNESS_PACKAGES`) is not counted; one reached from anywhere else
  -- the provider, the suite, the standard library alone -- is.

Memory is compared after a full collection on both sides, so garbage cycles
do not count; only what the run keeps reachable does.  One allowance
(:data:`BYTES_PER_KEY` per churned key plus :data:`SLACK`) serves every churn.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import sysconfig
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from pytest_lifecycle._core.kit import Kit

__all__ = ["BYTES_PER_KEY", "HARNESS_PACKAGES", "SLACK", "Growth", "check_growth", "provider_growth"]

T = TypeVar("T")

#: Memory a churn may leave behind per churned key.  Leaking one small
#: object per key (a lock, a tuple key, a set or dict slot: 60-200 bytes)
#: costs several times this.
BYTES_PER_KEY: Final = 16
#: Memory a churn may leave behind whatever its size (caches, a table that
#: has not shrunk yet, interpreter free lists).
SLACK: Final = 128 * 1024
#: Frames kept per traced block: enough to see through a call or two into
#: the standard library (``queue``, ``threading``, ``weakref``) to the code
#: that made it.  Each frame makes tracing slower; a block whose frames are
#: all in the standard library is counted.
FRAMES: Final = 4
#: Top-level packages of the harness: pytest and its plugins, Hypothesis,
#: the kit itself.  The suites (``conformance``) are not among them: what
#: they allocate during a churn stays alive only if the provider keeps it.
HARNESS_PACKAGES: Final = frozenset(
    {"_pytest", "pytest", "pluggy", "xdist", "execnet", "hypothesis", "_hypothesis_pytestplugin", "pytest_lifecycle"}
)

#: The attribute that marks a record the quarantine already counted (one
#: record meets every handler of the harness).
_COUNTED: Final = "_pytest_lifecycle_not_kept"

log = logging.getLogger("pytest_lifecycle._probes.leaks")


@dataclass(frozen=True)
class Growth:
    """What a churn left behind in memory that only the provider keeps."""

    #: Traced bytes still allocated after the churn, attributed to the provider.
    bytes: int
    #: Keys (sessions) the churn went through.
    keys: int
    #: Log records emitted during the measurement that the harness did not keep.
    records: int = 0
    #: The first of them (level, logger, message), for the trace.
    first_record: str = ""

    @property
    def allowed(self) -> int:
        return BYTES_PER_KEY * self.keys + SLACK

    @property
    def leaked(self) -> bool:
        return self.bytes > self.allowed

    def summary(self, what: str) -> str:
        text = f"{what}: traced memory +{self.bytes} bytes (allowed {self.allowed})"
        if self.records:
            text += (
                f"; {self.records} log records emitted meanwhile were not kept by the harness "
                f"(first: {self.first_record})"
            )
        return text

    def problem(self, what: str) -> str:
        per_key = self.bytes / self.keys if self.keys else float(self.bytes)
        return (
            f"memory grew by {self.bytes / 1024:.0f} KiB after {what} ({per_key:.0f} bytes per key; "
            f"allowed {self.allowed / 1024:.0f} KiB): per-key state is not freed"
        )


def provider_growth(run: Callable[[], T], *, keys: int) -> tuple[T, Growth]:
    """Run *run* (a churn of *keys* keys); return its result and what the provider kept.

    Tracing is started (and stopped again) unless someone already traces;
    then their traceback depth is used, and blocks whose traceback ends in
    the standard library are counted.
    """
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(FRAMES)
    quarantine = _Quarantine()
    try:
        with quarantine:
            gc.collect()
            before = tracemalloc.take_snapshot()
            result = run()
            gc.collect()
            after = tracemalloc.take_snapshot()
        kinds = _FileKinds()
        grown = kinds.kept_by_provider(after) - kinds.kept_by_provider(before)
    finally:
        if started:
            tracemalloc.stop()
    if quarantine.count:
        log.info(
            "%d log records emitted while the provider's memory was measured were not captured (first: %s)",
            quarantine.count,
            quarantine.first,
        )
    return result, Growth(grown, keys, quarantine.count, quarantine.first)


def check_growth(kit: Kit, growth: Growth, what: str) -> None:
    """Note *growth* in the kit's trace; fail the rule if the provider leaked."""
    __tracebackhide__ = True
    kit.note(growth.summary(what))
    kit.check(not growth.leaked, growth.problem(what))


# -- log records: what the harness would keep ----------------------------------


class _Quarantine(logging.Filter):
    """Drops (and counts) every record at the harness' handlers while it is entered."""

    def __init__(self) -> None:
        super().__init__("")
        self.count = 0
        self.first = ""
        # Reentrant: a finalizer run by a collection inside filter() may log too.
        self._lock = threading.RLock()
        self._handlers: list[logging.Handler] = []

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            if not record.__dict__.get(_COUNTED):
                record.__dict__[_COUNTED] = True
                self.count += 1
                if not self.first:
                    self.first = _describe(record)
        return False

    def __enter__(self) -> _Quarantine:
        loggers = [logging.getLogger()]
        loggers += [lg for lg in list(logging.Logger.manager.loggerDict.values()) if isinstance(lg, logging.Logger)]
        found = {id(h): h for lg in loggers for h in list(lg.handlers) if _kept_by_harness(h)}
        if logging.lastResort is not None:
            found[id(logging.lastResort)] = logging.lastResort
        self._handlers = list(found.values())
        for handler in self._handlers:
            handler.addFilter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for handler in self._handlers:
            handler.removeFilter(self)
        self._handlers = []


def _describe(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the format: the handlers would say so
        message = str(record.msg)
    return " ".join(f"{record.levelname} {record.name}: {message}".split())[:200]  # one line in the trace


def _kept_by_harness(handler: logging.Handler) -> bool:
    """Whether what *handler* emits is kept by the harness (its class or its stream is the harness')."""
    if _in_harness(type(handler).__module__):
        return True
    stream = handler.__dict__.get("stream")  # the attribute, not lastResort's property
    return stream is not None and _in_harness(type(stream).__module__)


def _in_harness(module: str) -> bool:
    return module.partition(".")[0] in HARNESS_PACKAGES


# -- traced blocks: who asked for them -----------------------------------------

_HARNESS, _STDLIB, _OTHER = "harness", "stdlib", "other"


class _FileKinds:
    """Classifies source files: the harness', the standard library's, anyone else's."""

    def __init__(self) -> None:
        self._kinds: dict[str, str] = {}
        self._harness = tuple(_harness_dirs())
        paths = sysconfig.get_paths()
        self._stdlib = tuple({_dir(paths[k]) for k in ("stdlib", "platstdlib") if k in paths})
        self._site = tuple({_dir(paths[k]) for k in ("purelib", "platlib") if k in paths})

    def kind(self, filename: str) -> str:
        kind = self._kinds.get(filename)
        if kind is None:
            path = os.path.realpath(filename) if filename and not filename.startswith("<") else filename
            if path.startswith(self._harness):
                kind = _HARNESS
            elif filename.startswith("<frozen ") or (path.startswith(self._stdlib) and not path.startswith(self._site)):
                kind = _STDLIB
            else:
                kind = _OTHER
            self._kinds[filename] = kind
        return kind

    def kept_by_provider(self, snapshot: tracemalloc.Snapshot) -> int:
        """Bytes of *snapshot* whose innermost frame outside the standard library is not the harness'."""
        total = 0
        for stat in snapshot.statistics("traceback"):
            if self._counted(stat.traceback):
                total += stat.size
        return total

    def _counted(self, traceback: tracemalloc.Traceback) -> bool:
        for frame in _innermost_first(traceback):
            kind = self.kind(frame.filename)
            if kind != _STDLIB:
                return kind == _OTHER
        return True  # nothing but the standard library in sight: counted


def _innermost_first(traceback: tracemalloc.Traceback) -> Iterator[tracemalloc.Frame]:
    return reversed(traceback)  # tracemalloc lists the oldest frame first


def _harness_dirs() -> Iterator[str]:
    for name in HARNESS_PACKAGES:
        module = sys.modules.get(name)
        if module is None:
            continue
        for path in getattr(module, "__path__", None) or [getattr(module, "__file__", None) or ""]:
            if path:
                yield _dir(path) if os.path.isdir(path) else os.path.realpath(path)


def _dir(path: str) -> str:
    return os.path.join(os.path.realpath(path), "")
