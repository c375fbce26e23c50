"""The catalogue is the one source of truth, and the suites cover it.

A rule a test cites must be declared; a declared rule must have a test.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re

import pytest

from pytest_lifecycle import CONTRACTS, RULES, get_rule, rules_for
from pytest_lifecycle._core.catalogue import UnknownRuleError

SHIPPED = [c for c in CONTRACTS if importlib.util.find_spec(f"conformance.{c}") is not None]


def _rule_tests(contract: str) -> dict[str, list[str]]:
    module = importlib.import_module(f"conformance.{contract}")
    cited: dict[str, list[str]] = {}
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if not name.startswith("test"):
            continue
        marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "rule"]
        assert len(marks) == 1, f"conformance.{contract}.{name} must carry exactly one rule marker"
        rule = marks[0].args[0]
        cited.setdefault(rule, []).append(name)
        assert name.startswith(f"test_{rule.lower().replace('-', '')}_"), f"{name} should be named after {rule}"
        doc = inspect.getdoc(fn) or ""
        assert doc.split(" ", 1)[0] == rule, f"{name}: the docstring must start with {rule}"
    return cited


def test_every_contract_ships_a_suite() -> None:
    assert SHIPPED, "no conformance module found"


@pytest.mark.parametrize("contract", SHIPPED)
def test_suite_covers_its_rules(contract: str) -> None:
    cited = _rule_tests(contract)
    for rule in cited:
        get_rule(rule)  # unknown ids raise
        assert RULES[rule].contract == contract, f"{rule} is cited in conformance.{contract}"
    missing = [r.id for r in rules_for(contract) if r.id not in cited]
    assert not missing, f"declared rules with no test in conformance.{contract}: {missing}"


@pytest.mark.parametrize("contract", SHIPPED)
def test_suite_exports_its_tests(contract: str) -> None:
    module = importlib.import_module(f"conformance.{contract}")
    exported = set(getattr(module, "__all__", ()))
    tests = {n for n, _ in inspect.getmembers(module, inspect.isfunction) if n.startswith("test")}
    assert tests <= exported, f"conformance.{contract}.__all__ misses {sorted(tests - exported)}"


def test_rule_ids_are_well_formed_and_unique() -> None:
    pattern = re.compile(r"^(LC|RS|CK|LK|ST|SSE)-\d{2}$")
    for rule_id, rule in RULES.items():
        assert pattern.match(rule_id), rule_id
        assert rule.text and rule.text.endswith("."), rule_id


def test_unknown_rule_names_the_catalogue() -> None:
    with pytest.raises(UnknownRuleError, match=r"LC-01 … LC-17"):
        get_rule("LC-99")
