"""A broken or hostile provider can never fool, crash or stall the gate.

Whatever a provider does -- raise any BaseException, hang, return nonsense,
exit the process -- the run ends by itself, every claimed rule gets a
verdict naming the real cause, and the gate does not pass.  The matrix runs
one small provider per fault kind, faults placed on the methods most rules
call, with a short ``--lifecycle-timeout``.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import pytest

from pytest_lifecycle import rules_for

#: Providers that go wrong in one way each.  ``target`` is the method the
#: fault is placed on, per contract.
HOSTILE = """
import os
import threading

from pytest_lifecycle import Provider
from reference_impl.checkpoint import factory as checkpoints
from reference_impl.keyed_locks import factory as locks
from reference_impl.respawn import factory as respawns
from reference_impl.session_lifecycle import factory as lifecycle

FAULTS = {
    "keyboard-interrupt": lambda: (_ for _ in ()).throw(KeyboardInterrupt("provider pressed ctrl-c")),
    "system-exit": lambda: (_ for _ in ()).throw(SystemExit(3)),
    "generator-exit": lambda: (_ for _ in ()).throw(GeneratorExit()),
    "base-exception": lambda: (_ for _ in ()).throw(BaseException("odd")),
    "value-error": lambda: (_ for _ in ()).throw(ValueError("bad")),
    "hang": lambda: threading.Event().wait(),
    "wrong-type": lambda: "nonsense",
}
TARGETS = {
    "keyed_locks": ("lock_for", "rotate"),
    "session_lifecycle": ("mark_turn_completed", "commit_session_memory"),
    "respawn": ("respawn", "install"),
    "checkpoint_store": ("create", "load"),
}


def faulty(factory, contract, fault):
    def build(ctx):
        inner = factory(ctx)

        class Faulty:
            def __getattr__(self, name):
                if name in TARGETS[contract]:
                    return lambda *a, **k: FAULTS[fault]()
                return getattr(inner, name)

            def __len__(self):
                return len(inner)

        return Faulty()
    return build


providers = {
    (contract, fault): Provider(f"{contract}-{fault}", **{contract: faulty(f, contract, fault)})
    for contract, f in (("keyed_locks", locks), ("session_lifecycle", lifecycle), ("respawn", respawns),
                        ("checkpoint_store", checkpoints))
    for fault in FAULTS
}
"""

CAUSES = {
    "keyboard-interrupt": "raised KeyboardInterrupt",
    "system-exit": "raised SystemExit",
    "generator-exit": "raised GeneratorExit",
    "base-exception": "raised BaseException",
    "value-error": "ValueError",
    "hang": "hung|still inside",
    "wrong-type": "returned 'nonsense'|'str' object|str",
}
CONTRACTS = ("keyed_locks", "session_lifecycle", "respawn", "checkpoint_store")
SURVIVED: list[tuple[str, str, str]] = []


def _names_cause(fault: str, message: str) -> bool:
    return any(cause in message for cause in CAUSES[fault].split("|"))


def _hostile_module(pytester: pytest.Pytester, contract: str, fault: str) -> str:
    pytester.makepyfile(hostile=HOSTILE + f"\nprovider = providers[({contract!r}, {fault!r})]\n")
    pytester.syspathinsert()
    return "hostile:provider"


@pytest.mark.parametrize("fault", list(CAUSES))
@pytest.mark.parametrize("contract", CONTRACTS)
def test_every_claimed_rule_gets_an_honest_verdict(pytester: pytest.Pytester, contract: str, fault: str) -> None:
    spec = _hostile_module(pytester, contract, fault)
    report = pytester.path / "report.json"
    started = time.monotonic()
    result = pytester.runpytest_inprocess(
        "--pyargs",
        f"conformance.{contract}",
        "--lifecycle-provider",
        spec,
        "--lifecycle-timeout",
        "0.3",
        "--lifecycle-report",
        str(report),
        "-p",
        "no:cacheprovider",
        "-q",
    )
    elapsed = time.monotonic() - started
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()[-3000:]
    doc = json.loads(report.read_text())
    assert doc["complete"] and not doc["not_run"]
    (name,) = doc["providers"]
    verdicts = doc["providers"][name]
    assert set(verdicts) == {r.id for r in rules_for(contract)}, "every claimed rule gets a verdict"
    assert "passed" not in {v["verdict"] for v in verdicts.values() if v["kind"] != "stress"} or fault == "value-error"
    for rule, v in verdicts.items():
        if v["verdict"] == "failed":
            assert v["message"].startswith(f"[{rule}]"), v["message"]
            SURVIVED.append((contract, fault, rule))
    failed = [v["message"] for v in verdicts.values() if v["verdict"] == "failed"]
    assert any(_names_cause(fault, m) for m in failed), failed
    if fault != "value-error":
        # The cause is named before any invariant it could have broken.
        assert all(_names_cause(fault, m) for m in failed), failed
    outcomes = result.parseoutcomes()
    assert "error" not in outcomes and "errors" not in outcomes, "a hang or a raise is counted once (FAILED, not ERROR)"
    assert elapsed < 60


def test_a_hang_costs_one_timeout_and_names_the_thread_left_behind(pytester: pytest.Pytester) -> None:
    spec = _hostile_module(pytester, "session_lifecycle", "hang")
    started = time.monotonic()
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
    elapsed = time.monotonic() - started
    outcomes = result.parseoutcomes()
    tests = outcomes.get("failed", 0)
    assert tests >= 1 and "errors" not in outcomes and "error" not in outcomes and "passed" not in outcomes
    assert elapsed < tests * (1 + 0.5) + 1.5, f"{tests} LC-03 tests took {elapsed:.1f}s: more than one timeout each"
    result.stdout.fnmatch_lines(["*provider threads left running*", "lifecycle-*: lifecycle.mark_turn_completed(*"])


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


NO_SHRINK = """
from hypothesis import Phase, settings

settings.register_profile("noshrink", phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile("noshrink")
"""


def test_the_printed_replay_command_runs_and_reproduces(pytester: pytest.Pytester) -> None:
    # A provider module in the current directory, as a new user has it.
    pytester.makepyfile(
        naivemod=(Path(__file__).parent / "mutants" / "keyed_locks" / "new_lock_per_call.py").read_text()
    )
    # Shrinking only makes the report readable; both runs skip it alike, so the seed still replays.
    pytester.makepyfile(noshrink=NO_SHRINK)
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
