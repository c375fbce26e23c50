"""Running a conformance suite in-process with its JSON report (the shape most tests here need)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

from pytest_lifecycle import RULES
from pytest_lifecycle._plugin.profiles import PROFILES

#: Where ``tests`` is importable from.
ROOT = Path(__file__).resolve().parent.parent

#: The kit's ``ci`` settings (derived from the active Hypothesis profile, so
#: derandomized under Hypothesis's ``ci``) without shrinking, for
#: ``--lifecycle-profile``: the mutant batches need the verdict and the rule a
#: failure cites, not the smallest example (``tests/test_hypothesis.py``
#: checks what shrinking prints).
NO_SHRINK = "lifecycle-no-shrink"
settings.register_profile(
    NO_SHRINK,
    PROFILES["ci"].hypothesis_settings(),
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)

# The conftest of a planned inner run: xdist workers start in pytester's
# directory with the sys.path the session started with; this lets them import
# ``tests...`` (providers, the plan, the profile above) and apply the plan.
_CONFTEST = """\
import sys
sys.path.insert(0, {root!r})
import tests._runs

def pytest_configure(config):
    if hasattr(config, "workerinput"):
        config.pluginmanager.register(tests._runs.Plan.load({plan!r}), "lifecycle-plan")
"""


def run_suite(
    pytester: pytest.Pytester,
    target: str | Iterable[str],
    *args: str,
    provider: str | Iterable[str] | None = None,
    rules: Iterable[str] = (),
    plan: Plan | None = None,
) -> tuple[pytest.RunResult, dict[str, Any]]:
    """``pytest --pyargs conformance.<target>`` with a ``--lifecycle-report``; the result and the report ({} if none).

    *target* is one contract or several, *provider* one ``--lifecycle-provider``
    or several; a *plan* selects (provider, rule) pairs, also under ``-n``
    (it writes the run's conftest).
    """
    report = pytester.path / "report.json"
    targets = [target] if isinstance(target, str) else list(target)
    selection = [option for rule in rules for option in ("--lifecycle-rule", rule)]
    providers = [provider] if isinstance(provider, str) else list(provider or ())
    selection += [option for spec in providers for option in ("--lifecycle-provider", spec)]
    if plan is not None:
        plan_file = pytester.path / "plan.json"
        plan.save(plan_file)
        pytester.makeconftest(_CONFTEST.format(root=str(ROOT), plan=str(plan_file)))
    result = pytester.runpytest_inprocess(
        "--pyargs", *(f"conformance.{t}" for t in targets), *selection, "--lifecycle-report", str(report),
        "-p", "no:cacheprovider", "-q", *args, plugins=[] if plan is None else [plan],
    )  # fmt: skip
    return result, json.loads(report.read_text()) if report.exists() else {}


def whole_contract(nodeid: str, rule: str) -> bool:
    """A test that may catch any bug of its contract: a model-conformance machine or a stress rule's test."""
    function = nodeid.rpartition("::")[2].partition("[")[0]
    return function.endswith("_model_conformance") or (rule in RULES and RULES[rule].kind == "stress")


def _props(user_properties: Iterable[tuple[str, object]]) -> dict[str, str]:
    return {str(k): str(v) for k, v in user_properties}


@dataclass(eq=False)  # a plugin: hashable by identity
class Plan:
    """An inner-run plugin: keeps only the planned (provider, rule) tests and records what each did.

    *rules* maps a provider's name to the rule IDs it runs (``None``: all of
    them), so one run certifies several providers each on its own rules.
    Under xdist the workers load a copy from a file and select; the
    controller's copy records the outcomes its workers report.
    """

    rules: Mapping[str, Collection[str] | None]
    #: Provider name → rules of which only the example tests run (see :func:`whole_contract`).
    examples_only: Mapping[str, Collection[str]] = field(default_factory=dict)
    #: (provider, rule) pairs with a selected test, and those of which only whole-contract tests were dropped.
    selected: set[tuple[str, str]] = field(default_factory=set)
    dropped_whole: set[tuple[str, str]] = field(default_factory=set)
    #: (provider, rule) → (node id, outcome) of every phase of every test of that pair.
    outcomes: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        rules = {p: None if r is None else sorted(r) for p, r in self.rules.items()}
        path.write_text(json.dumps([rules, {p: sorted(r) for p, r in self.examples_only.items()}]))

    @classmethod
    def load(cls, path: str) -> Plan:
        rules, examples_only = json.loads(Path(path).read_text())
        return cls(rules, examples_only)

    def wants(self, nodeid: str, provider: str, rule: str) -> bool:
        if provider not in self.rules:
            return False
        if (rules := self.rules[provider]) is not None and rule not in rules:
            return False
        return not (rule in self.examples_only.get(provider, ()) and whole_contract(nodeid, rule))

    @pytest.hookimpl(trylast=True)  # after the lifecycle plugin has tagged items with rule and provider
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            props = _props(item.user_properties)
            provider, rule = props.get("lifecycle_provider", ""), props.get("lifecycle_rule", "")
            if self.wants(item.nodeid, provider, rule):
                keep.append(item)
                self.selected.add((provider, rule))
            else:
                drop.append(item)
                if provider in self.rules and rule in self.examples_only.get(provider, ()):
                    self.dropped_whole.add((provider, rule))
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = _props(report.user_properties)
        if "lifecycle_provider" in props and "lifecycle_rule" in props:
            key = (props["lifecycle_provider"], props["lifecycle_rule"])
            self.outcomes.setdefault(key, []).append((report.nodeid, report.outcome))

    def failed(self, provider: str, rule: str | None = None) -> list[str]:
        """Node ids of the failed tests of *provider* (on *rule*); a SHOULD-only breach is not a failure."""
        return list(
            dict.fromkeys(
                nodeid
                for (p, r), outcomes in self.outcomes.items()
                if p == provider and rule in (None, r)
                for nodeid, outcome in outcomes
                if outcome == "failed"
            )
        )
