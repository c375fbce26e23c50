"""Running the kit's Hypothesis state machines.

:func:`run_machine` runs a ``RuleBasedStateMachine`` with the settings of
the active lifecycle profile.  When it fails, Hypothesis attaches the shrunk
steps to the exception; we add how to replay it: the seed (the one given
with ``--hypothesis-seed``, or the one Hypothesis drew) and the command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_lifecycle._compat import hypothesis_internals

if TYPE_CHECKING:
    from pytest_lifecycle._core.kit import Kit

__all__ = ["replay_note", "run_machine"]


def run_machine(machine: Callable[[], Any], kit: Kit, *, settings: Any = None) -> None:
    """Run *machine* (a state-machine class or factory) as the kit's test.

    :param machine: a ``RuleBasedStateMachine`` subclass or a zero-argument
        callable returning a fresh machine.
    :param kit: the test's kit (for the profile and the replay note).
    :param settings: Hypothesis settings overriding the profile's.
    """
    __tracebackhide__ = True
    active = settings or kit.profile.hypothesis_settings()
    test = hypothesis_internals.state_machine_test(machine, active)
    try:
        test()
    except BaseException as exc:
        exc.add_note(replay_note(kit, test, active))
        raise


def replay_note(kit: Kit, test: Any, active: Any) -> str:
    """How to replay a failed Hypothesis *test* of *kit* run with the settings *active*.

    ``pytest … --hypothesis-seed=N`` with the seed Hypothesis was given or
    drew; add it to the exception (``exc.add_note``) of a ``@given`` test
    that a suite runs itself.
    """
    replay = kit.replay_command()
    if active.derandomize:
        # Hypothesis's own CI profile derandomizes: the same command replays it.
        how = "derandomized run: the same command replays it"
    else:
        seed = hypothesis_internals.drawn_seed(test)
        if seed is not None:
            replay += f" --hypothesis-seed={seed}"
        how = "the failing example is also saved in the Hypothesis example database and replayed first"
        if active.database is None:
            how = "no example database is configured; use the seed"
    return f"{kit.rule.id} replay with: {replay}\n({how})"
