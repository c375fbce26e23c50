"""Hooks pytest-lifecycle adds to pytest (registered in ``pytest_addhooks``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_lifecycle._core.provider import Provider


@pytest.hookspec
def pytest_lifecycle_providers(config: pytest.Config) -> list[Provider] | None:
    """Offer providers from a project's ``conftest.py`` or a plugin.

    Every provider returned becomes selectable by name with
    ``--lifecycle-provider NAME``; when nothing is selected on the command line
    or in the ``lifecycle_providers`` ini option, the providers offered here
    are certified instead of the bundled reference.

    :param config: the pytest config.
    :returns: a list of :class:`~pytest_lifecycle.Provider` (or ``None``).

    Not firstresult: the lists of every implementation are concatenated.
    The hook is called once, at configure time, only when the kit needs its
    providers.
    """
