"""RS-07: random sequences of respawns against the model's lock table (§1b); private.

Each example builds a fresh manager on fresh source doubles and, over a few
keys that share names and workspaces, installs (protected or not) and
respawns — some starts made to fail, some keys never installed — in any
order.  After every respawn the lock table must be back to its size at the
start of the example (:meth:`conformance.models.respawn.RespawnModel.lock_table_size`:
no respawn is running or queued), and the next respawn of a key whose start
failed must come back (the queue is not wedged; a hang fails within the kit
timeout).

What each respawn answers is RS-01…RS-04's, checked by their own tests:
here an exception escaping ``respawn`` (RS-03's) ends nothing.  The model
still decides which starts can be made to fail: only a respawn that reaches
``start_source`` (RS-01, RS-02).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from pytest_lifecycle import GatedSources, Kit, RuleViolation

from .models.respawn import Key, RespawnModel

__all__ = ["RespawnMachine"]

#: Two names in two workspaces: keys that share one part, so a table keyed by one part only shows.
KEYS: Final[tuple[Key, ...]] = tuple((name, ws) for name in ("bundle-db", "bundle-mail") for ws in ("ws-a", "ws-b"))


class RespawnMachine(RuleBasedStateMachine):
    """Sequential install/respawn steps; the lock table checked against :class:`RespawnModel`."""

    kit: ClassVar[Kit]
    #: ``respawn_factory`` of the test: a fresh guarded manager on the given sources.
    build: ClassVar[Callable[..., Any]]

    @classmethod
    def configured(cls, kit: Kit, build: Callable[..., Any]) -> type[RespawnMachine]:
        """This machine bound to the test's kit and manager builder."""
        return type(cls.__name__, (cls,), {"kit": kit, "build": staticmethod(build)})

    def __init__(self) -> None:
        super().__init__()
        self.kit.restart_trace("a new example on a fresh manager")
        self.sources = GatedSources(self.kit)
        self.mgr = self.build(self.sources)
        self.model = RespawnModel()
        self.baseline = self.mgr.lock_table_size()
        self.calls = 0

    @rule(key=st.sampled_from(KEYS), protected=st.booleans())
    def install(self, key: Key, protected: bool) -> None:
        if key in self.model.resources:
            return  # the contract says nothing of installing twice
        self.mgr.install(*key, protected=protected)
        self.model.install(key, protected=protected)

    @rule(key=st.sampled_from(KEYS), start_fails=st.booleans())
    def respawn(self, key: Key, start_fails: bool) -> None:
        kit = self.kit
        start_fails = start_fails and self.model.start_calls(key)
        if start_fails:
            self.sources.fail_next(key)
        self.calls += 1
        self.model.queue(key, self.calls)
        try:
            self.mgr.respawn(*key)
        except RuleViolation:
            raise  # a hang (the queue is wedged) or a broken return shape
        except Exception:  # RS-03 judges what respawn raises, not this rule
            pass
        self.model.respawn(key, start_fails=start_fails)
        self.model.done(key)
        size = self.mgr.lock_table_size()
        kit.expect(
            size,
            self.baseline + self.model.lock_table_size(),
            f"lock_table_size() after respawn({key[0]!r}, {key[1]!r}){' whose start failed' if start_fails else ''}, "
            "with no respawn running or queued",
        )
