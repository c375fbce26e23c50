"""The sequential model of a checkpoint store (§2): what may be loaded, what the index lists.

One store, a few sessions, each with its fields as plain dicts (``title``,
``messages``, the pending fields).  The model keeps, per session:

- ``memory[sid]``: the fields of the live session object;
- ``disk[sid]``: the states that may be on disk now — exactly the last save's
  state, plus every state that existed while a checkpointer was running
  (``None`` while nothing was ever saved).  CK-01 (§2): a load after a
  restart returns one of them;
- ``own[sid]``: the index entry the last *full* save of ``sid`` put there,
  and ``rebuilt[sid]``: the entries it may have if every full save rebuilds
  the index from the session files on disk (``None``: may be absent).  CK-02
  (§2): a ``save(skip_index=True)`` leaves the index as it was.  Which of the
  two the provider follows is the open choice CK/index-rebuild; the model
  answers with both (:meth:`CheckpointModel.index_branches`) until it is told
  the branch the provider was seen to take.

:func:`updated_at_problem` is CK-03 (§2): what a save may do to ``updated_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["INDEX_CHOICE", "CheckpointModel", "Entry", "State", "entry_of", "fits", "updated_at_problem"]

#: The open choice a full save makes about the other sessions' entries.
INDEX_CHOICE = "CK/index-rebuild"

#: The fields of a session (``session_id`` and ``updated_at`` aside).
State = dict[str, Any]
#: The index fields of a session: title, message count, updated_at (``None``: not known, not compared).
Entry = dict[str, Any]


def entry_of(state: State, updated_at: float | None) -> Entry:
    """The index fields of a saved *state* (``updated_at`` ``None``: not known, not compared)."""
    return {"title": state["title"], "message_count": len(state["messages"]), "updated_at": updated_at}


def fits(got: dict[str, Any], entry: Entry) -> bool:
    """An index entry the provider listed agrees with the model's *entry* (``None`` fields not compared)."""
    return all(value is None or got.get(name) == value for name, value in entry.items())


def updated_at_problem(before: float, after: float, *, touch: bool, clock_moved: bool, racing: bool) -> str | None:
    """CK-03 (§2): what is wrong with ``updated_at`` going from *before* to *after* over one save, if anything.

    A default save (*touch*) advances it once the clock has moved on;
    ``touch_updated_at=False`` keeps it — unless a running checkpointer
    (*racing*) saved, and touched it, between the two reads.
    """
    if touch and clock_moved:
        return None if after > before else f"kept updated_at at {before!r} with the clock moved on"
    if touch or racing:
        return None if after >= before else f"moved updated_at back from {before!r} to {after!r}"
    return None if after == before else f"changed updated_at from {before!r} to {after!r}"


class CheckpointModel:
    """The states a store may hold for *ids*: on disk (CK-01), in the index (CK-02)."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.ids = tuple(ids)
        self.memory: dict[str, State] = {}
        self.disk: dict[str, list[State | None]] = {}
        self.own: dict[str, Entry] = {}
        self.rebuilt: dict[str, list[Entry | None]] = {}
        #: Sessions with a running checkpointer: any state they pass through may reach disk.
        self.running: set[str] = set()

    def created(self, sid: str, state: State) -> None:
        """A new, never saved session object: nothing of it is on disk."""
        self.memory[sid] = state
        self.disk[sid] = [None]

    def changed(self, sid: str, state: State) -> None:
        """The session object changed (under ``lock_for``); a running checkpointer may save it (CK-01)."""
        self.memory[sid] = state
        self._may_reach_disk(sid)

    def checkpointer_started(self, sid: str) -> None:
        self.running.add(sid)
        self._may_reach_disk(sid)

    def checkpointer_stopped(self, sid: str) -> None:
        self.running.discard(sid)

    def _may_reach_disk(self, sid: str) -> None:
        if sid in self.running and self.memory[sid] not in self.disk[sid]:
            self.disk[sid].append(self.memory[sid])

    def saved(self, sid: str, *, skip_index: bool, updated_at: float | None) -> None:
        """``save`` returned: its state is on disk (CK-01); a full save indexes it (CK-02).

        :param updated_at: what the save left in the session, or ``None`` when
            a racing checkpointer makes it unknown.
        """
        self.disk[sid] = [self.memory[sid]]
        if skip_index:
            return
        entry = entry_of(self.memory[sid], updated_at)
        self.own[sid] = entry
        # A rebuild reads every other session's file as it is now.
        self.rebuilt = {
            other: [None if state is None else entry_of(state, None) for state in self.disk[other]]
            for other in self.ids
            if other != sid and self.disk[other] != [None]
        }
        self.rebuilt[sid] = [entry]

    def restarted(self) -> None:
        """A new store over the same directory: the old store's checkpointers died with it."""
        self.running.clear()

    def loaded(self, sid: str, state: State) -> None:
        """After a restart the session object is the loaded one, which is what is on disk."""
        self.memory[sid] = state
        self.disk[sid] = [state]

    def may_load(self, sid: str) -> list[State | None]:
        """CK-01 (§2): what ``load(sid)`` may return now (``None``: nothing was saved)."""
        return self.disk[sid]

    def index_branches(self, chosen: str | None) -> dict[str, dict[str, list[Entry | None]]]:
        """CK-02 (§2): per branch of CK/index-rebuild, the entries each session may have.

        *chosen* is the branch the provider was seen to take, if any: then
        only that one.  A session the model lists with ``None`` among its
        options may be absent.
        """
        own: dict[str, list[Entry | None]] = {sid: [e] for sid, e in self.own.items()}
        branches = {"own-entry": own, "rebuild": dict(self.rebuilt)}
        return branches if chosen is None else {chosen: branches[chosen]}

    @staticmethod
    def index_fits(model: dict[str, list[Entry | None]], entries: dict[str, dict[str, Any]]) -> bool:
        """The listed *entries* (by session id) are what *model* allows: none extra, none missing, fields equal."""
        if set(entries) - set(model):
            return False
        for sid, options in model.items():
            if sid not in entries:
                if None not in options:
                    return False
            elif not any(option is not None and fits(entries[sid], option) for option in options):
                return False
        return True
