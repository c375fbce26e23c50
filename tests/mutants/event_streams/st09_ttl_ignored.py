"""Mutant: the TTL is read from the wall clock, not the injected one.

The events never expire under the kit's clock: late subscribers get a
replay of everything, and a closed, expired stream never becomes gone
(ST-09).
"""

from __future__ import annotations

import time
from typing import Any

from reference_impl.event_streams import FileStreamRegistry

from ._base import mutant

BREAKS = ("ST-09",)


class Registry(FileStreamRegistry):
    def __init__(self, directory: Any, *, cursor_fn: Any, ttl_seconds: Any = None, clock: Any = None) -> None:
        super().__init__(directory, cursor_fn=cursor_fn, ttl_seconds=ttl_seconds, clock=time.time)  # BUG


provider = mutant("mutant-ttl-ignored", Registry)
