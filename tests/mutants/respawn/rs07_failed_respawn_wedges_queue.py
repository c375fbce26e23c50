"""RS-07 mutant: a failed respawn never gives up its turn.

Seed: "Under load this manifested as the bundle going dead until the next
manual restart."  The turn is released on the success path only (the
release was not in a ``finally``), so after one failed start -- or one
refusal -- every later respawn of that key waits forever behind it; the
RS-02 and RS-04 tests, which respawn a key again after a refusal or a failed
start, hang on it too.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import RespawnManager, RespawnResult


class Broken(RespawnManager):
    def respawn(self, name: str, workspace: str) -> RespawnResult:
        key = (name, workspace)
        ticket = self.wait_turn(key)
        result = self.admit(key) or self.restart(key)
        if result.ok:  # BUG: only a success gives the turn back
            self.leave_line(ticket)
        return result


BREAKS = ("RS-07", "RS-02", "RS-04")
provider = Provider("mutant-failed-respawn-wedges", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
