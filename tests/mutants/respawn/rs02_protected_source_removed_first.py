"""RS-02 mutant: a protected resource's source is removed before the refusal.

Seed: "protected-bundle refusal with source preserved".  The protected check
was placed after ``registry.removeSource`` (tear down first, then decide
whether to start again), so the respawn is refused with ``ok=False`` -- but
the protected bundle has already been torn down mid-call.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager, RespawnResult


class Broken(RespawnManager):
    def respawn(self, name: str, workspace: str) -> RespawnResult:
        key = (name, workspace)
        with self._turn(key):
            with self._mutex:
                installed = key in self._resources
            if not installed:
                return self._admit(key) or RespawnResult(ok=False, error="not installed")
            self._remove_source(key)  # BUG: torn down before the protected check
            refusal = self._admit(key)
            if refusal is not None:
                return refusal
            return self._start(key)

    def _start(self, key: Key) -> RespawnResult:
        try:
            self._start_source(key)
        except Exception as exc:
            self._set(key, "dead")
            return RespawnResult(ok=False, error=f"{key[0]!r} in {key[1]!r} could not be started: {exc}")
        self._set(key, "running")
        return RespawnResult(ok=True)

    def _set(self, key: Key, state: str) -> None:
        with self._mutex:
            self._resources[key].state = state  # type: ignore[assignment]


BREAKS = ("RS-02",)
provider = Provider("mutant-protected-source-removed", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
