"""Conformance suite of the resource respawn lifecycle (§1b).

One or more tests per rule, ``RS-01`` … ``RS-07``, each marked with
``@pytest.mark.rule`` and named after it.  The scenarios come from the
incident the contract records (two credential-writing paths raced on
``removeSource``/``startBundleSource`` and left a bundle dead until a manual
restart; the fix serialized respawns per ``(server, workspace)`` key).

Every test drives a fresh, guarded manager (the ``respawn`` fixture) whose
factory received the kit's source doubles (``respawn_sources``).  Races are
driven through the doubles' gates, never through sleeps:

- a respawn is *held* inside ``remove_source`` or ``start_source`` by a
  closed gate, and the test waits until it is in there;
- further respawns of the same key are *queued* behind it one at a time:
  each is called only once the previous one has parked inside the provider
  (blocked in a lock, condition or queue -- see
  :class:`~pytest_lifecycle.support.WatchedTask`), so "call order" (RS-05) is well defined;
- the order they are served in is read without asking which thread the
  provider calls the sources from: the gate lets one respawn through at a
  time (``Gate.admit``) and the kit waits for a respawn to *return* before
  admitting the next;
- overlap is measured by the doubles (calls in flight per key, and the most
  there ever were), not assumed;
- only RS-06 ("never wait for each other") and the RS-07 wedge bound a call
  in time, with the kit's ``prompt`` as the bound.

The leak rule (RS-07) churns ``profile.churn`` keys through the raw manager
with trivial sources, and checks both ``lock_table_size()`` and the memory
the manager keeps (:func:`~pytest_lifecycle.support.provider_growth`: what the harness keeps,
such as the records of a manager that logs every failure, is not counted).

Use in a project's own tests::

    from conformance.respawn import *
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable
from typing import Any, Final

import pytest

from pytest_lifecycle import GatedSources, InjectedFailure, Kit, RuleViolation, run_machine, unwrap
from pytest_lifecycle.support import (
    Growth,
    WatchedTask,
    check_growth,
    check_still_waiting,
    provider_growth,
    spawn_watched,
)

from ._respawn_machine import RespawnMachine

__all__ = [
    "test_rs01_installed_elsewhere_is_refused",
    "test_rs01_not_installed_is_refused",
    "test_rs02_protected_resource_refuses_respawn",
    "test_rs02_protection_is_per_key",
    "test_rs03_start_failure_leaves_dead",
    "test_rs03_start_failure_of_a_held_respawn",
    "test_rs04_dead_resource_restarts_through_starting",
    "test_rs04_starting_visible_inside_start_source",
    "test_rs04_starting_while_held_in_start_source",
    "test_rs05_free_running_respawns_never_overlap",
    "test_rs05_no_overlap_while_one_is_held",
    "test_rs05_runs_in_call_order",
    "test_rs06_other_key_completes_while_one_is_held",
    "test_rs07_churn_returns_lock_table_and_memory_to_baseline",
    "test_rs07_entry_kept_while_queued_and_dropped_after_the_last",
    "test_rs07_every_outcome_leaves_no_entry",
    "test_rs07_failed_respawn_does_not_wedge_the_queue",
    "test_rs07_random_sequences_leave_no_entry",
]

Key = tuple[str, str]

#: The resource most tests respawn: ``(name, workspace)``.
KEY: Final[Key] = ("bundle-db", "ws-alpha")
#: Respawns queued behind a held one in the RS-05 tests.
QUEUED: Final = 4
#: RS-05: respawns started at once, without gates.
FREE_RUNNING: Final = 8
#: RS-07: keys churned before the baselines are taken (caches, dict sizes).
CHURN_WARMUP: Final = 500
#: RS-07: every n-th start of the churn fails, so failures are churned too.
CHURN_FAIL_EVERY: Final = 7

#: RS-06: a key held inside ``start_source``, a key held inside
#: ``remove_source`` and the key that must not wait for either; all three
#: share the name (differ in the workspace) or share the workspace (differ
#: in the name), so a lock keyed by one part only shows.
KEY_TRIOS: Final = [
    pytest.param(("bundle-db", "ws-alpha"), ("bundle-db", "ws-gamma"), ("bundle-db", "ws-beta"), id="other-workspace"),
    pytest.param(("bundle-db", "ws-alpha"), ("bundle-cache", "ws-alpha"), ("bundle-mail", "ws-alpha"), id="other-name"),
]
SOURCES: Final = [pytest.param("remove", id="held-in-remove"), pytest.param("start", id="held-in-start")]


# -- helpers ------------------------------------------------------------------


def _text(key: Key) -> str:
    return f"{key[0]!r}, {key[1]!r}"


def _respawn(kit: Kit, mgr: Any, key: Key) -> Any:
    """The guarded ``mgr.respawn(*key)``; raising fails the rule (respawn never raises)."""
    __tracebackhide__ = True
    try:
        return mgr.respawn(*key)
    except RuleViolation:
        raise
    except Exception as exc:
        kit.fail(f"respawn({_text(key)}) raised {type(exc).__name__}: {exc} (a respawn reports failure as ok=False)")


def _outcome(kit: Kit, task: WatchedTask[Any]) -> Any:
    """The result of a spawned respawn; raising fails the rule."""
    __tracebackhide__ = True
    try:
        return task.result()
    except RuleViolation:
        raise
    except Exception as exc:
        kit.fail(f"{task.what} raised {type(exc).__name__}: {exc} (a respawn reports failure as ok=False)")


class _Returns:
    """The order in which spawned respawns returned, written by their own workers.

    Recorded the moment the provider's ``respawn`` returns -- before the kit
    marks the task done -- so it is exact whatever threads the provider uses.
    """

    def __init__(self) -> None:
        self.order: list[int] = []
        self._cond = threading.Condition()

    def wrap(self, n: int, call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            try:
                return call(*args)
            finally:
                with self._cond:
                    self.order.append(n)
                    self._cond.notify_all()

        return run

    def wait(self, count: int, timeout: float) -> bool:
        """Wait until *count* respawns have returned."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.order) >= count, timeout)


def _spawn(kit: Kit, mgr: Any, key: Key, n: int, returns: _Returns | None = None) -> WatchedTask[Any]:
    call = mgr.respawn if returns is None else returns.wrap(n, mgr.respawn)
    return spawn_watched(kit.runner, call, *key, what=f"{mgr!r}.respawn({_text(key)}) #{n}")


def _hold(
    kit: Kit, mgr: Any, sources: GatedSources, key: Key, op: str, n: int = 1, returns: _Returns | None = None
) -> WatchedTask[Any]:
    """Start respawn #n of *key* and return once it is held inside ``<op>_source``."""
    __tracebackhide__ = True
    gate = sources.hold(op, key)
    entered = gate.entered + 1
    task = _spawn(kit, mgr, key, n, returns)
    gate.wait_entered(entered, unless=task.task)
    return task


def _queue(kit: Kit, mgr: Any, key: Key, n: int, returns: _Returns | None = None) -> WatchedTask[Any]:
    """Call respawn #n of *key* and return once it has parked (or finished).

    Parked means blocked in a lock, condition, queue or sleep: whatever the
    provider does before waiting -- taking its place in line -- is done, so
    the next respawn is called strictly after this one.
    """
    __tracebackhide__ = True
    task = _spawn(kit, mgr, key, n, returns)
    if not task.wait_parked(kit.timeout):
        kit.fail(
            f"{task.what} kept running for {kit.timeout:g}s without waiting in a lock, condition or queue "
            "while an earlier respawn of the key was held (the kit can only order respawns that park; "
            "does the provider spin?)"
        )
    return task


def _still_waiting(kit: Kit, task: WatchedTask[Any], held: str) -> None:
    """*task* must not have returned while *held* is still inside a source."""
    __tracebackhide__ = True
    check_still_waiting(kit, task, held, where="held inside a source", why="it must wait its turn")


def _succeeded(kit: Kit, result: Any, what: str) -> None:
    __tracebackhide__ = True
    kit.check(result.ok is True, f"{what}: expected ok=True, got ok={result.ok!r} error={result.error!r}")


def _refused(kit: Kit, result: Any, what: str) -> None:
    __tracebackhide__ = True
    kit.check(result.ok is False, f"{what}: expected ok=False, got ok={result.ok!r} error={result.error!r}")


def _names(kit: Kit, error: Any, key: Key, what: str) -> None:
    """The error must name the resource and the workspace (RS-01)."""
    __tracebackhide__ = True
    name, workspace = key
    kit.check(
        isinstance(error, str) and name in error and workspace in error,
        f"{what}: the error must name the resource {name!r} and the workspace {workspace!r}, got {error!r}",
    )


def _no_source_calls(kit: Kit, sources: GatedSources, key: Key, what: str) -> None:
    __tracebackhide__ = True
    calls = sources.calls(key)
    kit.check(not calls, f"{what}: expected no source call for ({_text(key)}), got {sources.log(key)}")


# -- RS-01 ----------------------------------------------------------------------


@pytest.mark.rule("RS-01")
def test_rs01_not_installed_is_refused(respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit) -> None:
    """RS-01 (§1b): respawning something not installed is refused.

    Seed: "missing instance returns an error" -- "Bundle X is not installed in
    workspace Y".  The result is ``ok=False`` with an error naming the
    resource and the workspace; no source is called and the state stays
    ``None`` (nothing was installed by the attempt).
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    ghost = ("ghost-bundle", "ws-nowhere")
    result = _respawn(kit, mgr, ghost)
    _refused(kit, result, f"respawn({_text(ghost)}) of a resource never installed")
    _names(kit, result.error, ghost, f"respawn({_text(ghost)})")
    kit.check(
        sources.count() == 0,
        f"respawn({_text(ghost)}) of a resource never installed called sources: {sources.log()}",
    )
    kit.expect(mgr.state(*ghost), None, f"state({_text(ghost)}) after the refused respawn")


@pytest.mark.rule("RS-01")
def test_rs01_installed_elsewhere_is_refused(respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit) -> None:
    """RS-01 (§1b): installed in *another* workspace is not installed.

    ``bundle-db`` is installed in ``ws-alpha`` and ``bundle-mail`` in
    ``ws-beta``; respawning ``bundle-db`` in ``ws-beta`` is refused with an
    error naming ``bundle-db`` and ``ws-beta``, calls no source (not even for
    the installed resources), and changes no state.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    mgr.install(*KEY)
    mgr.install("bundle-mail", "ws-beta")
    before = (mgr.state(*KEY), mgr.state("bundle-mail", "ws-beta"))
    missing = ("bundle-db", "ws-beta")
    result = _respawn(kit, mgr, missing)
    _refused(kit, result, f"respawn({_text(missing)}) while it is installed only in ws-alpha")
    _names(kit, result.error, missing, f"respawn({_text(missing)})")
    kit.check(
        sources.count() == 0,
        f"respawn({_text(missing)}) of a resource not installed there called sources: {sources.log()}",
    )
    kit.expect(mgr.state(*missing), None, f"state({_text(missing)}) after the refused respawn")
    after = (mgr.state(*KEY), mgr.state("bundle-mail", "ws-beta"))
    kit.expect(after, before, "states of the installed resources after the refused respawn")


# -- RS-02 ----------------------------------------------------------------------


@pytest.mark.rule("RS-02")
def test_rs02_protected_resource_refuses_respawn(
    respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit
) -> None:
    """RS-02 (§1b): a protected resource refuses respawn; its source stays.

    Seed: "protected-bundle refusal with source preserved".  The result is
    ``ok=False``; neither ``remove_source`` nor ``start_source`` is called,
    and the state is what it was before the attempt.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    mgr.install(*KEY, protected=True)
    before = mgr.state(*KEY)
    result = _respawn(kit, mgr, KEY)
    _refused(kit, result, f"respawn({_text(KEY)}) of a protected resource")
    _no_source_calls(kit, sources, KEY, f"respawn({_text(KEY)}) of a protected resource")
    kit.expect(mgr.state(*KEY), before, f"state({_text(KEY)}) after the refused respawn")


@pytest.mark.rule("RS-02")
def test_rs02_protection_is_per_key(respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit) -> None:
    """RS-02 (§1b): protection belongs to one ``(name, workspace)``.

    ``bundle-db`` is protected in ``ws-alpha`` and not in ``ws-beta``: the
    ``ws-beta`` respawn goes through both sources; the ``ws-alpha`` one,
    asked before and after it, is refused twice and its source is never
    removed.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    free = ("bundle-db", "ws-beta")
    mgr.install(*KEY, protected=True)
    mgr.install(*free)
    _refused(kit, _respawn(kit, mgr, KEY), f"first respawn({_text(KEY)}) of the protected resource")
    _succeeded(kit, _respawn(kit, mgr, free), f"respawn({_text(free)}) of the unprotected one")
    kit.expect(sources.count(key=free), 2, f"source calls for ({_text(free)})")
    _refused(kit, _respawn(kit, mgr, KEY), f"second respawn({_text(KEY)}) of the protected resource")
    _no_source_calls(kit, sources, KEY, f"respawns of the protected ({_text(KEY)})")


# -- RS-03 ----------------------------------------------------------------------


@pytest.mark.rule("RS-03")
@pytest.mark.parametrize("error", [InjectedFailure, OSError, ValueError], ids=lambda e: e.__name__)
def test_rs03_start_failure_leaves_dead(
    respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit, error: type[Exception]
) -> None:
    """RS-03 (§1b): a start failure -> ``"dead"``, ``ok=False`` with the error.

    Seed: "startBundleSource failure marks instance dead and returns the
    error".  ``start_source`` raises; ``respawn`` returns (never raises)
    ``ok=False`` with an error that carries the exception's message, and the
    state is ``"dead"`` -- not ``"running"``, not ``"starting"``.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    mgr.install(*KEY)
    message = f"rs03 start refused: {error.__name__} from the start source"
    sources.fail_next(KEY, exc=error(message))
    result = _respawn(kit, mgr, KEY)
    _refused(kit, result, f"respawn({_text(KEY)}) whose start_source raised {error.__name__}")
    kit.check(
        isinstance(result.error, str) and message in result.error,
        f"respawn({_text(KEY)}) whose start_source raised {error.__name__}({message!r}): "
        f"the error must carry that message, got {result.error!r}",
    )
    kit.expect(mgr.state(*KEY), "dead", f"state({_text(KEY)}) after the failed start")


@pytest.mark.rule("RS-03")
def test_rs03_start_failure_of_a_held_respawn(respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit) -> None:
    """RS-03 (§1b): a start that fails after being held still ends ``"dead"``.

    The respawn is held inside ``start_source`` (its state is whatever the
    provider says meanwhile), then the start fails: the respawn returns
    ``ok=False`` with the error and the state is ``"dead"``.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    mgr.install(*KEY)
    held = _hold(kit, mgr, sources, KEY, "start")
    message = "rs03 start failed while the kit held it"
    sources.fail_next(KEY, exc=InjectedFailure(message))
    sources.release()
    result = _outcome(kit, held)
    _refused(kit, result, f"{held.what} whose start_source raised")
    kit.check(
        isinstance(result.error, str) and message in result.error,
        f"{held.what}: the error must carry the start failure {message!r}, got {result.error!r}",
    )
    kit.expect(mgr.state(*KEY), "dead", f"state({_text(KEY)}) after the failed start")


# -- RS-04 ----------------------------------------------------------------------


def _observe_state_inside_start(kit: Kit, mgr: Any, sources: GatedSources, key: Key) -> list[str]:
    """Make ``start_source`` record ``state(*key)`` as seen from inside it.

    ``state()`` runs on its own kit thread, bounded by ``kit.prompt``, so a
    provider that keeps its lock across the start is reported instead of
    deadlocking.
    """
    seen: list[str] = []

    def look(_: Hashable) -> None:
        task = mgr.state.spawn(*key)
        if not task.wait(kit.prompt):
            seen.append(f"<state() did not return within {kit.prompt:g}s>")
            return
        error = task.exception(0)
        seen.append(f"<state() raised {type(error).__name__}>" if error else task.result(0))

    sources.on_start = look
    return seen


@pytest.mark.rule("RS-04")
def test_rs04_starting_visible_inside_start_source(
    respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit
) -> None:
    """RS-04 (§1b): success moves through ``"starting"`` to ``"running"``.

    Seed: ``transition(instance, 'starting' | 'running' | 'dead')`` on every
    branch.  ``state()`` read from inside ``start_source`` is ``"starting"``;
    after the respawn returns ``ok=True`` it is ``"running"``.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    mgr.install(*KEY)
    seen = _observe_state_inside_start(kit, mgr, sources, KEY)
    _succeeded(kit, _respawn(kit, mgr, KEY), f"respawn({_text(KEY)})")
    kit.expect(seen, ["starting"], f"state({_text(KEY)}) seen from inside start_source")
    kit.expect(mgr.state(*KEY), "running", f"state({_text(KEY)}) after the successful respawn")


@pytest.mark.rule("RS-04")
def test_rs04_starting_while_held_in_start_source(
    respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit
) -> None:
    """RS-04 (§1b): ``"starting"`` for as long as the start is in progress.

    The respawn is held inside ``start_source``; ``state()`` from another
    thread returns ``"starting"`` (within ``kit.prompt``) until the start is
    released, then the respawn returns ``ok=True`` and the state is
    ``"running"``.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    mgr.install(*KEY)
    held = _hold(kit, mgr, sources, KEY, "start")
    probe = mgr.state.spawn(*KEY)
    kit.check(
        probe.wait(kit.prompt),
        f"state({_text(KEY)}) did not return within {kit.prompt:g}s while {held.what} was inside start_source",
    )
    kit.expect(probe.result(), "starting", f"state({_text(KEY)}) while {held.what} is inside start_source")
    sources.release()
    _succeeded(kit, _outcome(kit, held), held.what)
    kit.expect(mgr.state(*KEY), "running", f"state({_text(KEY)}) after the successful respawn")


@pytest.mark.rule("RS-04")
def test_rs04_dead_resource_restarts_through_starting(
    respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit
) -> None:
    """RS-04 (§1b): a dead resource comes back through ``"starting"``.

    Seed: "the bundle ends up running ... (no need for a manual restart)".
    A failed start leaves the resource ``"dead"``; the next respawn shows
    ``"starting"`` inside ``start_source`` and ends ``"running"``.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    mgr.install(*KEY)
    sources.fail_next(KEY)
    _refused(kit, _respawn(kit, mgr, KEY), f"respawn({_text(KEY)}) with a failing start")
    seen = _observe_state_inside_start(kit, mgr, sources, KEY)
    _succeeded(kit, _respawn(kit, mgr, KEY), f"respawn({_text(KEY)}) after the failure")
    kit.expect(seen, ["starting"], f"state({_text(KEY)}) seen from inside the second start_source")
    kit.expect(mgr.state(*KEY), "running", f"state({_text(KEY)}) after the second respawn")


# -- RS-05 ----------------------------------------------------------------------


@pytest.mark.rule("RS-05")
@pytest.mark.parametrize("op", SOURCES)
def test_rs05_no_overlap_while_one_is_held(
    respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit, op: str
) -> None:
    """RS-05 (§1b): respawns of one key never overlap in the sources.

    Seed: "two concurrent respawns for the same key serialize: a spy on
    removeSource confirms maxInFlight === 1".  Respawn #1 is held inside
    ``<op>_source``; #2..#4 are called and park.  None of them may be inside
    a source meanwhile (measured: calls in flight for the key).  Once
    released, all four succeed, each source call of the key having run alone.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    mgr.install(*KEY)
    first = _hold(kit, mgr, sources, KEY, op)
    queued = [_queue(kit, mgr, KEY, n) for n in range(2, QUEUED + 1)]
    held = f"{first.what} (inside {op}_source)"
    kit.check(
        sources.inflight(KEY) == 1,
        f"{sources.inflight(KEY)} source calls of ({_text(KEY)}) in flight at once while {held} was held "
        f"and #2..#{QUEUED} were called: {sources.log(KEY)}",
    )
    for task in queued:
        _still_waiting(kit, task, held)
    sources.release()
    for task in [first, *queued]:
        _succeeded(kit, _outcome(kit, task), task.what)
    kit.expect(sources.max_inflight(KEY), 1, f"most source calls of ({_text(KEY)}) in flight at once")
    kit.expect(sources.count(key=KEY), 2 * QUEUED, f"source calls of ({_text(KEY)}) after {QUEUED} respawns")


@pytest.mark.rule("RS-05")
def test_rs05_runs_in_call_order(respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit) -> None:
    """RS-05 (§1b): concurrent respawns of one key run in call order.

    Seed: the surviving source "depended on whichever spawn finished last".
    Respawn #1 is held inside ``remove_source``; #2..#5 are called one at a
    time, each only after the previous one has parked in the provider.  Then
    ``remove_source`` lets one respawn through at a time, and the kit waits
    for a respawn to return before letting the next one in: they return in
    the order they were called, and the sources see ``remove start`` pairs,
    never interleaved.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    mgr.install(*KEY)
    count = QUEUED + 1
    returns = _Returns()
    first = _hold(kit, mgr, sources, KEY, "remove", 1, returns)
    queued = [_queue(kit, mgr, KEY, n, returns) for n in range(2, count + 1)]
    for task in queued:
        _still_waiting(kit, task, first.what)
    kit.check(
        sources.inflight(KEY) == 1,
        f"{sources.inflight(KEY)} source calls of ({_text(KEY)}) in flight at once while {first.what} was held "
        f"inside remove_source and #2..#{count} were called: {sources.log(KEY)}",
    )
    gate = sources.gate("remove", KEY)
    for step in range(1, count + 1):
        gate.admit(1)
        kit.check(
            returns.wait(step, kit.timeout),
            f"no respawn of ({_text(KEY)}) returned within {kit.timeout:g}s after remove_source let "
            f"respawn {step} of {count} through (returned so far: {returns.order})",
        )
    sources.release()
    tasks = [first, *queued]
    for task in tasks:
        _succeeded(kit, _outcome(kit, task), task.what)
    expected = list(range(1, count + 1))
    kit.check(
        returns.order == expected,
        f"respawns #1..#{count} of ({_text(KEY)}), called in that order, returned in the order "
        f"{' '.join(f'#{n}' for n in returns.order)}",
    )
    ops = [c.op for c in sources.calls(KEY)]
    kit.check(
        ops == ["remove", "start"] * count,
        f"source calls of ({_text(KEY)}) for {count} serialized respawns: expected remove/start pairs, "
        f"got {' '.join(ops)}",
    )
    kit.expect(sources.max_inflight(KEY), 1, f"most source calls of ({_text(KEY)}) in flight at once")


@pytest.mark.rule("RS-05")
def test_rs05_free_running_respawns_never_overlap(
    respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit
) -> None:
    """RS-05 (§1b): no overlap under free-running contention either.

    Eight respawns of one key are started at once with every gate open; all
    succeed, every one calls both sources, and at most one source call of
    the key was ever in flight (measured by the doubles).
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    mgr.install(*KEY)
    tasks = [_spawn(kit, mgr, KEY, n) for n in range(1, FREE_RUNNING + 1)]
    for task in tasks:
        _succeeded(kit, _outcome(kit, task), task.what)
    kit.expect(sources.max_inflight(KEY), 1, f"most source calls of ({_text(KEY)}) in flight at once")
    kit.expect(sources.count(key=KEY), 2 * FREE_RUNNING, f"source calls after {FREE_RUNNING} respawns")


# -- RS-06 ----------------------------------------------------------------------


@pytest.mark.rule("RS-06")
@pytest.mark.parametrize(("starting", "removing", "other"), KEY_TRIOS)
def test_rs06_other_key_completes_while_one_is_held(
    respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit, starting: Key, removing: Key, other: Key
) -> None:
    """RS-06 (§1b): respawns of different keys never wait for each other.

    Seed: "serializes concurrent respawns for the same key without blocking
    unrelated keys".  A respawn of one key is held inside ``start_source``
    with a second one queued behind it; a respawn of another key must reach
    ``remove_source`` within ``kit.prompt`` and is held there; a respawn of
    a third key must then return ``ok=True`` within ``kit.prompt``, having
    called both its sources while the other two were still inside theirs.
    The keys differ only in their workspace (or only in their name).
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    for key in (starting, removing, other):
        mgr.install(*key)
    held = _hold(kit, mgr, sources, starting, "start")
    behind = _queue(kit, mgr, starting, 2)
    gate = sources.hold("remove", removing)
    second = _spawn(kit, mgr, removing, 1)
    try:
        gate.wait_entered(1, unless=second.task, timeout=kit.prompt)
        blocked = False
    except RuleViolation:
        if second.done:
            raise
        blocked = True  # reported below, outside the except (one message, not a chain)
    kit.check(
        not blocked,
        f"{second.what} did not reach remove_source within {kit.prompt:g}s while {held.what} was held "
        f"inside start_source and {behind.what} was queued behind it (different keys waited for each other)",
    )
    independent = mgr.respawn.spawn(*other)
    kit.check(
        independent.wait(kit.prompt),
        f"{independent.what} did not return within {kit.prompt:g}s while {held.what} was held inside "
        f"start_source and {second.what} inside remove_source (different keys waited for each other)",
    )
    try:
        result = independent.result()
    except RuleViolation:
        raise
    except Exception as exc:
        kit.fail(f"{independent.what} raised {type(exc).__name__}: {exc}")
    _succeeded(kit, result, independent.what)
    kit.expect(sources.count(key=other), 2, f"source calls of ({_text(other)})")
    kit.check(
        sources.inflight(starting) == 1 and sources.inflight(removing) == 1 and sources.max_inflight() >= 3,
        f"({_text(other)}) must have run its sources while ({_text(starting)}) was inside start_source and "
        f"({_text(removing)}) inside remove_source: {sources.log()}",
    )
    sources.release()
    for task in (held, behind, second):
        _succeeded(kit, _outcome(kit, task), task.what)


# -- RS-07 ----------------------------------------------------------------------


@pytest.mark.rule("RS-07")
def test_rs07_failed_respawn_does_not_wedge_the_queue(
    respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit
) -> None:
    """RS-07 (§1b): a failed respawn does not wedge the queue behind it.

    Seed: "Under load this manifested as the bundle going dead until the
    next manual restart."  Respawn #1 is held inside ``start_source`` and #2
    is queued behind it, then #1's start fails.  #1 returns ``ok=False``; #2
    finishes within ``kit.prompt`` with ``ok=True``, the resource ends
    ``"running"`` and the lock table is back to its baseline.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    baseline = mgr.lock_table_size()
    mgr.install(*KEY)
    first = _hold(kit, mgr, sources, KEY, "start")
    second = _queue(kit, mgr, KEY, 2)
    sources.fail_next(KEY)
    sources.release()
    _refused(kit, _outcome(kit, first), f"{first.what} whose start failed")
    kit.check(
        second.wait(kit.prompt),
        f"{second.what} did not finish within {kit.prompt:g}s after {first.what} failed "
        "(the failed respawn wedged the queue)",
    )
    _succeeded(kit, _outcome(kit, second), f"{second.what}, queued behind the failed one")
    kit.expect(mgr.state(*KEY), "running", f"state({_text(KEY)}) after the queued respawns")
    kit.expect(mgr.lock_table_size(), baseline, "lock_table_size() once every respawn has finished")


@pytest.mark.rule("RS-07")
def test_rs07_entry_kept_while_queued_and_dropped_after_the_last(
    respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit
) -> None:
    """RS-07 (§1b): a key's entry lives exactly as long as its queue.

    Seed: "the lock map drops its key after the last queued op resolves".
    #1 is held inside ``start_source`` with #2 and #3 queued: the lock table
    holds an entry for the key.  #1 finishes while #2 is held inside
    ``remove_source`` and #3 still queued: the entry must still be there (a
    table that dropped it would hand the next caller a fresh lock).  Once
    the last one finishes, the table is back to its baseline.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    baseline = mgr.lock_table_size()
    mgr.install(*KEY)
    first = _hold(kit, mgr, sources, KEY, "start")
    removing = sources.hold("remove", KEY)
    second, third = _queue(kit, mgr, KEY, 2), _queue(kit, mgr, KEY, 3)
    size = mgr.lock_table_size()
    kit.check(
        size >= baseline + 1,
        f"lock_table_size() is {size} (baseline {baseline}) while {first.what} is inside start_source and "
        "#2, #3 are queued: the key has no entry",
    )
    sources.release("start", KEY)
    _succeeded(kit, _outcome(kit, first), first.what)
    removing.wait_entered(1, unless=second.task)
    _still_waiting(kit, third, f"{second.what} (inside remove_source)")
    size = mgr.lock_table_size()
    kit.check(
        size >= baseline + 1,
        f"lock_table_size() is {size} (baseline {baseline}) after {first.what} finished while "
        f"{second.what} is inside remove_source and #3 is queued: the key's entry was dropped too early",
    )
    sources.release()
    for task in (second, third):
        _succeeded(kit, _outcome(kit, task), task.what)
    kit.expect(mgr.lock_table_size(), baseline, "lock_table_size() once the last queued respawn finished")


@pytest.mark.rule("RS-07")
def test_rs07_every_outcome_leaves_no_entry(respawn: Any, respawn_sources: GatedSources, lifecycle_kit: Kit) -> None:
    """RS-07 (§1b): no outcome leaves an entry in the lock table.

    A success, a failed start, a refusal because nothing is installed and a
    refusal because the resource is protected: after each one,
    ``lock_table_size()`` is back to its baseline.
    """
    mgr, sources, kit = respawn, respawn_sources, lifecycle_kit
    baseline = mgr.lock_table_size()
    protected = ("bundle-vault", "ws-alpha")
    mgr.install(*KEY)
    mgr.install(*protected, protected=True)
    outcomes: list[tuple[str, Callable[[], Any]]] = [
        ("succeeded", lambda: _respawn(kit, mgr, KEY)),
        ("failed to start", lambda: (sources.fail_next(KEY), _respawn(kit, mgr, KEY))[1]),
        ("was refused (not installed)", lambda: _respawn(kit, mgr, ("ghost-bundle", "ws-alpha"))),
        ("was refused (protected)", lambda: _respawn(kit, mgr, protected)),
    ]
    for what, run in outcomes:
        run()
        kit.expect(mgr.lock_table_size(), baseline, f"lock_table_size() after a respawn that {what}")


@pytest.mark.rule("RS-07")
def test_rs07_random_sequences_leave_no_entry(respawn_factory: Callable[..., Any], lifecycle_kit: Kit) -> None:
    """RS-07 (§1b): random sequences of installs and respawns — successes, failed starts,
    refusals — over keys sharing a name or a workspace, checked against the sequential model
    (``conformance/models/respawn.py``): the lock table is back to its baseline after every
    respawn, and a failed start never wedges the next respawn of its key."""
    run_machine(RespawnMachine.configured(lifecycle_kit, respawn_factory), lifecycle_kit)


def _churn_keys(prefix: str, count: int) -> list[tuple[Key, str]]:
    """*count* distinct keys, one in ten never installed and one in ten protected."""
    kinds = ("missing", "protected", *("plain",) * 8)
    return [((f"{prefix}-{i}", f"ws-{i % 4}"), kinds[i % len(kinds)]) for i in range(count)]


@pytest.mark.rule("RS-07")
def test_rs07_churn_returns_lock_table_and_memory_to_baseline(lifecycle_kit: Kit) -> None:
    """RS-07 (§1b): no leak under churn, measured two ways.

    ``profile.churn`` distinct keys (10 000 in the ``ci`` profile) are
    respawned once each -- successes, failed starts (every seventh),
    refusals of keys never installed and of protected ones -- through the
    raw manager with trivial sources, after a warm-up round.  Afterwards
    ``lock_table_size()`` is back to its baseline and the memory the manager
    keeps grew by at most the kit's churn allowance (16 bytes per key plus
    128 KiB; log records the harness would keep are not the manager's).  The
    resources are installed before the baselines: installed state is not a
    leak.
    """
    kit = lifecycle_kit
    count = kit.profile.churn
    starts = itertools.count(1)

    def remove_source(key: Hashable) -> None:
        pass

    def start_source(key: Hashable) -> None:
        if next(starts) % CHURN_FAIL_EVERY == 0:
            raise InjectedFailure("churn: injected start failure")

    ctx = kit.context("respawn", remove_source=remove_source, start_source=start_source)
    raw = unwrap(kit.instance("respawn", ctx=ctx))
    warmup, churn = _churn_keys("warm", CHURN_WARMUP), _churn_keys("churn", count)

    def respawn_all(keys: list[tuple[Key, str]]) -> str | None:
        for key, _ in keys:
            try:
                raw.respawn(*key)
            except Exception as exc:
                return f"respawn({_text(key)}) raised {type(exc).__name__}: {exc} during the churn"
        return None

    def measure() -> tuple[str | None, str, int, int, Growth | None]:
        baseline = raw.lock_table_size()
        for key, kind in warmup + churn:
            if kind != "missing":
                raw.install(*key, protected=kind == "protected")
        problem = respawn_all(warmup)
        size = raw.lock_table_size()
        if problem or size != baseline:
            return problem, f"the {CHURN_WARMUP}-key warm-up", baseline, size, None
        problem, growth = provider_growth(lambda: respawn_all(churn), keys=count)
        return problem, f"churning {count} distinct keys", baseline, raw.lock_table_size(), growth

    # One step first, under the plain timeout: a provider that hangs costs
    # one timeout, not the whole churn's bound.
    kit.call(
        lambda: (raw.install("probe", "churn"), raw.respawn("probe", "churn")), what="one churn step (install, respawn)"
    )
    problem, phase, baseline, size, growth = kit.call(
        measure, what=f"churning {count} keys", timeout=max(kit.timeout, (CHURN_WARMUP + count) / 500)
    )
    if problem:
        kit.fail(problem)
    kit.note(f"{phase}: lock table {baseline} -> {size}")
    kit.expect(size, baseline, f"lock_table_size() after {phase} (baseline {baseline})")
    if growth is not None:
        check_growth(kit, growth, phase)
