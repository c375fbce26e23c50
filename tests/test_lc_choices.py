"""The LC-17 state machine follows the open choices of §1a, and catches a provider that flips.

The model accepts every branch of an open choice until the provider shows
one; from then on it follows that branch, and a provider that takes the
other one later in the same example fails LC-17 with both observations
named.  The flipping coordinator below answers "commit un-owned work without
an agent" with its handle, then without, then with it again.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, Segment, SessionLifecycle, SessionState
from tests._runs import run_suite


class FlippingCoordinator(SessionLifecycle):
    """Correct in each branch of LC/unowned-commit, but alternates between them on one instance."""

    def __init__(self) -> None:
        super().__init__()
        self._use_handle = True

    def select_segment(self, state: SessionState, agent: MemoryAgent | None) -> Segment | None:
        unowned = bool(state.segments) and state.segments[0].owner is None
        if agent is None and unowned and state.handle is not None:
            use, self._use_handle = self._use_handle, not self._use_handle
            if use:
                agent = state.handle
        return super().select_segment(state, agent)

    def drainable(self, state: SessionState) -> bool:
        # The drain commits without an agent, through select_segment, like any commit.
        unowned = bool(state.segments) and state.segments[0].owner is None
        return super().drainable(state) or (unowned and state.handle is not None)


flipping = Provider(
    "flipping-unowned-commit", session_lifecycle=lambda ctx: FlippingCoordinator(), capabilities={"eviction"}
)


def run_lc17(pytester: pytest.Pytester, spec: str, *extra: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    result, doc = run_suite(pytester, "session_lifecycle", *extra, provider=spec, rules=["LC-17"])
    assert doc, result.stdout.str()
    return result, doc


#: LC-17's machine driven step by step: un-owned work of 's2', a handle, a commit
#: without an agent -- twice.  The flipping coordinator uses the handle the first
#: time only.
SCRIPTED = """
import pytest

from conformance._session_lifecycle_machine import session_lifecycle_machine


@pytest.mark.rule("LC-17")
def test_flip(session_lifecycle_factory, make_gated_agent, lifecycle_kit):
    machine = session_lifecycle_machine(
        session_lifecycle_factory, lifecycle_kit, eviction=True, make_agent=make_gated_agent
    )
    state = machine()
    try:
        state.open_sessions()
        agent, _, _ = state.agents_registered().values
        for _ in range(2):
            state.handle(sid="s2", agent=None)
            state.turns(sid="s2", owners=[None])
            state.handle(sid="s2", agent=agent)
            state.commit(sid="s2", agent=None, fail=False, wait=False)
    finally:
        state.teardown()
"""


def test_a_provider_that_flips_an_open_choice_fails_lc17_naming_both(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scripted=SCRIPTED)
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(
        "test_scripted.py",
        "--lifecycle-provider",
        f"{__name__}:flipping",
        "--lifecycle-report",
        str(report),
        "-p",
        "no:cacheprovider",
        "-q",
    )
    verdict = json.loads(report.read_text())["providers"]["flipping-unowned-commit"]["LC-17"]
    assert verdict["verdict"] == "failed", result.stdout.str()
    message = verdict["message"]
    assert message.startswith("[LC-17] contradictory open choice LC/unowned-commit"), message
    assert re.search(r"took 'handle' \(.+\) and then 'explicit-agent' \(.+\)", message), message


def test_lc17_reports_the_choices_it_saw(pytester: pytest.Pytester) -> None:
    result, doc = run_lc17(pytester, "reference_impl.provider:provider")
    assert doc["providers"]["reference"]["LC-17"]["verdict"] == "passed", result.stdout.str()
    from reference_impl.provider import CHOICES

    seen = doc["choices"]["reference"]
    assert seen, "LC-17 observed no open choice at all"
    for choice, branches in seen.items():
        assert branches == [CHOICES[choice]], f"LC-17 saw {choice}={branches} of the reference ({CHOICES[choice]})"
