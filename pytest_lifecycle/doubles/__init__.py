"""Test doubles the kit controls: gated, failing on demand, recording."""

from .agent import GatedAgent, InjectedFailure
from .gate import Gate

__all__ = ["Gate", "GatedAgent", "InjectedFailure"]
