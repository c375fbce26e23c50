"""RS-01 mutant: the not-installed error names the resource but not the workspace.

Seed: the review asked for a user-shaped message, "Bundle X is not
installed in workspace Y"; this is the developer-shaped one that shipped
first, minus the workspace -- useless when the same bundle is installed in
some workspaces and not in others.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager, RespawnResult


class Broken(RespawnManager):
    def admit(self, key: Key) -> RespawnResult | None:
        if self.state(*key) is None:
            return RespawnResult(ok=False, error=f"No bundle instance for {key[0]}")  # BUG: no workspace
        return super().admit(key)


BREAKS = ("RS-01",)
provider = Provider("mutant-error-without-workspace", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
