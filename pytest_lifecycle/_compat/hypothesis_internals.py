"""The Hypothesis internals the kit reads (tested with Hypothesis 6.124.5 to 6.170).

- ``hypothesis.stateful.get_state_machine_test`` (6.124.5+): a state
  machine as a test the kit calls itself, so that it can add the replay
  note; before 6.140 that test took the factory again as an argument;
- ``hypothesis.core.global_force_seed`` (the ``--hypothesis-seed`` of the
  run) and the ``_hypothesis_internal_use_generated_seed`` Hypothesis
  leaves on a test it seeded itself: the seed of the replay command.

Hypothesis is imported when first used, not when the kit is: importing it
costs more than the rest of the kit, and ``pytest-lifecycle rules`` or a
run without state machines never needs it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pytest_lifecycle._compat import UnsupportedVersion

__all__ = ["drawn_seed", "state_machine_test"]


def _version() -> str:
    import hypothesis  # start-up cost: see the module docstring

    return str(hypothesis.__version__)


def state_machine_test(machine: Callable[[], Any], settings: Any) -> Callable[[], None]:
    """*machine* (a class or a zero-argument factory) as a test run by calling it.

    The returned callable carries the Hypothesis test as ``.hypothesis_test``
    (for :func:`drawn_seed`).
    """
    try:
        from hypothesis.stateful import get_state_machine_test  # start-up cost: see the module docstring
    except ImportError:
        raise UnsupportedVersion("Hypothesis", _version(), "hypothesis.stateful.get_state_machine_test") from None
    # A class or a zero-argument factory: Hypothesis accepts both at run time.
    test = get_state_machine_test(machine, settings=settings)  # type: ignore[no-untyped-call, arg-type, unused-ignore]
    # Before Hypothesis 6.140 the test took the factory again as an argument.
    args = (machine,) if "factory" in inspect.signature(test).parameters else ()

    def run() -> None:
        __tracebackhide__ = True
        test(*args)

    run.hypothesis_test = test  # type: ignore[attr-defined]
    return run


def drawn_seed(test: Any) -> object | None:
    """The seed that replays *test*'s run: the one forced with ``--hypothesis-seed``, or the one drawn."""
    from hypothesis import core  # start-up cost: see the module docstring

    if not hasattr(core, "global_force_seed"):
        raise UnsupportedVersion("Hypothesis", _version(), "hypothesis.core.global_force_seed")
    seed: object | None = core.global_force_seed
    if seed is None:
        # Set only when Hypothesis drew the seed itself (absent otherwise: not an error).
        seed = getattr(getattr(test, "hypothesis_test", test), "_hypothesis_internal_use_generated_seed", None)
    return seed
