"""RS-03 mutant: a failing ``start_source`` raises out of ``respawn``.

Seed: "startBundleSource failure -> dead ... return structured errors
instead of throwing".  The state bookkeeping is in a ``finally`` (so the
resource does end up ``"dead"`` and the line is released), but nothing
catches the exception: the credential-writing tool handler that called the
helper gets a traceback instead of ``ok=False``.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager, RespawnResult, State


class Broken(RespawnManager):
    def _run(self, key: Key) -> RespawnResult:
        final: State = "dead"
        try:
            self._remove_source(key)
            self._start_source(key)  # BUG: no except clause -- the exception escapes
            final = "running"
            return RespawnResult(ok=True)
        finally:
            with self._mutex:
                resource = self._resources.get(key)
                if resource is not None:
                    resource.state = final


BREAKS = ("RS-03",)
provider = Provider("mutant-exceptions-escape", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
