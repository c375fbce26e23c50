"""What the kit hands to every factory: a directory, a clock, and extras."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, final

__all__ = ["Context", "KitClock"]


@final
class KitClock:
    """A clock the kit controls: seconds as float, moved only by the kit.

    Thread-safe.  Call it like ``time.time``; the kit moves it with
    :meth:`advance`.
    """

    __slots__ = ("_lock", "_now")

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by *seconds* and return the new time."""
        if seconds < 0:
            raise ValueError(f"the kit clock never goes backwards (advance({seconds}))")
        with self._lock:
            self._now += seconds
            return self._now

    def __repr__(self) -> str:
        return f"KitClock({self():.3f})"


@final
class Context:
    """The argument of every ``factory(ctx)``.

    ``ctx.path`` is a fresh, empty directory for durable state and
    ``ctx.clock()`` the kit's clock.  A contract may add extras (for
    instance the respawn sources ``ctx.remove_source``/``ctx.start_source``);
    a factory may ignore anything it does not need.  A *restart* calls the
    factory again with the same context.
    """

    __slots__ = ("_extras", "clock", "contract", "path")

    def __init__(self, path: Path, clock: KitClock, *, contract: str, extras: Mapping[str, Any] | None = None) -> None:
        self.path: Final = Path(path)
        self.clock: Final = clock
        self.contract: Final = contract
        self._extras: Final = dict(extras or {})

    def __getattr__(self, name: str) -> Any:
        try:
            return self._extras[name]
        except KeyError:
            offered = ", ".join(["path", "clock", *self._extras])
            raise AttributeError(
                f"the kit passes no {name!r} to {self.contract} factories; it offers: {offered}"
            ) from None

    def __repr__(self) -> str:
        return f"Context({self.contract}, path={str(self.path)!r})"
