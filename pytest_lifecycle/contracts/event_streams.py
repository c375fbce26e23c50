"""Stream resume (§4): surface and fixtures (being built)."""

from __future__ import annotations

from ..surface import Method, Surface
from . import ContractSupport

SURFACE = Surface.of("streams", "event_streams", Method("get_or_create"), Method("get"), Method("delete"))

SUPPORT = ContractSupport(SURFACE)
