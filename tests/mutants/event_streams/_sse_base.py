"""Plumbing shared by the SSE wire-profile mutants (not a mutant itself).

Each ``sse_*`` mutant is the reference SSE server (:mod:`reference_impl.sse`)
with one behaviour of its :class:`~reference_impl.sse.Wire` changed, serving
the reference in-memory registry: every rule but the one it breaks holds.
"""

from __future__ import annotations

from typing import Any

from pytest_lifecycle import Provider
from reference_impl.event_streams import ERRORS, memory_factory


def sse_mutant(name: str, wire: type[Any]) -> Provider:
    """A provider named *name*: the reference registry, served with *wire* (``options["sse_app"]``)."""

    def app(registry: Any, ctx: Any) -> Any:
        from reference_impl.sse import create_app

        return create_app(registry, cursor_fn=ctx.cursor_fn, errors=ERRORS, wire=wire)

    return Provider(
        name, event_streams=memory_factory, capabilities={"sse"}, options={"event_streams": ERRORS, "sse_app": app}
    )
