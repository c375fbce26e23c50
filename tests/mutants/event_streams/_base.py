"""Plumbing shared by the event-stream mutants (not a mutant itself).

Mutants subclass the reference classes of :mod:`reference_impl.event_streams`
and override one of their documented extension points: on the registry, the
stream (``stream_class``), its subscribers (``EventStream.subscriber_class``)
or the file storage (``storage_class``).
They are file-backed, like the bundled provider, so every rule but the one
they break still passes.
"""

from __future__ import annotations

from typing import Any

from pytest_lifecycle import Provider
from reference_impl.event_streams import ERRORS, FileStreamRegistry, MemoryStreamRegistry


def mutant(
    name: str,
    registry_class: type[Any] = FileStreamRegistry,
    *,
    capabilities: tuple[str, ...] = ("durable", "tombstones"),
    errors: dict[str, Any] | None = None,
) -> Provider:
    """A provider named *name* whose factory builds *registry_class* on the kit's context."""

    def factory(ctx: Any) -> Any:
        if issubclass(registry_class, MemoryStreamRegistry):
            return registry_class(cursor_fn=ctx.cursor_fn, ttl_seconds=ctx.ttl_seconds, clock=ctx.clock)
        return registry_class(ctx.path, cursor_fn=ctx.cursor_fn, ttl_seconds=ctx.ttl_seconds, clock=ctx.clock)

    return Provider(name, event_streams=factory, capabilities=capabilities, options={"event_streams": errors or ERRORS})
