"""Levels and open choices: what a broken SHOULD and an observed choice become.

A broken SHOULD is reported ``non-strict`` (table, JSON, exit code 0) and
fails the run only under ``--lifecycle-strict`` or ``lifecycle_strict``; a
broken MUST stays ``failed``.  Open choices are information: the report lists
the branches a provider took, and a provider that takes two branches of one
choice on one instance fails the rule naming both.
"""

from __future__ import annotations

import json

import pytest

from pytest_lifecycle import CHOICES

#: Tests a project writes with the kit's public tools, against the reference.
SUITE = '''
import pytest

@pytest.mark.rule("LC-05")
def test_lc05_should_only(lifecycle_kit):
    """LC-05: the SHOULD breaks, every MUST holds."""
    lifecycle_kit.should(False, "two provider calls for turns completed meanwhile")
    lifecycle_kit.check(True, "nothing lost")

@pytest.mark.rule("LC-04")
def test_lc04_should_then_must(lifecycle_kit):
    """LC-04: a broken MUST after a broken SHOULD is a failure."""
    lifecycle_kit.should(False, "not coalesced")
    lifecycle_kit.check(False, "a turn was lost")

@pytest.mark.rule("LK-01", level="should")
def test_lk01_should_level_test(lifecycle_kit):
    """LK-01: a test that checks only the SHOULD."""
    lifecycle_kit.fail("a holder without a reference of its own was not excluding")

@pytest.mark.rule("LC-07")
def test_lc07_choice(lifecycle_kit):
    """LC-07: an observed open choice."""
    lifecycle_kit.observe_choice("LC/adoption", "oldest", "only the oldest segment was adopted")

@pytest.mark.rule("LC-09")
def test_lc09_flip(lifecycle_kit):
    """LC-09: two branches of one choice on one instance."""
    lifecycle_kit.observe_choice("LC/adoption", "oldest", "commit 1 adopted one segment")
    lifecycle_kit.observe_choice("LC/adoption", "every-unowned", "commit 2 adopted two")

@pytest.mark.rule("LC-10")
def test_lc10_scopes(lifecycle_kit):
    """LC-10: a new scope (a fresh instance of a state-machine example) may choose afresh."""
    lifecycle_kit.observe_choice("LC/turn-agent", "turn-only", "example 1")
    lifecycle_kit.restart_trace("example 2")
    assert lifecycle_kit.choice("LC/turn-agent") is None
    lifecycle_kit.observe_choice("LC/turn-agent", "becomes-handle", "example 2")
    assert lifecycle_kit.choice("LC/turn-agent") == "becomes-handle"
'''


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    pytester.makepyfile(test_levels_suite=SUITE)
    report = pytester.path / "lifecycle.json"
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lifecycle-report", str(report), *args)
    return result, json.loads(report.read_text())


def verdicts(doc: dict) -> dict[str, str]:
    return {rule: v["verdict"] for rule, v in doc["providers"]["reference"].items()}


EXPECTED = {
    "LC-05": "non-strict",
    "LC-04": "failed",
    "LK-01": "non-strict",
    "LC-07": "passed",
    "LC-09": "failed",
    "LC-10": "passed",
}


@pytest.mark.parametrize(
    "workers", [pytest.param((), id="serial"), pytest.param(("-n", "2"), id="xdist", marks=pytest.mark.extended)]
)
def test_a_broken_should_is_non_strict_and_does_not_fail_the_run(pytester: pytest.Pytester, workers) -> None:
    result, doc = run(pytester, *workers)
    assert verdicts(doc) == EXPECTED
    rules = doc["providers"]["reference"]
    assert rules["LC-05"]["message"].startswith("[LC-05] SHOULD: two provider calls for turns completed meanwhile")
    assert rules["LK-01"]["message"].startswith("[LK-01] a holder without a reference")
    assert rules["LC-04"]["message"].startswith("[LC-04] a turn was lost")
    # Only the two MUST failures count: the SHOULDs are expected failures.
    result.assert_outcomes(passed=2, failed=2, xfailed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert doc["strict"] is False
    if not workers:
        result.stdout.fnmatch_lines(
            [
                "non-strict rules (a SHOULD is broken, every MUST holds; --lifecycle-strict fails them):",
                "LC-05*required*non-strict*",
                "*broken SHOULDs*",
                "reference LC-05: [[]LC-05[]] SHOULD: two provider calls*",
                "*the rule: pytest-lifecycle rules LC-05*session_lifecycle.md#lc-05*",
            ]
        )


def test_only_shoulds_broken_exits_zero(pytester: pytest.Pytester) -> None:
    result, doc = run(pytester, "-k", "should_only or should_level")
    assert verdicts(doc) == {"LC-05": "non-strict", "LK-01": "non-strict"}
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize("how", ["option", "ini"])
def test_strict_mode_fails_the_run_on_a_broken_should(pytester: pytest.Pytester, how: str) -> None:
    if how == "ini":
        pytester.makeini("[pytest]\nlifecycle_strict = true\n")
        args: tuple[str, ...] = ()
    else:
        args = ("--lifecycle-strict",)
    result, doc = run(pytester, "-k", "should_only or should_level", *args)
    assert verdicts(doc) == {"LC-05": "non-strict", "LK-01": "non-strict"}
    result.assert_outcomes(failed=2)
    assert doc["strict"] is True


def test_choices_are_reported_and_a_flip_names_both_observations(pytester: pytest.Pytester) -> None:
    result, doc = run(pytester, "-k", "choice or flip or scopes")
    assert doc["choices"]["reference"] == {
        "LC/adoption": ["every-unowned", "oldest"],
        "LC/turn-agent": ["becomes-handle", "turn-only"],
    }
    message = doc["providers"]["reference"]["LC-09"]["message"]
    assert message.startswith(
        "[LC-09] contradictory open choice LC/adoption: the provider took 'oldest' "
        "(commit 1 adopted one segment) and then 'every-unowned' (commit 2 adopted two)"
    )
    result.stdout.fnmatch_lines([f"  open choice LC/adoption ({CHOICES['LC/adoption'].text}): every-unowned, oldest"])


def test_an_unknown_choice_or_branch_is_a_kit_error_naming_the_catalogue(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad_choice='''
import pytest

@pytest.mark.rule("LC-07")
def test_lc07_bad(lifecycle_kit):
    """LC-07."""
    lifecycle_kit.observe_choice("LC/adoption", "sometimes", "?")
'''
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*open choice 'LC/adoption' has no branch 'sometimes' (it has oldest, every-unowned)*"]
    )
