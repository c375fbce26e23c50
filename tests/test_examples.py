"""The README's examples work: each documented provider is certified by the kit.

The example providers live in ``tests/examples/``; each test runs the
conformance suite of its contract against one of them in-process and reads
the JSON report, so the README can promise "all rules pass" and mean it.
"""

from __future__ import annotations

import pytest

from pytest_lifecycle import RULES, rules_for
from tests._runs import run_suite


def certify(pytester: pytest.Pytester, contract: str, provider: str) -> dict[str, str]:
    """Run ``conformance.<contract>`` against *provider*; return rule -> verdict."""
    result, doc = run_suite(pytester, contract, provider=provider)
    assert doc, result.stdout.str()
    (verdicts,) = doc["providers"].values()
    return {rule: verdict["verdict"] for rule, verdict in verdicts.items()}


def test_third_party_lock_registry_passes_every_lk_rule(pytester: pytest.Pytester) -> None:
    verdicts = certify(pytester, "keyed_locks", "tests.examples.third_party_locks:provider")
    expected = {rule.id: "passed" for rule in rules_for("keyed_locks")}
    assert verdicts == expected
    assert "LK-09" in verdicts and RULES["LK-09"].kind == "stress"
