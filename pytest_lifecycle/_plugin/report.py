"""Verdicts per provider × rule: terminal table and JSON report.

A rule's verdict for a provider folds the outcomes of its tests: *failed*
if any failed or errored on a MUST; *incomplete* if some passed but others
were skipped, or deselected by something else than ``--lifecycle-rule``
(``-k``, ``-m``, ``--deselect``, ``--lf``): a test that did not run never
counts as passed; *non-strict* if the
only breaches are of the rule's SHOULD; *passed* if all passed; *not
claimed* when every test was skipped because the provider does not claim
the rule; else *skipped*.  Stress and non-strict rules are listed apart:
stress rules can only find bugs, and a broken SHOULD fails the run only
under ``--lifecycle-strict``.  The open choices each provider was seen to
make are listed too (they are information, never a verdict).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from pytest_lifecycle._compat import pytest_internals
from pytest_lifecycle._core.catalogue import CHOICES, CONTRACTS, RULES
from pytest_lifecycle._core.provider import NOT_CLAIMED
from pytest_lifecycle._plugin.state import state_of
from pytest_lifecycle._version import __version__

__all__ = [
    "LEVEL",
    "NON_STRICT",
    "PROVIDER_RAISED",
    "REPLAY",
    "WAIVED",
    "LifecycleReport",
    "TestRecord",
    "fold",
    "print_catalogue",
    "print_rule",
]

ORDER: Final = ("failed", "waived", "incomplete", "non-strict", "passed", "not claimed", "skipped")

#: The user property a test carries when only a SHOULD of its rule broke.
NON_STRICT: Final = "lifecycle_non_strict"
#: The user property of a test ended by an exception out of the provider.
PROVIDER_RAISED: Final = "lifecycle_provider_raised"
#: The user property of a failed test whose failure a waiver covers (its reason).
WAIVED: Final = "lifecycle_waived"
#: The user properties of every conformance test: the level its marker
#: declares, and the command that runs it again with the same provider.
LEVEL: Final = "lifecycle_level"
REPLAY: Final = "lifecycle_replay"


def fold(outcomes: list[str]) -> str:
    """The verdict of a rule from the outcomes of its tests.

    A waived failure is ``waived``, never ``passed``: the waiver only keeps
    the gate open.
    """
    if "failed" in outcomes:
        return "failed"
    if "waived" in outcomes:
        return "waived"
    ran = "passed" in outcomes or "non-strict" in outcomes
    if ran and "skipped" in outcomes:
        return "incomplete"
    if "non-strict" in outcomes:
        return "non-strict"
    if "passed" in outcomes:
        return "passed"
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
    return lines[0][2:].strip() if lines else text.strip().splitlines()[-1] if text.strip() else "failed"


@dataclass
class TestRecord:
    """One conformance test of one (provider, rule), as the run saw it."""

    nodeid: str
    level: str = "must"
    #: ``passed``, ``failed``, ``non-strict``, ``waived``, ``skipped``, ``not claimed``.
    outcome: str = "passed"
    #: Setup + call + teardown, in seconds.
    duration: float = 0.0
    #: The verdict line of a test that did not pass (``[RULE] …``).
    message: str | None = None
    #: The whole failure text: the trace of calls and, for a state machine,
    #: the shrunk steps and the seed.
    trace: str | None = None
    #: The command that runs this test again with the same provider.
    replay: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _pair(user_properties: list[tuple[str, object]]) -> tuple[str, str] | None:
    """The (provider, rule) a conformance test's properties name, or None."""
    props = {str(k): str(v) for k, v in user_properties}
    provider, rule = props.get("lifecycle_provider"), props.get("lifecycle_rule")
    return (provider, rule) if provider is not None and rule is not None else None


_WORSE: Final = ("failed", "waived", "non-strict", "skipped", "not claimed", "passed")


class LifecycleReport:
    """Collects rule outcomes from test reports (also those of xdist workers)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcomes: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.messages: dict[tuple[str, str], str] = {}
        self.providers: list[str] = []
        #: Provider calls and threads left running after a test, per test.
        self.abandoned: list[tuple[str, str]] = []
        #: (provider, choice) → the branches seen.
        self.choices: dict[tuple[str, str], set[str]] = defaultdict(set)
        #: Node id → (provider, rule) of every selected conformance test
        #: (serial runs; under xdist the controller does not collect).
        self.selected: dict[str, tuple[str, str]] = {}
        #: (provider, rule) → node ids of its tests deselected by something else than the
        #: kit's rule selection: that rule is not checked in full (on xdist workers too).
        self.deselected: dict[tuple[str, str], set[str]] = defaultdict(set)
        #: The test running now: named if the process dies during it.
        self.running: str | None = None
        #: (provider, rule) → node id → what that test did.
        self.tests: dict[tuple[str, str], dict[str, TestRecord]] = defaultdict(dict)
        #: (provider, rule) → its entry of the report, as JSON text, until a report of it changes it:
        #: the report is rewritten at every test, and re-encoding every rule each time would
        #: make a run's cost grow with the square of its tests.
        self._encoded: dict[tuple[str, str], str] = {}

    @pytest.hookimpl
    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        state = state_of(self.config)
        for item in items:
            pair = _pair(item.user_properties)
            if pair is not None and pair[1] in RULES and state.selects(pair[1]):
                self.deselected[pair].add(item.nodeid)
                self._encoded.pop(pair, None)

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            if (pair := _pair(item.user_properties)) is not None:
                self.selected[item.nodeid] = pair
        if hasattr(self.config, "workeroutput"):  # an xdist worker: its controller does not collect
            self.config.workeroutput["lifecycle_deselected"] = [
                [provider, rule, sorted(ids)] for (provider, rule), ids in self.deselected.items()
            ]
        self.write(complete=False)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """Under xdist: the tests a worker's collection deselected."""
        for provider, rule, ids in getattr(node, "workeroutput", {}).get("lifecycle_deselected", []):
            self.deselected[(provider, rule)].update(ids)
            self._encoded.pop((provider, rule), None)

    @pytest.hookimpl
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.running = nodeid
        self.write(complete=False)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._record(report)
        if report.when == "teardown":
            # Written at the next test's start (or the session's end): nothing of
            # the provider's runs in between, and one write per test is enough.
            self.running = None

    def _record(self, report: pytest.TestReport) -> None:
        props = {str(k): str(v) for k, v in report.user_properties}
        rule, provider = props.get("lifecycle_rule"), props.get("lifecycle_provider")
        if (rule is None or provider is None) and report.nodeid in self.selected:
            # A report made without the item (an xdist worker that crashed).
            provider, rule = self.selected[report.nodeid]
        if rule is None or provider is None or rule not in RULES:
            return
        if provider not in self.providers:
            self.providers.append(provider)
        key = (provider, rule)
        self._encoded.pop(key, None)
        for name, value in ((str(k), str(v)) for k, v in report.user_properties):
            if name == "lifecycle_abandoned" and report.when == "teardown":
                self.abandoned.append((report.nodeid, value))
            if name == "lifecycle_choice":
                choice, _, branch = value.partition("=")
                self.choices[(provider, choice)].add(branch)
        test = self.tests[key].setdefault(report.nodeid, TestRecord(report.nodeid))
        test.duration += report.duration
        test.level = props.get(LEVEL, test.level)
        test.replay = props.get(REPLAY, test.replay)
        non_strict, waived = props.get(NON_STRICT), props.get(WAIVED)
        outcome, message = None, None
        # A waived failure is an expected one whose reason starts "waived: " (pytest_lifecycle._plugin.waivers).
        if waived is not None and str(getattr(report, "wasxfail", "")).startswith("waived: "):
            outcome, message = (
                "waived",
                f"waived ({waived}): {props.get(PROVIDER_RAISED) or _failure_line(report, rule)}",
            )
        elif non_strict is not None and report.when == "call":
            outcome, message = "non-strict", non_strict
        elif report.failed:
            outcome, message = "failed", props.get(PROVIDER_RAISED) or _failure_line(report, rule)
        elif report.skipped:
            if hasattr(report, "wasxfail"):
                outcome, message = "failed", f"known failure: {report.wasxfail}"
            else:
                reason = _skip_reason(report)
                outcome, message = ("not claimed" if reason.startswith(NOT_CLAIMED) else "skipped"), reason
        elif report.when == "call":
            outcome = "passed"
        if outcome is None:
            return
        self.outcomes[key].append(outcome)
        if message is not None:
            self.messages.setdefault(key, message)
        if _WORSE.index(outcome) < _WORSE.index(test.outcome):
            test.outcome = outcome
            test.message = test.message or message
            if outcome in ("failed", "waived", "non-strict") and report.longrepr is not None:
                test.trace = report.longreprtext

    def choices_of(self, provider: str) -> dict[str, list[str]]:
        """The open choices *provider* was seen to make: choice → branches."""
        return {c: sorted(b) for (p, c), b in sorted(self.choices.items()) if p == provider}

    def verdicts(self) -> dict[str, dict[str, str]]:
        table: dict[str, dict[str, str]] = {p: {} for p in self.providers}
        for (provider, rule), outcomes in self.outcomes.items():
            verdict = fold(outcomes)
            if (provider, rule) in self.deselected and verdict in ("passed", "non-strict"):
                verdict = "incomplete"
            table[provider][rule] = verdict
        return table

    def message(self, provider: str, rule: str) -> str | None:
        """The first message of (provider, rule); for one not checked in full, why."""
        message = self.messages.get((provider, rule))
        if message is None and (left := self.deselected.get((provider, rule))):
            message = (
                f"{len(left)} of its tests did not run (deselected by -k, -m, --deselect or --lf): "
                "the rule is not checked in full"
            )
        return message

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.outcomes or hasattr(self.config, "workerinput"):
            return
        tr = terminalreporter
        verdicts = self.verdicts()
        rules = [r for r in RULES if any(r in v for v in verdicts.values())]
        tr.write_sep("=", f"lifecycle conformance: provider × rule (pytest-lifecycle {__version__})")
        width = max(12, *(len(p) + 2 for p in self.providers))
        tr.write_line(f"{'rule':<7}{'kind':<10}" + "".join(f"{p:<{width}}" for p in self.providers) + "summary")
        non_strict = {r for r in rules if any(v.get(r) == "non-strict" for v in verdicts.values())}
        for kind in ("required", "optional", "stress", "non-strict"):
            shown = [
                r
                for r in rules
                if (r in non_strict if kind == "non-strict" else RULES[r].kind == kind and r not in non_strict)
            ]
            if kind == "stress" and shown:
                tr.write_line("stress rules (can only find bugs, never prove their absence):")
            if kind == "non-strict" and shown:
                tr.write_line("non-strict rules (a SHOULD is broken, every MUST holds; --lifecycle-strict fails them):")
            for rule in shown:
                cells = [verdicts[p].get(rule, "not run") for p in self.providers]
                line = f"{rule:<7}{RULES[rule].kind:<10}" + "".join(f"{c:<{width}}" for c in cells) + RULES[rule].text
                markup = {"red": True} if "failed" in cells else {}
                tr.write_line(
                    line[: pytest_internals.terminal_width(tr) - 1] if tr.config.option.verbose <= 0 else line, **markup
                )
        for provider in self.providers:
            counts = {o: sum(1 for v in verdicts[provider].values() if v == o) for o in ORDER}
            tr.write_line(f"provider {provider!r}: " + ", ".join(f"{n} {o}" for o, n in counts.items() if n))
            for choice, branches in self.choices_of(provider).items():
                tr.write_line(f"  open choice {choice} ({CHOICES[choice].text}): {', '.join(branches)}")
        if self.abandoned:
            tr.write_sep("-", "provider threads left running")
            for nodeid, what in self.abandoned:
                tr.write_line(f"{what}  (after {nodeid})", yellow=True)
        for verdict, title, markup in (
            ("failed", "broken rules", {"red": True}),
            ("non-strict", "broken SHOULDs", {"yellow": True}),
            ("waived", "waived failures (known deviations: --lifecycle-waivers)", {"yellow": True}),
            ("incomplete", "rules not checked in full (a test skipped or deselected)", {"yellow": True}),
        ):
            broken = [(p, r) for p in self.providers for r, v in verdicts[p].items() if v == verdict]
            if broken:
                tr.write_sep("-", title)
                for p, r in broken:
                    tr.write_line(f"{p} {r}: {self.message(p, r) or ''}"[:400], **markup)
                    tr.write_line(f"    the rule: pytest-lifecycle rules {r}  ({RULES[r].where})")

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # The status after the gate (pytest_lifecycle._plugin.exit_gate runs first).
        exitstatus = session.exitstatus
        # Interrupted or internal error: the verdicts so far are not the run's.
        self.write(
            complete=exitstatus
            in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED),
            exitstatus=int(exitstatus),
        )

    def results(self, *, complete: bool, exitstatus: int | None = None) -> dict[str, Any]:
        """The verdicts as a JSON-able document (``--lifecycle-report``).

        Per provider and rule: the verdict, the rule's kind, the first
        message, where its text is, and every test that ran with its
        outcome, level, duration, failure trace and replay command.
        """
        verdicts = self.verdicts()
        return self._head(verdicts, complete=complete, exitstatus=exitstatus) | {
            "providers": {
                p: {rule: self._entry(p, rule, v) for rule, v in sorted(verdicts[p].items())} for p in self.providers
            },
        }

    def _head(self, verdicts: dict[str, dict[str, str]], *, complete: bool, exitstatus: int | None) -> dict[str, Any]:
        """The document without its ``providers``."""
        return {
            "kit_version": __version__,
            "complete": complete,
            "exitstatus": exitstatus,
            "running": None if complete else self.running,
            "not_run": sorted({f"{p} {r}" for p, r in self.selected.values() if r not in verdicts.get(p, {})}),
            "choices": {p: self.choices_of(p) for p in self.providers},
            "abandoned": [f"{what} (after {nodeid})" for nodeid, what in self.abandoned],
            "strict": bool(self.config.option.lifecycle_strict or self.config.getini("lifecycle_strict")),
        }

    def _entry(self, provider: str, rule: str, verdict: str) -> dict[str, Any]:
        return {
            "verdict": verdict,
            "kind": RULES[rule].kind,
            "message": self.message(provider, rule),
            "text": RULES[rule].where,
            "tests": [t.as_json() for _, t in sorted(self.tests[(provider, rule)].items())],
        }

    def _encoded_entry(self, provider: str, rule: str, verdict: str) -> str:
        key = (provider, rule)
        if key not in self._encoded:
            self._encoded[key] = json.dumps(self._entry(provider, rule, verdict), sort_keys=True)
        return self._encoded[key]

    def _text(self, *, complete: bool, exitstatus: int | None) -> str:
        """:meth:`results` as JSON text, re-encoding only the rules reported since the last call."""
        verdicts = self.verdicts()
        head = json.dumps(self._head(verdicts, complete=complete, exitstatus=exitstatus), sort_keys=True)
        providers = ", ".join(
            f"{json.dumps(p)}: {{"
            + ", ".join(f"{json.dumps(r)}: {self._encoded_entry(p, r, v)}" for r, v in sorted(verdicts[p].items()))
            + "}"
            for p in self.providers
        )
        return f'{head[:-1]}, "providers": {{{providers}}}}}\n'

    def write(self, *, complete: bool, exitstatus: int | None = None) -> None:
        """Write the JSON report (``--lifecycle-report``).

        Written as the run goes, atomically: a run that dies or is
        interrupted leaves a report that says it is incomplete, which test
        was running, and which selected rules never got a verdict.
        """
        path = self.config.option.lifecycle_report
        if not path or hasattr(self.config, "workerinput"):
            return
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        partial.write_text(self._text(complete=complete, exitstatus=exitstatus), encoding="utf-8")
        os.replace(partial, target)


def print_catalogue(config: pytest.Config) -> None:
    """``pytest --lifecycle-rules``: the catalogue, contract by contract."""
    for contract in CONTRACTS.values():
        caps = f" (optional capabilities: {', '.join(contract.capabilities)})" if contract.capabilities else ""
        print(
            f"{contract.name} — {contract.title}, {contract.section} of pytest_lifecycle/contract/{contract.name}.md{caps}"
        )
        for rule in RULES.values():
            if rule.contract == contract.name:
                kind = rule.kind + (f":{rule.capability}" if rule.capability else "")
                levels = "MUST+SHOULD" if rule.should else "MUST"
                print(f"  {rule.id}  {kind:<19} {levels:<12}{rule.text}")
        for choice in CHOICES.values():
            if choice.contract == contract.name:
                print(f"  open choice {choice.id}: {choice.text} — {' | '.join(choice.branches)}")
    print("full text of a rule: pytest-lifecycle rules ID")


def print_rule(rule_id: str) -> None:
    """``pytest-lifecycle rules LC-05``: the full text of a rule, and the choices it observes."""
    rule = RULES[rule_id]
    print(rule.full_text.strip())
    for choice in CHOICES.values():
        if rule.id in choice.rules:
            print(f"\nOpen choice {choice.id} — {choice.text}:")
            for branch, text in choice.branches.items():
                print(f"  - {branch}: {text}")
    print(f"\n(from {rule.where})")
