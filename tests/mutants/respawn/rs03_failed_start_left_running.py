"""RS-03 mutant: a failed start leaves the resource ``"running"``.

Seed: "startBundleSource failure marks instance dead".  The transition was
written optimistically -- ``running`` right after ``removeSource``, before
the start is attempted -- and the failure branch only builds the error, so
a bundle that failed to start is reported as running.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager, RespawnResult


class Broken(RespawnManager):
    def _run(self, key: Key) -> RespawnResult:
        try:
            self._remove_source(key)
            with self._mutex:
                self._resources[key].state = "running"  # BUG: optimistic, before the start
            self._start_source(key)
            return RespawnResult(ok=True)
        except Exception as exc:
            return RespawnResult(ok=False, error=f"{key[0]!r} in {key[1]!r} could not be started: {exc}")


BREAKS = ("RS-03",)
provider = Provider("mutant-failed-start-running", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
