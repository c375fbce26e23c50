"""The kit fails every mutant on the rule it breaks.

For each (mutant, rule) pair the conformance suite of the mutant's contract
runs in-process, restricted to that rule (``--lifecycle-rule``), and the JSON
report must say *failed* with a message starting with ``[RULE-ID]``.
"""

from __future__ import annotations

import json

import pytest

from pytest_lifecycle import RULES

from .mutants import all_mutants

MUTANTS = all_mutants()
CASES = [pytest.param(m, rule, id=f"{m.contract}/{m.name}/{rule}") for m in MUTANTS for rule in m.breaks]
assert CASES, "no mutants found: the catalogue would prove nothing"


@pytest.mark.parametrize(("mutant", "rule"), CASES)
def test_kit_fails_mutant_on_its_rule(pytester: pytest.Pytester, mutant, rule: str) -> None:
    assert rule in RULES, f"{mutant.module}: BREAKS names unknown rule {rule}"
    assert RULES[rule].contract == mutant.contract, f"{mutant.module}: {rule} is not a {mutant.contract} rule"
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(
        "--pyargs", f"conformance.{mutant.contract}",
        "--lifecycle-provider", f"{mutant.module}:provider",
        "--lifecycle-rule", rule,
        "--lifecycle-report", str(report),
        "-p", "no:cacheprovider", "-q",
    )
    assert report.exists(), result.stdout.str()
    verdicts = json.loads(report.read_text())["providers"]
    (name,) = verdicts
    verdict = verdicts[name][rule]
    assert verdict["verdict"] == "failed", f"{mutant.module} survived {rule}:\n{result.stdout.str()}"
    assert verdict["message"].startswith(f"[{rule}]"), verdict["message"]


def test_every_rule_has_a_mutant() -> None:
    covered = {rule for m in MUTANTS for rule in m.breaks}
    contracts = {m.contract for m in MUTANTS}
    missing = [r for r, rule in RULES.items() if rule.contract in contracts and r not in covered]
    assert not missing, f"rules no mutant can break (not tested yet): {missing}"


def test_every_mutant_cites_its_bug() -> None:
    for m in MUTANTS:
        assert m.doc, f"{m.module} has no docstring naming the bug it reproduces"
        assert m.breaks, f"{m.module} declares no BREAKS"
