"""RS-05 mutant: no per-key lock at all.

Seed: "the two duplicated code paths could race on removeSource /
startBundleSource": two concurrent credential writes meant two concurrent
remove/start pairs with no ordering guarantee.  This is the manager before
the fix -- one helper, but nothing serializing it, and no lock table: the
RS-06 test sees two respawns of its held key in flight at once, and the
RS-07 test finds no entry for a key whose respawns are still running.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager


class Broken(RespawnManager):
    @contextmanager
    def turn(self, key: Key) -> Iterator[None]:
        yield  # BUG: every respawn goes straight in


BREAKS = ("RS-05", "RS-06", "RS-07")
provider = Provider("mutant-no-per-key-lock", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
