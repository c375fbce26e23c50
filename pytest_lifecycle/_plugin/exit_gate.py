"""The CI gate: one table of exit codes (README, "Exit codes").

====  ==========================================================================
code  meaning for a CI gate
====  ==========================================================================
0     gate passed: every selected rule that ran passed, is non-strict, or its
      failure is waived by an unexpired waiver
1     a rule failed (any failing test; a provider that ended the process, under
      ``pytest-lifecycle certify``), a waiver expired, or a waiver is stale under
      ``--lifecycle-strict``
4     usage error: a bad option, provider, rule or waivers file
5     nothing ran: no test collected, or conformance tests were selected but
      none ran (every verdict ``not claimed`` or ``skipped``), or
      ``--lifecycle-rule``/``--lifecycle-provider`` asked for conformance tests
      and there were none
====  ==========================================================================

pytest decides 0, 1, 4 and 5 for most runs; the gate only turns a 0 into a 5
when nothing was certified, and a 0 or 5 into a 1 for an expired waiver (or a
stale one under strict).  Interrupted (2) and internal errors (3) stand.  A
plain project suite without conformance tests keeps pytest's exit code.  The
gate acts on the controller only: under xdist it reads the verdicts the
workers' reports add up to there.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from pytest_lifecycle._plugin.report import LifecycleReport
from pytest_lifecycle._plugin.state import state_of
from pytest_lifecycle._plugin.waivers import Waiver, status

__all__ = ["EXIT_CODES", "Gate", "exit_status", "nothing_ran"]

#: The table the README documents (and ``tests/test_exit_codes.py`` checks).
EXIT_CODES: Final = {
    pytest.ExitCode.OK: "gate passed",
    pytest.ExitCode.TESTS_FAILED: "a rule failed",
    pytest.ExitCode.USAGE_ERROR: "usage error",
    pytest.ExitCode.NO_TESTS_COLLECTED: "nothing ran",
}

#: Verdicts that certify nothing: a run made only of these ran nothing.
_NOTHING: Final = frozenset({"not claimed", "skipped"})


def nothing_ran(verdicts: dict[str, dict[str, str]], asked: bool) -> bool:
    """No rule of any provider ran, though conformance tests were selected or *asked* for."""
    cells = [v for rules in verdicts.values() for v in rules.values()]
    return all(v in _NOTHING for v in cells) if cells else asked


def exit_status(current: int, verdicts: dict[str, dict[str, str]], *, asked: bool, failing: list[Waiver]) -> int:
    """The run's exit status, from pytest's (*current*) and the gate's view.

    *failing*: the waivers that fail the run (expired, or stale under strict).
    """
    if current not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
        return current  # interrupted, internal or usage error: say that
    if failing:
        return pytest.ExitCode.TESTS_FAILED
    if current == pytest.ExitCode.OK and nothing_ran(verdicts, asked):
        return pytest.ExitCode.NO_TESTS_COLLECTED
    return current


class Gate:
    """Sets ``session.exitstatus`` by the table, and says why in the summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.expired: list[Waiver] = []
        self.stale: list[Waiver] = []
        self.nothing: bool = False

    def _verdicts(self) -> dict[str, dict[str, str]]:
        report = self.config.pluginmanager.get_plugin("lifecycle-report")
        return report.verdicts() if isinstance(report, LifecycleReport) else {}

    # tryfirst: the JSON report and the certificate record the status set here.
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = self.config
        if hasattr(config, "workerinput") or config.option.collectonly:
            return
        verdicts = self._verdicts()
        state = state_of(config)
        self.expired = [w for w in state.waivers if w.expired]
        self.stale = [w for w in state.waivers if status(w, verdicts) == "stale"]
        failing = self.expired + (self.stale if state.strict else [])
        asked = bool(
            config.option.lifecycle_rule
            or config.option.lifecycle_provider
            or config.getoption("lifecycle_sse_url", None)
        )
        before = int(session.exitstatus)
        session.exitstatus = exit_status(before, verdicts, asked=asked, failing=failing)
        self.nothing = session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and before == pytest.ExitCode.OK

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput") or not (self.expired or self.stale or self.nothing):
            return
        tr = terminalreporter
        strict = state_of(self.config).strict
        tr.write_sep("-", "lifecycle gate")
        for w in self.expired:
            tr.write_line(
                f"expired waiver: {w.rule} for {w.provider!r} expired on {w.expires} ({w.reason}; {w.where}): "
                "not applied, and the run fails (exit code 1); fix the rule or renew the waiver",
                red=True,
            )
        for w in self.stale:
            fails = (
                "fails the run under --lifecycle-strict" if strict else "remove it (--lifecycle-strict fails the run)"
            )
            tr.write_line(
                f"stale waiver: {w.rule} passed for {w.provider!r} ({w.reason}; {w.where}): {fails}",
                **({"red": True} if strict else {"yellow": True}),
            )
        if self.nothing:
            tr.write_line(
                "nothing ran: no selected conformance test ran against a provider that claims its rule "
                "(exit code 5: a gate that certified nothing does not pass)",
                red=True,
            )
