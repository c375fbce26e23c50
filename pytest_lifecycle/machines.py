"""Running the kit's Hypothesis state machines.

:func:`run_machine` runs a ``RuleBasedStateMachine`` with the settings of
the active lifecycle profile.  When it fails, Hypothesis attaches the shrunk
steps to the exception; we add how to replay it: the seed (the one given
with ``--hypothesis-seed``, or the one Hypothesis drew) and the command.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .kit import Kit

__all__ = ["run_machine"]


def run_machine(machine: Callable[[], Any], kit: Kit, *, settings: Any = None) -> None:
    """Run *machine* (a state-machine class or factory) as the kit's test.

    :param machine: a ``RuleBasedStateMachine`` subclass or a zero-argument
        callable returning a fresh machine.
    :param kit: the test's kit (for the profile and the replay note).
    :param settings: Hypothesis settings overriding the profile's.
    """
    __tracebackhide__ = True
    from hypothesis.stateful import get_state_machine_test

    active = settings or kit.profile.hypothesis_settings()
    # A class or a zero-argument factory: Hypothesis accepts both at run time.
    test = get_state_machine_test(machine, settings=active)  # type: ignore[no-untyped-call, arg-type, unused-ignore]
    # Before Hypothesis 6.140 the test took the factory again as an argument.
    args = (machine,) if "factory" in inspect.signature(test).parameters else ()
    try:
        test(*args)
    except BaseException as exc:
        exc.add_note(_replay_note(kit, test, active))
        raise


def _replay_note(kit: Kit, test: Any, active: Any) -> str:
    from hypothesis import core

    replay = kit.replay_command()
    if active.derandomize:
        # Hypothesis's own CI profile derandomizes: the same command replays it.
        how = "derandomized run: the same command replays it"
    else:
        seed = core.global_force_seed
        if seed is None:
            seed = getattr(test, "_hypothesis_internal_use_generated_seed", None)
        if seed is not None:
            replay += f" --hypothesis-seed={seed}"
        how = "the failing example is also saved in the Hypothesis example database and replayed first"
        if active.database is None:
            how = "no example database is configured; use the seed"
    return f"{kit.rule.id} replay with: {replay}\n({how})"
