"""Plumbing shared by the checkpoint-store mutants (not a mutant itself).

Mutants subclass the reference :class:`CheckpointStore` and override one of
its extension points (listed in its docstring); every write of the store goes
through ``CheckpointStore.write_file``, so a mutant of the write path
overrides just that, or one of the steps it is built from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reference_impl.checkpoint import CheckpointStore


def factory_of(store_class: type[CheckpointStore]) -> Callable[[Any], CheckpointStore]:
    """The kit's ``factory(ctx)`` building *store_class* on ``ctx.path`` with ``ctx.clock``."""

    def factory(ctx: Any) -> CheckpointStore:
        return store_class(ctx.path, clock=ctx.clock)

    return factory
