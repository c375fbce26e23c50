"""The exit-code table a CI gate relies on: every row, and the README lists exactly these.

0 gate passed, 1 a rule failed (also a provider that ended the process,
under ``pytest-lifecycle certify``), 4 usage error, 5 nothing ran -- including
a provider that claims none of the selected rules.  A project suite without
conformance tests keeps pytest's codes.  Each case runs one fast rule (LC-01)
in-process, or a tiny project file.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from pytest_lifecycle._plugin.exit_gate import EXIT_CODES, exit_status, nothing_ran
from tests._runs import run_suite

ROOT = Path(__file__).resolve().parent.parent
MUTANT = ROOT / "tests" / "mutants" / "session_lifecycle" / "lc01_empty_id_tracked.py"

#: Providers that claim nothing of session_lifecycle, or only some of it.
PROVIDERS = """
from pytest_lifecycle import Provider
from reference_impl.keyed_locks import factory as locks

locks_only = Provider("locks-only", keyed_locks=locks)
"""

ENDS_THE_PROCESS = """
import os
from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle

class Exits(SessionLifecycle):
    def mark_turn_completed(self, sid, *, agent=None):
        os._exit(0)

provider = Provider("exits", session_lifecycle=lambda ctx: Exits())
"""


def lc01(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    pytester.makepyfile(mutant=MUTANT.read_text(), providers=PROVIDERS)
    pytester.syspathinsert()
    return run_suite(pytester, "session_lifecycle", *args, rules=["LC-01"])


def readme_codes() -> list[int]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    return [int(m[1]) for m in re.finditer(r"^\| `(\d+)` \|", section, flags=re.MULTILINE)]


def test_the_readme_table_lists_exactly_the_gate_codes() -> None:
    assert readme_codes() == [0, 1, 4, 5]
    assert sorted(int(c) for c in EXIT_CODES) == readme_codes()


# -- 0 -----------------------------------------------------------------------------


def test_0_every_selected_rule_passed(pytester: pytest.Pytester) -> None:
    result, doc = lc01(pytester, "--lifecycle-provider", "reference")
    assert result.ret == 0, result.stdout.str()
    assert doc["providers"]["reference"]["LC-01"]["verdict"] == "passed"
    assert doc["exitstatus"] == 0


def test_0_when_one_provider_claims_nothing_but_another_ran(pytester: pytest.Pytester) -> None:
    result, doc = lc01(pytester, "--lifecycle-provider", "reference", "--lifecycle-provider", "providers:locks_only")
    assert {p: v["LC-01"]["verdict"] for p, v in doc["providers"].items()} == {
        "reference": "passed",
        "locks-only": "not claimed",
    }
    assert result.ret == 0, result.stdout.str()


# -- 1 -----------------------------------------------------------------------------


def test_1_a_rule_failed(pytester: pytest.Pytester) -> None:
    result, doc = lc01(pytester, "--lifecycle-provider", "mutant:provider")
    assert result.ret == 1
    assert doc["providers"]["mutant-empty-id-tracked"]["LC-01"]["verdict"] == "failed"


def test_1_certify_fails_a_provider_that_ends_the_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(exits=ENDS_THE_PROCESS)
    result = pytester.run(
        sys.executable, "-m", "pytest_lifecycle", "certify", "exits:provider", "--", "--lifecycle-rule", "LC-01", "-q"
    )
    assert result.ret == 1, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines(["*provider 'exits*' (during LC-01, in *test_lc01_*) ended the process (exit code 0)*"])


# -- 4 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("--lifecycle-provider", "nobody"), ("--lifecycle-rule", "LC-99"), ("--lifecycle-profile", "warp-speed")],
    ids=["provider", "rule", "profile"],
)
def test_4_usage_error(pytester: pytest.Pytester, args: tuple[str, str]) -> None:
    result = pytester.runpytest_inprocess("--pyargs", "conformance.session_lifecycle", "-p", "no:cacheprovider", *args)
    assert result.ret == 4
    assert "Traceback" not in result.stderr.str()


# -- 5 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "workers", [pytest.param((), id="serial"), pytest.param(("-n", "2"), id="xdist", marks=pytest.mark.extended)]
)
def test_5_the_provider_claims_none_of_the_selected_rules(pytester: pytest.Pytester, workers: tuple[str, ...]) -> None:
    result, doc = lc01(pytester, "--lifecycle-provider", "providers:locks_only", *workers)
    assert doc["providers"]["locks-only"]["LC-01"]["verdict"] == "not claimed"
    assert result.ret == 5, result.stdout.str()
    assert doc["exitstatus"] == 5, "the JSON report records the gate's status"
    result.stdout.fnmatch_lines(["*nothing ran: no selected conformance test ran*"])


def test_5_every_conformance_test_skipped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_skips='''
import pytest

@pytest.mark.rule("LC-02")
def test_lc02_cannot_run_here(lifecycle_kit):
    """LC-02: needs something this machine lacks."""
    pytest.skip("no database here")
'''
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    assert result.ret == 5


def test_5_the_rule_filter_selects_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lifecycle-rule", "LC-01")
    assert result.ret == 5


def test_5_a_provider_asked_for_and_no_conformance_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lifecycle-provider", "reference")
    result.assert_outcomes(passed=1)
    assert result.ret == 5


# -- a project suite without conformance tests keeps pytest's codes ---------------------


@pytest.mark.parametrize(
    ("source", "code"),
    [("def test_ok():\n    pass\n", 0), ("def test_no():\n    assert 0\n", 1), ("", 5)],
    ids=["passes", "fails", "empty"],
)
def test_a_plain_suite_keeps_pytests_exit_code(pytester: pytest.Pytester, source: str, code: int) -> None:
    pytester.makepyfile(test_plain=source)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == code


def test_the_table_as_a_function() -> None:
    claimed = {"p": {"LC-01": "passed", "LC-02": "not claimed"}}
    unclaimed = {"p": {"LC-01": "not claimed", "LC-02": "skipped"}}
    assert not nothing_ran(claimed, asked=True)
    assert nothing_ran(unclaimed, asked=False)
    assert nothing_ran({}, asked=True) and not nothing_ran({}, asked=False)
    assert exit_status(0, unclaimed, asked=False, failing=[]) == 5
    assert exit_status(1, unclaimed, asked=False, failing=[]) == 1, "a failing test is never hidden behind 5"
    assert exit_status(0, claimed, asked=True, failing=[]) == 0
    for status in (2, 3, 4):
        assert exit_status(status, unclaimed, asked=True, failing=[object()]) == status  # type: ignore[list-item]
    assert exit_status(5, {}, asked=False, failing=[object()]) == 1  # type: ignore[list-item]
