"""RS-04 mutant: the resource never shows ``"starting"``.

Seed: "transition(instance, 'starting' | 'running' | 'dead') on every
branch".  The ``starting`` transition was dropped from the admit path, so
while the bundle is being torn down and started again the lifecycle still
says ``"running"`` -- callers route work to a bundle that is not there.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager, State


class Broken(RespawnManager):
    def transition(self, key: Key, state: State) -> None:
        if state != "starting":  # BUG: no transition to "starting"
            super().transition(key, state)


BREAKS = ("RS-04",)
provider = Provider("mutant-no-starting-state", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
