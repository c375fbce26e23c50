"""The bundled ``reference`` provider: the default when nothing is selected."""

from __future__ import annotations

from pytest_lifecycle import Provider

from . import checkpoint, keyed_locks, respawn, session_lifecycle

provider = Provider(
    "reference",
    session_lifecycle=session_lifecycle.factory,
    respawn=respawn.factory,
    checkpoint_store=checkpoint.factory,
    keyed_locks=keyed_locks.factory,
    capabilities={"eviction"},
)
