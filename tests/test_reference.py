"""The bundled reference passes every rule of every contract through the kit.

This is ``pytest --pyargs conformance`` as a user runs it, with the verdicts
read back from the JSON report: every declared rule must be *passed* (not
skipped, not "not claimed": the reference claims everything).
"""

from __future__ import annotations

import json

import pytest

from pytest_lifecycle import RULES


def test_reference_passes_every_rule(pytester: pytest.Pytester) -> None:
    report = pytester.path / "verdicts.json"
    result = pytester.runpytest_inprocess(
        "--pyargs", "conformance", "-p", "no:cacheprovider", "-q", "--lifecycle-report", str(report)
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    verdicts = json.loads(report.read_text())["providers"]
    assert list(verdicts) == ["reference"]
    got = {rule: v["verdict"] for rule, v in verdicts["reference"].items()}
    assert got == {rule: "passed" for rule in RULES}
    result.stdout.fnmatch_lines(
        ["*lifecycle conformance: provider × rule*", f"provider 'reference': {len(RULES)} passed"]
    )
