"""RS-03 mutant: a failing ``start_source`` raises out of ``respawn``.

Seed: "startBundleSource failure -> dead ... return structured errors
instead of throwing".  The state bookkeeping is in a ``finally`` (so the
resource does end up ``"dead"`` and the line is released), but nothing
turns the exception into a result: the credential-writing tool handler that
called the helper gets a traceback instead of ``ok=False``.  The RS-04 and
RS-07 tests that inject a failed start see the raise too.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager, RespawnResult


class Broken(RespawnManager):
    def failure_result(self, key: Key, step: str, exc: Exception) -> RespawnResult:
        raise exc  # BUG: handed on instead of answered with ok=False


BREAKS = ("RS-03", "RS-04", "RS-07")
provider = Provider("mutant-exceptions-escape", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
