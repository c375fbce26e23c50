"""LC-16 mutant: every discarded session id is remembered forever.

Seed: the per-session registries of the hermes-webui coordinator (pending
agents, generations) were never pruned.  Here discard keeps a tombstone set
"to reject late commits" that nothing ever empties: memory grows with every
short session.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle


class Broken(SessionLifecycle):
    def __init__(self) -> None:
        super().__init__()
        self.discarded: set[str] = set()

    def discard_session(self, sid: str | None) -> bool:
        discarded = super().discard_session(sid)
        if discarded and sid:
            self.discarded.add(sid)  # BUG: never pruned
        return discarded


BREAKS = ("LC-16",)
provider = Provider(
    "mutant-discard-keeps-tombstones", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
