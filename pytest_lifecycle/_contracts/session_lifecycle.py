"""Session-memory lifecycle (§1a): surface and fixtures."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_lifecycle._core.kit import ContractSupport, Kit
from pytest_lifecycle._core.surface import BOOL, INT, NONE, Method, Surface
from pytest_lifecycle._doubles import GatedAgent

SURFACE = Surface.of(
    "lifecycle",
    "session_lifecycle",
    Method("register_agent", NONE),
    Method("unregister_agent", NONE),
    Method("mark_turn_completed", INT),
    Method("has_uncommitted_work", BOOL),
    Method("commit_session_memory", BOOL),
    Method("drain_all_on_shutdown", NONE),
    Method("discard_session", BOOL),
    Method("evict_session", BOOL, capability="eviction"),
)

SUPPORT = ContractSupport(SURFACE)


@pytest.fixture
def session_lifecycle(lifecycle_kit: Kit) -> object:
    """A fresh session-lifecycle coordinator of the selected provider.

    Calls run on kit threads with the kit timeout, are traced for failure
    messages, and have their return types checked against the surface.
    """
    return lifecycle_kit.instance("session_lifecycle")


@pytest.fixture
def session_lifecycle_factory(lifecycle_kit: Kit) -> Callable[[], object]:
    """Build a fresh coordinator per call (one per Hypothesis example)."""
    return lambda: lifecycle_kit.instance("session_lifecycle")


@pytest.fixture
def make_gated_agent(lifecycle_kit: Kit) -> Callable[..., GatedAgent]:
    """Make :class:`~pytest_lifecycle._doubles.GatedAgent` doubles: ``make_gated_agent()``."""
    return lambda name=None: GatedAgent(lifecycle_kit, name)


@pytest.fixture
def gated_agent(make_gated_agent: Callable[..., GatedAgent]) -> GatedAgent:
    """One agent double whose commits can be held, failed and counted."""
    return make_gated_agent()
