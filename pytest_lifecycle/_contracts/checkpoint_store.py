"""Checkpoint races (§2): surface and fixtures."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, final

import pytest

from pytest_lifecycle._core.context import Context
from pytest_lifecycle._core.kit import ContractSupport, Kit
from pytest_lifecycle._core.surface import BOOL, INT, Method, Shape, Surface, unwrap
from pytest_lifecycle._probes.fileops import FileOp, FileOps

__all__ = ["SUPPORT", "CheckpointStores", "checkpoint_store", "checkpoint_store_factory", "checkpoint_stores"]

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


@final
class CheckpointStores:
    """Builds guarded checkpoint stores and restarts them; see the fixture.

    Every store is built by the provider's factory.  A *restart* calls the
    factory again on the same context without closing the old store (that is
    the crash, §0).  Checkpointers started through :meth:`start_checkpointer`
    and file recorders from :meth:`record` are stopped at teardown, even when
    the test fails half-way.
    """

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self._contexts: dict[int, Context] = {}

    def new(self, ctx: Context | None = None) -> Any:
        """A fresh guarded store: on a new directory, or on *ctx*."""
        ctx = ctx or self.kit.context("checkpoint_store")
        store = self.kit.instance("checkpoint_store", ctx=ctx)
        self._contexts[id(unwrap(store))] = ctx
        return store

    __call__ = new

    def at(self, path: Path) -> Any:
        """A guarded store over an existing directory (a copy of a store's files)."""
        return self.new(Context(path, self.kit.clock, contract="checkpoint_store"))

    def context(self, store: Any) -> Context:
        """The context *store* was built with."""
        return self._contexts[id(unwrap(store))]

    def restart(self, store_or_ctx: Any) -> Any:
        """A new store over the same directory; the old one is left as it is."""
        ctx = store_or_ctx if isinstance(store_or_ctx, Context) else self.context(store_or_ctx)
        return self.new(ctx)

    def record(self, store_or_ctx: Any) -> FileOps:
        """Start recording the file operations in the store's directory."""
        ctx = store_or_ctx if isinstance(store_or_ctx, Context) else self.context(store_or_ctx)
        recorder = FileOps(ctx.path).start()
        self.kit.on_close(recorder.stop)
        return recorder

    def start_checkpointer(self, store: Any, session: Any, *, interval: float) -> Any:
        """``store.start_checkpointer(session, interval=...)``, stopped at teardown if the test does not."""
        checkpointer = store.start_checkpointer(session, interval=interval)
        raw = unwrap(checkpointer)

        def stop() -> None:
            with contextlib.suppress(Exception):
                self.kit.runner.spawn(raw.stop, what=f"teardown: {checkpointer!r}.stop()").wait()

        self.kit.on_close(stop)
        return checkpointer

    def hold(self, recorder: FileOps, gate: Any, when: Callable[[FileOp], bool]) -> Callable[[], None]:
        """Hold every operation matching *when* on *gate* (inside the provider's call)."""

        def intercept(op: FileOp) -> None:
            if when(op):
                with gate.passage():
                    pass

        return recorder.intercept(intercept)


@pytest.fixture
def checkpoint_stores(lifecycle_kit: Kit) -> CheckpointStores:
    """Build (``stores()``), restart (``stores.restart(store)``) and record checkpoint stores.

    Each store is a fresh guarded instance of the selected provider; calls run
    on kit threads with the kit timeout, are traced, and have their return
    shapes checked.  ``stores.record(store)`` records the file operations in
    its directory (:class:`~pytest_lifecycle._probes.fileops.FileOps`).
    """
    return CheckpointStores(lifecycle_kit)


@pytest.fixture
def checkpoint_store_factory(checkpoint_stores: CheckpointStores) -> CheckpointStores:
    """Alias of :func:`checkpoint_stores`: call it for a fresh store, ``.restart(store)`` to restart."""
    return checkpoint_stores


@pytest.fixture
def checkpoint_store(checkpoint_stores: CheckpointStores) -> Any:
    """A fresh guarded checkpoint store of the selected provider, on its own directory."""
    return checkpoint_stores.new()
