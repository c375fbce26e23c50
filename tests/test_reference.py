"""The bundled reference passes every rule of every contract through the kit.

This is ``pytest --pyargs conformance.<contract>`` as a user runs it, one
contract per test (so they run in parallel), with the verdicts read back
from the JSON report: every rule of the contract must be *passed* (not
skipped, not "not claimed": the reference claims everything).  It runs at
the ``quick`` sizes; the whole package at once at the ``ci`` sizes, serial
and under ``-n 2``, is the main job of ``.ci/run``.
"""

from __future__ import annotations

import json

import pytest

from pytest_lifecycle import CONTRACTS, rules_for


@pytest.mark.parametrize("contract", CONTRACTS)
def test_reference_passes_every_rule(pytester: pytest.Pytester, contract: str) -> None:
    report = pytester.path / "verdicts.json"
    result = pytester.runpytest_inprocess(
        "--pyargs", f"conformance.{contract}", "-p", "no:cacheprovider", "-q", "--lifecycle-report", str(report),
        "--lifecycle-profile", "quick",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    verdicts = json.loads(report.read_text())["providers"]
    assert list(verdicts) == ["reference"]
    got = {rule: v["verdict"] for rule, v in verdicts["reference"].items()}
    rules = rules_for(contract)
    assert got == {rule.id: "passed" for rule in rules}
    result.stdout.fnmatch_lines(
        ["*lifecycle conformance: provider × rule*", f"provider 'reference': {len(rules)} passed"]
    )
