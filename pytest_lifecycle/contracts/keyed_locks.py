"""Lock rotation (§3): surface and fixtures."""

from __future__ import annotations

from ..surface import BOOL, Method, Surface
from . import ContractSupport

LOCK = Surface.of("lock", "keyed_locks", Method("acquire", BOOL), Method("release"), context_manager=True)

SURFACE = Surface.of(
    "locks",
    "keyed_locks",
    Method("lock_for", wraps="lock"),
    Method("rotate"),
)

SUPPORT = ContractSupport(SURFACE, nested=(LOCK,))
