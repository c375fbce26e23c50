"""The :class:`Provider`: one implementation of one or more contracts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, final

from pytest_lifecycle._core.catalogue import CONTRACTS
from pytest_lifecycle._core.errors import ProviderError

__all__ = ["NOT_CLAIMED", "Factory", "Provider"]

#: Skip reasons of rules a provider does not claim start with this.
NOT_CLAIMED: Final = "not claimed"

#: ``factory(ctx)`` returns a fresh, isolated instance of a contract.
Factory = Callable[[Any], Any]


@final
class Provider:
    """An implementation registered with the kit.

    :param name: what ``--lifecycle-provider NAME`` selects and reports show.
    :param session_lifecycle: factory for the session-memory lifecycle (§1a).
    :param respawn: factory for the resource respawn lifecycle (§1b).
    :param checkpoint_store: factory for the checkpoint store (§2).
    :param keyed_locks: factory for the keyed lock registry (§3).
    :param event_streams: factory for the event-stream registry (§4).
    :param capabilities: optional features claimed, e.g. ``{"eviction"}``.
    :param options: per-contract settings the kit reads (documented by the
        contract that uses them).

    A contract is *claimed* when its factory is given.  Every factory is
    called with a :class:`~pytest_lifecycle.Context` and must return a fresh
    instance each time.

    Example::

        provider = Provider("mine", session_lifecycle=factory, capabilities={"eviction"})
    """

    __slots__ = ("capabilities", "factories", "name", "options", "origin", "spec")

    def __init__(
        self,
        name: str,
        *,
        session_lifecycle: Factory | None = None,
        respawn: Factory | None = None,
        checkpoint_store: Factory | None = None,
        keyed_locks: Factory | None = None,
        event_streams: Factory | None = None,
        capabilities: Iterable[str] = (),
        options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ProviderError(f"a provider needs a non-empty name, got {name!r}")
        given = {
            "session_lifecycle": session_lifecycle,
            "respawn": respawn,
            "checkpoint_store": checkpoint_store,
            "keyed_locks": keyed_locks,
            "event_streams": event_streams,
        }
        factories: dict[str, Factory] = {}
        for contract, factory in given.items():
            if factory is None:
                continue
            if not callable(factory):
                raise ProviderError(
                    f"the factory must be callable as factory(ctx), got {type(factory).__name__}",
                    provider=name,
                    contract=contract,
                )
            factories[contract] = factory
        if not factories:
            raise ProviderError(
                "claims no contract; pass at least one factory: " + ", ".join(CONTRACTS),
                provider=name,
            )
        if isinstance(capabilities, str):
            capabilities = (capabilities,)
        caps = frozenset(capabilities)
        known = {cap: c.name for c in CONTRACTS.values() for cap in c.capabilities}
        for cap in sorted(caps):
            if cap not in known:
                raise ProviderError(
                    f"unknown capability {cap!r}; known capabilities: "
                    + ", ".join(f"{k} ({v})" for k, v in sorted(known.items())),
                    provider=name,
                )
            if known[cap] not in factories:
                raise ProviderError(
                    f"claims capability {cap!r} of contract {known[cap]} without a {known[cap]} factory",
                    provider=name,
                )
        self.name: Final = name
        self.factories: Final[Mapping[str, Factory]] = factories
        self.capabilities: Final = caps
        self.options: Final[Mapping[str, Any]] = dict(options or {})
        #: Where the provider was loaded from (entry point, import path, hook).
        self.origin: str = "direct"
        #: ``module:attribute`` that a child process can import to get this
        #: provider back (crash tests); ``None`` for hook or direct providers.
        self.spec: str | None = None

    def claims(self, contract: str) -> bool:
        """Whether the provider implements *contract*."""
        return contract in self.factories

    def claims_capability(self, capability: str) -> bool:
        """Whether the provider claims the optional *capability*."""
        return capability in self.capabilities

    def __repr__(self) -> str:
        caps = f", capabilities={sorted(self.capabilities)}" if self.capabilities else ""
        return f"Provider({self.name!r}, contracts={sorted(self.factories)}{caps})"
