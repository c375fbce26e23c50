"""Checkpoint races (§2): surface and fixtures."""

from __future__ import annotations

from ..surface import BOOL, INT, Method, Shape, Surface
from . import ContractSupport

SESSION = Surface.of("session", "checkpoint_store", Method("save"))
SESSION_LOCK = Surface.of(
    "session_lock", "checkpoint_store", Method("acquire", BOOL), Method("release"), context_manager=True
)
CHECKPOINTER = Surface.of("checkpointer", "checkpoint_store", Method("notify_activity"), Method("stop", INT))

SURFACE = Surface.of(
    "store",
    "checkpoint_store",
    Method("create", wraps="session"),
    Method("load", wraps="session"),
    Method("index", Shape("list[dict]", lambda v: isinstance(v, list) and all(isinstance(e, dict) for e in v))),
    Method("lock_for", wraps="session_lock"),
    Method("start_checkpointer", wraps="checkpointer"),
)

SUPPORT = ContractSupport(SURFACE, nested=(SESSION, SESSION_LOCK, CHECKPOINTER))
