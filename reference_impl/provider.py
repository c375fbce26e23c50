"""The bundled ``reference`` provider: the default when nothing is selected."""

from __future__ import annotations

from pytest_lifecycle import Provider

from . import checkpoint, event_streams, keyed_locks, respawn, session_lifecycle

#: The branch the reference takes of every open choice of the contracts
#: (``pytest-lifecycle rules`` lists them); correct providers may take others.
CHOICES = {
    "LC/unowned-commit": "explicit-agent",
    "LC/turn-agent": "turn-only",
    "LC/adoption": "oldest",
    "LC/adopted-merge": "merges",
    "LC/failed-in-flight": "joined",
    "LC/forgotten-generations": "restart",
    "LC/evict-forgets": "keeps",
    "LC/drain-retry": "no-retry",
    "CK/io-error": "raises",
    "CK/index-rebuild": "own-entry",
    "CK/unsafe-load": "raises",
    "CK/empty-id": "refused",
    "ST/attach": "at-call",
}

provider = Provider(
    "reference",
    session_lifecycle=session_lifecycle.factory,
    respawn=respawn.factory,
    checkpoint_store=checkpoint.factory,
    keyed_locks=keyed_locks.factory,
    event_streams=event_streams.factory,
    # sse: its registry, served by the reference SSE server (reference_impl.sse).
    capabilities={"eviction", "durable", "tombstones", "sse"},
    # The exception classes of event_streams (§4), by the contract's names.
    options={"event_streams": event_streams.ERRORS},
)

#: The in-memory stream registry of the reference (§4), as a provider of its
#: own: not durable, with tombstones.
memory_provider = Provider(
    "reference-memory",
    event_streams=event_streams.memory_factory,
    capabilities={"tombstones"},
    options={"event_streams": event_streams.ERRORS},
)
