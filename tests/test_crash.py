"""The crash harness (:mod:`pytest_lifecycle._probes.crash`): kills, draining, cleanup."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest

from pytest_lifecycle import Provider
from pytest_lifecycle._core.discovery import load_provider, select_providers
from pytest_lifecycle._probes.crash import CrashHarness, CrashHarnessError

WORKERS = "tests._crash_workers"


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def harness():
    with CrashHarness([WORKERS], timeout=10) as h:
        yield h


def test_kill_ends_a_run_with_sigkill_and_keeps_its_reports(harness: CrashHarness) -> None:
    run = harness.start(f"{WORKERS}:count_forever")
    assert run.wait_report(lambda r: r["n"] >= 5) == {"n": 5}
    end = run.kill()
    assert end.killed and end.signal == signal.SIGKILL
    assert [r["n"] for r in end.reports] == list(range(1, len(end.reports) + 1))
    assert len(end.reports) >= 5


def test_many_kills_in_a_row(harness: CrashHarness) -> None:
    for _ in range(20):
        run = harness.start(f"{WORKERS}:count_forever")
        run.wait_report(lambda r: r["n"] >= 1)
        assert run.kill(after=0.001).killed


def test_a_chatty_child_never_blocks_on_its_pipes(harness: CrashHarness) -> None:
    run = harness.start(f"{WORKERS}:chatty", {"kib": 8 * 1024})  # 8 MiB on each stream
    end = run.wait()
    assert end is not None and end.exit_code == 0, end
    assert harness.output_bytes["stdout"] >= 8 * 1024 * 1024
    assert harness.output_bytes["stderr"] >= 8 * 1024 * 1024
    assert harness.tail("stderr").endswith("x\n")


def test_a_failing_worker_reports_its_traceback(harness: CrashHarness) -> None:
    end = harness.start(f"{WORKERS}:fail").wait()
    assert end is not None and end.exit_code == 1
    assert end.reports == [{"about": "to fail"}]
    assert "ValueError: the worker's own error" in (end.error or "")


def test_an_oversized_report_is_cut_not_torn(harness: CrashHarness) -> None:
    end = harness.start(f"{WORKERS}:big_report").wait()
    assert end is not None and len(end.reports) == 1 and isinstance(end.reports[0], str)


def test_file_size_limit_kills_at_the_byte_or_fails_the_write(harness: CrashHarness, tmp_path: Path) -> None:
    target = tmp_path / "f"
    end = harness.start(
        f"{WORKERS}:write_file", {"path": str(target), "limit": 100, "size": 10_000, "kill": True}
    ).wait()
    assert end is not None and end.signal == signal.SIGXFSZ
    assert target.stat().st_size == 100
    end = harness.start(
        f"{WORKERS}:write_file", {"path": str(target), "limit": 100, "size": 10_000, "kill": False}
    ).wait()
    assert end is not None and end.reports == [{"errno": errno.EFBIG}]
    assert not list(Path.cwd().glob("core*")), "a SIGXFSZ death must not dump core"


def test_close_leaves_no_process_behind() -> None:
    harness = CrashHarness([WORKERS], timeout=10)
    runs = [harness.start(f"{WORKERS}:count_forever") for _ in range(3)]
    for run in runs:
        run.wait_report(lambda r: True)
    zygote = harness._proc.pid
    harness.close()
    assert harness._proc.returncode is not None
    assert all(_gone(run.pid) for run in runs) and _gone(zygote)
    assert not harness._reader.is_alive()
    harness.close()  # idempotent


def test_a_preload_that_does_not_import_fails_the_start() -> None:
    with pytest.raises(CrashHarnessError, match="no_such_module_xyz"):
        CrashHarness(["no_such_module_xyz"], timeout=10)


def test_providers_from_import_paths_and_entry_points_carry_a_spec() -> None:
    provider = load_provider("reference_impl.provider:provider")
    assert provider.spec == "reference_impl.provider:provider"
    assert load_provider("reference").spec == "reference_impl.provider:provider"
    hooked = Provider("hooked", keyed_locks=lambda ctx: object())
    assert select_providers([], [hooked])[0].spec is None
