"""RS-07 mutant: a failed respawn never gives up its turn.

Seed: "Under load this manifested as the bundle going dead until the next
manual restart."  The turn is released on the success path only (the
release was not in a ``finally``), so after one failed start every later
respawn of that key waits forever behind it.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import RespawnManager, RespawnResult, _Line


class Broken(RespawnManager):
    def respawn(self, name: str, workspace: str) -> RespawnResult:
        key = (name, workspace)
        ticket = object()
        with self._mutex:
            line = self._lines.get(key)
            if line is None:
                line = self._lines[key] = _Line(self._mutex)
            line.queue.append(ticket)
            line.turn.wait_for(lambda: line.queue[0] is ticket)
        result = self._admit(key) or self._run(key)
        if result.ok:  # BUG: only a success gives the turn back
            with self._mutex:
                self._leave(key, line, ticket)
        return result


BREAKS = ("RS-07",)
provider = Provider("mutant-failed-respawn-wedges", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
