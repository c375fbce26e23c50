"""The CPython internals the probes read: other threads' frames and one opcode.

The parking probe (:mod:`pytest_lifecycle._probes.parking`) decides that a
worker is blocked from the frame it is executing, which is exact only on
CPython with the GIL held by whoever looks (3.11 and later; a free-threaded
build runs with the GIL disabled).  ``BEFORE_WITH`` is the opcode that runs a
C ``__enter__`` on 3.11 to 3.13; from 3.14 ``with`` is a call the profile
hook sees, and the opcode is gone.
"""

from __future__ import annotations

import dis
import platform
import sys
from types import FrameType
from typing import Final

from pytest_lifecycle._compat import UnsupportedVersion

__all__ = ["check_parking_supported", "entering_with", "thread_frame"]

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
