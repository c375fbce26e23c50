"""Running the kit's Hypothesis state machines.

:func:`run_machine` runs a ``RuleBasedStateMachine`` with the settings of
the active lifecycle profile.  When it fails, Hypothesis attaches the shrunk
steps to the exception; we add how to replay it: the seed (the one given
with ``--hypothesis-seed``, or the one Hypothesis drew) and the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

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
    from hypothesis import core
    from hypothesis.stateful import get_state_machine_test

    test = get_state_machine_test(machine, settings=settings or kit.profile.hypothesis_settings())  # type: ignore[no-untyped-call]
    try:
        test()
    except BaseException as exc:
        seed = core.global_force_seed
        if seed is None:
            seed = getattr(test, "_hypothesis_internal_use_generated_seed", None)
        replay = f"pytest '{kit.nodeid}' --lifecycle-provider {kit.provider.name}"
        if seed is not None:
            replay += f" --hypothesis-seed={seed}"
        exc.add_note(
            f"{kit.rule.id} replay with: {replay}\n"
            "(the failing example is also saved in the Hypothesis example database and replayed first)"
        )
        raise
