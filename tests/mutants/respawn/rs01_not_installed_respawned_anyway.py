"""RS-01 mutant: a respawn of something not installed installs it and starts it.

Seed: "missing instance returns an error".  The lookup was written as
``instances.setdefault(key, ...)`` -- the pattern of the install path -- so
a respawn for a workspace that never installed the bundle quietly creates
the instance, calls ``remove_source``/``start_source`` on a source that does
not exist, and reports success.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager, RespawnResult


class Broken(RespawnManager):
    def admit(self, key: Key) -> RespawnResult | None:
        if self.state(*key) is None:
            self.install(*key)  # BUG: setdefault, not a lookup
        return super().admit(key)


BREAKS = ("RS-01",)
provider = Provider("mutant-not-installed-respawned", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
