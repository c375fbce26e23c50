"""The respawn suite's helpers pass and fail as documented.

:class:`~pytest_lifecycle._doubles.sources.GatedSources` (hold, fail, hook,
measure), :meth:`Gate.admit`, and :func:`~pytest_lifecycle._probes.parking.spawn_watched`
(a call is *parked* once it blocks in a lock, condition or queue; a spinning
call never is).
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from pytest_lifecycle import InjectedFailure, Kit, RuleViolation
from pytest_lifecycle._doubles.sources import GatedSources
from pytest_lifecycle._probes.parking import spawn_watched

KEY = ("bundle-db", "ws-alpha")
OTHER = ("bundle-db", "ws-beta")


# -- parking ---------------------------------------------------------------------


def _blocked_in_condition(release: threading.Event) -> None:
    release.wait()  # Event.wait is Condition.wait


def _blocked_in_with(release: threading.Event, lock: threading.Lock) -> None:
    with lock:
        pass


def _blocked_in_acquire(release: threading.Event, lock: threading.Lock) -> None:
    lock.acquire()
    lock.release()


def _blocked_in_simple_queue(release: threading.Event, q: queue.SimpleQueue[int]) -> None:
    q.get()


@pytest.mark.parametrize("how", ["condition", "with-lock", "acquire", "simple-queue"])
def test_blocked_call_is_parked(lifecycle_kit: Kit, how: str) -> None:
    kit = lifecycle_kit
    release = threading.Event()
    lock = threading.Lock()
    q: queue.SimpleQueue[int] = queue.SimpleQueue()
    lock.acquire()
    cases: dict[str, tuple[Callable[..., None], tuple[Any, ...]]] = {
        "condition": (_blocked_in_condition, ()),
        "with-lock": (_blocked_in_with, (lock,)),
        "acquire": (_blocked_in_acquire, (lock,)),
        "simple-queue": (_blocked_in_simple_queue, (q,)),
    }
    fn, extra = cases[how]
    task = spawn_watched(kit.runner, fn, release, *extra)
    assert task.wait_parked(kit.timeout)
    assert task.parked and not task.done
    release.set()
    lock.release()
    q.put(1)
    task.result()
    assert not task.parked


def test_spinning_call_never_parks(lifecycle_kit: Kit) -> None:
    stop = [False]

    def spin() -> None:
        while not stop[0]:
            pass

    task = spawn_watched(lifecycle_kit.runner, spin)
    try:
        assert not task.wait_parked(0.05)
        assert not task.parked
    finally:
        stop[0] = True
    task.result()


def test_finished_call_counts_as_parked_and_restores_profile(lifecycle_kit: Kit) -> None:
    task = spawn_watched(lifecycle_kit.runner, lambda: 42)
    assert task.wait_parked(lifecycle_kit.timeout)
    assert task.result() == 42 and task.done and not task.parked
    # The same worker runs the next call: the watch's profile hook is gone.
    assert lifecycle_kit.spawn(sys.getprofile).result() is None


# -- Gate.admit --------------------------------------------------------------------


def test_gate_admit_lets_exactly_n_through(lifecycle_kit: Kit) -> None:
    kit = lifecycle_kit
    gate = kit.gate("turnstile", closed=True)
    passed: list[int] = []
    cond = threading.Condition()

    def walk(n: int) -> None:
        with gate.passage(), cond:
            passed.append(n)
            cond.notify_all()

    tasks = [kit.spawn(walk, n) for n in range(3)]
    gate.wait_entered(3)
    gate.admit(2)
    with cond:
        assert cond.wait_for(lambda: len(passed) == 2, kit.timeout)
    for n in passed:
        tasks[n].result()
    (held,) = {0, 1, 2} - set(passed)
    assert gate.inside == 1 and not tasks[held].done
    gate.open()
    tasks[held].result()
    assert sorted(passed) == [0, 1, 2]


# -- GatedSources ------------------------------------------------------------------


def test_sources_record_calls_and_overlap(lifecycle_kit: Kit) -> None:
    kit = lifecycle_kit
    sources = GatedSources(kit)
    gate = sources.hold("remove", KEY)
    held = kit.spawn(sources.remove_source, KEY)
    gate.wait_entered(1, unless=held)
    sources.remove_source(list(OTHER))  # type: ignore[arg-type]  # a list key is recorded as a tuple; other keys pass
    sources.start_source(OTHER)
    assert sources.inflight(KEY) == 1 and sources.inflight() == 1
    assert sources.max_inflight() == 2 and sources.max_inflight(OTHER) == 1
    assert [(c.op, c.key, c.outcome) for c in sources.calls()] == [
        ("remove", KEY, "inside"),
        ("remove", OTHER, "returned"),
        ("start", OTHER, "returned"),
    ]
    sources.release()
    held.result()
    assert sources.calls(KEY)[0].outcome == "returned" and sources.inflight() == 0
    assert sources.count("remove") == 2 and sources.count(key=OTHER) == 2


def test_sources_fail_on_demand(lifecycle_kit: Kit) -> None:
    sources = GatedSources(lifecycle_kit)
    sources.fail_next(KEY, n=2)
    sources.fail_next(OTHER, exc=OSError("disk full"))
    sources.fail_next(op="remove", exc=ValueError)
    sources.start_source(("elsewhere", "ws"))
    for _ in range(2):
        with pytest.raises(InjectedFailure, match="start_source failure"):
            sources.start_source(KEY)
    sources.start_source(KEY)
    with pytest.raises(OSError, match="disk full"):
        sources.start_source(OTHER)
    with pytest.raises(ValueError, match="remove_source failure"):
        sources.remove_source(KEY)
    sources.remove_source(KEY)
    assert [c.outcome.split(":")[0] for c in sources.calls(KEY)] == [
        "raised InjectedFailure",
        "raised InjectedFailure",
        "returned",
        "raised ValueError",
        "returned",
    ]
    with pytest.raises(ValueError, match="unknown source operation"):
        sources.fail_next(op="restart")


def test_sources_hook_runs_inside_the_call(lifecycle_kit: Kit) -> None:
    sources = GatedSources(lifecycle_kit)
    seen: list[Any] = []
    sources.on_start = lambda key: seen.append((key, sources.inflight(key)))
    sources.remove_source(KEY)
    sources.start_source(KEY)
    assert seen == [(KEY, 1)]


def test_wait_entered_fails_fast_when_the_call_finished(lifecycle_kit: Kit) -> None:
    kit = lifecycle_kit
    sources = GatedSources(kit)
    sources.hold("start", KEY)
    finished = kit.spawn(lambda: None)
    finished.result()
    with pytest.raises(RuleViolation, match="finished first"):
        sources.wait_entered("start", key=KEY, unless=finished)


def test_instance_without_context_gets_fresh_sources(lifecycle_kit: Kit) -> None:
    mgr = lifecycle_kit.instance("respawn")
    mgr.install(*KEY)
    assert mgr.respawn(*KEY).ok is True and mgr.state(*KEY) == "running"


def test_respawn_fixture_is_wired_to_respawn_sources(respawn: Any, respawn_sources: GatedSources) -> None:
    respawn.install(*KEY)
    respawn_sources.fail_next(KEY)
    assert respawn.respawn(*KEY).ok is False
    assert [c.op for c in respawn_sources.calls(KEY)] == ["remove", "start"]
