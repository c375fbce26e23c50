"""Test doubles the kit controls: gated, failing on demand, recording."""

from .agent import GatedAgent, InjectedFailure
from .gate import Gate
from .sources import GatedSources, SourceCall

__all__ = ["Gate", "GatedAgent", "GatedSources", "InjectedFailure", "SourceCall"]
