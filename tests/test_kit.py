"""The kit's own machinery: runner, gates, the agent double, the clock, messages.

These helpers are what every rule test stands on, so they are tested to pass
and to fail, like the rules themselves.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pytest_lifecycle import (
    GatedAgent,
    InjectedFailure,
    Kit,
    KitClock,
    NotClaimed,
    Provider,
    ProviderHung,
    RuleViolation,
    get_rule,
)
from pytest_lifecycle._contracts import supports
from pytest_lifecycle._core.context import Context
from pytest_lifecycle._core.runner import in_worker
from reference_impl.session_lifecycle import factory


@pytest.fixture
def kit(tmp_path: Path):
    provider = Provider("unit", session_lifecycle=factory)
    # As the plugin's lifecycle_kit fixture builds it.
    kit = Kit(
        provider=provider,
        rule=get_rule("LC-05"),
        timeout=0.5,
        directory=tmp_path,
        contracts=supports(),
        skip=pytest.skip,
    )
    yield kit
    kit.close()


def test_call_runs_on_one_driver_thread(kit: Kit) -> None:
    names = {kit.call(lambda: threading.current_thread().name) for _ in range(5)}
    assert names == {"lifecycle-driver"}
    assert kit.call(in_worker) is True and in_worker() is False


def test_hung_call_becomes_a_rule_failure(kit: Kit) -> None:
    never = threading.Event()
    with pytest.raises(ProviderHung, match=r"^\[LC-05\] provider 'unit' still inside waiting forever after 0.5s$"):
        kit.call(never.wait, what="waiting forever")
    never.set()


def test_spawned_task_returns_and_reraises(kit: Kit) -> None:
    assert kit.spawn(lambda: 42).result() == 42
    task = kit.spawn(lambda: 1 / 0, what="dividing")
    with pytest.raises(ZeroDivisionError):
        task.result()
    assert isinstance(task.exception(), ZeroDivisionError)


def test_close_reports_a_provider_thread_that_outlives_the_test(tmp_path: Path) -> None:
    kit = Kit(
        provider=Provider("unit", session_lifecycle=factory), rule=get_rule("LC-11"), timeout=0.2, directory=tmp_path
    )
    stuck = threading.Event()
    kit.spawn(stuck.wait, what="drain_all_on_shutdown()")
    with pytest.raises(
        RuleViolation, match=r"\[LC-11\] provider 'unit' still inside drain_all_on_shutdown\(\) 0.2s after the test"
    ):
        kit.close()
    stuck.set()


def test_gate_holds_until_opened_and_counts(kit: Kit) -> None:
    gate = kit.gate("door", closed=True)

    def walk() -> None:
        with gate.passage():
            pass

    first, second = kit.spawn(walk), kit.spawn(walk)
    gate.wait_inside(2)
    assert not first.done and not second.done
    gate.open()
    first.result(), second.result()
    assert (gate.entered, gate.inside, gate.max_inside) == (2, 0, 2)


def test_gate_wait_fails_fast_when_the_task_ends_without_entering(kit: Kit) -> None:
    gate = kit.gate("door")
    task = kit.spawn(lambda: None, what="commit_session_memory('s')")
    with pytest.raises(
        RuleViolation,
        match=r"^\[LC-05\] expected 1 passage\(s\) through door, but commit_session_memory\('s'\) finished first",
    ):
        gate.wait_entered(unless=task)


def test_gate_wait_times_out_with_a_rule_message(kit: Kit) -> None:
    with pytest.raises(RuleViolation, match=r"^\[LC-05\] expected 1 passage\(s\) through door within 0.05s, got 0"):
        kit.gate("door").wait_entered(timeout=0.05)


def test_agent_blocks_fails_on_demand_and_records_threads(kit: Kit) -> None:
    agent = GatedAgent(kit)
    agent.fail_next(1).block()
    task = kit.spawn(agent.commit_memory_session)
    agent.wait_entered(unless=task)
    assert not task.done
    agent.release()
    assert isinstance(task.exception(), InjectedFailure)
    kit.call(agent.commit_memory_session)  # the next one succeeds
    agent.close()
    assert agent.calls == 2 and agent.close_calls == 1
    assert agent.commit_threads[1] == "lifecycle-driver"
    assert repr(agent) == "agent-1" and "agent-1.commit_memory_session() #1" in kit.steps()


def test_close_opens_every_gate(tmp_path: Path) -> None:
    kit = Kit(
        provider=Provider("unit", session_lifecycle=factory), rule=get_rule("LC-05"), timeout=1, directory=tmp_path
    )
    agent = GatedAgent(kit).block()
    task = kit.spawn(agent.commit_memory_session)
    agent.wait_entered(unless=task)
    kit.close()
    assert task.done


def test_expect_compares_kind_and_shows_the_trace(kit: Kit) -> None:
    kit.note("lifecycle.mark_turn_completed('s') -> 1")
    kit.expect(1, 1, "generation")
    with pytest.raises(
        RuleViolation, match=r"^\[LC-05\] flag: expected True, got 1 after lifecycle.mark_turn_completed\('s'\) -> 1$"
    ):
        kit.expect(1, True, "flag")
    with pytest.raises(RuleViolation, match="expected 1, got True"):
        kit.expect(True, 1, "generation")


def test_guarded_instance_checks_return_types_and_unwraps_arguments(kit: Kit) -> None:
    lc = kit.instance("session_lifecycle")
    agent = GatedAgent(kit)
    lc.register_agent("s", agent)
    assert lc.mark_turn_completed("s") == 1
    assert lc.commit_session_memory("s") is True and agent.calls == 1
    assert "lifecycle.commit_session_memory('s') -> True" in kit.steps()


def test_unclaimed_contract_skips_as_not_claimed(kit: Kit) -> None:
    with pytest.raises(pytest.skip.Exception, match="not claimed: provider 'unit' does not implement keyed_locks"):
        kit.instance("keyed_locks")


def test_outside_pytest_an_unclaimed_contract_raises_not_claimed(tmp_path: Path) -> None:
    kit = Kit(
        provider=Provider("unit", session_lifecycle=factory), rule=get_rule("LK-01"), timeout=0.5, directory=tmp_path
    )
    with pytest.raises(NotClaimed, match="not claimed: provider 'unit' does not implement keyed_locks"):
        kit.require()
    kit.close()


def test_clock_moves_only_forward() -> None:
    clock = KitClock(10.0)
    assert clock() == 10.0 and clock.advance(2.5) == 12.5 and clock() == 12.5
    with pytest.raises(ValueError, match="never goes backwards"):
        clock.advance(-1)


def test_context_names_what_it_offers(tmp_path: Path) -> None:
    ctx = Context(tmp_path, KitClock(), contract="respawn", extras={"start_source": print})
    assert ctx.start_source is print
    with pytest.raises(
        AttributeError, match="passes no 'cursor_fn' to respawn factories; it offers: path, clock, start_source"
    ):
        _ = ctx.cursor_fn
