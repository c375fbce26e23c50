"""What the kit borrows from the internals of its dependencies and of the interpreter, one module each.

- :mod:`.pytest_internals` — ``Metafunc._arg2fixturedefs``, ``TerminalReporter._tw``;
- :mod:`.hypothesis_internals` — the seed Hypothesis forced or drew, and
  ``hypothesis.stateful.get_state_machine_test``;
- :mod:`.cpython` — frames of other threads and the ``BEFORE_WITH`` opcode
  (the parking probe), on a CPython with a GIL.

Each checks, where the kit uses it, that the internal is there with the
shape the kit reads, and otherwise raises :class:`UnsupportedVersion`
naming the kit's version, the internal and the running version: a version
the kit does not support stops the run with that message instead of giving
a wrong verdict.  Nothing here imports the rest of the kit.
"""

from __future__ import annotations

from pytest_lifecycle._version import __version__

__all__ = ["UnsupportedVersion"]


class UnsupportedVersion(RuntimeError):
    """The running pytest, Hypothesis or Python lacks an internal the kit relies on."""

    def __init__(self, dependency: str, found: str, internal: str) -> None:
        super().__init__(
            f"pytest-lifecycle {__version__} relies on {dependency} internals ({internal}), "
            f"not available in {dependency} {found}: install a version the kit supports "
            "(see pytest-lifecycle's dependencies) or a newer pytest-lifecycle"
        )
        self.dependency = dependency
        self.found = found
        self.internal = internal
