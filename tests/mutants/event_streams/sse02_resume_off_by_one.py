"""Mutant: a reconnect resumes *at* ``Last-Event-ID``, not after it.

The resume filter reads ``cursor >= last_event_id``: every reconnect gets
the last event it already had once more, a duplicate the client cannot tell
from a new event with the same payload (SSE-02).
"""

from __future__ import annotations

from reference_impl.sse import Wire

from ._sse_base import sse_mutant

BREAKS = ("SSE-02",)


class ResumesAt(Wire):
    def after(self, last_event_id: int | None) -> int | None:
        return None if last_event_id is None else last_event_id - 1  # BUG: >= instead of >


provider = sse_mutant("mutant-sse-resume-off-by-one", ResumesAt)
