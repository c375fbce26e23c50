"""RS-03 mutant: a failed start leaves the resource ``"running"``.

Seed: "startBundleSource failure marks instance dead".  The outcome was
recorded optimistically -- the ``finally`` that closes the respawn writes
``"running"`` on every path, and the failure branch only builds the error
-- so a bundle that failed to start is reported as running.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager, State


class Broken(RespawnManager):
    def transition(self, key: Key, state: State) -> None:
        super().transition(key, "running" if state == "dead" else state)  # BUG: a failure ends "running"


BREAKS = ("RS-03",)
provider = Provider("mutant-failed-start-running", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
