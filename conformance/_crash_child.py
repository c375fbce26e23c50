"""Starting a crash child and judging how it ended (CK-05, ST-10/11): one helper for every suite."""

from __future__ import annotations

import signal
from types import ModuleType

from pytest_lifecycle import Kit
from pytest_lifecycle.support import CrashHarness, CrashHarnessError, CrashRun

__all__ = ["child_ok", "start_harness"]


def start_harness(kit: Kit, spec: str, child: ModuleType) -> CrashHarness:
    """A crash harness whose child imports the provider of *spec* and runs *child*."""
    try:
        return CrashHarness([spec.partition(":")[0], child.__name__], timeout=kit.timeout)
    except CrashHarnessError as exc:
        kit.fail(f"cannot start the crash child for provider spec {spec!r}: {exc}")


def child_ok(
    kit: Kit,
    harness: CrashHarness,
    run: CrashRun,
    reported: object,
    what: str,
    died_of: tuple[int, ...] = (signal.SIGKILL,),
) -> None:
    """Fail with the child's own story when it broke for another reason than the kit's kill (*died_of*)."""
    __tracebackhide__ = True
    end = run.end
    stderr = harness.tail("stderr", 1500).strip()
    note = f"\nchild stderr (last lines):\n{stderr}" if stderr else ""
    if end is None and not reported:
        run.kill()
        kit.fail(f"{what}: the child reported nothing within {kit.timeout:g}s{note}")
    if end is None:
        return
    if end.error:
        kit.fail(f"{what}: the code in the child raised:\n{end.error}")
    if not reported:
        kit.fail(f"{what}: {end.describe()} before it reported{note}")
    if end.signal not in (None, *died_of) or end.exit_code not in (None, 0):
        kit.fail(f"{what}: {end.describe()}{note}")
