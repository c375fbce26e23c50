"""Test doubles the kit controls: gated, failing on demand, recording."""

from pytest_lifecycle._core.gate import Gate
from pytest_lifecycle._doubles.agent import GatedAgent, InjectedFailure
from pytest_lifecycle._doubles.sources import GatedSources, SourceCall

__all__ = ["Gate", "GatedAgent", "GatedSources", "InjectedFailure", "SourceCall"]
