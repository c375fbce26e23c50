"""Stream resume (§4): surface, the kit's async driving of it, and fixtures.

The surface is async.  Registry: ``await get_or_create(id)``, ``await
get(id)``, ``await delete(id)``; stream: ``await emit(payload, *,
close=False)``, ``await close()``, ``subscribe(*, after=None)`` (a plain
function returning an async iterator), ``await last_cursor()``.  Factories
get, besides ``ctx.path`` and ``ctx.clock``, the extras ``ctx.cursor_fn``
(payload → int; the kit's payloads carry it as ``payload["seq"]``) and
``ctx.ttl_seconds``.

The provider names its exception classes for *not found*, *gone* and
*closed*: ``Provider(..., options={"event_streams": {"not_found": E1, "gone":
E2, "closed": E3}})`` (a class or a tuple of classes each), or as attributes
``not_found_error``, ``gone_error``, ``closed_error`` of the registry.

Every call runs on the kit's own event loop (:class:`~pytest_lifecycle._probes.asyncdrive.LoopDriver`),
one step at a time: the kit waits until the loop is idle before it looks at
what happened.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, final

import pytest

from pytest_lifecycle._core.context import Context
from pytest_lifecycle._core.errors import ProviderError, RuleViolation
from pytest_lifecycle._core.kit import ContractSupport, Kit
from pytest_lifecycle._core.surface import Method, Surface, short_repr
from pytest_lifecycle._probes.asyncdrive import LoopDriver, Pending

__all__ = [
    "END",
    "SUPPORT",
    "TTL_SECONDS",
    "Read",
    "StreamErrors",
    "StreamRegistry",
    "Streams",
    "event",
    "event_streams",
    "seq_cursor",
]

SURFACE = Surface.of("streams", "event_streams", Method("get_or_create"), Method("get"), Method("delete"))
STREAM = Surface.of(
    "stream", "event_streams", Method("emit"), Method("close"), Method("subscribe"), Method("last_cursor")
)

#: The TTL every factory gets: half a second off the whole numbers, so the
#: kit's clock (moved in whole seconds) never lands on an expiry boundary.
TTL_SECONDS: Final = 60.5


def seq_cursor(payload: Any) -> int:
    """The kit's ``cursor_fn``: ``payload["seq"]``."""
    cursor: int = payload["seq"]
    return cursor


def event(seq: int, tag: str = "") -> dict[str, Any]:
    """A payload with cursor *seq* (the kit's events)."""
    return {"seq": seq, "data": f"event {seq}{tag}"}


def _extras(kit: Kit) -> dict[str, Any]:
    return {"cursor_fn": seq_cursor, "ttl_seconds": TTL_SECONDS}


SUPPORT = ContractSupport(SURFACE, nested=(STREAM,), context_extras=_extras)

#: What a read returns when the iterator ends (``StopAsyncIteration``).
END: Final = type("END", (), {"__repr__": lambda self: "END"})()

ErrorKind = str  # "not_found" | "gone" | "closed"
KINDS: Final = ("not_found", "gone", "closed")


@final
@dataclass(frozen=True)
class StreamErrors:
    """The provider's exception classes, by the contract's names."""

    not_found: tuple[type[BaseException], ...]
    gone: tuple[type[BaseException], ...]
    closed: tuple[type[BaseException], ...]

    @classmethod
    def of(cls, kit: Kit, registry: Any) -> StreamErrors:
        named = dict(kit.provider.options.get("event_streams", {}) or {})
        found: dict[str, tuple[type[BaseException], ...]] = {}
        for kind in KINDS:
            value = named.get(kind, getattr(registry, f"{kind}_error", None))
            classes = value if isinstance(value, tuple) else (value,)
            if value is None or not all(isinstance(c, type) and issubclass(c, BaseException) for c in classes):
                raise ProviderError(
                    f"names no exception class for {kind.replace('_', ' ')!r}: pass Provider(..., options="
                    "{'event_streams': {'not_found': ..., 'gone': ..., 'closed': ...}}) or give the registry a "
                    f"{kind}_error attribute (got {value!r})",
                    provider=kit.provider.name,
                    contract="event_streams",
                    rule=kit.rule.id,
                )
            found[kind] = classes
        return cls(**found)

    def kind_of(self, exc: BaseException) -> ErrorKind | None:
        """Which of the named errors *exc* is (``None``: none of them)."""
        for kind in KINDS:
            if isinstance(exc, getattr(self, kind)):
                return kind
        return None

    def names(self, kinds: tuple[ErrorKind, ...]) -> str:
        return " or ".join(f"{k.replace('_', ' ')} ({'/'.join(c.__name__ for c in getattr(self, k))})" for k in kinds)


@final
class Read:
    """One ``__anext__`` of a subscriber, started on the kit's loop."""

    def __init__(self, subscriber: Subscriber, pending: Pending[Any]) -> None:
        self.subscriber = subscriber
        self._pending = pending

    @property
    def done(self) -> bool:
        return self._pending.done

    def outcome(self) -> tuple[str, Any]:
        """``("item", payload)``, ``("end", END)`` or ``("error", exc)``; the read must be done."""
        error = self._pending.exception()
        if error is None:
            value = self._pending.result()
            return ("end", END) if value is END else ("item", value)
        if isinstance(error, RuleViolation):
            raise error
        return "error", error

    def describe(self) -> str:
        if not self.done:
            return "still waiting"
        kind, value = self.outcome()
        if kind == "error":
            return f"raised {type(value).__name__}: {value}"
        return "ended" if kind == "end" else f"yielded {short_repr(value)}"

    def cancel(self) -> None:
        self._pending.cancel()


@final
class Subscriber:
    """An async iterator a provider's ``subscribe()`` returned, read by the kit."""

    def __init__(self, stream: Stream, raw: Any, label: str) -> None:
        self.stream = stream
        self.raw = raw
        self.label = label
        self.current: Read | None = None

    def read(self) -> Read:
        """Start the next ``__anext__`` (or return the one still waiting); the loop is then idle."""
        if self.current is not None and not self.current.done:
            return self.current
        raw = self.raw

        async def step() -> Any:
            try:
                return await raw.__anext__()
            except StopAsyncIteration:
                return END

        pending = self.stream.driver.start(step, f"{self.label}.__anext__() of stream {self.stream.id!r}")
        self.current = Read(self, pending)
        return self.current

    def cancel(self) -> None:
        """Cancel a read still waiting (the kit's doing)."""
        if self.current is not None and not self.current.done:
            self.current.cancel()
        self.current = None

    def __repr__(self) -> str:
        return self.label


@final
class Stream:
    """A provider's stream, driven on the kit's loop and traced."""

    def __init__(self, registry: StreamRegistry, raw: Any, stream_id: str) -> None:
        self.registry = registry
        self.raw = raw
        self.id = stream_id
        self.kit = registry.kit
        self.driver = registry.driver
        self.label = f"{registry.label}[{stream_id!r}]"
        self._subscribers = 0

    def _method(self, name: str) -> Any:
        attr = getattr(self.raw, name, None)
        if not callable(attr):
            raise ProviderError(
                f"its stream object ({type(self.raw).__qualname__}) has no method {name}()",
                provider=self.kit.provider.name,
                contract="event_streams",
                rule=self.kit.rule.id,
            )
        return attr

    def start_emit(self, payload: Any, *, close: bool = False) -> Pending[Any]:
        """Start ``emit`` and run the loop until idle (it may still be waiting)."""
        fn = self._method("emit")
        text = f"{self.label}.emit({short_repr(payload)}{', close=True' if close else ''})"
        return self.driver.start(lambda: fn(payload, close=True) if close else fn(payload), text)

    def emit(self, payload: Any, *, close: bool = False) -> Any:
        fn = self._method("emit")
        text = f"{self.label}.emit({short_repr(payload)}{', close=True' if close else ''})"
        return self.registry.streams.run(lambda: fn(payload, close=True) if close else fn(payload), text)

    def close(self) -> Any:
        fn = self._method("close")
        return self.registry.streams.run(fn, f"{self.label}.close()")

    def last_cursor(self) -> Any:
        fn = self._method("last_cursor")
        return self.registry.streams.run(fn, f"{self.label}.last_cursor()")

    def subscribe(self, after: Any = None, *, given: bool = True) -> Subscriber:
        """``subscribe(after=after)`` (``given=False``: ``subscribe()`` with no argument)."""
        fn = self._method("subscribe")
        self._subscribers += 1
        label = f"{self.label}.sub{self._subscribers}"
        text = f"{self.label}.subscribe({f'after={after!r}' if given else ''})"
        raw = self.registry.streams.call(lambda: fn(after=after) if given else fn(), text, label=label)
        if not callable(getattr(raw, "__anext__", None)):
            raise RuleViolation(
                self.kit.rule.id,
                f"provider {self.kit.provider.name!r}: {text} returned {short_repr(raw)} "
                f"({type(raw).__name__}), expected an async iterator (with __anext__) after {self.kit.steps()}",
            )
        return Subscriber(self, raw, label)

    def __repr__(self) -> str:
        return self.label


@final
class StreamRegistry:
    """A provider's registry, driven on the kit's loop and traced."""

    def __init__(self, streams: Streams, raw: Any, ctx: Context, label: str) -> None:
        self.streams = streams
        self.raw = raw
        self.ctx = ctx
        self.label = label
        self.kit = streams.kit
        self.driver = streams.driver

    def _stream(self, raw: Any, stream_id: str, text: str) -> Stream:
        missing = [m for m in STREAM.methods if not callable(getattr(raw, m, None))]
        if raw is None or missing:
            raise RuleViolation(
                self.kit.rule.id,
                f"provider {self.kit.provider.name!r}: {text} returned {short_repr(raw)} ({type(raw).__name__}), "
                f"expected a stream with {', '.join(m + '()' for m in missing or STREAM.methods)} after {self.kit.steps()}",
            )
        return Stream(self, raw, stream_id)

    def _call(self, name: str, stream_id: Any) -> Any:
        fn = getattr(self.raw, name, None)
        if not callable(fn):
            raise ProviderError(
                f"its registry ({type(self.raw).__qualname__}) has no method {name}()",
                provider=self.kit.provider.name,
                contract="event_streams",
                rule=self.kit.rule.id,
            )
        return self.streams.run(lambda: fn(stream_id), f"{self.label}.{name}({short_repr(stream_id)})")

    def get_or_create(self, stream_id: Any) -> Stream:
        text = f"{self.label}.get_or_create({short_repr(stream_id)})"
        return self._stream(self._call("get_or_create", stream_id), stream_id, text)

    def get_or_create_concurrently(self, stream_id: Any, n: int) -> list[Stream]:
        """*n* ``get_or_create(stream_id)`` started together, before the loop runs any of them."""
        fn = getattr(self.raw, "get_or_create", None)
        if not callable(fn):
            raise ProviderError(
                f"its registry ({type(self.raw).__qualname__}) has no method get_or_create()",
                provider=self.kit.provider.name,
                contract="event_streams",
                rule=self.kit.rule.id,
            )
        text = f"{self.label}.get_or_create({short_repr(stream_id)})"
        pendings = self.driver.start_many([(lambda: fn(stream_id), f"{text} #{i}") for i in range(1, n + 1)])
        handles = []
        for i, pending in enumerate(pendings, 1):
            self.driver.finish(pending)
            raw = self.streams._traced(pending, f"{text} #{i}")
            handles.append(self._stream(raw, stream_id, f"{text} #{i}"))
        return handles

    def get(self, stream_id: Any) -> Stream:
        text = f"{self.label}.get({short_repr(stream_id)})"
        return self._stream(self._call("get", stream_id), stream_id, text)

    def delete(self, stream_id: Any) -> Any:
        return self._call("delete", stream_id)

    def __repr__(self) -> str:
        return self.label


@final
class Streams:
    """Builds and restarts stream registries and runs their calls; see :func:`event_streams`."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.driver = LoopDriver(kit, "the stream registry")
        self._errors: StreamErrors | None = None
        self._registries = 0

    # -- instances --------------------------------------------------------------------

    def new(self, ctx: Context | None = None) -> StreamRegistry:
        """A fresh registry (on a new directory, or on *ctx*: a restart), built on the kit's loop."""
        __tracebackhide__ = True
        kit = self.kit
        kit.require("event_streams", capability="")
        if ctx is None:
            ctx = kit.context("event_streams", **_extras(kit))
        factory = kit.provider.factories["event_streams"]
        self._registries += 1
        label = "streams" if self._registries == 1 else f"streams-{self._registries}"
        try:
            raw = self.driver.call(lambda: factory(ctx), "the event_streams factory")
        except RuleViolation:
            raise
        except Exception as exc:
            raise ProviderError(
                f"the event_streams factory raised {type(exc).__name__}: {exc}",
                provider=kit.provider.name,
                contract="event_streams",
                rule=kit.rule.id,
            ) from exc
        if raw is None:
            raise ProviderError(
                "the event_streams factory returned None instead of a registry",
                provider=kit.provider.name,
                contract="event_streams",
                rule=kit.rule.id,
            )
        if self._errors is None:
            self._errors = StreamErrors.of(kit, raw)
        kit.note(f"{label} = factory({ctx.path.name})")
        return StreamRegistry(self, raw, ctx, label)

    __call__ = new

    def restart(self, registry: StreamRegistry | Context) -> StreamRegistry:
        """A new registry on the same directory; the old one is not closed (the crash)."""
        ctx = registry if isinstance(registry, Context) else registry.ctx
        self.kit.note("restart")
        return self.new(ctx)

    def fresh_context(self) -> Context:
        """A context on a new empty directory with the contract's extras."""
        return self.kit.context("event_streams", **_extras(self.kit))

    def context_at(self, path: Path) -> Context:
        """A context on *path* (an existing directory) with the contract's extras."""
        return Context(path, self.kit.clock, contract="event_streams", extras=_extras(self.kit))

    def copy(self, registry: StreamRegistry, name: str) -> Context:
        """A context on a copy of *registry*'s directory as it is now (a crash image)."""
        target = registry.ctx.path.parent / f"{registry.ctx.path.name}-{name}"
        shutil.copytree(registry.ctx.path, target)
        return self.context_at(target)

    @property
    def errors(self) -> StreamErrors:
        if self._errors is None:
            raise RuntimeError("build a registry first")
        return self._errors

    # -- calls ------------------------------------------------------------------------

    def run(self, make: Callable[[], Any], text: str) -> Any:
        """Await ``make()`` on the kit's loop, traced: a provider exception is noted and re-raised."""
        __tracebackhide__ = True
        pending = self.driver.complete(make, text)
        return self._traced(pending, text)

    def call(self, fn: Callable[[], Any], text: str, *, label: str | None = None) -> Any:
        """Call the synchronous ``fn()`` on the kit's loop, traced."""
        __tracebackhide__ = True

        async def inline() -> Any:
            return fn()

        pending = self.driver.complete(inline, text)
        return self._traced(pending, text, label)

    def _traced(self, pending: Pending[Any], text: str, label: str | None = None) -> Any:
        __tracebackhide__ = True
        error = pending.exception()
        if error is None:
            value = pending.result()
            self.kit.note(f"{text} -> {label or short_repr(value)}")
            return value
        if isinstance(error, RuleViolation):
            raise error
        self.kit.note(f"{text} raised {type(error).__name__}: {error}")
        if isinstance(error, Exception):
            self.kit.provider_raised(error, text)
            raise error
        raise RuleViolation(
            self.kit.rule.id,
            f"provider {self.kit.provider.name!r} raised {type(error).__name__}: {error} in {text} after {self.kit.steps()}",
        ) from error

    def raises(self, kinds: tuple[ErrorKind, ...], call: Callable[[], Any], what: str) -> ErrorKind:
        """*call* must raise one of the provider's *kinds* of error; which one it raised."""
        __tracebackhide__ = True
        try:
            value = call()
        except RuleViolation:
            raise
        except BaseException as exc:
            kind = self.errors.kind_of(exc)
            if kind in kinds:
                return kind
            self.kit.fail(f"{what} raised {type(exc).__name__}: {exc}, expected {self.errors.names(kinds)}")
        self.kit.fail(f"{what} returned {short_repr(value)}, expected it to raise {self.errors.names(kinds)}")

    def settle(self) -> None:
        """Run the loop until idle."""
        self.driver.settle()


@pytest.fixture
def event_streams(lifecycle_kit: Kit) -> Streams:
    """Build (``event_streams.new()``) and restart (``.restart(registry)``) stream registries.

    Every call runs on the kit's private event loop and returns once it
    finished and the loop is idle; ``stream.start_emit`` and
    ``subscriber.read()`` start a call and leave it waiting, so a test can
    force an interleaving.  ``event_streams.errors`` are the provider's
    exception classes.
    """
    return Streams(lifecycle_kit)
