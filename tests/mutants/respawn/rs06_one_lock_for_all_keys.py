"""RS-06 mutant: one lock for every key.

Seed: "A per-(serverName, wsId) promise-chain mutex serializes concurrent
respawns for the same key without blocking unrelated keys."  The quick fix
is one manager-wide mutex around the whole respawn: same-key respawns are
serialized, but restarting one workspace's bundle now waits for every other
workspace's slow start.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager, Source


class Broken(RespawnManager):
    def __init__(self, remove_source: Source, start_source: Source) -> None:
        super().__init__(remove_source, start_source)
        self.everything = threading.Lock()

    @contextmanager
    def turn(self, key: Key) -> Iterator[None]:
        with super().turn(key), self.everything:  # BUG: held across the sources, for every key
            yield


BREAKS = ("RS-06",)
provider = Provider("mutant-one-lock-for-all", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
