"""Conformance suite of the session-memory commit lifecycle (§1a).

One or more tests per rule, ``LC-01`` … ``LC-17``, each marked with
``@pytest.mark.rule`` and named after it.  The scenarios follow the seed the
rules come from (the hermes-webui session-lifecycle tests); where the seed
proved that something was blocked
with a short ``join(timeout=0.05)``, these tests prove the order instead:
commits are held in the agent double's gate, and what happened is read from
the results once the gate is open.  A call that must wait for a held commit
(a drain, an eviction, ``wait=True``) is started on a worker the kit watches
(:class:`~pytest_lifecycle.support.WatchedTask`); once its thread is parked in a lock,
condition or queue -- or the call has returned, which fails the rule -- the
commit is released.  So a provider that does not wait is caught whatever
the scheduling, not only when its call happens to run before the release.
Only LC-12 (the drain deadline), LC-13 and LC-14 ("at once", "promptly",
"bounded by timeout") bound a call in time, with the kit's ``prompt`` bound
as the slack.

Where the contract leaves a choice (the open choices ``LC/…``), a test
accepts every branch, tells the kit which one the provider took
(``observe_choice``) and checks the MUSTs of that branch.  Where a rule adds
a SHOULD (turns completed during a commit coalesce: LC-04, LC-05), the test
records a breach with ``should`` and goes on checking the MUST.

Every test drives a fresh, guarded coordinator (``session_lifecycle``): each
call runs on a kit thread with the ``--lifecycle-timeout`` deadline, shows up
in the trace of a failure message, and has its return type checked.  The
model-based rule (LC-17) lives in :mod:`conformance._session_lifecycle_machine`.

Use in a project's own tests::

    from conformance.session_lifecycle import *
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import pytest

from pytest_lifecycle import GatedAgent, Kit, Task, unwrap
from pytest_lifecycle.support import Growth, check_growth, provider_growth

from ._session_lifecycle_machine import check_still_waiting as _still_waiting
from ._session_lifecycle_machine import start_call as _start_parked
from ._session_lifecycle_machine import test_lc17_model_conformance
from .models.session_lifecycle import (
    ADOPTED_MERGE,
    ADOPTION,
    DRAIN_RETRY,
    EVICT_FORGETS,
    FAILED_IN_FLIGHT,
    FORGOTTEN,
    TURN_AGENT,
    UNOWNED,
)

__all__ = [
    "test_lc01_falsy_session_ids_are_noops",
    "test_lc02_registered_session_without_turn_is_not_committable",
    "test_lc03_generations_of_a_forgotten_session",
    "test_lc03_generations_strictly_increase",
    "test_lc03_unowned_turn_makes_session_dirty",
    "test_lc04_turns_coalesce_into_one_commit",
    "test_lc04_turns_completed_during_a_commit_coalesce",
    "test_lc04_turns_via_handle_coalesce_per_boundary",
    "test_lc05_late_commit_keeps_every_turn_completed_meanwhile",
    "test_lc05_late_commit_keeps_newer_turn",
    "test_lc06_failed_commit_keeps_handle_for_new_turns",
    "test_lc06_failed_commit_keeps_work_and_handle",
    "test_lc06_failed_late_commit_keeps_turns_completed_meanwhile",
    "test_lc07_adopted_segment_and_the_next_one_of_its_owner",
    "test_lc07_explicit_agent_adopts_unowned_work",
    "test_lc07_failed_explicit_agent_owns_unowned_work",
    "test_lc07_unowned_work_waits_for_an_agent",
    "test_lc08_failed_segment_survives_replacement_registration",
    "test_lc08_replacement_during_in_flight_commit",
    "test_lc09_agent_passed_with_a_turn_owns_it",
    "test_lc09_explicit_new_agent_cannot_clear_old_segment",
    "test_lc09_one_segment_per_commit_oldest_first",
    "test_lc10_unregister_keeps_owner_of_dirty_work",
    "test_lc10_unregistered_work_commits_with_explicit_agent",
    "test_lc11_drain_commit_failing_after_the_in_flight_one",
    "test_lc11_drain_flushes_every_dirty_session",
    "test_lc11_drain_flushes_the_others_when_one_commit_fails",
    "test_lc11_drain_waits_for_in_flight_commit",
    "test_lc12_drain_deadline_with_hung_in_flight_commit",
    "test_lc12_drain_deadline_with_hung_provider",
    "test_lc13_no_wait_returns_at_once_while_in_flight",
    "test_lc13_wait_is_bounded_by_timeout",
    "test_lc13_wait_waits_for_in_flight_commit",
    "test_lc14_other_sessions_while_provider_blocked",
    "test_lc14_same_session_calls_while_provider_blocked",
    "test_lc15_eviction_commit_failing_after_the_in_flight_one",
    "test_lc15_eviction_commits_before_closing",
    "test_lc15_eviction_waits_for_in_flight_commit",
    "test_lc15_failed_eviction_keeps_the_agent_and_the_work",
    "test_lc15_generations_after_an_eviction",
    "test_lc16_churn_returns_to_baseline",
    "test_lc16_discard_refuses_dirty_and_in_flight",
    "test_lc17_model_conformance",
]

#: The deadline handed to ``drain_all_on_shutdown`` in LC-12 (seconds).
DRAIN_DEADLINE: Final = 0.2
#: The timeout handed to ``commit_session_memory(wait=True)`` in LC-13.
WAIT_TIMEOUT: Final = 0.2
#: LC-16: sessions churned before the baseline is taken (caches, dict sizes).
CHURN_WARMUP: Final = 1_000

FALSY_IDS: Final = [pytest.param("", id="empty"), pytest.param(None, id="none")]


# -- helpers ------------------------------------------------------------------


def _eviction(kit: Kit) -> bool:
    return kit.provider.claims_capability("eviction")


def _hold_commit(lc: Any, agent: GatedAgent, sid: str) -> Task[Any]:
    """Start ``commit_session_memory(sid)`` and return once it is held inside *agent*."""
    __tracebackhide__ = True
    agent.block()
    entered = agent.gate.entered + 1
    task: Task[Any] = lc.commit_session_memory.spawn(sid)
    agent.wait_entered(entered, unless=task)
    return task


def _promptly(kit: Kit, call: Any, *args: Any, why: str, **kwargs: Any) -> Any:
    """Run the guarded *call*; it must return within ``kit.prompt`` seconds."""
    __tracebackhide__ = True
    task = call.spawn(*args, **kwargs)
    if not task.wait(kit.prompt):
        kit.fail(f"{task.what} did not return within {kit.prompt:g}s {why}")
    return task.result()


def _calls(*agents: GatedAgent) -> tuple[int, ...]:
    return tuple(a.calls for a in agents)


def _let_held_call_through_then_fail(agent: GatedAgent, held: Task[Any]) -> None:
    """The held commit succeeds; the next call to *agent* (the newer generation's) fails.

    The gate lets the held call through alone and stays closed, so the call
    a drain or an eviction makes next waits there until the failure is armed.
    """
    __tracebackhide__ = True
    agent.gate.admit(1)
    held.result()
    agent.fail_next(1)
    agent.release()


def _observe_forgotten_generations(kit: Kit, before: int, after: int, how: str) -> None:
    """LC/forgotten-generations: the first generation of a forgotten session restarts or continues."""
    branch = "continue" if after > before else "restart"
    kit.observe_choice(FORGOTTEN, branch, f"generation {after} after {before}, {how}")


def _commit_until_clean(kit: Kit, lc: Any, agent: GatedAgent, sid: str, turns: int, what: str) -> int:
    """Commit *sid* until it is clean; the provider calls that took (MUST: one per segment, at most *turns*).

    Each commit must succeed with *agent*, the owner of every one of the
    *turns* turns, and the session stays dirty until the last is flushed:
    more successful commits than turns would commit some turn twice (or
    never clear it).
    """
    __tracebackhide__ = True
    start = agent.calls
    for n in range(1, turns + 1):
        kit.expect(lc.commit_session_memory(sid), True, f"commit {n} of {what}")
        kit.expect(agent.calls - start, n, f"commit_memory_session() calls after commit {n} of {what}")
        if not lc.has_uncommitted_work(sid):
            break
    else:
        kit.fail(f"has_uncommitted_work({sid!r}) still True after {turns} successful commits of {what} ({turns} turns)")
    kit.expect(lc.commit_session_memory(sid), False, f"a commit with nothing new after {what}")
    kit.expect(agent.calls - start, n, "commit_memory_session() calls after a commit with nothing new")
    return n


# -- LC-01 ----------------------------------------------------------------------


@pytest.mark.rule("LC-01")
@pytest.mark.parametrize("sid", FALSY_IDS)
def test_lc01_falsy_session_ids_are_noops(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit, sid: str | None
) -> None:
    """LC-01 (§1a): falsy session ids are safe no-ops everywhere.

    Seed: ``test_empty_session_id_is_safe_noop``.  ``register_agent`` and
    ``unregister_agent`` return ``None``, ``mark_turn_completed`` ``0``,
    ``has_uncommitted_work``, ``commit_session_memory`` (with or without an
    agent, waiting or not), ``discard_session`` and ``evict_session`` ``False``;
    a drain afterwards finds nothing, and the agent is never called or closed.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    kit.expect(lc.register_agent(sid, agent), None, f"register_agent({sid!r}, agent)")
    kit.expect(lc.mark_turn_completed(sid), 0, f"mark_turn_completed({sid!r})")
    kit.expect(lc.mark_turn_completed(sid, agent=agent), 0, f"mark_turn_completed({sid!r}, agent=agent)")
    kit.expect(lc.has_uncommitted_work(sid), False, f"has_uncommitted_work({sid!r})")
    kit.expect(lc.commit_session_memory(sid), False, f"commit_session_memory({sid!r})")
    kit.expect(lc.commit_session_memory(sid, agent), False, f"commit_session_memory({sid!r}, agent)")
    kit.expect(
        lc.commit_session_memory(sid, agent, wait=True, timeout=kit.prompt),
        False,
        f"commit_session_memory({sid!r}, agent, wait=True)",
    )
    kit.expect(lc.discard_session(sid), False, f"discard_session({sid!r})")
    kit.expect(lc.unregister_agent(sid), None, f"unregister_agent({sid!r})")
    if _eviction(kit):
        kit.expect(lc.evict_session(sid, agent), False, f"evict_session({sid!r}, agent)")
    # Nothing above may have left work behind for the drain to find.
    lc.drain_all_on_shutdown(deadline=kit.prompt)
    kit.expect(agent.calls, 0, f"commit_memory_session() calls for session id {sid!r}")
    kit.expect(agent.close_calls, 0, f"close() calls for session id {sid!r}")


# -- LC-02 ----------------------------------------------------------------------


@pytest.mark.rule("LC-02")
def test_lc02_registered_session_without_turn_is_not_committable(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-02 (§1a): a registered session without a completed turn is not committable.

    Seed: ``test_registered_session_without_completed_turn_is_not_committed``.
    ``commit`` returns ``False`` (with or without an explicit agent), the
    agent is not called, nothing is dirty, and a drain finds nothing either.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "registered-only"
    lc.register_agent(sid, agent)
    kit.expect(lc.commit_session_memory(sid), False, "commit of a registered session without a completed turn")
    kit.expect(lc.commit_session_memory(sid, agent), False, "commit with an explicit agent and no completed turn")
    kit.expect(agent.calls, 0, "commit_memory_session() calls")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work of a registered-only session")
    lc.drain_all_on_shutdown(deadline=kit.prompt)
    kit.expect(agent.calls, 0, "commit_memory_session() calls after a drain")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after a drain")


# -- LC-03 ----------------------------------------------------------------------


@pytest.mark.rule("LC-03")
def test_lc03_generations_strictly_increase(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-03 (§1a): generations strictly increase per session; dirty afterwards.

    Turns of two sessions interleave; each session's generations keep
    increasing across a commit, and each turn leaves its session dirty.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    agents = {"gen-a": make_gated_agent(), "gen-b": make_gated_agent()}
    last: dict[str, int] = {}

    def turn(sid: str) -> None:
        generation = lc.mark_turn_completed(sid)
        if sid in last:
            kit.check(
                generation > last[sid],
                f"mark_turn_completed({sid!r}) returned generation {generation}, "
                f"not greater than the previous {last[sid]}",
            )
        last[sid] = generation
        kit.expect(lc.has_uncommitted_work(sid), True, f"has_uncommitted_work({sid!r}) after a completed turn")

    for sid, agent in agents.items():
        lc.register_agent(sid, agent)
    for sid in ("gen-a", "gen-b", "gen-a", "gen-a", "gen-b"):
        turn(sid)
    # Committing does not restart the count.
    kit.expect(lc.commit_session_memory("gen-a"), True, "commit of 'gen-a'")
    kit.expect(lc.has_uncommitted_work("gen-a"), False, "has_uncommitted_work('gen-a') after its commit")
    for sid in ("gen-a", "gen-b", "gen-a"):
        turn(sid)


@pytest.mark.rule("LC-03")
def test_lc03_unowned_turn_makes_session_dirty(session_lifecycle: Any, lifecycle_kit: Kit) -> None:
    """LC-03 (§1a): a turn makes its session dirty, even with no agent known.

    No agent is registered or passed: the turns are still completed work, so
    the session is dirty and the generations increase.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    first = lc.mark_turn_completed("no-agent")
    kit.expect(lc.has_uncommitted_work("no-agent"), True, "has_uncommitted_work after a turn with no agent")
    second = lc.mark_turn_completed("no-agent")
    kit.check(second > first, f"second generation {second} is not greater than the first {first}")
    kit.expect(lc.has_uncommitted_work("no-agent"), True, "has_uncommitted_work after a second turn")


@pytest.mark.rule("LC-03")
def test_lc03_generations_of_a_forgotten_session(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-03 (§1a): a discarded session's generations restart or continue, then increase again.

    A clean, idle session is discarded.  Its next generation may count from 1
    again or continue from where it was (LC/forgotten-generations, either is
    correct and observed); from there the generations strictly increase and
    each turn leaves the session dirty.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "forgotten"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid)
    before = lc.mark_turn_completed(sid)
    kit.expect(lc.commit_session_memory(sid), True, "the commit before the discard")
    kit.expect(lc.discard_session(sid), True, "discard_session of the clean, idle session")
    after = lc.mark_turn_completed(sid)
    _observe_forgotten_generations(kit, before, after, "discard_session")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the first turn since the discard")
    later = lc.mark_turn_completed(sid)
    kit.check(later > after, f"generation {later} after the discard is not greater than the previous {after}")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the second turn since the discard")


# -- LC-04 ----------------------------------------------------------------------


@pytest.mark.rule("LC-04")
def test_lc04_turns_coalesce_into_one_commit(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-04 (§1a): several turns with one owner flush in exactly one provider call.

    Seed: ``test_multiple_completed_turns_coalesce_into_single_boundary_commit``.
    A second commit with nothing new is a no-op: ``False`` and no call.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "coalesce-boundary"
    lc.register_agent(sid, agent)
    for n in range(1, 4):
        lc.mark_turn_completed(sid, agent=agent)
        kit.expect(lc.has_uncommitted_work(sid), True, f"has_uncommitted_work after turn {n}")
    kit.expect(agent.calls, 0, "commit_memory_session() calls before the boundary commit")
    kit.expect(lc.commit_session_memory(sid), True, "the boundary commit")
    kit.expect(agent.calls, 1, "commit_memory_session() calls for three coalesced turns")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the boundary commit")
    kit.expect(lc.commit_session_memory(sid), False, "a second commit with nothing new")
    kit.expect(agent.calls, 1, "commit_memory_session() calls after a commit with nothing new")


@pytest.mark.rule("LC-04")
def test_lc04_turns_via_handle_coalesce_per_boundary(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-04 (§1a): turns owned through the registered handle coalesce too.

    Two boundaries, each after a burst of turns marked without an agent:
    one provider call per boundary, and nothing left afterwards.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "coalesce-handle"
    lc.register_agent(sid, agent)
    for boundary, turns in enumerate((2, 4), start=1):
        for _ in range(turns):
            lc.mark_turn_completed(sid)
        kit.expect(lc.commit_session_memory(sid), True, f"boundary commit {boundary} ({turns} turns)")
        kit.expect(agent.calls, boundary, f"commit_memory_session() calls after boundary {boundary}")
        kit.expect(lc.has_uncommitted_work(sid), False, f"has_uncommitted_work after boundary {boundary}")
    kit.expect(lc.commit_session_memory(sid), False, "a commit with nothing new")
    kit.expect(agent.calls, 2, "commit_memory_session() calls after a commit with nothing new")


@pytest.mark.rule("LC-04")
def test_lc04_turns_completed_during_a_commit_coalesce(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-04 (§1a): turns completed while a commit is in flight are flushed once each (SHOULD: in one call).

    Two turns, with the agent passed explicitly, complete while the first
    commit is held in the provider.  MUST: each is committed once, by that
    agent, and the session stays dirty until the last one is.  SHOULD: they
    coalesce, so that the next commit flushes both in one provider call.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "coalesce-in-flight"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid, agent=agent)
    late = _hold_commit(lc, agent, sid)
    lc.mark_turn_completed(sid, agent=agent)
    lc.mark_turn_completed(sid, agent=agent)
    agent.release()
    kit.expect(late.result(), True, "the commit held while two turns completed")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the late commit (two newer turns)")
    calls = _commit_until_clean(kit, lc, agent, sid, 2, "the two turns completed during the late commit")
    kit.should(
        calls == 1,
        f"the two turns completed during a commit took {calls} provider calls, not one (they did not coalesce)",
    )


# -- LC-05 ----------------------------------------------------------------------


@pytest.mark.rule("LC-05")
def test_lc05_late_commit_keeps_newer_turn(session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit) -> None:
    """LC-05 (§1a): a commit finishing late never clears work completed meanwhile.

    Seed: ``test_commit_finishing_late_does_not_clear_newly_completed_turn``.
    A turn completes while the first commit is held in the provider; once it
    returns the session is still dirty, and the next commit flushes it.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "rapid-reopen"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid, agent=agent)
    late = _hold_commit(lc, agent, sid)
    lc.mark_turn_completed(sid, agent=agent)
    agent.release()
    kit.expect(late.result(), True, "the late commit")
    kit.expect(agent.calls, 1, "commit_memory_session() calls after the late commit")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the late commit (newer turn)")
    kit.expect(lc.commit_session_memory(sid), True, "the commit of the newer turn")
    kit.expect(agent.calls, 2, "commit_memory_session() calls after the second commit")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the second commit")


@pytest.mark.rule("LC-05")
def test_lc05_late_commit_keeps_every_turn_completed_meanwhile(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-05 (§1a): every turn completed during a late commit stays dirty until it is committed.

    Three turns complete through the handle while the commit is held: the
    session is dirty throughout and after the late commit.  MUST: the
    commits after it flush each of the three exactly once, with the handle,
    and the session stays dirty until the last is flushed.  SHOULD: the
    three form one segment, flushed by the next commit in one provider call.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "late-burst"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid)
    late = _hold_commit(lc, agent, sid)
    for n in range(1, 4):
        lc.mark_turn_completed(sid)
        kit.expect(lc.has_uncommitted_work(sid), True, f"has_uncommitted_work during the commit, after turn {n}")
    agent.release()
    kit.expect(late.result(), True, "the late commit")
    kit.expect(agent.calls, 1, "commit_memory_session() calls after the late commit")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the late commit (three newer turns)")
    calls = _commit_until_clean(kit, lc, agent, sid, 3, "the three turns completed during the late commit")
    kit.should(
        calls == 1,
        f"the three turns completed during a commit took {calls} provider calls, not one (they did not coalesce)",
    )


# -- LC-06 ----------------------------------------------------------------------


@pytest.mark.rule("LC-06")
def test_lc06_failed_commit_keeps_work_and_handle(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-06 (§1a): a failed commit returns False and keeps the work dirty.

    Seed: ``test_failed_commit_preserves_uncommitted_work_and_agent_handle``.
    The retry without an agent calls the *same* agent and succeeds.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "commit-failure"
    agent.fail_next(1)
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid, agent=agent)
    kit.expect(lc.commit_session_memory(sid), False, "a commit whose provider call failed")
    kit.expect(agent.calls, 1, "commit_memory_session() calls after the failure")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after a failed commit")
    kit.expect(lc.commit_session_memory(sid), True, "the retry without an agent")
    kit.expect(agent.calls, 2, "commit_memory_session() calls after the retry (same agent)")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the retry")


@pytest.mark.rule("LC-06")
def test_lc06_failed_commit_keeps_handle_for_new_turns(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-06 (§1a): a failed commit keeps the registered handle.

    After the failure, a turn marked without an agent still belongs to the
    registered agent: the retry flushes the failed and the new turn with it.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "failure-keeps-handle"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid)
    agent.fail_next(1)
    kit.expect(lc.commit_session_memory(sid), False, "a commit whose provider call failed")
    lc.mark_turn_completed(sid)
    kit.expect(lc.commit_session_memory(sid), True, "the retry without an agent")
    kit.expect(agent.calls, 2, "commit_memory_session() calls (failure + retry)")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the retry")


@pytest.mark.rule("LC-06")
def test_lc06_failed_late_commit_keeps_turns_completed_meanwhile(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-06 (§1a): a commit that fails late keeps its turns and those completed meanwhile.

    Two turns complete through the handle while the commit is held; then it
    fails.  Everything is still dirty, and commits without an agent flush it
    all with the same agent, each turn once.  Whether the two newer turns
    joined the failed segment (one retry flushes all) or stay apart (the
    retry, then one more commit) is LC/failed-in-flight, observed.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "late-failure"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid)
    late = _hold_commit(lc, agent, sid)
    lc.mark_turn_completed(sid)
    lc.mark_turn_completed(sid)
    agent.fail_next(1)
    agent.release()
    kit.expect(late.result(), False, "the held commit, failed")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the failed commit")
    calls = _commit_until_clean(kit, lc, agent, sid, 3, "the failed turn and the two completed meanwhile")
    kit.observe_choice(
        FAILED_IN_FLIGHT, "joined" if calls == 1 else "apart", f"the retry took {calls} provider call(s)"
    )


# -- LC-07 ----------------------------------------------------------------------


@pytest.mark.rule("LC-07")
def test_lc07_failed_explicit_agent_owns_unowned_work(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-07 (§1a): an explicit agent passed to a failed commit of un-owned work owns it.

    Seed: ``test_failed_explicit_agent_commit_preserves_agent_handle_for_retry``.
    No agent is registered; the commit with an explicit agent fails, and the
    retry *without* an agent finds that agent and succeeds.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "explicit-agent-failure"
    agent.fail_next(1)
    lc.mark_turn_completed(sid)
    kit.expect(lc.commit_session_memory(sid, agent), False, "a failed commit with an explicit agent")
    kit.expect(agent.calls, 1, "commit_memory_session() calls after the failure")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the failed commit")
    kit.expect(lc.commit_session_memory(sid), True, "the retry without an agent (uses the explicit one)")
    kit.expect(agent.calls, 2, "commit_memory_session() calls after the retry")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the retry")


@pytest.mark.rule("LC-07")
def test_lc07_unowned_work_waits_for_an_agent(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-07 (§1a): un-owned work stays dirty until an agent commits it, in one call.

    With nobody to call, a commit returns ``False`` and keeps the work.  Once
    a handle is registered, a commit without an agent either calls it or
    still waits for an explicit agent (LC/unowned-commit, observed); either
    way the two turns are flushed in exactly one call, by one agent.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    handle, explicit = make_gated_agent("handle"), make_gated_agent("explicit")
    sid = "unowned"
    lc.mark_turn_completed(sid)
    lc.mark_turn_completed(sid)
    kit.expect(lc.commit_session_memory(sid), False, "a commit of un-owned work without an agent, nobody registered")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after a commit with nobody to call")
    lc.register_agent(sid, handle)
    if lc.commit_session_memory(sid):
        kit.observe_choice(UNOWNED, "handle", "a commit without an agent flushed un-owned work")
        kit.expect(_calls(handle, explicit), (1, 0), "commit_memory_session() calls (handle, explicit)")
    else:
        kit.observe_choice(
            UNOWNED, "explicit-agent", "a commit without an agent left un-owned work with a handle registered"
        )
        kit.expect(
            _calls(handle, explicit),
            (0, 0),
            "commit_memory_session() calls (handle, explicit) of a commit returning False",
        )
        kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the commit without an agent")
        kit.expect(lc.commit_session_memory(sid, explicit), True, "the commit with an explicit agent")
        kit.expect(_calls(handle, explicit), (0, 1), "commit_memory_session() calls (handle, explicit)")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work once the un-owned work is flushed")


@pytest.mark.rule("LC-07")
def test_lc07_explicit_agent_adopts_unowned_work(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-07 (§1a): an explicit agent adopts the oldest un-owned segment; A's segment stays A's.

    Segments: un-owned, A's, un-owned (no handle).  A commit with B flushes
    the oldest with B; the next commit flushes A's with A; the last
    un-owned segment is B's too, or still un-owned (LC/adoption, observed):
    then the commit without an agent leaves it and an explicit one flushes it.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    a, b = make_gated_agent("a"), make_gated_agent("b")
    sid = "adoption"
    lc.mark_turn_completed(sid)
    lc.mark_turn_completed(sid, agent=a)
    lc.unregister_agent(sid)  # the agent of a turn may have become the handle (LC/turn-agent)
    lc.mark_turn_completed(sid)
    kit.expect(lc.commit_session_memory(sid, b), True, "a commit with B (the oldest segment is un-owned)")
    kit.expect(_calls(a, b), (0, 1), "commit_memory_session() calls (A, B): B adopted the oldest segment")
    kit.expect(lc.commit_session_memory(sid, b), True, "a commit with B (the next segment is A's)")
    kit.expect(_calls(a, b), (1, 1), "commit_memory_session() calls (A, B): A's segment by A")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work (the newest turn)")
    if lc.commit_session_memory(sid):
        kit.observe_choice(ADOPTION, "every-unowned", "a commit without an agent flushed the later un-owned segment")
        kit.expect(_calls(a, b), (1, 2), "commit_memory_session() calls (A, B): B adopted the later segment too")
    else:
        kit.observe_choice(ADOPTION, "oldest", "a commit without an agent left the later un-owned segment")
        kit.expect(_calls(a, b), (1, 1), "commit_memory_session() calls (A, B) of a commit returning False")
        kit.expect(lc.commit_session_memory(sid, a), True, "a commit with A of the later un-owned segment")
        kit.expect(_calls(a, b), (2, 1), "commit_memory_session() calls (A, B): A adopted the later segment")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work at the end")


@pytest.mark.rule("LC-07")
def test_lc07_adopted_segment_and_the_next_one_of_its_owner(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-07 (§1a): an agent adopting un-owned work flushes it and then its own turn, each once.

    An un-owned turn, then a turn of A.  The commit with A adopts the
    un-owned segment; it flushes A's segment with it, or leaves it to the
    next commit (LC/adopted-merge, observed).  Nothing else is called.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "adopt-and-merge"
    lc.mark_turn_completed(sid)
    lc.mark_turn_completed(sid, agent=agent)
    kit.expect(lc.commit_session_memory(sid, agent), True, "the commit with A of the un-owned segment")
    kit.expect(agent.calls, 1, "commit_memory_session() calls")
    if lc.has_uncommitted_work(sid):
        kit.observe_choice(ADOPTED_MERGE, "separate", "A's own turn stayed dirty after A adopted the segment before it")
        kit.expect(lc.commit_session_memory(sid), True, "the commit of A's own turn")
        kit.expect(agent.calls, 2, "commit_memory_session() calls")
    else:
        kit.observe_choice(ADOPTED_MERGE, "merges", "A's own turn was flushed with the segment A adopted")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work at the end")


# -- LC-08 ----------------------------------------------------------------------


@pytest.mark.rule("LC-08")
def test_lc08_failed_segment_survives_replacement_registration(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-08 (§1a): dirty work keeps its owner across a replacement registration.

    Seed: ``test_dirty_failed_commit_handle_survives_replacement_registration``.
    The old agent's commit fails; a new agent is registered; the retry calls
    the old agent, never the new one.  Once the old segment is clean the
    replacement handles new work.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    old, new = make_gated_agent("old"), make_gated_agent("new")
    sid = "preserve-failed-handle"
    old.fail_next(1)
    lc.register_agent(sid, old)
    lc.mark_turn_completed(sid, agent=old)
    kit.expect(lc.commit_session_memory(sid), False, "the old agent's failed commit")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the failed commit")
    lc.register_agent(sid, new)
    kit.expect(lc.commit_session_memory(sid), True, "the retry after the replacement registration")
    kit.expect(_calls(old, new), (2, 0), "commit_memory_session() calls (old, new) for the old segment")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the old segment is flushed")
    lc.mark_turn_completed(sid)
    kit.expect(lc.commit_session_memory(sid), True, "the commit of a turn completed after the replacement")
    kit.expect(_calls(old, new), (2, 1), "commit_memory_session() calls (old, new) for the new turn")


@pytest.mark.rule("LC-08")
def test_lc08_replacement_during_in_flight_commit(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-08 (§1a): a replacement registered mid-commit takes over only new work.

    The old agent's commit is held in the provider while a new agent is
    registered: the old commit completes with the old agent, the new agent is
    not called for it, and the next turn belongs to the new agent.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    old, new = make_gated_agent("old"), make_gated_agent("new")
    sid = "replace-in-flight"
    lc.register_agent(sid, old)
    lc.mark_turn_completed(sid)
    held = _hold_commit(lc, old, sid)
    lc.register_agent(sid, new)
    old.release()
    kit.expect(held.result(), True, "the old agent's commit")
    kit.expect(_calls(old, new), (1, 0), "commit_memory_session() calls (old, new) for the old segment")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the old segment is flushed")
    lc.mark_turn_completed(sid)
    kit.expect(lc.commit_session_memory(sid), True, "the commit of the next turn")
    kit.expect(_calls(old, new), (1, 1), "commit_memory_session() calls (old, new) for the next turn")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work at the end")


# -- LC-09 ----------------------------------------------------------------------


@pytest.mark.rule("LC-09")
def test_lc09_explicit_new_agent_cannot_clear_old_segment(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-09 (§1a): the oldest segment is flushed by its own owner, not the caller's agent.

    Seed: ``test_explicit_new_agent_commit_cannot_clear_old_dirty_segment``.
    Even an explicit commit with the replacement agent flushes the old
    segment with the old agent first; the new segment stays dirty.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    old, new = make_gated_agent("old"), make_gated_agent("new")
    sid = "explicit-new-cannot-steal-old"
    old.fail_next(1)
    lc.register_agent(sid, old)
    lc.mark_turn_completed(sid, agent=old)
    kit.expect(lc.commit_session_memory(sid), False, "the old agent's failed commit")
    lc.register_agent(sid, new)
    lc.mark_turn_completed(sid, agent=new)
    kit.expect(lc.commit_session_memory(sid, new), True, "an explicit commit with the new agent")
    kit.expect(_calls(old, new), (2, 0), "commit_memory_session() calls (old, new): the old segment first")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work (the new segment is still dirty)")
    kit.expect(lc.commit_session_memory(sid), True, "the commit of the new segment")
    kit.expect(_calls(old, new), (2, 1), "commit_memory_session() calls (old, new) for the new segment")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work at the end")


@pytest.mark.rule("LC-09")
def test_lc09_one_segment_per_commit_oldest_first(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-09 (§1a): one segment per commit, oldest first, each with its owner.

    Turns owned by A, then B, then A again make three segments.  Three
    commits flush them in that order, one per commit, whatever agent the
    caller passes.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    a, b = make_gated_agent("a"), make_gated_agent("b")
    sid = "three-segments"
    for owner in (a, b, a):
        lc.mark_turn_completed(sid, agent=owner)
    steps = (
        (b, (1, 0), True, "an explicit commit with B (oldest segment is A's)"),
        (a, (1, 1), True, "an explicit commit with A (next segment is B's)"),
        (None, (2, 1), False, "a commit without an agent (last segment is A's)"),
    )
    for explicit, calls, dirty, what in steps:
        got = lc.commit_session_memory(sid) if explicit is None else lc.commit_session_memory(sid, explicit)
        kit.expect(got, True, what)
        kit.expect(_calls(a, b), calls, f"commit_memory_session() calls (A, B) after {what}")
        kit.expect(lc.has_uncommitted_work(sid), dirty, f"has_uncommitted_work after {what}")


@pytest.mark.rule("LC-09")
def test_lc09_agent_passed_with_a_turn_owns_it(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-09 (§1a): a turn marked with an agent is flushed by that agent, whatever the handle.

    H is registered; a turn is marked with A, then one without an agent.  The
    first commit calls A.  The turn without an agent is H's -- or A's, if A
    became the handle (LC/turn-agent, observed) -- and a third turn follows
    the same handle.  Every turn is flushed once, by its owner.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    h, a = make_gated_agent("h"), make_gated_agent("a")
    sid = "turn-agent"
    lc.register_agent(sid, h)
    lc.mark_turn_completed(sid, agent=a)
    lc.mark_turn_completed(sid)
    kit.expect(lc.commit_session_memory(sid), True, "the first commit (the oldest turn is A's)")
    kit.expect(_calls(h, a), (0, 1), "commit_memory_session() calls (H, A) of the first commit")
    if lc.has_uncommitted_work(sid):
        kit.observe_choice(TURN_AGENT, "turn-only", "the turn marked without an agent after A's was not A's")
        kit.expect(lc.commit_session_memory(sid), True, "the commit of the handle's turn")
        kit.expect(_calls(h, a), (1, 1), "commit_memory_session() calls (H, A): the handle's turn by H")
        handle = h
    else:
        kit.observe_choice(TURN_AGENT, "becomes-handle", "the turn marked without an agent after A's was A's")
        handle = a
    lc.mark_turn_completed(sid)
    before = _calls(h, a)
    kit.expect(lc.commit_session_memory(sid), True, "the commit of a third turn, marked without an agent")
    after = tuple(n + (agent is handle) for n, agent in zip(before, (h, a)))
    kit.expect(_calls(h, a), after, f"commit_memory_session() calls (H, A): the third turn by the handle {handle!r}")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work at the end")


# -- LC-10 ----------------------------------------------------------------------


@pytest.mark.rule("LC-10")
def test_lc10_unregistered_work_commits_with_explicit_agent(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-10 (§1a): unregistering does not make completed work undiscoverable.

    Seed: ``test_shutdown_drain_includes_dirty_sessions_even_if_pending_registry_was_cleared``.
    After ``unregister_agent`` the session is still dirty, and a commit with
    an explicit agent flushes it.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "dirty-cached-only"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid, agent=agent)
    lc.unregister_agent(sid)
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after unregister_agent")
    kit.expect(lc.commit_session_memory(sid, agent), True, "a commit with the explicit agent after unregister")
    kit.expect(agent.calls, 1, "commit_memory_session() calls")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the commit")


@pytest.mark.rule("LC-10")
def test_lc10_unregister_keeps_owner_of_dirty_work(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-10 (§1a): existing dirty work keeps its owner after ``unregister_agent``.

    A turn owned through the handle is still flushed by that agent without
    passing it; a turn completed after the unregister has no handle, so it
    waits for an explicit agent.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "unregister-keeps-owner"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid)
    lc.unregister_agent(sid)
    kit.expect(lc.commit_session_memory(sid), True, "a commit without an agent after unregister (owner kept)")
    kit.expect(agent.calls, 1, "commit_memory_session() calls")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the commit")
    lc.mark_turn_completed(sid)
    kit.expect(lc.commit_session_memory(sid), False, "a commit of a turn completed after unregister, no agent")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work (the new turn is kept)")
    kit.expect(lc.commit_session_memory(sid, agent), True, "the commit with an explicit agent")
    kit.expect(agent.calls, 2, "commit_memory_session() calls at the end")


# -- LC-11 ----------------------------------------------------------------------


@pytest.mark.rule("LC-11")
def test_lc11_drain_waits_for_in_flight_commit(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-11 (§1a): drain waits for an in-flight commit, then flushes what completed meanwhile.

    Seed: ``test_shutdown_drain_waits_for_inflight_commit_and_flushes_new_generation``.
    The drain starts while the first commit is held in the provider and may
    not return before it: the commit is released only once the drain has
    parked (or returned, which fails).  Then the drain flushes the newer
    turn and nothing is dirty.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "shutdown-waits"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid, agent=agent)
    first = _hold_commit(lc, agent, sid)
    lc.mark_turn_completed(sid, agent=agent)
    drain = _start_parked(kit, lc, "drain_all_on_shutdown", deadline=kit.timeout)
    _still_waiting(kit, drain, "the first commit")
    kit.expect(agent.calls, 1, "commit_memory_session() calls while the first commit is held")
    agent.release()
    kit.expect(first.result(), True, "the first commit")
    kit.expect(drain.result(), None, "drain_all_on_shutdown")
    kit.expect(agent.calls, 2, "commit_memory_session() calls after the drain (first + newer turn)")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the drain")


@pytest.mark.rule("LC-11")
def test_lc11_drain_flushes_every_dirty_session(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-11 (§1a): afterwards nothing is dirty — every session, every segment.

    One session has two segments (A's, then B's after a replacement); another
    is dirty but its handle was unregistered (seed: the pending registry was
    cleared); a third is clean.  The drain flushes each segment once, with
    its owner.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    a, b = make_gated_agent("a"), make_gated_agent("b")
    lc.register_agent("two-segments", a)
    lc.mark_turn_completed("two-segments")
    lc.register_agent("two-segments", b)
    lc.mark_turn_completed("two-segments")
    lc.register_agent("unregistered", b)
    lc.mark_turn_completed("unregistered")
    lc.mark_turn_completed("unregistered")
    lc.unregister_agent("unregistered")
    lc.register_agent("clean", a)
    lc.drain_all_on_shutdown(deadline=kit.timeout)
    for sid in ("two-segments", "unregistered", "clean"):
        kit.expect(lc.has_uncommitted_work(sid), False, f"has_uncommitted_work({sid!r}) after the drain")
    kit.expect(_calls(a, b), (1, 2), "commit_memory_session() calls (A, B) by the drain")


@pytest.mark.rule("LC-11")
def test_lc11_drain_flushes_the_others_when_one_commit_fails(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-11 (§1a): a commit failing inside the drain does not stop it; the failed work keeps owner and handle.

    Three dirty sessions; the commit of the middle one fails once (healthy
    sessions come before and after it in any order a drain may take: by
    insertion, by name, or reversed).  The drain flushes the healthy ones and
    returns; the failed session is either still dirty or was retried
    (LC/drain-retry, observed).  Either way its owner and handle are kept: a
    commit without an agent flushes what is left, and a new turn is the
    handle's.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    first, failing, last = make_gated_agent("first"), make_gated_agent("failing"), make_gated_agent("last")
    for sid, agent in (("a-healthy", first), ("b-failing", failing), ("c-healthy", last)):
        lc.register_agent(sid, agent)
        lc.mark_turn_completed(sid)
    failing.fail_next(1)
    kit.expect(lc.drain_all_on_shutdown(deadline=kit.timeout), None, "drain_all_on_shutdown with one commit failing")
    kit.expect(_calls(first, last), (1, 1), "commit_memory_session() calls of the healthy sessions by the drain")
    for sid in ("a-healthy", "c-healthy"):
        kit.expect(lc.has_uncommitted_work(sid), False, f"has_uncommitted_work({sid!r}) after the drain")
    if failing.calls == 1:
        kit.observe_choice(DRAIN_RETRY, "no-retry", "the drain called the failed session's agent once")
        kit.expect(
            lc.has_uncommitted_work("b-failing"), True, "has_uncommitted_work of the failed session after the drain"
        )
        kit.expect(lc.commit_session_memory("b-failing"), True, "a commit without an agent of the failed session")
    else:
        kit.observe_choice(DRAIN_RETRY, "retry", f"the drain called the failed session's agent {failing.calls} times")
    kit.expect(failing.calls, 2, "commit_memory_session() calls of the failed session (the failure and one success)")
    kit.expect(lc.has_uncommitted_work("b-failing"), False, "has_uncommitted_work of the failed session once flushed")
    lc.mark_turn_completed("b-failing")
    kit.expect(lc.commit_session_memory("b-failing"), True, "a commit of a new turn without an agent (handle kept)")
    kit.expect(failing.calls, 3, "commit_memory_session() calls of the failed session's handle")


@pytest.mark.rule("LC-11")
def test_lc11_drain_commit_failing_after_the_in_flight_one(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-11 (§1a): the drain waits for the in-flight commit; its own commit of the newer turn may fail.

    The drain starts while the first commit is held; that one succeeds, and
    the drain's commit of the turn completed meanwhile fails.  The drain
    returns with that turn dirty, or retries it (LC/drain-retry, observed);
    the turn keeps its owner: a commit without an agent flushes it.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "drain-newer-fails"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid, agent=agent)
    first = _hold_commit(lc, agent, sid)
    lc.mark_turn_completed(sid, agent=agent)
    drain = _start_parked(kit, lc, "drain_all_on_shutdown", deadline=kit.timeout)
    _still_waiting(kit, drain, "the first commit")
    _let_held_call_through_then_fail(agent, first)
    kit.expect(first.result(), True, "the first commit")
    kit.expect(drain.result(), None, "drain_all_on_shutdown")
    if agent.calls == 2:
        kit.observe_choice(DRAIN_RETRY, "no-retry", "the drain did not call the agent again after its commit failed")
        kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the drain (the newer turn failed)")
        kit.expect(lc.commit_session_memory(sid), True, "a commit without an agent of the newer turn")
    else:
        kit.observe_choice(
            DRAIN_RETRY, "retry", f"the drain called the agent {agent.calls - 1} times after the first commit"
        )
    kit.expect(agent.calls, 3, "commit_memory_session() calls (first, failed, success)")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work at the end")


# -- LC-12 ----------------------------------------------------------------------


def _drain_within_deadline(kit: Kit, lc: Any, hung: str) -> None:
    __tracebackhide__ = True
    limit = DRAIN_DEADLINE + kit.prompt
    start = time.monotonic()
    drain = lc.drain_all_on_shutdown.spawn(deadline=DRAIN_DEADLINE)
    if not drain.wait(limit):
        kit.fail(
            f"{drain.what} was still running {limit:g}s after it started ({hung}): "
            f"the deadline is {DRAIN_DEADLINE:g}s plus {kit.prompt:g}s of slack"
        )
    elapsed = time.monotonic() - start
    kit.note(f"drain returned after {elapsed:.3f}s ({hung})")
    kit.expect(drain.result(), None, "drain_all_on_shutdown")


@pytest.mark.rule("LC-12")
def test_lc12_drain_deadline_with_hung_provider(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-12 (§1a): a provider that never returns does not hold the drain past its deadline.

    The drain's own commit enters the provider and stays there; the drain
    must return within ``deadline`` plus the kit's prompt bound.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "hung-provider"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid)
    agent.block()
    _drain_within_deadline(kit, lc, "its commit never returns from the provider")


@pytest.mark.rule("LC-12")
def test_lc12_drain_deadline_with_hung_in_flight_commit(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-12 (§1a): waiting for a hung in-flight commit is bounded by the deadline too.

    A commit started before the drain never returns; another session is
    dirty and healthy.  The drain must still return in time.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    hung, healthy = make_gated_agent("hung"), make_gated_agent("healthy")
    lc.register_agent("hung-in-flight", hung)
    lc.mark_turn_completed("hung-in-flight")
    lc.register_agent("healthy", healthy)
    lc.mark_turn_completed("healthy")
    _hold_commit(lc, hung, "hung-in-flight")
    lc.mark_turn_completed("hung-in-flight")
    _drain_within_deadline(kit, lc, "a commit in flight never returns from the provider")


# -- LC-13 ----------------------------------------------------------------------


@pytest.mark.rule("LC-13")
def test_lc13_no_wait_returns_at_once_while_in_flight(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-13 (§1a): ``wait=False`` while a commit is in flight returns False at once.

    No provider is called — neither the owner nor an explicitly passed
    agent — and the newer turn is still there for the next commit.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    agent, other = make_gated_agent("owner"), make_gated_agent("explicit")
    sid = "no-wait"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid)
    held = _hold_commit(lc, agent, sid)
    lc.mark_turn_completed(sid)
    why = "while another commit of the session was held in the provider (wait=False)"
    kit.expect(_promptly(kit, lc.commit_session_memory, sid, why=why), False, "commit(wait=False) while in flight")
    kit.expect(
        _promptly(kit, lc.commit_session_memory, sid, other, wait=False, why=why),
        False,
        "commit(explicit agent, wait=False) while in flight",
    )
    kit.expect(_calls(agent, other), (1, 0), "commit_memory_session() calls (owner, explicit) while in flight")
    agent.release()
    kit.expect(held.result(), True, "the held commit")
    kit.expect(lc.commit_session_memory(sid), True, "the commit of the newer turn")
    kit.expect(_calls(agent, other), (2, 0), "commit_memory_session() calls (owner, explicit) at the end")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work at the end")


@pytest.mark.rule("LC-13")
def test_lc13_wait_waits_for_in_flight_commit(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-13 (§1a): ``wait=True`` waits for the in-flight commit, then commits what remains.

    The waiting commit may not return while the first is held: that is
    released only once the waiting commit has parked (or returned, which
    fails).  Then it flushes the turn completed meanwhile and returns True.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "wait"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid)
    held = _hold_commit(lc, agent, sid)
    lc.mark_turn_completed(sid)
    waiting = _start_parked(kit, lc, "commit_session_memory", sid, wait=True, timeout=kit.timeout)
    _still_waiting(kit, waiting, "the first commit")
    agent.release()
    kit.expect(held.result(), True, "the held commit")
    kit.expect(waiting.result(), True, "commit(wait=True) once the held commit returned")
    kit.expect(agent.calls, 2, "commit_memory_session() calls (held + waiting)")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work at the end")


@pytest.mark.rule("LC-13")
def test_lc13_wait_is_bounded_by_timeout(session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit) -> None:
    """LC-13 (§1a): ``wait=True`` is bounded by ``timeout``.

    The first commit never returns; ``commit(wait=True, timeout=0.2)`` gives
    up within the timeout plus the kit's prompt bound, returns False and
    calls no provider; the work is still there afterwards.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "wait-timeout"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid)
    held = _hold_commit(lc, agent, sid)
    lc.mark_turn_completed(sid)
    limit = WAIT_TIMEOUT + kit.prompt
    waiting = lc.commit_session_memory.spawn(sid, wait=True, timeout=WAIT_TIMEOUT)
    if not waiting.wait(limit):
        kit.fail(f"{waiting.what} was still waiting {limit:g}s later, with the first commit held in the provider")
    kit.expect(waiting.result(), False, f"commit(wait=True, timeout={WAIT_TIMEOUT}) that timed out")
    kit.expect(agent.calls, 1, "commit_memory_session() calls (only the held one)")
    agent.release()
    kit.expect(held.result(), True, "the held commit")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work (the newer turn)")
    kit.expect(lc.commit_session_memory(sid), True, "the commit of the newer turn")


# -- LC-14 ----------------------------------------------------------------------


@pytest.mark.rule("LC-14")
def test_lc14_same_session_calls_while_provider_blocked(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-14 (§1a): ``mark_turn_completed``/``has_uncommitted_work`` do not wait on provider I/O.

    While the session's commit is blocked inside the provider, both return
    promptly for that same session.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "blocked-session"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid)
    held = _hold_commit(lc, agent, sid)
    why = f"while a commit of {sid!r} was blocked in the provider"
    _promptly(kit, lc.mark_turn_completed, sid, why=why)
    kit.expect(_promptly(kit, lc.has_uncommitted_work, sid, why=why), True, "has_uncommitted_work during the commit")
    _promptly(kit, lc.mark_turn_completed, sid, agent=agent, why=why)
    agent.release()
    kit.expect(held.result(), True, "the blocked commit")


@pytest.mark.rule("LC-14")
def test_lc14_other_sessions_while_provider_blocked(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-14 (§1a): every call for other sessions returns promptly during provider I/O.

    One session's commit is blocked inside the provider; another session is
    registered, marked, committed (its provider call runs meanwhile),
    unregistered, discarded — and evicted, when eviction is claimed.
    """
    lc, kit = session_lifecycle, lifecycle_kit
    blocked, free = make_gated_agent("blocked"), make_gated_agent("free")
    lc.register_agent("blocked", blocked)
    lc.mark_turn_completed("blocked")
    held = _hold_commit(lc, blocked, "blocked")
    why = "while a commit of another session was blocked in the provider"
    sid = "other"
    kit.expect(_promptly(kit, lc.register_agent, sid, free, why=why), None, "register_agent")
    _promptly(kit, lc.mark_turn_completed, sid, why=why)
    kit.expect(_promptly(kit, lc.has_uncommitted_work, sid, why=why), True, "has_uncommitted_work")
    kit.expect(_promptly(kit, lc.commit_session_memory, sid, why=why), True, "commit of the other session")
    kit.expect(free.calls, 1, "commit_memory_session() calls for the other session")
    kit.expect(_promptly(kit, lc.has_uncommitted_work, sid, why=why), False, "has_uncommitted_work after its commit")
    kit.expect(_promptly(kit, lc.commit_session_memory, sid, why=why), False, "a commit with nothing new")
    kit.expect(_promptly(kit, lc.unregister_agent, sid, why=why), None, "unregister_agent")
    kit.expect(_promptly(kit, lc.discard_session, sid, why=why), True, "discard_session of the clean session")
    if _eviction(kit):
        lc.register_agent("evicted", free)
        lc.mark_turn_completed("evicted")
        kit.expect(_promptly(kit, lc.evict_session, "evicted", free, why=why), True, "evict_session")
    blocked.release()
    kit.expect(held.result(), True, "the blocked commit")


# -- LC-15 ----------------------------------------------------------------------


@pytest.mark.rule("LC-15")
def test_lc15_eviction_commits_before_closing(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-15 (§1a): eviction commits before dropping the handle, then closes once.

    Seed: ``test_evict_session_agent_commits_before_dropping``.  While the
    eviction's commit is inside the provider the agent is not closed yet;
    afterwards it is closed exactly once, nothing is dirty, and the handle is
    gone: a later turn marked without an agent is not committable.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "evict-commit"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid, agent=agent)
    agent.block()
    evict = lc.evict_session.spawn(sid, agent)
    agent.wait_entered(unless=evict)
    kit.expect(agent.close_calls, 0, "close() calls while the eviction's commit is in the provider")
    agent.release()
    kit.expect(evict.result(), True, "evict_session")
    kit.expect(agent.calls, 1, "commit_memory_session() calls by the eviction")
    kit.expect(agent.close_calls, 1, "close() calls after the eviction")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the eviction")
    lc.mark_turn_completed(sid)
    kit.expect(lc.commit_session_memory(sid), False, "a commit of a later turn without an agent (handle gone)")
    kit.expect(agent.calls, 1, "commit_memory_session() calls after the eviction")


@pytest.mark.rule("LC-15")
def test_lc15_eviction_waits_for_in_flight_commit(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-15 (§1a): eviction waits for an in-flight commit and flushes the newer turn.

    Seed: ``test_evict_session_agent_waits_for_inflight_commit_before_closing_db``.
    The eviction starts while a commit is held and may not return (or close)
    before it: the commit is released only once the eviction has parked (or
    returned, which fails).  Then the newer turn is flushed and only then is
    the agent closed, exactly once.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "evict-waits-for-inflight"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid, agent=agent)
    first = _hold_commit(lc, agent, sid)
    lc.mark_turn_completed(sid, agent=agent)
    evict = _start_parked(kit, lc, "evict_session", sid, agent)
    _still_waiting(kit, evict, "the first commit")
    kit.expect(agent.close_calls, 0, "close() calls while the first commit is held")
    agent.release()
    kit.expect(first.result(), True, "the first commit")
    kit.expect(evict.result(), True, "evict_session")
    kit.expect(agent.calls, 2, "commit_memory_session() calls (first + newer turn)")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the eviction")
    kit.expect(agent.close_calls, 1, "close() calls after the eviction")


@pytest.mark.rule("LC-15")
def test_lc15_failed_eviction_keeps_the_agent_and_the_work(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-15 (§1a): an eviction whose commit fails returns False, closes nothing and keeps owner and handle.

    The eviction's commit fails: ``evict_session`` returns ``False``, the
    agent is not closed, the work is still dirty.  A commit without an agent
    retries it with the same agent, a new turn is still the handle's, and a
    second eviction then commits and closes, once.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "evict-fails"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid)
    agent.fail_next(1)
    kit.expect(lc.evict_session(sid, agent), False, "evict_session whose commit failed")
    kit.expect((agent.calls, agent.close_calls), (1, 0), "(commit, close) calls after the failed eviction")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the failed eviction")
    kit.expect(lc.commit_session_memory(sid), True, "a commit without an agent after the failed eviction (owner kept)")
    lc.mark_turn_completed(sid)
    kit.expect(lc.commit_session_memory(sid), True, "a commit of a new turn without an agent (handle kept)")
    kit.expect((agent.calls, agent.close_calls), (3, 0), "(commit, close) calls after the retries")
    kit.expect(lc.evict_session(sid, agent), True, "the second eviction")
    kit.expect(agent.close_calls, 1, "close() calls after the second eviction")


@pytest.mark.rule("LC-15")
def test_lc15_eviction_commit_failing_after_the_in_flight_one(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-15 (§1a): the eviction waits for the in-flight commit; if its own commit then fails, nothing closes.

    The eviction starts while the first commit is held; that one succeeds,
    and the eviction's commit of the newer turn fails: ``False``, the agent
    open, the newer turn dirty.  A second eviction commits it and closes.
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "evict-newer-fails"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid, agent=agent)
    first = _hold_commit(lc, agent, sid)
    lc.mark_turn_completed(sid, agent=agent)
    evict = _start_parked(kit, lc, "evict_session", sid, agent)
    _still_waiting(kit, evict, "the first commit")
    _let_held_call_through_then_fail(agent, first)
    kit.expect(first.result(), True, "the first commit")
    kit.expect(evict.result(), False, "evict_session whose commit of the newer turn failed")
    kit.expect((agent.calls, agent.close_calls), (2, 0), "(commit, close) calls after the failed eviction")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the failed eviction")
    kit.expect(lc.evict_session(sid, agent), True, "the second eviction")
    kit.expect((agent.calls, agent.close_calls), (3, 1), "(commit, close) calls after the second eviction")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work at the end")


@pytest.mark.rule("LC-15")
def test_lc15_generations_after_an_eviction(
    session_lifecycle: Any, make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-15 (§1a): after an eviction the handle is gone, whether the session was kept or forgotten.

    A discard first shows whether forgotten generations restart
    (LC/forgotten-generations).  After an eviction that ends clean, the next
    turn is dirty and not committable without an agent; its generation tells
    whether the eviction kept or forgot the session (LC/evict-forgets,
    observed where generations restart).
    """
    lc, kit = session_lifecycle, lifecycle_kit
    agent, other = make_gated_agent("evicted"), make_gated_agent("other")
    lc.register_agent("probe", other)
    probe = lc.mark_turn_completed("probe")
    kit.expect(lc.commit_session_memory("probe"), True, "the commit of the probe session")
    kit.expect(lc.discard_session("probe"), True, "discard_session of the clean probe session")
    _observe_forgotten_generations(kit, probe, lc.mark_turn_completed("probe"), "discard_session")
    sid = "evict-generations"
    lc.register_agent(sid, agent)
    lc.mark_turn_completed(sid)
    before = lc.mark_turn_completed(sid)
    kit.expect(lc.evict_session(sid, agent), True, "evict_session")
    after = lc.mark_turn_completed(sid)
    if after <= before:
        kit.observe_choice(EVICT_FORGETS, "forgets", f"generation {after} after {before} and an eviction")
        _observe_forgotten_generations(kit, before, after, "an eviction")
    elif kit.choice(FORGOTTEN) == "restart":
        kit.observe_choice(EVICT_FORGETS, "keeps", f"generation {after} after {before} and an eviction")
    else:
        kit.note("generations continue after a discard too: whether the eviction forgot the session does not show")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after a turn since the eviction")
    kit.expect(lc.commit_session_memory(sid), False, "a commit without an agent after the eviction (handle gone)")
    kit.expect(lc.commit_session_memory(sid, other), True, "a commit with an explicit agent after the eviction")
    kit.expect((agent.calls, agent.close_calls, other.calls), (1, 1, 2), "calls (evicted commit, close, other commit)")


# -- LC-16 ----------------------------------------------------------------------


@pytest.mark.rule("LC-16")
def test_lc16_discard_refuses_dirty_and_in_flight(
    session_lifecycle: Any, gated_agent: GatedAgent, lifecycle_kit: Kit
) -> None:
    """LC-16 (§1a): ``discard_session`` refuses dirty and in-flight sessions.

    A refused discard keeps the work and its owner (the commit afterwards
    succeeds with the same agent); a clean, idle session is discarded, and
    its next generation restarts or continues (LC/forgotten-generations,
    observed).
    """
    lc, kit, agent = session_lifecycle, lifecycle_kit, gated_agent
    sid = "discard"
    lc.register_agent(sid, agent)
    generation = lc.mark_turn_completed(sid)
    kit.expect(lc.discard_session(sid), False, "discard_session of a dirty session")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after the refused discard")
    held = _hold_commit(lc, agent, sid)
    kit.expect(lc.discard_session(sid), False, "discard_session while a commit is in flight")
    agent.release()
    kit.expect(held.result(), True, "the held commit (work and owner kept)")
    kit.expect(lc.discard_session(sid), True, "discard_session of the clean, idle session")
    kit.expect(lc.has_uncommitted_work(sid), False, "has_uncommitted_work after the discard")
    _observe_forgotten_generations(kit, generation, lc.mark_turn_completed(sid), "discard_session")
    kit.expect(lc.has_uncommitted_work(sid), True, "has_uncommitted_work after a turn since the discard")
    lc.mark_turn_completed("unowned-discard")
    kit.expect(lc.discard_session("unowned-discard"), False, "discard_session of dirty un-owned work")
    kit.expect(lc.has_uncommitted_work("unowned-discard"), True, "has_uncommitted_work after the refused discard")


class _StubAgent:
    """The lightest agent possible: the churn must measure the coordinator, not the double."""

    __slots__ = ()

    def commit_memory_session(self) -> None:
        return None

    def close(self) -> None:
        return None


def _churn(raw: Any, prefix: str, sessions: int) -> str | None:
    """Run *sessions* through register/mark/commit/discard on the raw provider; a problem or None."""
    agent = _StubAgent()
    for i in range(sessions):
        sid = f"{prefix}-{i}"
        raw.register_agent(sid, agent)
        raw.mark_turn_completed(sid)
        committed = raw.commit_session_memory(sid)
        if committed is not True:
            return f"commit_session_memory({sid!r}) returned {committed!r} during the churn, expected True"
        discarded = raw.discard_session(sid)
        if discarded is not True:
            return f"discard_session({sid!r}) of a clean session returned {discarded!r} during the churn, expected True"
    return None


@pytest.mark.rule("LC-16")
def test_lc16_churn_returns_to_baseline(session_lifecycle: Any, lifecycle_kit: Kit) -> None:
    """LC-16 (§1a): churning short sessions leaves memory near its baseline.

    ``profile.churn`` sessions (10 000 in the ``ci`` profile) each go through
    register/mark/commit/discard, after a warm-up round; the memory the
    coordinator keeps may grow by at most the kit's churn allowance
    (:func:`~pytest_lifecycle.support.provider_growth`; what the harness keeps, log records
    included, is not counted).  The churn calls the raw provider in one kit
    call (one thread hop, one deadline for the block).
    """
    kit = lifecycle_kit
    raw = unwrap(session_lifecycle)
    sessions = kit.profile.churn

    def measure() -> tuple[str | None, Growth | None]:
        problem = _churn(raw, "warmup", CHURN_WARMUP)
        if problem:
            return problem, None
        return provider_growth(lambda: _churn(raw, "churn", sessions), keys=sessions)

    # One step first, under the plain timeout: a provider that hangs costs
    # one timeout, not the whole churn's bound.
    problem = kit.call(lambda: _churn(raw, "probe", 1), what="one churn step (register, mark, commit, discard)")
    if problem:
        kit.fail(problem)
    problem, growth = kit.call(measure, what=f"churning {sessions} sessions", timeout=max(kit.timeout, sessions / 500))
    if problem:
        kit.fail(problem)
    if growth is not None:
        check_growth(kit, growth, f"churning {sessions} sessions through register/mark/commit/discard")
