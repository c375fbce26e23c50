"""The kit fails every mutant on the rule it breaks.

For each (mutant, rule) pair the conformance suite of the mutant's contract
runs in-process, restricted to that rule (``--lifecycle-rule``), and the JSON
report must say *failed* (*non-strict* for a mutant that breaks only the
rule's SHOULD) with a message starting with ``[RULE-ID]``.
"""

from __future__ import annotations

import json

import pytest

from pytest_lifecycle import RULES

from .mutants import all_mutants

MUTANTS = all_mutants()
CASES = [
    pytest.param(m, rule, verdict, id=f"{m.contract}/{m.name}/{rule}")
    for m in MUTANTS
    for rule, verdict in m.expected()
]
assert CASES, "no mutants found: the catalogue would prove nothing"


@pytest.mark.parametrize(("mutant", "rule", "expected"), CASES)
def test_kit_fails_mutant_on_its_rule(pytester: pytest.Pytester, mutant, rule: str, expected: str) -> None:
    assert rule in RULES, f"{mutant.module}: BREAKS names unknown rule {rule}"
    assert RULES[rule].contract == mutant.contract, f"{mutant.module}: {rule} is not a {mutant.contract} rule"
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(
        "--pyargs",
        f"conformance.{mutant.contract}",
        "--lifecycle-provider",
        f"{mutant.module}:provider",
        "--lifecycle-rule",
        rule,
        "--lifecycle-report",
        str(report),
        "-p",
        "no:cacheprovider",
        "-q",
    )
    assert report.exists(), result.stdout.str()
    verdicts = json.loads(report.read_text())["providers"]
    (name,) = verdicts
    verdict = verdicts[name][rule]
    assert verdict["verdict"] == expected, f"{mutant.module} on {rule}: {verdict}:\n{result.stdout.str()}"
    assert verdict["message"].startswith(f"[{rule}]"), verdict["message"]
    # A broken SHOULD alone does not fail the run; a broken MUST does.
    assert result.ret == (pytest.ExitCode.OK if expected == "non-strict" else pytest.ExitCode.TESTS_FAILED)


def test_every_rule_has_a_mutant() -> None:
    covered = {rule for m in MUTANTS for rule in m.breaks}
    should_covered = {rule for m in MUTANTS for rule in m.non_strict}
    no_should_mutant = [
        r
        for r, rule in RULES.items()
        if rule.should and rule.contract in {m.contract for m in MUTANTS} and r not in should_covered
    ]
    assert not no_should_mutant, f"SHOULDs no mutant breaks (untested): {no_should_mutant}"
    contracts = {m.contract for m in MUTANTS}
    missing = [r for r, rule in RULES.items() if rule.contract in contracts and r not in covered]
    assert not missing, f"rules no mutant can break (not tested yet): {missing}"


def test_every_mutant_cites_its_bug() -> None:
    for m in MUTANTS:
        assert m.doc, f"{m.module} has no docstring naming the bug it reproduces"
        assert m.breaks or m.non_strict, f"{m.module} declares neither BREAKS nor NON_STRICT"
