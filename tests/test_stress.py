"""The stress helpers (:mod:`pytest_lifecycle._probes.stress`) pass and fail as documented."""

from __future__ import annotations

import sys
import threading

import pytest

from pytest_lifecycle._probes.stress import STRESS_SWITCH_INTERVAL, History, describe_overlap, switch_interval


def test_switch_interval_is_shrunk_inside_and_restored_after() -> None:
    before = sys.getswitchinterval()
    with switch_interval():
        assert sys.getswitchinterval() == pytest.approx(STRESS_SWITCH_INTERVAL)
    assert sys.getswitchinterval() == before


def test_switch_interval_is_restored_after_an_error_and_by_the_last_overlapping_user() -> None:
    before = sys.getswitchinterval()
    with pytest.raises(RuntimeError), switch_interval():
        raise RuntimeError("boom")
    assert sys.getswitchinterval() == before
    inside, leave = threading.Event(), threading.Event()

    def other_user() -> None:
        with switch_interval():
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=other_user)
    with switch_interval():
        thread.start()
        assert inside.wait(5)
    assert sys.getswitchinterval() == pytest.approx(STRESS_SWITCH_INTERVAL)  # the other thread is still inside
    leave.set()
    thread.join(5)
    assert sys.getswitchinterval() == before


def test_history_alternating_sections_do_not_overlap() -> None:
    history = History()
    for actor in ("T0", "T1", "T0"):
        history.enter("k", actor)
        history.exit("k", actor)
    history.enter("k", "T0")
    history.enter("other", "T1")
    assert history.overlaps() == []
    assert len(history) == 8


def test_history_reports_an_entry_while_another_actor_is_inside() -> None:
    history = History()
    history.enter("k", "T0", "'old'")
    history.enter("k", "T1", "'new'")
    history.exit("k", "T1")
    history.exit("k", "T0")
    history.enter("k", "T1")
    ((inside, entered),) = history.overlaps()
    assert (inside.actor, entered.actor, entered.seq) == ("T0", "T1", 1)
    assert describe_overlap(inside, entered) == (
        "T1 entered 'k' via 'new' (event #1) while T0 was inside via 'old' (since event #0)"
    )
    assert history.overlaps(start=2) == []
