"""A broken or hostile provider can never fool, crash or stall the gate.

Whatever a provider does -- raise any BaseException, hang, return nonsense,
exit the process -- the run ends by itself, every claimed rule gets a
verdict naming the real cause, and the gate does not pass.  The matrix runs
one small provider per fault kind, faults placed on the methods most rules
call, with a short ``--lifecycle-timeout`` for the hang column; it counts the
(fault x rule) cases survived (see ``_record_survivors``).  The providers of a
contract share two runs (``tests/_hostile.py``), made by the first test that
needs one; ``tests/conftest.py`` keeps the tests of a run on one xdist worker.
The default run checks every fault on some contract and every contract with
the hang and two other faults (``DEFAULT_CASES``); the whole matrix runs under
the marker ``extended`` (``.ci/run``).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from pytest_lifecycle import ProviderHung
from pytest_lifecycle._core.runner import HUNG_GRACE, Runner
from tests._hostile import (
    CAUSES,
    CONTRACTS,
    DEFAULT_CASES,
    NO_SHRINK_PLUGIN,
    HostileRun,
    group_of,
    hostile_module,
    judge,
    run_group,
)
from tests.conftest import HOSTILE_MATRIX

#: Only hung tests wait out the timeout, so only the hang column gets a short one: a
#: hang costs one timeout per test, and this keeps the matrix under a minute.  The
#: other columns never wait for it; a long one there keeps a slow call of the
#: reference on a loaded machine from being reported as hung (a misnamed cause).
TIMEOUTS = {"hang": 0.1}
TIMEOUT = 2.0
#: Seconds the run of one contract's providers of one group (the hang, the other faults) may take.
RUN_BOUND = 40.0


class Runs:
    """The hostile runs of this worker: (contract, group) → fault → its part of the run.

    A run holds the faults of its group that the session selected.
    """

    def __init__(self, session: pytest.Session) -> None:
        self.session = session
        self.runs: dict[tuple[str, str], dict[str, HostileRun]] = {}

    def of(self, pytester: pytest.Pytester, contract: str, fault: str) -> HostileRun:
        group = group_of(fault)
        if (contract, group) not in self.runs:
            selected = {
                item.callspec.params["fault"]
                for item in self.session.items
                if getattr(item, "originalname", None) == HOSTILE_MATRIX
                and item.callspec.params["contract"] == contract
                and group_of(item.callspec.params["fault"]) == group
            }
            faults = [f for f in CAUSES if f in selected]
            self.runs[(contract, group)] = run_group(pytester, contract, faults, TIMEOUTS.get(fault, TIMEOUT))
        return self.runs[(contract, group)][fault]


@pytest.fixture(scope="session")
def hostile_runs(request: pytest.FixtureRequest) -> Runs:
    return Runs(request.session)


MATRIX = [
    pytest.param(
        contract, fault, id=f"{contract}-{fault}",
        marks=() if fault in DEFAULT_CASES[contract] else pytest.mark.extended,
    )
    for contract in CONTRACTS
    for fault in CAUSES
]  # fmt: skip


@pytest.mark.parametrize(("contract", "fault"), MATRIX)
def test_every_claimed_rule_gets_an_honest_verdict(
    pytester: pytest.Pytester, hostile_runs: Runs, contract: str, fault: str
) -> None:
    """A faulty provider's run fails, completes, and gives every claimed rule an honest verdict.

    No rule passes the fault (bar stress rules and the plain ``ValueError``,
    which some rules tolerate), every failure leads with its rule ID and names
    the fault before any invariant, nothing is counted twice as ERROR, and
    the run ends within its bound.
    """
    run = hostile_runs.of(pytester, contract, fault)
    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.stdout[-3000:]
    assert run.report["complete"] and not run.report["not_run"], run.report.get("not_run")
    assert sorted(run.report["providers"]) == sorted(run.providers)
    problems, claimed, survived = judge(run)
    _record_survivors(run, claimed, survived)
    assert not problems, "\n".join(problems)
    assert "error" not in run.outcomes and "errors" not in run.outcomes, "a hang or a raise is counted once"
    assert run.elapsed < RUN_BOUND, f"{', '.join(run.providers)}: {run.elapsed:.1f}s"


def test_the_default_run_covers_every_fault_and_every_contract() -> None:
    assert set(DEFAULT_CASES) == set(CONTRACTS)
    assert {fault for faults in DEFAULT_CASES.values() for fault in faults} == set(CAUSES)
    assert all("hang" in faults and len(faults) >= 3 for faults in DEFAULT_CASES.values())


def _record_survivors(run: HostileRun, claimed: list[str], survived: list[str]) -> None:
    """Print the (fault x rule) cases survived; append them to $LIFECYCLE_HOSTILE_CASES (JSON lines) if set.

    ``LIFECYCLE_HOSTILE_CASES=cases.jsonl pytest tests/test_hostile.py -k honest`` gives one
    line per (contract, fault); ``pytest tests/test_hostile.py -k honest -n 0 -s`` shows the printed ones.
    """
    print(
        f"hostile matrix {run.provider}: {len(survived)} of {len(claimed)} claimed rules survived in {run.elapsed:.1f}s"
    )
    if path := os.environ.get("LIFECYCLE_HOSTILE_CASES"):
        line = {"contract": run.contract, "fault": run.fault, "claimed": claimed, "survived": survived}
        with open(path, "a", encoding="utf-8") as out:  # one short line per run: appends do not interleave
            out.write(json.dumps(line | {"seconds": round(run.elapsed, 1)}) + "\n")


def test_a_hang_costs_one_timeout_and_names_the_thread_left_behind(pytester: pytest.Pytester) -> None:
    spec = hostile_module(pytester, "session_lifecycle", "hang")
    result = pytester.runpytest_inprocess(
        "--pyargs",
        "conformance.session_lifecycle",
        "--lifecycle-rule",
        "LC-03",
        "--lifecycle-provider",
        spec,
        "--lifecycle-timeout",
        "1",
        "-p",
        "no:cacheprovider",
    )
    outcomes = result.parseoutcomes()
    tests = outcomes.get("failed", 0)
    assert tests >= 1 and "errors" not in outcomes and "error" not in outcomes and "passed" not in outcomes
    # Per test (setup + call + teardown), not per session: collecting and starting
    # the run are no part of a hang's cost, and only they grow on a loaded machine.
    spent: dict[str, float] = defaultdict(float)
    for report in result.reprec.getreports("pytest_runtest_logreport"):  # type: ignore[attr-defined]
        spent[report.nodeid] += report.duration
    slow = {nodeid: f"{seconds:.1f}s" for nodeid, seconds in spent.items() if seconds >= 1 + 0.5}
    assert len(spent) == tests and not slow, f"more than one timeout (1s) per hung LC-03 test: {slow}"
    result.stdout.fnmatch_lines(["*provider threads left running*", "lifecycle-*: lifecycle.mark_turn_completed(*"])


def test_teardown_does_not_wait_again_for_a_reported_hang() -> None:
    # The grace at teardown is for calls the opened gates let finish; waiting it out
    # for a call the test already reported hung made every hang cost more than one timeout.
    release = threading.Event()
    runner = Runner(rule="LC-03", provider="hangs", timeout=0.05)
    task = runner.spawn(release.wait, what="stuck()")
    with pytest.raises(ProviderHung):
        task.result()
    started = time.monotonic()
    stuck = runner.close(HUNG_GRACE, failed=True)
    closing = time.monotonic() - started
    release.set()
    assert stuck == [task], stuck
    assert closing < HUNG_GRACE / 2, f"closing waited {closing:.2f}s for a hang already reported"


def test_an_abandoned_call_looping_over_the_doubles_stops() -> None:
    # A provider call that outlives its test and keeps calling a double (retrying a
    # commit forever) would hold the GIL and slow every later test of the process.
    runner = Runner(rule="LC-15", provider="spins", timeout=0.05)

    def spin() -> None:
        while True:
            runner.stop_if_abandoned()  # what each call of a test double does (Kit.note)

    task = runner.spawn(spin, what="evict_session()")
    with pytest.raises(ProviderHung):
        task.result()
    assert runner.close(HUNG_GRACE, failed=True) == [task]
    thread = next(t for t in threading.enumerate() if t.ident == task.thread_ident)
    thread.join(5)  # safety net: it stops at its next call of the double
    assert not thread.is_alive(), "the abandoned call still spins"


@pytest.mark.parametrize("timeout", ["nan", "inf", "0", "-1"])
def test_timeouts_must_be_finite_and_positive(pytester: pytest.Pytester, timeout: str) -> None:
    result = pytester.runpytest_inprocess("--lifecycle-timeout", timeout)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--lifecycle-timeout must be a finite number of seconds above 0*"])


def test_an_import_path_in_the_current_directory_works_under_the_scripts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(cwdprov="from reference_impl.provider import provider\n")
    scripts = {"pytest": [sys.executable, "-c", "import sys, pytest; sys.exit(pytest.console_main())"]}
    result = pytester.run(
        *scripts["pytest"],
        "--pyargs",
        "conformance.session_lifecycle",
        "--lifecycle-rule",
        "LC-01",
        "--lifecycle-provider",
        "cwdprov:provider",
        "-p",
        "no:cacheprovider",
        "-q",
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()


def test_certify_fails_a_provider_that_ends_the_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        exits="""
import os
from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle

class Exits(SessionLifecycle):
    def discard_session(self, sid):
        os._exit(0)

provider = Provider("exits", session_lifecycle=lambda ctx: Exits())
"""
    )
    result = pytester.run(
        sys.executable, "-m", "pytest_lifecycle", "certify", "exits:provider", "--", "--lifecycle-rule", "LC-16", "-q"
    )
    assert result.ret == 1
    result.stderr.fnmatch_lines(["*provider 'exits' (during LC-16, in *test_lc16_*) ended the process (exit code 0)*"])


def test_the_printed_replay_command_runs_and_reproduces(pytester: pytest.Pytester) -> None:
    # A provider module in the current directory, as a new user has it.
    pytester.makepyfile(
        naivemod=(Path(__file__).parent / "mutants" / "keyed_locks" / "lk01_new_lock_per_call.py").read_text()
    )
    # Shrinking only makes the report readable; both runs skip it alike, so the seed still replays.
    pytester.makepyfile(noshrink=NO_SHRINK_PLUGIN)
    args = (
        "--lifecycle-provider",
        "naivemod:provider",
        "--lifecycle-rule",
        "LK-08",
        "-p",
        "no:cacheprovider",
        "-p",
        "noshrink",
    )
    first = pytester.runpytest_subprocess("--pyargs", "conformance", *args)
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    # The note shows under the failure and again in the summary: any copy will do.
    line = next(ln for ln in first.stdout.lines if "LK-08 replay with: pytest " in ln)
    replay = shlex.split(line.split("replay with: pytest ", 1)[1])
    again = pytester.runpytest_subprocess(*replay, "-p", "no:cacheprovider", "-p", "noshrink")
    assert again.ret == pytest.ExitCode.TESTS_FAILED, again.stdout.str() + again.stderr.str()
    again.stdout.fnmatch_lines(["*[[]LK-08[]]*"])


def test_a_foreign_conformance_package_is_named_plainly(pytester: pytest.Pytester) -> None:
    # Another distribution's top-level package called "conformance", first on sys.path.
    pytester.mkpydir("conformance").joinpath("__init__.py").write_text('"""An agent-runtime tool."""\n')
    result = pytester.run(sys.executable, "-m", "pytest", "--pyargs", "conformance", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*'conformance' resolves to *, which is not pytest-lifecycle's conformance suites*"])
