"""Verdicts per provider × rule: terminal table and JSON report.

A rule's verdict for a provider folds the outcomes of its tests: *failed*
if any failed or errored; *incomplete* if some passed but others were
skipped (a skipped test never counts as passed); *passed* if all passed;
*not claimed* when every test was skipped because the provider does not
claim the rule; else *skipped*.  Stress rules are listed apart: they can
only find bugs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Final

import pytest

from .catalogue import CONTRACTS, RULES
from .kit import NOT_CLAIMED

__all__ = ["LifecycleReport", "fold", "print_catalogue"]

ORDER: Final = ("failed", "incomplete", "passed", "not claimed", "skipped")


def fold(outcomes: list[str]) -> str:
    """The verdict of a rule from the outcomes of its tests."""
    if "failed" in outcomes:
        return "failed"
    if "passed" in outcomes:
        return "incomplete" if "skipped" in outcomes else "passed"
    return "skipped" if "skipped" in outcomes else "not claimed"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _failure_line(report: pytest.TestReport, rule: str) -> str:
    text = report.longreprtext
    for line in text.splitlines():
        at = line.find(f"[{rule}]")
        if at >= 0:
            return line[at:].strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("E ")]
    return (lines[0][2:].strip() if lines else text.strip().splitlines()[-1] if text.strip() else "failed")


class LifecycleReport:
    """Collects rule outcomes from test reports (also those of xdist workers)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcomes: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.messages: dict[tuple[str, str], str] = {}
        self.providers: list[str] = []

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = {str(k): str(v) for k, v in report.user_properties}
        rule, provider = props.get("lifecycle_rule"), props.get("lifecycle_provider")
        if rule is None or provider is None or rule not in RULES:
            return
        if provider not in self.providers:
            self.providers.append(provider)
        key = (provider, rule)
        if report.failed:
            self.outcomes[key].append("failed")
            self.messages.setdefault(key, _failure_line(report, rule))
        elif report.skipped:
            if hasattr(report, "wasxfail"):
                self.outcomes[key].append("failed")
                self.messages.setdefault(key, f"known failure: {report.wasxfail}")
            else:
                reason = _skip_reason(report)
                self.outcomes[key].append("not claimed" if reason.startswith(NOT_CLAIMED) else "skipped")
                self.messages.setdefault(key, reason)
        elif report.when == "call":
            self.outcomes[key].append("passed")

    def verdicts(self) -> dict[str, dict[str, str]]:
        table: dict[str, dict[str, str]] = {p: {} for p in self.providers}
        for (provider, rule), outcomes in self.outcomes.items():
            table[provider][rule] = fold(outcomes)
        return table

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.outcomes or hasattr(self.config, "workerinput"):
            return
        tr = terminalreporter
        verdicts = self.verdicts()
        rules = [r for r in RULES if any(r in v for v in verdicts.values())]
        tr.write_sep("=", "lifecycle conformance: provider × rule")
        width = max(12, *(len(p) + 2 for p in self.providers))
        tr.write_line(f"{'rule':<7}{'kind':<10}" + "".join(f"{p:<{width}}" for p in self.providers) + "summary")
        for kind in ("required", "optional", "stress"):
            shown = [r for r in rules if RULES[r].kind == kind]
            if kind == "stress" and shown:
                tr.write_line("stress rules (can only find bugs, never prove their absence):")
            for rule in shown:
                cells = [verdicts[p].get(rule, "not run") for p in self.providers]
                line = f"{rule:<7}{kind:<10}" + "".join(f"{c:<{width}}" for c in cells) + RULES[rule].text
                markup = {"red": True} if "failed" in cells else {}
                tr.write_line(line[: tr._tw.fullwidth - 1] if tr.config.option.verbose <= 0 else line, **markup)
        for provider in self.providers:
            counts = {o: sum(1 for v in verdicts[provider].values() if v == o) for o in ORDER}
            tr.write_line(f"provider {provider!r}: " + ", ".join(f"{n} {o}" for o, n in counts.items() if n))
        failed = [(p, r) for p in self.providers for r, v in verdicts[p].items() if v == "failed"]
        if failed:
            tr.write_sep("-", "broken rules")
            for p, r in failed:
                tr.write_line(f"{p} {r}: {self.messages.get((p, r), '')}"[:400], red=True)

    @pytest.hookimpl
    def pytest_sessionfinish(self) -> None:
        path = self.config.option.lifecycle_report
        if not path or hasattr(self.config, "workerinput"):
            return
        verdicts = self.verdicts()
        doc = {
            "providers": {
                p: {
                    rule: {"verdict": v, "kind": RULES[rule].kind, "message": self.messages.get((p, rule))}
                    for rule, v in sorted(verdicts[p].items())
                }
                for p in self.providers
            },
        }
        Path(path).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def print_catalogue(config: pytest.Config) -> None:
    """``pytest --lifecycle-rules``: the catalogue, contract by contract."""
    for contract in CONTRACTS.values():
        caps = f" (optional capabilities: {', '.join(contract.capabilities)})" if contract.capabilities else ""
        print(f"{contract.name} — {contract.title}, CONTRACTS.md {contract.section}{caps}")
        for rule in RULES.values():
            if rule.contract == contract.name:
                kind = rule.kind + (f":{rule.capability}" if rule.capability else "")
                print(f"  {rule.id}  {kind:<19} {rule.text}")
