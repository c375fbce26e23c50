"""Finding providers: entry points, ``module:attr`` paths, and the hook.

Selection order: ``--lifecycle-provider`` (repeatable), else the
``lifecycle_providers`` ini option, else what ``pytest_lifecycle_providers``
offers, else the bundled ``reference``.  A spec containing ``:`` is an
import path; any other spec is a name looked up among entry points of the
group ``pytest_lifecycle.providers`` and the providers the hook offers.
Entry points are scanned as metadata and only the selected one is imported.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final

from pytest_lifecycle._core.errors import ProviderError
from pytest_lifecycle._core.provider import Provider

__all__ = ["DEFAULT_PROVIDER", "ENTRY_POINT_GROUP", "available_entry_points", "load_provider", "select_providers"]

#: The entry-point group a distribution registers its providers in.
ENTRY_POINT_GROUP: Final = "pytest_lifecycle.providers"
DEFAULT_PROVIDER: Final = "reference_impl.provider:provider"


def available_entry_points() -> dict[str, EntryPoint]:
    """Entry points of the provider group, by name (not imported)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _as_provider(value: Any, origin: str, name: str) -> Provider:
    # An entry point may name the provider or a zero-argument function that
    # builds it (handy when building is costly).
    if not isinstance(value, Provider) and callable(value) and not isinstance(value, type):
        try:
            value = value()
        except Exception as exc:
            raise ProviderError(
                f"{origin} is a callable that raised {type(exc).__name__}: {exc}", provider=name
            ) from exc
    if not isinstance(value, Provider):
        raise ProviderError(
            f"{origin} resolved to {type(value).__qualname__}, expected a pytest_lifecycle.Provider",
            provider=name,
        )
    value.origin = origin
    return value


def _import_path(spec: str) -> Provider:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ProviderError(f"import path must look like package.module:attribute, got {spec!r}", provider=spec)
    # As ``python -m pytest`` does, the current directory is importable, so
    # that ``mymod:provider`` works under the ``pytest`` and
    # ``pytest-lifecycle`` scripts too, with no packaging.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ProviderError(
            f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}", provider=spec
        ) from exc
    value: Any = module
    for part in attr.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise ProviderError(f"module {module_name!r} has no attribute {attr!r}", provider=spec) from None
    provider = _as_provider(value, f"import path {spec}", spec)
    provider.spec = spec
    return provider


def _entry_point(ep: EntryPoint) -> Provider:
    origin = f"entry point {ep.name!r} ({ep.value}) in group {ENTRY_POINT_GROUP}"
    try:
        value = ep.load()
    except Exception as exc:
        raise ProviderError(f"{origin} failed to load: {type(exc).__name__}: {exc}", provider=ep.name) from exc
    provider = _as_provider(value, origin, ep.name)
    provider.spec = f"{ep.module}:{ep.attr}"
    if provider.name != ep.name:
        # Reports show provider.name; a mismatch would make the selection
        # and the report disagree, so say which name wins.
        provider.origin += f" (provider calls itself {provider.name!r})"
    return provider


class UnknownProvider(LookupError):
    """A selected name that neither entry points nor the hook provide."""

    def __init__(self, name: str, available: Iterable[str]) -> None:
        self.name = name
        self.available = sorted(set(available))
        listed = ", ".join(self.available) or "none registered"
        super().__init__(
            f"unknown lifecycle provider {name!r}\n"
            f"available providers: {listed}\n"
            f"(entry points in group {ENTRY_POINT_GROUP!r}, providers from the "
            f"pytest_lifecycle_providers hook, or an import path package.module:attribute)"
        )


def load_provider(spec: str, offered: Mapping[str, Provider] | None = None) -> Provider:
    """Resolve one selection: an import path or a registered name.

    :raises ProviderError: the provider exists but cannot be loaded.
    :raises UnknownProvider: no provider has that name.
    """
    offered = offered or {}
    if ":" in spec:
        return _import_path(spec)
    if spec in offered:
        return offered[spec]
    eps = available_entry_points()
    if spec in eps:
        return _entry_point(eps[spec])
    if spec == "reference":
        return _import_path(DEFAULT_PROVIDER)
    raise UnknownProvider(spec, [*eps, *offered, "reference"])


def select_providers(specs: list[str], offered: list[Provider]) -> list[Provider]:
    """The providers to certify, in selection order, without duplicates."""
    by_name: dict[str, Provider] = {}
    for p in offered:
        if not isinstance(p, Provider):
            raise ProviderError(
                f"the pytest_lifecycle_providers hook returned {type(p).__qualname__}, expected Provider",
                provider=repr(p),
            )
        p.origin = "pytest_lifecycle_providers hook"
        by_name.setdefault(p.name, p)
    if specs:
        chosen = [load_provider(s, by_name) for s in specs]
    elif by_name:
        chosen = list(by_name.values())
    else:
        chosen = [load_provider(DEFAULT_PROVIDER)]
    unique: dict[str, Provider] = {}
    for p in chosen:
        if p.name in unique and unique[p.name] is not p:
            raise ProviderError(
                f"two selected providers share the name {p.name!r} ({unique[p.name].origin}; {p.origin}); "
                "test ids and reports need unique names",
                provider=p.name,
            )
        unique[p.name] = p
    return list(unique.values())
