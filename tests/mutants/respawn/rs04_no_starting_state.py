"""RS-04 mutant: the resource never shows ``"starting"``.

Seed: "transition(instance, 'starting' | 'running' | 'dead') on every
branch".  The ``starting`` transition was dropped from the admit path, so
while the bundle is being torn down and started again the lifecycle still
says ``"running"`` -- callers route work to a bundle that is not there.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager, RespawnResult


class Broken(RespawnManager):
    def _admit(self, key: Key) -> RespawnResult | None:
        with self._mutex:
            resource = self._resources.get(key)
            if resource is None:
                return RespawnResult(ok=False, error=f"Resource {key[0]!r} is not installed in workspace {key[1]!r}.")
            if resource.protected:
                return RespawnResult(ok=False, error=f"Resource {key[0]!r} in {key[1]!r} is protected.")
            return None  # BUG: no transition to "starting"


BREAKS = ("RS-04",)
provider = Provider("mutant-no-starting-state", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
