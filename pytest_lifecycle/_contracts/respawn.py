"""Resource respawn lifecycle (§1b): surface and fixtures.

Every respawn factory receives the two sources in its context:
``ctx.remove_source(key)`` and ``ctx.start_source(key)``.  In the suite they
are :class:`~pytest_lifecycle._doubles.sources.GatedSources` doubles (gated,
failing on demand, recording order and overlap); an instance built without
an explicit context (``kit.instance("respawn")``) gets a fresh pair too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_lifecycle._core.kit import ContractSupport, Kit
from pytest_lifecycle._core.surface import INT, NONE, Method, Shape, Surface
from pytest_lifecycle._doubles.sources import GatedSources

RESULT = Shape(
    "a result with ok: bool and error: str | None",
    lambda v: type(getattr(v, "ok", None)) is bool and isinstance(getattr(v, "error", 0), (str, type(None))),
)

SURFACE = Surface.of(
    "manager",
    "respawn",
    Method("install", NONE),
    Method("state", Shape("str | None", lambda v: v is None or isinstance(v, str))),
    Method("respawn", RESULT),
    Method("lock_table_size", INT),
)


def source_extras(sources: GatedSources) -> dict[str, Any]:
    """The context extras that hand *sources* to a respawn factory."""
    return {"remove_source": sources.remove_source, "start_source": sources.start_source}


def _fresh_sources(kit: Kit) -> dict[str, Any]:
    return source_extras(GatedSources(kit))


SUPPORT = ContractSupport(SURFACE, context_extras=_fresh_sources)


@pytest.fixture
def respawn_sources(lifecycle_kit: Kit) -> GatedSources:
    """The source doubles the ``respawn`` manager was built with.

    ``hold(op, key)`` keeps calls inside a source, ``fail_next(key)`` makes
    the next start fail, ``on_start`` runs inside ``start_source``, and
    ``calls()``/``max_inflight()`` say what happened.
    """
    return GatedSources(lifecycle_kit)


@pytest.fixture
def respawn_factory(lifecycle_kit: Kit, respawn_sources: GatedSources) -> Callable[..., Any]:
    """Build a fresh guarded manager: ``respawn_factory(sources=None)``.

    Without *sources* the manager gets the ``respawn_sources`` doubles.
    """

    def build(sources: GatedSources | None = None) -> Any:
        ctx = lifecycle_kit.context("respawn", **source_extras(sources or respawn_sources))
        return lifecycle_kit.instance("respawn", ctx=ctx)

    return build


@pytest.fixture
def respawn(respawn_factory: Callable[..., Any]) -> Any:
    """A fresh respawn manager of the selected provider, wired to ``respawn_sources``.

    Calls run on kit threads with the kit timeout, are traced for failure
    messages, and have their return shapes checked (``respawn`` must return
    a result with ``ok: bool`` and ``error: str | None``).
    """
    return respawn_factory()
