"""Resource respawn lifecycle (§1b): surface and fixtures."""

from __future__ import annotations

from ..surface import INT, NONE, Method, Shape, Surface
from . import ContractSupport

RESULT = Shape(
    "a result with ok: bool and error: str | None",
    lambda v: type(getattr(v, "ok", None)) is bool and isinstance(getattr(v, "error", 0), (str, type(None))),
)

SURFACE = Surface.of(
    "manager",
    "respawn",
    Method("install", NONE),
    Method("state", Shape("str | None", lambda v: v is None or isinstance(v, str))),
    Method("respawn", RESULT),
    Method("lock_table_size", INT),
)

SUPPORT = ContractSupport(SURFACE)
