"""The pytest internals the plugin reads (tested with pytest 8.0 to 9.x).

- ``Metafunc._arg2fixturedefs``: which fixture definition a test would use,
  so that a project overriding ``lifecycle_provider`` is not parametrized
  over the kit's providers;
- ``TerminalReporter._tw.fullwidth``: the terminal width the verdict table
  is cut to.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_lifecycle._compat import UnsupportedVersion

__all__ = ["fixture_module", "terminal_width"]


def fixture_module(metafunc: pytest.Metafunc, name: str) -> str | None:
    """The module defining the fixture *name* that *metafunc*'s test uses (``None``: no such fixture)."""
    defs: Any = getattr(metafunc, "_arg2fixturedefs", None)
    if not hasattr(defs, "get"):
        raise UnsupportedVersion("pytest", pytest.__version__, "Metafunc._arg2fixturedefs")
    chain = defs.get(name)
    if not chain:
        return None
    func = getattr(chain[-1], "func", None)
    module = getattr(func, "__module__", None)
    if not isinstance(module, str):
        raise UnsupportedVersion("pytest", pytest.__version__, "FixtureDef.func of Metafunc._arg2fixturedefs")
    return module


def terminal_width(reporter: pytest.TerminalReporter) -> int:
    """The width of the terminal *reporter* writes to."""
    width = getattr(getattr(reporter, "_tw", None), "fullwidth", None)
    if not isinstance(width, int):
        raise UnsupportedVersion("pytest", pytest.__version__, "TerminalReporter._tw.fullwidth")
    return width
