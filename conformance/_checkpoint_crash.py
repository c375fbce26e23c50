"""The child side of CK-05's crash tests (§2); private.

These functions run in workers forked by :class:`~pytest_lifecycle.support.CrashHarness`: they
build the provider's store on the test's directory, as a restarted server
would, and save numbered versions of one session until the kit kills them.
Version ``n`` is :func:`version_state` ``(n)``, so whatever a fresh store loads
afterwards can be compared with exactly the old or exactly the new version.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_lifecycle import Context, KitClock
from pytest_lifecycle.support import limit_file_size, load_provider

#: The one session the crash tests save.
SESSION_ID = "crash_session"

Report = Callable[[dict[str, Any]], None]


def version_state(n: int) -> dict[str, Any]:
    """The fields of version *n*: sizes vary, so a torn file cannot pass for a whole one."""
    messages = [
        {
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"v{n} m{i} " + "abcdefgh" * (250 + (n * 7919 + i * 104729) % 750),
        }
        for i in range(1 + n % 4)
    ]
    pending = n % 3 != 0
    return {
        "title": f"v{n}",
        "messages": messages,
        "pending_user_message": f"pending of v{n}" if pending else None,
        "pending_started_at": 1_700_000_000.0 + n if pending else None,
        "active_stream_id": f"stream-{n}" if pending else None,
    }


def version_of(title: object) -> int | None:
    """The version number in a title written by :func:`version_state`."""
    if isinstance(title, str) and title.startswith("v") and title[1:].isdigit():
        return int(title[1:])
    return None


def apply(session: Any, state: dict[str, Any]) -> None:
    for name, value in state.items():
        setattr(session, name, value)


def _store(args: dict[str, Any]) -> Any:
    provider = load_provider(args["provider"])
    ctx = Context(Path(args["path"]), KitClock(args["clock"]), contract="checkpoint_store")
    return provider.factories["checkpoint_store"](ctx)


def _loaded(store: Any, report: Report) -> tuple[Any, int]:
    session = store.load(SESSION_ID)
    n = version_of(getattr(session, "title", None))
    if session is None or n is None:
        raise AssertionError(
            f"the child loaded {session!r} (title {getattr(session, 'title', None)!r}), not a saved version"
        )
    report({"loaded": n})
    return session, n


def save_loop(args: dict[str, Any], report: Report) -> None:
    """Save versions n+1, n+2, … (full and ``skip_index`` saves alternating) until killed."""
    session, n = _loaded(_store(args), report)
    while True:
        n += 1
        apply(session, version_state(n))
        report({"saving": n})
        session.save(skip_index=n % 2 == 0)
        report({"saved": n})
        # Chatter, as a provider that logs would: the harness must drain it.
        print(f"saved v{n}", flush=True)


def cut_write(args: dict[str, Any], report: Report) -> None:
    """Save version n+1 with every write cut at byte ``args["offset"]``.

    ``args["kill"]``: the crossing write kills the process (``SIGXFSZ``);
    otherwise it fails with ``EFBIG`` and the save must raise.
    """
    session, n = _loaded(_store(args), report)
    apply(session, version_state(n + 1))
    report({"saving": n + 1})
    limit_file_size(args["offset"], kill=args["kill"])
    try:
        session.save(skip_index=args["skip_index"])
    except Exception as exc:
        limit_file_size(None)
        report({"raised": n + 1, "error": f"{type(exc).__name__}: {exc}"[:300]})
        return
    limit_file_size(None)
    report({"saved": n + 1})
    sys.stdout.flush()
