"""Bug: the registry never prunes (seed 003).

The seed's ``SESSION_AGENT_LOCKS`` was a plain dict: every session id ever
used, and every rotated alias, keeps its lock forever.  ``len(registry)``
never goes back to its baseline and memory grows with every key (LK-07);
the state machine sees entries that should be gone (LK-08).
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLocks

BREAKS = ("LK-07", "LK-08")


class NeverPrunes(KeyedLocks):
    def __init__(self) -> None:
        super().__init__()
        self._table = {}  # type: ignore[assignment]  # BUG: strong references, never removed

    def __len__(self) -> int:
        with self._mutex:
            return len(self._table)


provider = Provider("mutant-never-prunes", keyed_locks=lambda ctx: NeverPrunes())
