"""RS-02 mutant: a protected resource's source is removed before the refusal.

Seed: "protected-bundle refusal with source preserved".  The protected check
was placed after ``registry.removeSource`` (tear down first, then decide
whether to start again), so the respawn is refused with ``ok=False`` -- but
the protected bundle has already been torn down mid-call.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager, RespawnResult, Source


class Broken(RespawnManager):
    def __init__(self, remove_source: Source, start_source: Source) -> None:
        # The teardown moved out of the restart, ahead of the eligibility check.
        super().__init__(lambda key: None, start_source)
        self.tear_down = remove_source

    def admit(self, key: Key) -> RespawnResult | None:
        if self.state(*key) is not None:
            self.tear_down(key)  # BUG: torn down before the protected check
        return super().admit(key)


BREAKS = ("RS-02",)
provider = Provider("mutant-protected-source-removed", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
