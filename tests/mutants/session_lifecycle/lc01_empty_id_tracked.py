"""LC-01 mutant: an empty-string session id is tracked like a real session.

Seed: ``test_empty_session_id_is_safe_noop``.  The guard was written as
``if sid is None`` instead of ``if not sid``, so ``mark_turn_completed("")``
counts a turn and returns generation 1 instead of the no-op ``0`` (and the
other calls treat ``""`` as a session too).
"""

from __future__ import annotations

from typing import TypeGuard

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle


class Broken(SessionLifecycle):
    def is_session_id(self, sid: str | None) -> TypeGuard[str]:
        return sid is not None  # BUG: "" is falsy too


BREAKS = ("LC-01",)
provider = Provider("mutant-empty-id-tracked", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
