"""Lock rotation (§3): surface and fixtures."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_lifecycle._core.kit import ContractSupport, Kit
from pytest_lifecycle._core.surface import BOOL, Method, Surface

LOCK = Surface.of("lock", "keyed_locks", Method("acquire", BOOL), Method("release"), context_manager=True)

SURFACE = Surface.of(
    "locks",
    "keyed_locks",
    Method("lock_for", wraps="lock"),
    Method("rotate"),
)

SUPPORT = ContractSupport(SURFACE, nested=(LOCK,))


@pytest.fixture
def keyed_locks(lifecycle_kit: Kit) -> object:
    """A fresh keyed-lock registry of the selected provider.

    Calls run on kit threads with the kit timeout and are traced;
    ``lock_for`` returns a guarded lock (``acquire`` must return a bool).
    Compare identities with :func:`pytest_lifecycle.unwrap`: every call
    returns a new proxy around the provider's own object.
    """
    return lifecycle_kit.instance("keyed_locks")


@pytest.fixture
def keyed_locks_factory(lifecycle_kit: Kit) -> Callable[[], object]:
    """Build a fresh registry per call (one per Hypothesis example)."""
    return lambda: lifecycle_kit.instance("keyed_locks")
