"""The Python surface of a contract, and the proxy that drives it.

A :class:`Surface` lists the methods the kit calls and the shape of what
each returns.  :class:`Guarded` wraps a provider object: every call runs
through the test's runner (bounded by the kit timeout), is written to the
test's trace, and has its result checked against the surface, so a missing
method or a wrong return type fails with the provider, the contract and the
rule named instead of a confusing error three steps later.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, final

from pytest_lifecycle._core.catalogue import Rule
from pytest_lifecycle._core.errors import ProviderError, ProviderRaised, RuleViolation, escapes_exception
from pytest_lifecycle._core.provider import Provider
from pytest_lifecycle._core.runner import Runner

__all__ = ["ANY", "BOOL", "INT", "NONE", "Driver", "Guarded", "Method", "Shape", "Surface", "short_repr"]


@final
@dataclass(frozen=True, slots=True)
class Shape:
    """What a method must return: a predicate and its description."""

    text: str
    accepts: Callable[[Any], bool]


ANY: Final = Shape("anything", lambda v: True)
NONE: Final = Shape("None", lambda v: v is None)
BOOL: Final = Shape("bool", lambda v: type(v) is bool)
# bool is an int subclass, but True is not a generation.
INT: Final = Shape("int", lambda v: isinstance(v, int) and not isinstance(v, bool))


@final
@dataclass(frozen=True, slots=True)
class Method:
    """One method of a surface."""

    name: str
    returns: Shape = ANY
    #: Optional capability that makes the method part of the surface.
    capability: str | None = None
    #: Surface to guard the returned object with (e.g. a session or a lock).
    wraps: str | None = None


@final
@dataclass(frozen=True, slots=True)
class Surface:
    """The methods of one kind of provider object."""

    name: str
    contract: str
    methods: Mapping[str, Method] = field(default_factory=dict)
    #: The object is used as a context manager (``with lock:``).
    context_manager: bool = False

    @classmethod
    def of(cls, name: str, contract: str, *methods: Method, context_manager: bool = False) -> Surface:
        return cls(name, contract, {m.name: m for m in methods}, context_manager)


class Driver(Protocol):
    """What a guarded object needs from the test driving it (the :class:`~pytest_lifecycle.Kit`)."""

    @property
    def rule(self) -> Rule: ...

    @property
    def provider(self) -> Provider: ...

    @property
    def runner(self) -> Runner: ...

    def note(self, step: str) -> None: ...

    def steps(self) -> str: ...

    def provider_raised(self, exc: BaseException, call: str) -> None: ...

    def guard(self, obj: Any, surface: str) -> Any: ...

    def surface(self, name: str) -> Surface: ...


def short_repr(value: Any, limit: int = 60) -> str:
    """*value* as failure messages show it: its ``repr``, cut to *limit* characters with ``…``."""
    text: str = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _call_text(label: str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    parts = [short_repr(a) for a in args] + [f"{k}={short_repr(v)}" for k, v in kwargs.items()]
    return f"{label}.{name}({', '.join(parts)})"


class Guarded:
    """A provider object seen through its surface.

    Attribute reads and writes that are not surface methods pass through
    (``session.messages``); surface methods are run by the kit.  Use
    :func:`unwrap` to get the provider's own object.
    """

    __slots__ = ("_kit", "_label", "_surface", "_target")

    def __init__(self, target: Any, surface: Surface, kit: Driver, label: str) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_surface", surface)
        object.__setattr__(self, "_kit", kit)
        object.__setattr__(self, "_label", label)

    def __getattr__(self, name: str) -> Any:
        method = self._surface.methods.get(name)
        try:
            attr = getattr(self._target, name)
        except AttributeError:
            if method is None:
                raise
            raise ProviderError(
                f"its {self._surface.name} object ({type(self._target).__qualname__}) has no method {name}()",
                provider=self._kit.provider.name,
                contract=self._surface.contract,
                rule=self._kit.rule.id,
            ) from None
        if method is None or not callable(attr):
            return attr
        return _GuardedMethod(self, method, attr)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __len__(self) -> int:
        length: int = _GuardedMethod(self, Method("__len__", INT), self._target.__len__)()
        return length

    def __repr__(self) -> str:
        label: str = self._label
        return label


class GuardedContextManager(Guarded):
    """A guarded object that is also used as ``with obj:``."""

    __slots__ = ()

    def __enter__(self) -> Any:
        return _GuardedMethod(self, Method("__enter__"), self._target.__enter__)()

    def __exit__(self, *exc: Any) -> Any:
        return _GuardedMethod(self, Method("__exit__"), self._target.__exit__)(*exc)


@final
class _GuardedMethod:
    __slots__ = ("_fn", "_method", "_owner")

    def __init__(self, owner: Guarded, method: Method, fn: Callable[..., Any]) -> None:
        self._owner = owner
        self._method = method
        self._fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        owner = self._owner
        kit = owner._kit
        text = _call_text(owner._label, self._method.name, args, kwargs)
        # The provider gets its own objects back, never the kit's proxies.
        args = tuple(unwrap(a) for a in args)
        kwargs = {k: unwrap(v) for k, v in kwargs.items()}
        try:
            # Bound into a partial: the provider's own keywords (``timeout=`` of
            # commit_session_memory) must not reach Runner.call's keywords.
            value = kit.runner.call(functools.partial(self._fn, *args, **kwargs), what=text)
        except ProviderRaised as exc:
            raise self._raised(text, exc.original) from exc.original
        except RuleViolation:
            raise
        except Exception as exc:
            kit.note(f"{text} raised {type(exc).__name__}: {exc}")
            kit.provider_raised(exc, text)
            raise
        except BaseException as exc:
            if not escapes_exception(exc):
                raise
            raise self._raised(text, exc) from exc
        if not self._method.returns.accepts(value):
            kit.note(f"{text} -> {short_repr(value)}")
            raise RuleViolation(
                kit.rule.id,
                f"provider {kit.provider.name!r} ({owner._surface.contract}): {text} returned "
                f"{short_repr(value)} ({type(value).__name__}), expected {self._method.returns.text}"
                f" after {kit.steps()}",
            )
        if self._method.wraps is not None and value is not None:
            self._check_shape(text, value)
            value = kit.guard(value, self._method.wraps)
        kit.note(f"{text} -> {short_repr(value)}")
        return value

    def _check_shape(self, text: str, value: Any) -> None:
        """An object handed out (a lock, a session) must have its surface's methods."""
        kit = self._owner._kit
        spec = kit.surface(self._method.wraps or "")
        needed = [m for m in spec.methods if spec.methods[m].capability is None]
        needed += ["__enter__", "__exit__"] if spec.context_manager else []
        missing = [m for m in needed if not callable(getattr(value, m, None))]
        if missing:
            kit.note(f"{text} -> {short_repr(value)}")
            raise RuleViolation(
                kit.rule.id,
                f"provider {kit.provider.name!r} ({self._owner._surface.contract}): {text} returned "
                f"{short_repr(value)} ({type(value).__name__}), expected a {spec.name} object with "
                f"{', '.join(m + '()' for m in missing)} after {kit.steps()}",
            )

    def _raised(self, text: str, exc: BaseException) -> ProviderRaised:
        # KeyboardInterrupt or SystemExit from a provider would end the whole
        # session: make it this rule's failure, with the trace.
        kit = self._owner._kit
        kit.note(f"{text} raised {type(exc).__name__}: {exc}")
        return ProviderRaised(kit.rule.id, kit.provider.name, text, exc, kit.steps())

    def spawn(self, *args: Any, **kwargs: Any) -> Any:
        """Run the call on a worker and return its :class:`~pytest_lifecycle._core.runner.Task`."""
        what = _call_text(self._owner._label, self._method.name, args, kwargs)
        return self._owner._kit.runner.spawn(functools.partial(self, *args, **kwargs), what=what)


def unwrap(obj: Any) -> Any:
    """The provider's own object behind a :class:`Guarded` proxy."""
    return object.__getattribute__(obj, "_target") if isinstance(obj, Guarded) else obj
