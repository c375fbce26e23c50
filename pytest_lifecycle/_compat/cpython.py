"""The CPython internals the kit relies on: other threads' frames, one opcode, how threads install a tracer.

The parking probe (:mod:`pytest_lifecycle._probes.parking`) decides that a
worker is blocked from the frame it is executing, which is exact only on
CPython with the GIL held by whoever looks (3.11 and later; a free-threaded
build runs with the GIL disabled).  ``BEFORE_WITH`` is the opcode that runs a
C ``__enter__`` on 3.11 to 3.13; from 3.14 ``with`` is a call the profile
hook sees, and the opcode is gone.  Provider coverage wraps how
:mod:`threading` installs a new thread's trace function
(:func:`guard_thread_tracing`).
"""

from __future__ import annotations

import dis
import platform
import sys
import threading
import types
from collections.abc import Callable
from types import FrameType
from typing import Any, Final, TypeVar

from pytest_lifecycle._compat import UnsupportedVersion

__all__ = [
    "check_parking_supported",
    "entering_with",
    "guard_thread_tracing",
    "thread_frame",
    "unguard_thread_tracing",
]

_BEFORE_WITH: Final = dis.opmap.get("BEFORE_WITH")


def check_parking_supported() -> None:
    """Raise :class:`~pytest_lifecycle._compat.UnsupportedVersion` unless frames can tell a parked thread."""
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    if sys.implementation.name != "cpython" or sys.version_info < (3, 11) or not gil:
        build = f"{platform.python_implementation()} {platform.python_version()}" + ("" if gil else " (no GIL)")
        raise UnsupportedVersion("Python", build, "frames of blocked threads, read under the GIL")


def thread_frame(ident: int | None) -> FrameType | None:
    """The frame the thread *ident* is executing now (``None``: not running)."""
    if ident is None:
        return None
    return sys._current_frames().get(ident)


def entering_with(frame: FrameType) -> bool:
    """Whether *frame* is executing ``BEFORE_WITH`` (a C ``__enter__`` runs)."""
    if _BEFORE_WITH is None:  # 3.14+: ``with`` is a CALL, seen by the profile hook
        return False
    code = frame.f_code.co_code
    lasti = frame.f_lasti
    return 0 <= lasti < len(code) and code[lasti] == _BEFORE_WITH


# CPython 3.11 (gh-98257): installing a trace function is not reentrant across threads, and an
# audit hook written in Python (the kit's file-op recorder) runs inside the installation.  Under the
# stress tests' 1 µs switch interval a thread that starts meanwhile -- every new thread installs
# coverage's tracer -- gets RuntimeError("Cannot install a trace function while another trace
# function is being installed") and dies before it runs: a correct provider would fail LK-02 or
# LK-09 only because it is measured.  So new threads install their tracer one at a time, and retry.
_INSTALLING: Final = threading.Lock()
_BUSY: Final = "being installed"
_RETRIES: Final = 5
T = TypeVar("T")


def _in_turn_retrying(install: Callable[[], T]) -> T:
    """Run *install* while no other thread installs a tracer; retry it while one (not a new one) still was."""
    with _INSTALLING:
        for attempt in range(_RETRIES):
            try:
                return install()
            except RuntimeError as exc:  # raised before anything was installed: safe to retry
                if _BUSY not in str(exc) or attempt == _RETRIES - 1:
                    raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def _settrace_in_turn(fn: Any) -> None:
    _in_turn_retrying(lambda: sys.settrace(fn))


class _ThreadingSys(types.ModuleType):
    """``sys`` as :mod:`threading` sees it, with :func:`_settrace_in_turn` for new threads."""

    def __getattr__(self, name: str) -> Any:
        return getattr(sys, name)

    settrace = staticmethod(_settrace_in_turn)


def _in_turn(hook: Any) -> Any:
    """Coverage's per-thread installation hook, run one thread at a time (see above)."""

    def install(frame: Any, event: str, arg: Any) -> Any:
        # Its first step, sys.settrace(None), is what raises: safe to retry.
        return _in_turn_retrying(lambda: hook(frame, event, arg))

    install.lifecycle_in_turn = True  # type: ignore[attr-defined]
    return install


def guard_thread_tracing() -> None:
    """Make new threads install the running Coverage's tracer in turn (idempotent, cheap).

    :raises UnsupportedVersion: :mod:`threading` has no ``_sys`` or ``_trace_hook`` to wrap.
    """
    if not hasattr(threading, "_sys") or not hasattr(threading, "_trace_hook"):
        raise UnsupportedVersion("Python", platform.python_version(), "threading._sys and threading._trace_hook")
    if not isinstance(threading._sys, _ThreadingSys):
        threading._sys = _ThreadingSys("sys")
    hook = threading._trace_hook  # type: ignore[attr-defined]
    if hook is not None and not getattr(hook, "lifecycle_in_turn", False):
        threading.settrace(_in_turn(hook))


def unguard_thread_tracing() -> None:
    """Undo :func:`guard_thread_tracing`."""
    if isinstance(threading._sys, _ThreadingSys):  # type: ignore[attr-defined]
        threading._sys = sys  # type: ignore[attr-defined]
