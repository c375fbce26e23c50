"""RS-05 mutant: waiters are served last-come, first-served.

Seed: the per-(serverName, wsId) chain must apply credential writes in the
order they were made, or "the surviving McpSource depended on whichever
spawn finished last".  Here each new respawn is queued right behind the
running one -- a stack, not a queue -- so with two writes waiting, the older
credential is applied last and wins.  (A plain ``threading.Lock`` is not
FIFO either, but CPython on Linux happens to wake parked waiters in order,
so no black-box test can show it reliably; a LIFO line always shows.)
"""

from __future__ import annotations

from collections import deque

from pytest_lifecycle import Provider
from reference_impl.respawn import RespawnManager, Ticket


class Broken(RespawnManager):
    def enqueue(self, waiting: deque[Ticket], ticket: Ticket) -> None:
        waiting.insert(1 if waiting else 0, ticket)  # BUG: newest waiter goes first


BREAKS = ("RS-05",)
provider = Provider("mutant-lifo-queue", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
