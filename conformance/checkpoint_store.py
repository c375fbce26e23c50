"""Conformance suite of the checkpoint-race contract (§2, CK-01..CK-12).

A store persists long agent runs while they stream; a checkpoint thread saves
whenever work happened, racing with cancel, undo and the final save.  The
tests come from the bug history of a production session store: a shared
``<id>.tmp`` that made concurrent saves fail, checkpoints that tore JSON or
saved an interleaving of two states, a checkpoint thread that outlived the
final save.

Where the contract leaves a choice (``## Open choices`` of the contract:
CK/io-error, CK/index-rebuild, CK/unsafe-load, CK/empty-id) every branch
passes; the tests observe which one the provider took and hold it to the
MUSTs of that branch.  The kit's own session ids use ``[a-z0-9_]`` only
(outside the id-validation tests of CK-10), so a store that accepts no more
than that still reaches every test.

Nothing here sleeps to synchronise.  Races are driven by holding a provider's
file operation (a rename, seen through :class:`~pytest_lifecycle.support.FileOps`) on a
kit gate; what reached disk is read back through the provider's own ``load``;
real crashes are SIGKILLs of child processes (:class:`~pytest_lifecycle.support.CrashHarness`).
Where a rule says *nothing happens* (no save without activity, no write after
``stop()``), the test watches for a bounded window of several checkpoint
intervals: such a window can only miss a bug, never invent one.

Use ``from conformance.checkpoint_store import *`` to run the suite in a
project's own tests.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_lifecycle import Context, Kit, run_machine
from pytest_lifecycle.support import (
    CheckpointStores,
    FileOp,
    FileOps,
    Injection,
    durable_replace_problems,
    recovery_problems,
    short_repr,
)

from . import _checkpoint_crash as crash
from ._checkpoint_machine import CheckpointStoreMachine
from ._checkpoint_support import (
    Snapshots,
    apply,
    differences,
    from_provider_thread,
    learn_layout,
    listing,
    state_of,
    writes_to,
    written,
)
from ._crash_child import child_ok, start_harness

__all__ = [
    "test_ck01_model_conformance",
    "test_ck01_restart_returns_every_field",
    "test_ck02_model_conformance",
    "test_ck02_skip_index_leaves_index_untouched",
    "test_ck03_model_conformance",
    "test_ck03_touch_updated_at",
    "test_ck04_concurrent_saves_use_distinct_temp_files",
    "test_ck04_failed_saves_leave_no_temp_files",
    "test_ck04_many_concurrent_saves_never_fail",
    "test_ck05_injected_faults_surface_or_are_rewritten",
    "test_ck05_save_protocol_is_durable",
    "test_ck05_sigkill_at_random_moments",
    "test_ck05_unsupported_directory_fsync_may_be_ignored",
    "test_ck05_write_cut_at_byte_offset",
    "test_ck06_saves_only_after_activity",
    "test_ck06_stop_returns_within_one_interval",
    "test_ck06_stop_under_lock_for_returns_within_one_interval",
    "test_ck07_snapshots_are_states_at_lock_release",
    "test_ck08_checkpoint_keeps_pending_message_through_crash",
    "test_ck08_pending_message_survives_restart",
    "test_ck09_nothing_written_after_stop",
    "test_ck10_empty_id",
    "test_ck10_escaping_ids_are_rejected",
    "test_ck10_very_long_id",
    "test_ck11_damaged_file_is_never_half_loaded",
    "test_ck11_rebuilt_index_skips_damaged_file",
    "test_ck12_concurrent_full_saves_keep_every_entry",
    "test_ck12_index_update_race",
]

#: Checkpoint interval of the tests that drive a checkpointer.
INTERVAL = 0.01
#: A bounded window for "nothing happens" observations and for giving a racing
#: call its chance to arrive: long enough for many checkpoint intervals and a
#: loaded CI machine's scheduler, short enough to keep the suite fast.
WINDOW = 0.25

MESSAGES = [
    {"role": "user", "content": "first"},
    {"role": "assistant", "content": "reply 1"},
    {"role": "user", "content": "second"},
    {"role": "assistant", "content": "reply 2"},
    {"role": "user", "content": "third"},
    {"role": "assistant", "content": "reply 3"},
]


def _session(
    store: Any,
    session_id: str,
    *,
    title: str = "Test Session",
    messages: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Any:
    session = store.create(session_id, title=title, messages=list(MESSAGES if messages is None else messages))
    apply(session, fields)
    return session


def _loaded_state(kit: Kit, store: Any, session_id: str, what: str) -> dict[str, Any]:
    """``store.load(session_id)`` as fields; fails the rule when there is nothing to load."""
    __tracebackhide__ = True
    try:
        got = store.load(session_id)
    except Exception as exc:
        kit.fail(f"{what}: {store!r}.load({session_id!r}) raised {type(exc).__name__}: {exc}")
    kit.check(got is not None, f"{what}: {store!r}.load({session_id!r}) returned None")
    return state_of(got)


def _entries(kit: Kit, store: Any) -> dict[str, dict[str, Any]]:
    """``store.index()`` by session id; fails on a duplicate or an entry without an id."""
    __tracebackhide__ = True
    found: dict[str, dict[str, Any]] = {}
    for entry in store.index():
        sid = entry.get("session_id")
        kit.check(isinstance(sid, str), f"{store!r}.index() has an entry without a session_id: {short_repr(entry)}")
        kit.check(sid not in found, f"{store!r}.index() lists {sid!r} twice")
        found[sid] = entry
    return found


def _entry_of(session: Any) -> dict[str, Any]:
    return {
        "session_id": session.session_id,
        "title": session.title,
        "updated_at": session.updated_at,
        "message_count": len(session.messages),
    }


def _entry_fields(entry: dict[str, Any]) -> dict[str, Any]:
    return {name: entry.get(name) for name in ("session_id", "title", "updated_at", "message_count")}


def _under_lock(kit: Kit, store: Any, session: Any, change: Any, *, what: str, save: bool = True) -> dict[str, Any]:
    """Run ``change(session)`` (and a full save) under ``lock_for``; the state at the release."""

    def block() -> dict[str, Any]:
        with store.lock_for(session.session_id):
            change(session)
            if save:
                session.save()
            return state_of(session)

    return kit.call(block, what=what)


def _provider_threads(before: set[threading.Thread]) -> list[str]:
    return [
        t.name
        for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.name.startswith("lifecycle-")
    ]


def _spec(kit: Kit) -> str:
    spec = kit.provider.spec
    if spec is None:
        pytest.skip(
            f"provider {kit.provider.name!r} ({kit.provider.origin}) has no import spec (module:attribute); "
            f"the crash tests of {kit.rule.id} rebuild the provider in a child process and need one: "
            "select it with --lifecycle-provider module:attribute or an entry point"
        )
    return spec


# -- CK-01 -------------------------------------------------------------------------


@pytest.mark.rule("CK-01")
def test_ck01_restart_returns_every_field(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-01 (§2): ``save`` then ``load`` on a *new* store over the same
    directory returns the same fields, pending fields included."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    tricky: list[dict[str, Any]] = [
        {"role": "user", "content": 'Ünïcode ✓ 漢字 🚀 \u2028 "quoted" \\ back\x00slash'},
        {"role": "assistant", "content": "", "tool_calls": [{"id": 1, "args": {"x": [1.5, None, True]}}]},
    ]
    full = _session(
        store,
        "full_1",
        title='A "title" ✓',
        messages=tricky,
        pending_user_message="do a long task",
        pending_started_at=kit.clock() + 0.125,
        active_stream_id="stream-abc",
    )
    full.save()
    bare = _session(store, "bare_2", title="", messages=[])
    bare.save(skip_index=True)
    saved = {s.session_id: (state_of(s), s.updated_at) for s in (full, bare)}

    # A restart sees every field of the last save.
    fresh = checkpoint_stores.restart(store)
    for sid, (state, updated_at) in saved.items():
        got = fresh.load(sid)
        kit.check(got is not None, f"{fresh!r}.load({sid!r}) returned None after {sid!r} was saved")
        kit.expect(got.session_id, sid, f"session_id loaded for {sid!r}")
        kit.check(
            state_of(got) == state,
            f"{sid!r} loaded after a restart differs from its save: {differences(state_of(got), state)}",
        )
        kit.expect(got.updated_at, updated_at, f"updated_at of {sid!r} after a restart")
    kit.expect(fresh.load("never_saved"), None, "load of an id that was never saved")

    # The last save wins, cleared pending fields included.
    full.title = "second title"
    full.messages.append({"role": "assistant", "content": "more"})
    apply(full, {"pending_user_message": None, "pending_started_at": None, "active_stream_id": None})
    full.save(skip_index=True)
    state = _loaded_state(kit, checkpoint_stores.restart(store), "full_1", "after a second save and a restart")
    kit.check(
        state == state_of(full), f"the second save of 'full_1' did not come back: {differences(state, state_of(full))}"
    )


@pytest.mark.rule("CK-01")
def test_ck01_model_conformance(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-01 (§2): a Hypothesis state machine over save / save(skip_index) /
    save(touch_updated_at=False) / mutate under ``lock_for`` / checkpoint activity /
    stop / restart / load / index; every ``load`` returns a state the model says
    may be on disk (CK-02's and CK-03's invariants have tests of their own)."""
    machine = CheckpointStoreMachine.configured(lifecycle_kit, checkpoint_stores, checks="CK-01")
    run_machine(machine, lifecycle_kit)


# -- CK-02 -------------------------------------------------------------------------


@pytest.mark.rule("CK-02")
def test_ck02_skip_index_leaves_index_untouched(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-02 (§2): ``save(skip_index=True)`` writes the session but leaves
    the index untouched; a later full ``save`` puts the session in the index."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    kit.expect(store.index(), [], "index() of a new store")
    indexed = _session(store, "indexed")
    indexed.save()
    before = store.index()
    kit.expect([_entry_fields(e) for e in before], [_entry_of(indexed)], "index() after one full save")

    # skip_index saves: a new session and a changed indexed one.
    hidden = _session(store, "hidden", title="not yet indexed")
    hidden.save(skip_index=True)
    kit.clock.advance(5)
    indexed.title = "renamed while streaming"
    indexed.messages.append({"role": "assistant", "content": "streamed"})
    indexed.save(skip_index=True)
    kit.expect(store.index(), before, "index() after save(skip_index=True) of 'hidden' and 'indexed'")
    fresh = checkpoint_stores.restart(store)
    kit.expect(fresh.index(), before, "index() after those skip_index saves and a restart")
    state = _loaded_state(kit, fresh, "hidden", "save(skip_index=True) must still write the session")
    kit.check(state == state_of(hidden), f"'hidden' came back different: {differences(state, state_of(hidden))}")

    # A full save of 'hidden' indexes it.  What it does to the other entries is the
    # open choice CK/index-rebuild: 'indexed' keeps the entry of its last full save
    # and 'draft' (only ever saved with skip_index) stays out (own-entry), or both
    # show what their files hold (rebuild).
    draft = _session(store, "draft", title="saved with skip_index only")
    draft.save(skip_index=True)
    hidden.save()
    entries = _entries(kit, store)
    kit.check(
        "hidden" in entries,
        f"index() after a full save of 'hidden' does not list it: {short_repr(sorted(entries), 200)}",
    )
    kit.expect(_entry_fields(entries["hidden"]), _entry_of(hidden), "index entry of 'hidden' after its full save")
    stray = sorted(set(entries) - {"hidden", "indexed", "draft"})
    kit.check(not stray, f"index() lists {stray}, which no save wrote")
    branch = _observe_index_rebuild(
        kit,
        entries,
        "a full save of 'hidden'",
        own_entry={"indexed": _entry_fields(before[0]), "draft": None},
        rebuild={"indexed": _entry_of(indexed), "draft": _entry_of(draft)},
    )
    indexed.save()
    entries = _entries(kit, checkpoint_stores.restart(store))
    expected = {"hidden": _entry_of(hidden), "indexed": _entry_of(indexed)}
    if branch == "rebuild":
        expected["draft"] = _entry_of(draft)
    kit.expect(
        {sid: _entry_fields(e) for sid, e in entries.items()},
        expected,
        f"index() after full saves of both and a restart (CK/index-rebuild: {branch})",
    )


@pytest.mark.rule("CK-02")
def test_ck02_model_conformance(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-02 (§2): the state machine of CK-01, checking what ``index()`` lists after every
    step against the model: only full saves index, under either branch of CK/index-rebuild."""
    machine = CheckpointStoreMachine.configured(lifecycle_kit, checkpoint_stores, checks="CK-02")
    run_machine(machine, lifecycle_kit)


def _observe_index_rebuild(
    kit: Kit,
    entries: dict[str, dict[str, Any]],
    after: str,
    *,
    own_entry: dict[str, dict[str, Any] | None],
    rebuild: dict[str, dict[str, Any] | None],
) -> str:
    """Which branch of CK/index-rebuild *entries* show for sessions saved with ``skip_index`` only since.

    ``own_entry`` / ``rebuild``: the entry fields each branch predicts for them
    (``None``: not listed).  Fails when *entries* match neither.
    """
    __tracebackhide__ = True
    got = {sid: _entry_fields(entries[sid]) if sid in entries else None for sid in own_entry}
    shown = ", ".join(f"{sid}: {short_repr(entry, 120)}" for sid, entry in got.items())
    for branch, predicted in (("own-entry", own_entry), ("rebuild", rebuild)):
        if got == predicted:
            kit.observe_choice("CK/index-rebuild", branch, f"index() after {after}: {shown}")
            return branch
    kit.fail(
        f"index() after {after} shows {shown}: neither the entries of their last full saves "
        f"({short_repr(own_entry, 200)}, CK/index-rebuild own-entry) nor what their files hold "
        f"({short_repr(rebuild, 200)}, rebuild); a skip_index save must not touch the index itself"
    )


# -- CK-03 -------------------------------------------------------------------------


@pytest.mark.rule("CK-03")
def test_ck03_touch_updated_at(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-03 (§2): ``touch_updated_at=False`` keeps ``updated_at``; a
    default save advances it (checked with the kit clock moved forward)."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "touch")
    session.save()
    kept = session.updated_at
    kit.clock.advance(60)

    session.save(skip_index=True, touch_updated_at=False)
    kit.expect(session.updated_at, kept, "updated_at after save(skip_index=True, touch_updated_at=False)")
    loaded = checkpoint_stores.restart(store).load("touch")
    kit.expect(getattr(loaded, "updated_at", None), kept, "updated_at loaded after save(touch_updated_at=False)")
    session.save(touch_updated_at=False)
    kit.expect(session.updated_at, kept, "updated_at after a full save(touch_updated_at=False)")
    kit.expect(
        _entries(kit, store)["touch"].get("updated_at"), kept, "index updated_at after save(touch_updated_at=False)"
    )

    # A default save advances it, on disk and in the index.
    session.save()
    advanced = session.updated_at
    kit.check(
        advanced > kept,
        f"updated_at after a default save with the clock 60s later: expected > {kept!r}, got {advanced!r}",
    )
    loaded = checkpoint_stores.restart(store).load("touch")
    kit.expect(getattr(loaded, "updated_at", None), advanced, "updated_at loaded after a default save")
    kit.expect(_entries(kit, store)["touch"].get("updated_at"), advanced, "index updated_at after a default save")
    # With the clock standing still it never goes back.
    session.save(skip_index=True)
    kit.check(
        session.updated_at >= advanced,
        f"updated_at went back from {advanced!r} to {session.updated_at!r} on a default save",
    )


@pytest.mark.rule("CK-03")
def test_ck03_model_conformance(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-03 (§2): the state machine of CK-01, checking ``updated_at`` around every save:
    kept by ``touch_updated_at=False``, advanced by a default save once the clock moved on."""
    machine = CheckpointStoreMachine.configured(lifecycle_kit, checkpoint_stores, checks="CK-03")
    run_machine(machine, lifecycle_kit)


# -- CK-04 -------------------------------------------------------------------------


@pytest.mark.rule("CK-04")
def test_ck04_concurrent_saves_use_distinct_temp_files(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-04 (§2): two concurrent saves of one session never fail and never
    share a temporary file (the production store's shared ``<id>.tmp``): the first save is held
    inside its rename while the second runs, each rename's source is recorded."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "same_sid")
    session.save(skip_index=True)
    baseline = listing(checkpoint_stores.context(store).path)
    recorder = checkpoint_stores.record(store)
    gate = kit.gate("os.replace", closed=True)
    checkpoint_stores.hold(recorder, gate, lambda op: op.kind == "rename")
    mark = recorder.mark()

    def renames(ops: list[FileOp]) -> list[FileOp]:
        return [op for op in ops if op.seq > mark and op.kind == "rename"]

    first = session.save.spawn(skip_index=True)
    gate.wait_entered(1, unless=first)
    second = session.save.spawn(skip_index=True)
    # Give the second save its chance to reach its own rename; a provider that
    # serialises saves keeps it waiting on its lock instead (the window ends).
    recorder.wait_for(lambda ops: len(renames(ops)) >= 2, WINDOW)
    if second.done:
        held = renames(recorder.ops)[0].describe(recorder.root)
        kit.fail(
            f"the second save returned while the first was held inside {held} without renaming a temporary file into place"
        )
    gate.open()
    for n, task in enumerate((first, second), 1):
        error = task.exception()
        kit.check(error is None, f"concurrent save #{n} of one session raised {type(error).__name__}: {error}")

    sources = [op.path for op in renames(recorder.ops)]
    shared = sorted({os.path.relpath(p, recorder.root) for p in sources if sources.count(p) > 1})
    kit.check(
        not shared,
        f"two concurrent saves renamed the same temporary file {shared} into place (each save needs its own)",
    )
    kit.expect(listing(checkpoint_stores.context(store).path), baseline, "files left after the concurrent saves")
    state = _loaded_state(kit, checkpoint_stores.restart(store), "same_sid", "after two concurrent saves")
    kit.check(
        state == state_of(session),
        f"the file after concurrent saves is not the saved state: {differences(state, state_of(session))}",
    )


@pytest.mark.rule("CK-04")
def test_ck04_many_concurrent_saves_never_fail(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-04 (§2): many threads saving one session at once (full and
    ``skip_index`` saves, some after a change under ``lock_for``) never fail, leave no
    temporary file, and leave a file equal to one of the saved states."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "hammered")
    session.save()
    path = checkpoint_stores.context(store).path
    baseline = listing(path)
    titles = {session.title}
    titles_lock = threading.Lock()

    def saver(worker: int) -> None:
        for round_ in range(6):
            if round_ % 3 == 0:
                title = f"worker {worker} round {round_}"
                with titles_lock:
                    titles.add(title)
                with store.lock_for("hammered"):
                    session.title = title
                    session.save(skip_index=round_ % 2 == 0)
            else:
                session.save(skip_index=round_ % 2 == 0)

    tasks = [kit.spawn(saver, w, what=f"saver {w}") for w in range(6)]
    for w, task in enumerate(tasks):
        error = task.exception()
        kit.check(error is None, f"saver {w} of one session raised {type(error).__name__}: {error}")
    kit.expect(listing(path), baseline, "files left after 36 concurrent saves of one session")
    state = _loaded_state(kit, checkpoint_stores.restart(store), "hammered", "after concurrent saves")
    kit.check(
        state["title"] in titles and state["messages"] == MESSAGES,
        f"the file after concurrent saves is none of the saved states: title {state['title']!r}",
    )


@pytest.mark.rule("CK-04")
def test_ck04_failed_saves_leave_no_temp_files(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-04 (§2): no temporary file is left behind, also by saves that
    fail: ENOSPC injected into each rename and EIO into each fsync of a save, one at a
    time and then during concurrent saves."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "leaky")
    session.save()
    path = checkpoint_stores.context(store).path
    baseline = listing(path)
    recorder = checkpoint_stores.record(store)
    mark = recorder.mark()
    session.save()
    clean = recorder.since(mark)
    faults = [
        (kind, n, code)
        for kind, code in (("rename", errno.ENOSPC), ("fsync", errno.EIO))
        for n in range(1, 1 + sum(op.kind == kind for op in clean))
    ]
    kit.check(faults, f"a full save made neither a rename nor an fsync under {path}")

    for kind, nth, code in faults:
        injection = recorder.inject(kind, nth=nth, code=code)
        try:
            session.save()
        except Exception:
            pass
        finally:
            injection.remove()
        session.save()  # a provider may sweep its leftovers on the next save
        left = sorted(listing(path) - baseline)
        kit.check(
            not left, f"a save that failed with {injection!r} left {left} behind (still there after the next save)"
        )

    # Concurrent saves with a failure in the middle.
    injections = [recorder.inject("rename", nth=3), recorder.inject("fsync", nth=5, code=errno.EIO)]
    failures: list[BaseException] = []

    def saver(worker: int) -> None:
        for round_ in range(4):
            try:
                session.save(skip_index=round_ % 2 == 0)
            except OSError as exc:
                failures.append(exc)

    for w, task in enumerate([kit.spawn(saver, w, what=f"saver {w}") for w in range(4)]):
        error = task.exception()
        kit.check(error is None, f"saver {w} raised {type(error).__name__}: {error}")
    for injection in injections:
        injection.remove()
    fired = [i for i in injections if i.fired is not None]
    kit.check(
        len(failures) <= len(fired),
        f"{len(failures)} concurrent saves failed but only {len(fired)} faults were injected: {failures!r}",
    )
    session.save()
    left = sorted(listing(path) - baseline)
    kit.check(not left, f"concurrent saves with injected faults ({fired!r}) left {left} behind")


# -- CK-05 -------------------------------------------------------------------------


@pytest.mark.rule("CK-05")
def test_ck05_save_protocol_is_durable(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-05 (§2): a power loss drops what was never fsynced, so every save
    writes a temporary file, fsyncs it, renames it into place and fsyncs the directory
    (checked on the recorded file operations, as ALICE does; OSDI'14)."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    recorder = checkpoint_stores.record(store)
    root = recorder.root
    session = _session(
        store, "durable", pending_user_message="pending", pending_started_at=kit.clock(), active_stream_id="s-1"
    )

    def check(what: str, ops: list[FileOp]) -> None:
        problems = durable_replace_problems(ops, root)
        kit.check(not problems, f"{what}: " + "; ".join(problems))

    steps: list[tuple[str, Callable[[], object]]] = [
        ("the first full save", lambda: session.save()),
        ("a second full save", lambda: session.save()),
        ("save(skip_index=True)", lambda: session.save(skip_index=True)),
        ("save(touch_updated_at=False)", lambda: session.save(touch_updated_at=False)),
    ]
    for what, step in steps:
        mark = recorder.mark()
        step()
        check(what, recorder.since(mark))

    # A checkpoint is a save too.
    checkpointer = checkpoint_stores.start_checkpointer(store, session, interval=INTERVAL)
    mark = recorder.mark()
    _under_lock(
        kit,
        store,
        session,
        lambda s: s.messages.append({"role": "assistant", "content": "tool result"}),
        what="append under lock_for",
        save=False,
    )
    checkpointer.notify_activity()
    by_checkpoint: Callable[[FileOp], bool] = lambda op: (
        op.seq > mark and from_provider_thread(op) and op.kind in ("rename", "open")
    )
    saved = recorder.wait_for(lambda ops: any(by_checkpoint(op) for op in ops), kit.timeout)
    checkpointer.stop()
    kit.check(saved, f"no checkpoint save within {kit.timeout:g}s of notify_activity()")
    # Judge whole saves: let the threads that made them finish (stop() should have joined them).
    savers = {op.thread_id for op in recorder.since(mark) if by_checkpoint(op)}
    for thread in threading.enumerate():
        if thread.ident in savers:
            thread.join(kit.timeout)
    check("a checkpoint save", recorder.since(mark))


@pytest.mark.rule("CK-05")
def test_ck05_sigkill_at_random_moments(
    lifecycle_kit: Kit, checkpoint_stores: CheckpointStores, request: pytest.FixtureRequest
) -> None:
    """CK-05 (§2): a child process saving in a loop is killed with SIGKILL at
    varied moments (``crash_kills`` times); after each kill a fresh store loads exactly
    the old or exactly the new version — never torn, never missing."""
    kit = lifecycle_kit
    spec, ctx, args = _crash_store(kit, checkpoint_stores)
    kills = kit.profile.crash_kills
    seed = zlib.crc32(f"{kit.provider.name}:{kit.nodeid}".encode())
    rng = random.Random(seed)
    version = 0
    cycle = 0.002  # estimated seconds per save in the child; learned as we go
    started = time.monotonic()
    with start_harness(kit, spec, crash) as harness:
        for k in range(1, kills + 1):
            run = harness.start("conformance._checkpoint_crash:save_loop", args)
            loaded = run.wait_report(lambda r: "loaded" in r)
            child_ok(kit, harness, run, loaded, f"the child of SIGKILL #{k}")
            kit.expect(loaded and loaded["loaded"], version, f"version the child of kill #{k} loaded")
            # The moment of death: after 0-2 completed saves, then a random part of a cycle.
            saves = rng.randint(0, 2)
            t0 = time.monotonic()
            if saves:
                run.wait_report(lambda r: r.get("saved", 0) >= version + saves)
            end = run.kill(after=rng.uniform(0, 1.5 * cycle))
            child_ok(kit, harness, run, True, f"the child of SIGKILL #{k}")
            saved = max([r["saved"] for r in end.reports if "saved" in r], default=version)
            saving = max([r["saving"] for r in end.reports if "saving" in r], default=version)
            if saved > version:
                cycle = max(1e-4, (time.monotonic() - t0) / (saved - version))
            moment = f"SIGKILL #{k} of {kills} (seed {seed}), during the save of v{saving} (last completed: v{saved})"
            version = _expect_version(kit, checkpoint_stores, ctx, {saved, saving}, moment)
    elapsed = time.monotonic() - started
    request.node.user_properties.append(("ck05_kills_per_second", round(kills / elapsed, 1)))
    kit.note(f"{kills} SIGKILLs in {elapsed:.2f}s ({kills / elapsed:.0f}/s), last version v{version}")


@pytest.mark.rule("CK-05")
def test_ck05_write_cut_at_byte_offset(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-05 (§2): a crash at an exact byte offset of a write (RLIMIT_FSIZE
    with SIGXFSZ at its default action) leaves the old or the new version; the same
    limit with SIGXFSZ ignored makes that write fail (EFBIG): the save must raise, and
    the old version stay."""
    kit = lifecycle_kit
    spec, ctx, args = _crash_store(kit, checkpoint_stores)
    version = 0
    with start_harness(kit, spec, crash) as harness:
        for kill in (True, False):
            size = len(repr(crash.version_state(version + 1)))
            for offset in (0, 1, 100, size // 4, size // 2, size - 100):
                what = "killed by SIGXFSZ" if kill else "failing with EFBIG"
                moment = f"a save of v{version + 1} {what} at byte {offset}"
                run = harness.start(
                    "conformance._checkpoint_crash:cut_write",
                    {**args, "offset": offset, "kill": kill, "skip_index": offset % 2 == 1},
                )
                end = run.wait()
                child_ok(
                    kit,
                    harness,
                    run,
                    end,
                    moment,
                    died_of=(signal.SIGKILL, signal.SIGXFSZ) if kill else (signal.SIGKILL,),
                )
                assert end is not None
                raised = next((r for r in end.reports if "raised" in r), None)
                completed = any("saved" in r for r in end.reports)
                if not kill:
                    kit.check(
                        raised or completed,
                        f"{moment}: the child reported neither a result nor an error: {end.reports}",
                    )
                if completed:  # the limit was above what the provider wrote
                    allowed = {version + 1}
                elif kill or offset > 1:
                    # A cut in a later file (the index) may come after the session file was replaced.
                    allowed = {version, version + 1}
                else:
                    allowed = {version}
                note = f"; the save raised {raised['error']}" if raised else ""
                version = _expect_version(kit, checkpoint_stores, ctx, allowed, moment + note)


@pytest.mark.rule("CK-05")
def test_ck05_injected_faults_surface_or_are_rewritten(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-05 (§2): EIO from the k-th fsync or ENOSPC from the k-th rename of a full
    save (each k in turn, each on a restarted store).  Open choice CK/io-error, per
    failing step: ``save`` raises and leaves the old version (or, when the fault
    came after the session file was replaced, the new one), or it returns normally
    having written every file again from scratch -- the new version and the index
    on disk and durable.  A provider that swallows the error, or retries ``fsync``
    on the same descriptor, leaves a stale or unsynced file and fails."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "faulty", title="v0")
    recorder = checkpoint_stores.record(store)
    root = Path(recorder.root)
    layout = learn_layout(kit, recorder, session)
    mark = recorder.mark()
    session.save()
    clean = recorder.since(mark)
    targets = written(clean)
    faults = [
        (kind, n, code)
        for kind, code in (("fsync", errno.EIO), ("rename", errno.ENOSPC))
        for n in range(1, 1 + sum(op.kind == kind for op in clean))
    ]
    kit.check(any(kind == "fsync" for kind, _, _ in faults), "a full save made no fsync")
    for number, (kind, nth, code) in enumerate(faults, 1):
        # A fresh instance for every fault: the choice is made per failing step.
        store = checkpoint_stores.restart(store)
        kit.restart_trace(f"fault #{number}: the {kind} #{nth} of a full save fails with {errno.errorcode[code]}")
        session = store.load("faulty")
        kit.check(session is not None, "load('faulty') returned None after it was saved")
        old = state_of(session)
        new = {
            **old,
            "title": f"v{number}",
            "messages": [*old["messages"], {"role": "user", "content": f"turn {number}"}],
        }
        apply(session, new)
        error, injection, ops = _save_with_fault(recorder, session, kind, nth, code)
        if injection.fired is None:
            continue  # this save made fewer such operations
        failed = injection.fired.describe(root)
        fresh = checkpoint_stores.restart(store)
        state = _loaded_state(kit, fresh, "faulty", f"after a save in which {failed} failed with {injection!r}")
        if error is not None:
            kit.observe_choice("CK/io-error", "raises", f"save() raised {type(error).__name__} when {failed} failed")
            replaced = any(
                op.kind == "rename" and op.dest in layout.session_files and op.seq < injection.fired.seq for op in ops
            )
            allowed = [old, new] if replaced else [old]
            kit.check(
                state in allowed,
                f"after save() raised because {failed} failed with {injection!r}, a fresh store "
                f"loaded neither {'the old nor the new' if replaced else 'the old'} version: "
                f"{differences(state, old)}",
            )
            continue
        kit.observe_choice("CK/io-error", "rewrites", f"save() returned normally after {failed} failed")
        problems = recovery_problems(ops, injection.fired, targets, root)
        kit.check(
            not problems,
            f"save() returned normally although {failed} failed with {errno.errorcode[code]}, "
            "and did not write again from scratch (the error must surface, or the file be "
            "rewritten: new temporary file, fsync, rename, directory fsync): " + "; ".join(problems),
        )
        kit.check(
            state == new,
            f"save() returned normally after {failed} failed, but a fresh store did not load "
            f"the new version: {differences(state, new)}",
        )
        entries = _entries(kit, fresh)
        kit.check(
            "faulty" in entries and _entry_fields(entries["faulty"]) == _entry_of(session),
            f"save() returned normally after {failed} failed, but the index on disk does not hold the new "
            f"entry: {short_repr(entries.get('faulty'))}, expected {short_repr(_entry_of(session))}",
        )


@pytest.mark.rule("CK-05")
def test_ck05_unsupported_directory_fsync_may_be_ignored(
    lifecycle_kit: Kit, checkpoint_stores: CheckpointStores
) -> None:
    """CK-05 (§2): a directory fsync that the file system refuses as unsupported
    (EINVAL, injected into each directory fsync of a full save in turn) may be
    ignored or surface; either way a fresh store loads the old or the new version,
    and the new one if ``save`` returned normally."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "dirsync", title="v0")
    session.save()
    recorder = checkpoint_stores.record(store)
    mark = recorder.mark()
    session.save()
    directory_fsyncs = sum(op.kind == "fsync" and op.is_dir for op in recorder.since(mark))
    kit.check(directory_fsyncs, f"a full save made no fsync of its directory under {recorder.root}")
    for nth in range(1, 1 + directory_fsyncs):
        old = state_of(session)
        new = {**old, "title": f"v{nth}"}
        apply(session, new)
        error, injection, _ = _save_with_fault(recorder, session, "fsync", nth, errno.EINVAL, directory=True)
        if injection.fired is None:
            continue
        failed = injection.fired.describe(recorder.root)
        state = _loaded_state(kit, checkpoint_stores.restart(store), "dirsync", f"after {failed} failed with EINVAL")
        allowed = [old, new] if error is not None else [new]
        kit.check(
            state in allowed,
            f"after {failed} failed with EINVAL (save() {'raised' if error else 'returned'}), "
            f"a fresh store loaded {differences(state, new)}",
        )
        session.save()  # a clean save: the next fault starts from a known version


def _save_with_fault(
    recorder: FileOps, session: Any, kind: str, nth: int, code: int, *, directory: bool = False
) -> tuple[Exception | None, Injection, list[FileOp]]:
    """A full save with the *nth* ``kind`` operation failing with *code*: (error, injection, operations)."""
    mark = recorder.mark()
    injection = recorder.inject(kind, nth=nth, code=code, match=(lambda op: op.is_dir) if directory else None)
    try:
        session.save()
    except Exception as exc:
        error: Exception | None = exc
    else:
        error = None
    finally:
        injection.remove()
    return error, injection, recorder.since(mark)


def _crash_store(kit: Kit, checkpoint_stores: CheckpointStores) -> tuple[str, Context, dict[str, Any]]:
    """A store holding version 0 of the crash session, and the child's arguments."""
    spec = _spec(kit)
    ctx = kit.context()
    session = checkpoint_stores.new(ctx).create(crash.SESSION_ID, title="v0", messages=[])
    apply(session, crash.version_state(0))
    session.save()
    return spec, ctx, {"provider": spec, "path": str(ctx.path), "clock": kit.clock()}


def _expect_version(kit: Kit, stores: CheckpointStores, ctx: Any, allowed: set[int], moment: str) -> int:
    """A fresh store must load exactly one of the *allowed* versions; returns it."""
    __tracebackhide__ = True
    fresh = stores.restart(ctx)
    shown = " or ".join(f"v{v}" for v in sorted(allowed))
    try:
        got = fresh.load(crash.SESSION_ID)
    except Exception as exc:
        kit.fail(f"after {moment}, load raised {type(exc).__name__}: {exc} — the file is torn (expected {shown})")
    kit.check(got is not None, f"after {moment}, load returned None — the file is missing (expected {shown})")
    version = crash.version_of(got.title)
    kit.check(version in allowed, f"after {moment}, a fresh store loaded title {got.title!r} (expected {shown})")
    assert version is not None
    expected = crash.version_state(version)
    state = state_of(got)
    kit.check(state == expected, f"after {moment}, v{version} came back torn or mixed: {differences(state, expected)}")
    return version


# -- CK-06 -------------------------------------------------------------------------


@pytest.mark.rule("CK-06")
def test_ck06_saves_only_after_activity(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-06 (§2): the checkpointer saves only after activity — no activity,
    no save; each burst of activity, at least one save — and ``stop()`` returns the
    number of saves it made.  "No save" is watched for a window of many intervals."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "ckpt", pending_user_message="do a long task")
    recorder = checkpoint_stores.record(store)
    layout = learn_layout(kit, recorder, session)
    checkpointer = checkpoint_stores.start_checkpointer(store, session, interval=INTERVAL)

    def saves(ops: list[FileOp]) -> list[FileOp]:
        return [op for op in ops if writes_to({layout.session_file}, provider_thread=True)(op)]

    def at_most(limit: int, since: int, what: str) -> None:
        # Bounded observation: WINDOW is 25 checkpoint intervals.  A burst of n
        # notifications may be saved by up to n ticks; more saves mean saves
        # without activity.
        recorder.wait_for(lambda ops: len(saves(ops)) > since + limit, WINDOW)
        extra = saves(recorder.ops)[since + limit :]
        if extra:
            kit.fail(f"the checkpointer saved {limit + len(extra)} time(s) {what} ({extra[0].describe(recorder.root)})")

    at_most(0, 0, "without any activity")
    for burst in range(1, 4):
        count = len(saves(recorder.ops))
        for _ in range(burst):
            _under_lock(
                kit,
                store,
                session,
                lambda s: s.messages.append({"role": "tool", "content": "done"}),
                what="tool result under lock_for",
                save=False,
            )
            checkpointer.notify_activity()
        saved = recorder.wait_for(lambda ops: len(saves(ops)) > count, kit.timeout)
        kit.check(saved, f"no checkpoint save within {kit.timeout:g}s of burst #{burst} of notify_activity()")
        at_most(burst, count, f"for burst #{burst} of {burst} notify_activity() call(s)")
    made = checkpointer.stop()
    kit.expect(made, len(saves(recorder.ops)), "stop() (the number of checkpoint saves observed)")


@pytest.mark.rule("CK-06")
def test_ck06_stop_returns_within_one_interval(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-06 (§2): ``stop()`` called without holding ``lock_for`` returns within one
    interval with its thread gone -- idle with a long interval, and with a short one
    right after activity, while a checkpoint may be saving."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "stopper")
    session.save()

    # Idle, with an interval far longer than any tick.
    interval = 2.0
    before = set(threading.enumerate())
    checkpointer = checkpoint_stores.start_checkpointer(store, session, interval=interval)
    made, took, alive = kit.call(lambda: _stop_timed(checkpointer, before), what=f"{checkpointer!r}.stop()")
    kit.check(
        took <= interval + kit.prompt, f"stop() of an idle checkpointer took {took:.2f}s with interval={interval}"
    )
    kit.check(not alive, f"stop() returned with thread(s) {alive} still alive")
    kit.expect(made, 0, "stop() of a checkpointer without activity")

    # Busy: stopped as soon as a checkpoint starts writing.
    interval = 0.05
    recorder = checkpoint_stores.record(store)
    before = set(threading.enumerate())
    checkpointer = checkpoint_stores.start_checkpointer(store, session, interval=interval)
    mark = recorder.mark()
    _under_lock(
        kit,
        store,
        session,
        lambda s: s.messages.append({"role": "tool", "content": "done"}),
        what="tool result under lock_for",
        save=False,
    )
    checkpointer.notify_activity()
    saving = recorder.wait_for(lambda ops: any(op.seq > mark and from_provider_thread(op) for op in ops), kit.timeout)
    kit.check(saving, f"no checkpoint save within {kit.timeout:g}s of notify_activity()")
    made, took, alive = kit.call(lambda: _stop_timed(checkpointer, before), what=f"{checkpointer!r}.stop()")
    kit.check(
        took <= interval + kit.prompt,
        f"stop() of a checkpointer that was saving took {took:.2f}s with interval={interval}",
    )
    kit.check(not alive, f"stop() of a checkpointer that was saving returned with thread(s) {alive} still alive")
    kit.check(made >= 1, f"stop() returned {made} though a checkpoint save had started")


@pytest.mark.rule("CK-06", level="should")
def test_ck06_stop_under_lock_for_returns_within_one_interval(
    lifecycle_kit: Kit, checkpoint_stores: CheckpointStores
) -> None:
    """CK-06 (§2), its SHOULD: ``stop()`` returns within one interval, thread gone,
    even when its caller holds ``lock_for`` while a checkpoint with activity to save
    waits for that lock (production code stops the checkpointer before taking the
    lock; a stop() that then joins a thread stuck on the caller's lock deadlocks)."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "stopper")
    session.save()
    interval = 0.05
    before = set(threading.enumerate())
    checkpointer = checkpoint_stores.start_checkpointer(store, session, interval=interval)
    checkpointer.notify_activity()

    def block() -> tuple[int, float, list[str]]:
        with store.lock_for("stopper"):
            session.title = "final under lock"
            # safety-net: not a synchronisation -- three intervals in which a tick
            # that has activity to save starts waiting for this lock.
            threading.Event().wait(3 * interval)
            return _stop_timed(checkpointer, before)

    _made, took, alive = kit.call(block, what=f"{checkpointer!r}.stop() under lock_for")
    kit.check(took <= interval + kit.prompt, f"stop() called under lock_for took {took:.2f}s with interval={interval}")
    kit.check(not alive, f"stop() called under lock_for returned with thread(s) {alive} still alive")


def _stop_timed(checkpointer: Any, before: set[threading.Thread]) -> tuple[int, float, list[str]]:
    """``checkpointer.stop()``: what it returned, how long it took, the provider threads still alive."""
    t0 = time.monotonic()
    made = checkpointer.stop()
    return made, time.monotonic() - t0, _provider_threads(before)


# -- CK-07 -------------------------------------------------------------------------


def _start_run(s: Any) -> None:
    s.pending_user_message = "do a long task"
    s.pending_started_at = 1_700_000_100.0
    s.active_stream_id = "stream-abc"


def _cancel_first(s: Any) -> None:
    s.active_stream_id = None


def _cancel_rest(s: Any) -> None:
    s.pending_user_message = None
    s.pending_started_at = None


def _undo_first(s: Any) -> None:
    if s.messages and s.messages[-1]["role"] == "assistant":
        s.messages.pop()


def _undo_rest(s: Any) -> None:
    if s.messages and s.messages[-1]["role"] == "user":
        s.messages.pop()


def _append_first(s: Any, n: int) -> None:
    s.messages.append({"role": "user", "content": f"msg-{n}"})


def _append_rest(s: Any, n: int) -> None:
    s.messages.append({"role": "assistant", "content": f"ans-{n}"})


@pytest.mark.rule("CK-07")
def test_ck07_snapshots_are_states_at_lock_release(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-07 (§2): while start/cancel/undo/append mutations run under
    ``lock_for`` against a running checkpointer, every snapshot that reaches disk (copied
    at each rename, read with the provider's ``load``) is a state that existed at a lock
    release.  Some mutations pause half-done, holding the lock, for a window in which a
    checkpoint that ignores the lock would save the half state."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "race_test")
    _start_run(session)
    recorder = checkpoint_stores.record(store)
    layout = learn_layout(kit, recorder, session)
    allowed = [state_of(session)]
    snapshots = Snapshots(checkpoint_stores, recorder, Path(recorder.root))
    checkpointer = checkpoint_stores.start_checkpointer(store, session, interval=INTERVAL / 2)
    save = writes_to({layout.session_file}, provider_thread=True)
    by_checkpointer: Callable[[list[FileOp]], int] = lambda ops: sum(map(save, ops))

    for n in range(20):
        kind = ("start", "append", "cancel", "undo")[n % 4]
        pause = n in (5, 6, 7, 13, 14, 15)  # append, cancel, undo: twice each held half-done
        phases: dict[str, tuple[Callable[[Any], None], Callable[[Any], None]]] = {
            "start": (_start_run, lambda s: None),
            "append": (lambda s: _append_first(s, n), lambda s: _append_rest(s, n)),
            "cancel": (_cancel_first, _cancel_rest),
            "undo": (_undo_first, _undo_rest),
        }
        first, rest = phases[kind]
        checkpointer.notify_activity()
        seen = by_checkpointer(recorder.ops)

        def change(s: Any) -> None:
            first(s)
            if pause:
                # Bounded: a checkpoint that respects the lock cannot save now.
                recorder.wait_for(lambda ops: by_checkpointer(ops) > seen, WINDOW / 3)
            rest(s)

        allowed.append(_under_lock(kit, store, session, change, what=f"{kind} #{n} under lock_for"))
        if not pause:
            # Let a checkpoint land between mutations (bounded; none is required here).
            recorder.wait_for(lambda ops: by_checkpointer(ops) > seen, 4 * INTERVAL)
    checkpointer.stop()
    recorder.stop()
    if not snapshots.taken and any(op.kind == "open" and op.truncates for op in recorder.ops):
        pytest.skip(
            "saves write the session file in place (no rename), so what reached disk cannot be copied at the "
            "moment it did; CK-05 covers such writes"
        )

    checked = 0
    for op, got in snapshots.load("race_test"):
        what = f"the snapshot written by {op.describe(recorder.root)} [{op.thread}]"
        kit.check(not isinstance(got, Exception), f"{what} does not load: {type(got).__name__}: {got}")
        if got is None:
            continue  # not this session's file (another file was renamed first)
        state = state_of(got)
        checked += 1
        kit.check(
            state in allowed,
            f"{what} is no state at a lock release (an interleaving): "
            f"{short_repr(state, 300)}; nearest: {differences(state, _nearest(state, allowed))}",
        )
    kit.check(checked, "no snapshot of the session reached disk")


def _nearest(state: dict[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any]:
    return min(candidates, key=lambda c: sum(state.get(k) != v for k, v in c.items()))


# -- CK-08 -------------------------------------------------------------------------


@pytest.mark.rule("CK-08")
def test_ck08_pending_message_survives_restart(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-08 (§2): a pending user message written before a run starts
    (checkpoint-style ``save(skip_index=True)``) survives a restart, messages intact."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "survive1", messages=[{"role": "user", "content": "first turn"}])
    session.save()
    apply(
        session,
        {
            "pending_user_message": "do a long research task",
            "pending_started_at": kit.clock(),
            "active_stream_id": "stream-abc123",
        },
    )
    session.save(skip_index=True)
    state = _loaded_state(kit, checkpoint_stores.restart(store), "survive1", "after a restart")
    kit.check(
        state == state_of(session),
        f"the pending message did not survive a restart: {differences(state, state_of(session))}",
    )


@pytest.mark.rule("CK-08")
def test_ck08_checkpoint_keeps_pending_message_through_crash(
    lifecycle_kit: Kit, checkpoint_stores: CheckpointStores
) -> None:
    """CK-08 (§2): the pending message set under ``lock_for`` once a run has
    started reaches disk through the checkpointer, so a restart without a final save
    finds it."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "survive2")
    session.save()
    recorder = checkpoint_stores.record(store)
    layout = learn_layout(kit, recorder, session)
    checkpointer = checkpoint_stores.start_checkpointer(store, session, interval=INTERVAL)
    pending = _under_lock(kit, store, session, _start_run, what="set the pending message under lock_for", save=False)
    mark = recorder.mark()
    checkpointer.notify_activity()
    save = writes_to({layout.session_file}, provider_thread=True)
    saved = recorder.wait_for(lambda ops: any(op.seq > mark and save(op) for op in ops), kit.timeout)
    kit.check(saved, f"no checkpoint save within {kit.timeout:g}s of notify_activity()")
    # The write is recorded just before it runs; stop() (no final save) lets it finish.
    checkpointer.stop()
    state = _loaded_state(kit, checkpoint_stores.restart(store), "survive2", "after a restart following a checkpoint")
    kit.check(state == pending, f"the checkpoint did not keep the pending message: {differences(state, pending)}")


# -- CK-09 -------------------------------------------------------------------------


@pytest.mark.rule("CK-09")
def test_ck09_nothing_written_after_stop(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-09 (§2): once ``stop()`` has returned the checkpointer writes
    nothing more.  A checkpoint is held inside its rename while ``stop()`` is called: a
    ``stop()`` that returns before that save finished lets it land after the final save."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "final", pending_user_message="run", active_stream_id="stream-1")
    session.save()
    recorder = checkpoint_stores.record(store)
    layout = learn_layout(kit, recorder, session)
    gate = kit.gate("checkpoint rename", closed=True)
    save = writes_to(layout.session_files, provider_thread=True)
    checkpoint_stores.hold(recorder, gate, save)
    checkpointer = checkpoint_stores.start_checkpointer(store, session, interval=INTERVAL)
    _under_lock(
        kit,
        store,
        session,
        lambda s: s.messages.append({"role": "assistant", "content": "partial"}),
        what="streamed reply under lock_for",
        save=False,
    )
    checkpointer.notify_activity()
    gate.wait_entered(1)
    held = next(op for op in recorder.ops if save(op))

    stopping = checkpointer.stop.spawn()
    # Bounded: a stop() that joins its thread cannot return while the save is held.
    stopping.wait(WINDOW)
    kit.check(
        not stopping.done,
        f"stop() returned while the checkpoint's {held.describe(recorder.root)} was still "
        "held: that save lands after stop()",
    )
    gate.open()
    made = stopping.result()
    kit.check(made >= 1, f"stop() returned {made} though a checkpoint save was in progress")
    stopped = recorder.mark()

    # The final save, as the production success path makes it.
    final = _under_lock(
        kit,
        store,
        session,
        lambda s: apply(s, {"pending_user_message": None, "active_stream_id": None, "title": "final"}),
        what="final save under lock_for",
    )

    def late(ops: list[FileOp]) -> list[FileOp]:
        return [op for op in ops if op.seq > stopped and op.kind in ("rename", "open") and from_provider_thread(op)]

    # Bounded observation of WINDOW (25 intervals) for a late checkpoint write.
    recorder.wait_for(lambda ops: bool(late(ops)), WINDOW)
    written_late = late(recorder.ops)
    if written_late:
        kit.fail(
            f"the checkpointer wrote after stop() returned: {written_late[0].describe(recorder.root)} [{written_late[0].thread}]"
        )
    state = _loaded_state(kit, checkpoint_stores.restart(store), "final", "after stop() and the final save")
    kit.check(state == final, f"the final save was overwritten: {differences(state, final)}")


# -- CK-10 -------------------------------------------------------------------------

#: Ids that could escape the directory; ``<outside>`` becomes an absolute path
#: next to the store's directory.  ``save`` of each must raise ValueError.
#: (The empty id, which may also be replaced by a generated one, has its own test.)
ESCAPING_IDS = [
    ".",
    "..",
    "../x",
    "../../x",
    "a/b",
    "a/",
    "a/../../x",
    "./x",
    "<outside>/abs",
    "x\x00y",
    "\x00",
    # A backslash separates only on Windows; elsewhere it is an ordinary character.
    *(["..\\x", "a\\b"] if os.name == "nt" else []),
]
assert ESCAPING_IDS, "no escaping ids: CK-10 would test nothing"


@pytest.mark.rule("CK-10")
@pytest.mark.parametrize("raw_id", ESCAPING_IDS, ids=[repr(i) for i in ESCAPING_IDS])
def test_ck10_escaping_ids_are_rejected(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores, raw_id: str) -> None:
    """CK-10 (§2): an id with separators, ``..``, an absolute path or NUL never becomes
    a file name: ``create`` or its ``save`` raises ValueError and nothing is written,
    inside or outside ``ctx.path``; ``load`` raises ValueError or returns None, as for
    an id never saved, without opening anything outside ``ctx.path`` (CK/unsafe-load)."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    inside = checkpoint_stores.context(store).path
    outside = inside.parent / "outside"
    outside.mkdir(exist_ok=True)
    session_id = raw_id.replace("<outside>", str(outside))
    before = listing(inside.parent)
    # Two levels up, where "../../x" lands.
    watch = _IdWatch(kit, inside.parent.parent, inside)
    try:
        watch.call(lambda: _create_and_save(store, session_id), f"create({session_id!r}) and save()")
    except ValueError:
        refused = True
    except Exception as exc:
        kit.fail(f"create({session_id!r}) and save() raised {type(exc).__name__}: {exc} instead of ValueError")
    else:
        refused = False
    _check_nothing_written(kit, watch, before, f"create({session_id!r}) and save()")
    kit.check(refused, f"create({session_id!r}) and save() did not raise ValueError")
    _check_unsafe_load(kit, store, session_id, watch)


@pytest.mark.rule("CK-10")
def test_ck10_empty_id(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-10 (§2): the empty id is refused -- ``create('')`` or its ``save()`` raises
    ValueError, writing nothing -- or replaced by a freshly generated safe id, under
    which the session is saved and loads back (CK/empty-id); ``load('')`` raises
    ValueError or returns None (CK/unsafe-load)."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    inside = checkpoint_stores.context(store).path
    before = listing(inside.parent)
    watch = _IdWatch(kit, inside.parent, inside)
    try:
        first = watch.call(lambda: _create_and_save(store, "", title="first"), "create('') and save()")
    except ValueError as exc:
        kit.observe_choice(
            "CK/empty-id", "refused", f"create('') and save() raised ValueError: {short_repr(str(exc), 80)}"
        )
        _check_nothing_written(kit, watch, before, "create('') and save()")
    except Exception as exc:
        kit.fail(f"create('') and save() raised {type(exc).__name__}: {exc} (expected ValueError, or a generated id)")
    else:
        sid = first.session_id
        kit.observe_choice("CK/empty-id", "generated", f"create('') and save() saved the session as {short_repr(sid)}")
        kit.check(
            isinstance(sid, str) and not _escapes(sid),
            f"create('') and save() saved the session under the "
            f"generated id {short_repr(sid)}, which is no safe file name",
        )
        outside = [op.describe(watch.root) for op in watch.ops() if _writes(op) and not _under(op.path, inside)]
        kit.check(not outside, f"create('') and save() wrote outside ctx.path: {outside}")
        second = kit.call(lambda: _create_and_save(store, "", title="second"), what="a second create('') and save()")
        kit.check(
            second.session_id != sid,
            f"two sessions created with the empty id were both saved as {sid!r}: "
            "a generated id must be fresh, or the second save overwrites the first",
        )
        fresh = checkpoint_stores.restart(store)
        for session in (first, second):
            state = _loaded_state(
                kit, fresh, session.session_id, f"the session saved under the generated id {session.session_id!r}"
            )
            kit.check(
                state == state_of(session),
                f"the session saved under the generated id {session.session_id!r} came "
                f"back different: {differences(state, state_of(session))}",
            )
    _check_unsafe_load(kit, store, "", watch)


def _create_and_save(store: Any, session_id: str, *, title: str = "escape") -> Any:
    session = store.create(session_id, title=title, messages=[{"role": "user", "content": "x"}])
    session.save()
    return session


def _writes(op: FileOp) -> bool:
    return op.kind in ("rename", "remove", "truncate") or (op.kind == "open" and op.writes)


def _under(path: str, directory: Path) -> bool:
    return path.startswith(str(directory) + os.sep)


def _escapes(session_id: str) -> bool:
    """Whether *session_id* could name anything but a file inside the store's directory."""
    separators = {"/", "\x00", os.sep, *([os.altsep] if os.altsep else [])}
    return session_id in ("", ".", "..") or any(sep in session_id for sep in separators) or os.path.isabs(session_id)


class _IdWatch:
    """The file operations of calls made with an unsafe id.

    Recorded below *scope* (a few levels above ``ctx.path``) but counted only
    when made by the thread of a watched call or inside the test's own
    directory: a thread some earlier test abandoned may still write in its own.
    """

    def __init__(self, kit: Kit, scope: Path, inside: Path) -> None:
        self.kit = kit
        self.inside = inside
        self.home = inside.parent
        self.recorder = FileOps(scope).start()
        self.root = self.recorder.root
        kit.on_close(self.recorder.stop)
        self._threads: set[int] = set()

    def call(self, fn: Any, what: str) -> Any:
        def block() -> Any:
            self._threads.add(threading.get_ident())
            return fn()

        return self.kit.call(block, what=what)

    def mark(self) -> int:
        return self.recorder.mark()

    def ops(self, since: int = 0) -> list[FileOp]:
        return [op for op in self.recorder.since(since) if op.thread_id in self._threads or _under(op.path, self.home)]


def _check_nothing_written(kit: Kit, watch: _IdWatch, before: set[str], what: str) -> None:
    """A refused id wrote nothing: no file operation that writes, no file added or removed in the test's directory."""
    __tracebackhide__ = True
    wrote = [op.describe(watch.root) for op in watch.ops() if _writes(op)]
    added = sorted(listing(watch.home) ^ before)
    kit.check(
        not wrote and not added,
        f"{what} was refused but wrote {wrote or added}: nothing may be written, inside or outside ctx.path",
    )


def _check_unsafe_load(kit: Kit, store: Any, session_id: str, watch: _IdWatch) -> None:
    """``load`` of an unsafe id raises ValueError or returns None without opening anything outside (CK/unsafe-load)."""
    __tracebackhide__ = True
    mark = watch.mark()
    try:
        got = watch.call(lambda: store.load(session_id), f"load({session_id!r})")
    except ValueError as exc:
        kit.observe_choice(
            "CK/unsafe-load", "raises", f"load({session_id!r}) raised ValueError: {short_repr(str(exc), 80)}"
        )
        return
    except Exception as exc:
        kit.fail(
            f"{store!r}.load({session_id!r}) raised {type(exc).__name__}: {exc} (expected ValueError, or None as "
            "for an id never saved)"
        )
    kit.check(
        got is None,
        f"{store!r}.load({session_id!r}) returned {short_repr(got)} (expected ValueError, or None "
        "as for an id never saved)",
    )
    kit.observe_choice("CK/unsafe-load", "not-found", f"load({session_id!r}) returned None")
    opened = [op.describe(watch.root) for op in watch.ops(mark) if not _under(op.path, watch.inside)]
    kit.check(
        not opened,
        f"{store!r}.load({session_id!r}) returned None after opening {opened} outside ctx.path: "
        "the id was used as a path",
    )


@pytest.mark.rule("CK-10")
def test_ck10_very_long_id(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-10 (§2): a 10 000-character id is refused -- ValueError, or the file
    system's OSError -- writing nothing, or it round-trips; two such ids that differ
    only in their last character never share a file."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    inside = checkpoint_stores.context(store).path
    before = listing(inside.parent)
    first, second = "x" * 9_999 + "a", "x" * 9_999 + "b"
    try:
        kit.call(lambda: _create_and_save(store, first, title="first"), what="create('x' * 9999 + 'a') and save()")
    except (ValueError, OSError) as exc:
        kit.expect(
            sorted(listing(inside.parent) ^ before),
            [],
            f"files added or removed by a 10000-character id refused with {type(exc).__name__}",
        )
        return
    except Exception as exc:
        kit.fail(
            f"create/save of a 10000-character id raised {type(exc).__name__}: {exc} (expected ValueError, "
            "OSError, or a round-trip)"
        )
    kit.call(lambda: _create_and_save(store, second, title="second"), what="create('x' * 9999 + 'b') and save()")
    fresh = checkpoint_stores.restart(store)
    for sid, title in ((first, "first"), (second, "second")):
        try:
            got = fresh.load(sid)
        except Exception as exc:
            kit.fail(
                f"the 10000-character id ending in {sid[-1]!r} was accepted but its load raised "
                f"{type(exc).__name__}: {short_repr(str(exc), 120)}: two long ids share a file"
            )
        kit.check(
            got is not None and got.title == title,
            f"the 10000-character id ending in {sid[-1]!r} was accepted but loaded "
            f"{short_repr(getattr(got, 'title', None))} instead of {title!r}: two long ids share a file",
        )


# -- CK-11 -------------------------------------------------------------------------

DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated to half": lambda data: data[: len(data) // 2],
    "cut before its last byte": lambda data: data[:-1],
    "truncated to one byte": lambda data: data[:1],
    "empty": lambda data: b"",
    "garbage": lambda data: bytes(range(256)) * 4,
    "another shape": lambda data: b"[]",
    "null": lambda data: b"null",
}

#: Exceptions that show a half-parsed file, not a clear refusal (CK-11's SHOULD).
UNCLEAR = (KeyError, TypeError, AttributeError, IndexError)


@pytest.mark.rule("CK-11")
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_ck11_damaged_file_is_never_half_loaded(
    lifecycle_kit: Kit, checkpoint_stores: CheckpointStores, damage: str
) -> None:
    """CK-11 (§2): a session file damaged after it was indexed is never half-loaded:
    ``load`` returns None, raises, or (if the damage lost nothing) the whole session;
    ``index()`` does not fail and keeps the other sessions.  SHOULD: the error is a
    clear one, not the KeyError/TypeError/AttributeError/IndexError of half-parsing,
    and ``index()`` stops listing the damaged session."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "victim", pending_user_message="pending")
    recorder = checkpoint_stores.record(store)
    layout = learn_layout(kit, recorder, session)
    recorder.stop()
    other = _session(store, "bystander")
    other.save()
    path = Path(layout.session_file)
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    fresh = checkpoint_stores.restart(store)
    whole = False
    try:
        got = fresh.load("victim")
    except UNCLEAR as exc:
        kit.should(
            False,
            f"load of a session file {damage} raised {type(exc).__name__}: {exc} (it half-parsed the "
            "file; expected a clear error naming the file)",
        )
    except Exception:
        pass
    else:
        if got is not None:
            whole = state_of(got) == state_of(session)
            kit.check(
                whole,
                f"load of a session file {damage} half-loaded it: {differences(state_of(got), state_of(session))}",
            )
    try:
        entries = _entries(kit, fresh)
    except Exception as exc:
        kit.fail(f"index() with a session file {damage} raised {type(exc).__name__}: {exc}")
    kit.check("bystander" in entries, f"index() lost 'bystander' because another session file is {damage}")
    kit.should(whole or "victim" not in entries, f"index() lists 'victim' though its file is {damage}")


@pytest.mark.rule("CK-11")
def test_ck11_rebuilt_index_skips_damaged_file(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-11 (§2): a session file damaged before it was ever indexed stays out of the
    index: the full saves of other sessions that follow (which may rebuild the index
    from the files on disk, CK/index-rebuild) skip it, and ``index()`` keeps them."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "victim", pending_user_message="pending")
    recorder = checkpoint_stores.record(store)
    mark = recorder.mark()
    session.save(skip_index=True)
    files = sorted(written(recorder.since(mark)))
    recorder.stop()
    kit.check(files, f"save(skip_index=True) of 'victim' wrote no file under {recorder.root}")
    named = [f for f in files if "victim" in os.path.basename(f)] or files
    for damage in ("truncated to half", "another shape"):
        path = Path(named[0])
        path.write_bytes(DAMAGE[damage](path.read_bytes()))
        for n in (1, 2):
            try:
                _session(store, f"bystander_{n}").save()
            except Exception as exc:
                kit.fail(
                    f"a full save of 'bystander_{n}' raised {type(exc).__name__}: {exc} because the file of "
                    f"'victim' is {damage}"
                )
        for what, s in (("store", store), ("store after a restart", checkpoint_stores.restart(store))):
            try:
                entries = _entries(kit, s)
            except Exception as exc:
                kit.fail(f"{what}: index() with a session file {damage} raised {type(exc).__name__}: {exc}")
            kit.check(
                "victim" not in entries,
                f"{what}: index() lists 'victim', whose file was {damage} before any "
                f"full save of it: {short_repr(entries.get('victim'))}",
            )
            lost = sorted({"bystander_1", "bystander_2"} - set(entries))
            kit.check(not lost, f"{what}: index() lost {lost} because the file of 'victim' is {damage}")
        session.save(skip_index=True)  # whole again, still never indexed


# -- CK-12 -------------------------------------------------------------------------


@pytest.mark.rule("CK-12")
def test_ck12_index_update_race(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-12 (§2): a full save of session A is held inside its index update
    while a full save of session B runs; the index must list both (a read-modify-write of
    the index without a lock loses A)."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    probe = _session(store, "probe")
    recorder = checkpoint_stores.record(store)
    layout = learn_layout(kit, recorder, probe)
    if not layout.index_files:
        pytest.skip("a full save wrote no file that a skip_index save does not: the index update cannot be held")
    index_write: Callable[[FileOp], bool] = lambda op: (
        (op.kind == "rename" and op.dest in layout.index_files)
        or (op.kind == "open" and op.writes and op.path in layout.index_files)
    )
    gate = kit.gate("index update", closed=True)
    checkpoint_stores.hold(recorder, gate, index_write)
    a, b = _session(store, "session_a"), _session(store, "session_b")
    mark = recorder.mark()
    first = a.save.spawn()
    gate.wait_entered(1, unless=first)
    second = b.save.spawn()
    # Give B its chance to reach its own index update; a provider that locks the
    # index keeps B waiting on that lock instead (the window ends).
    recorder.wait_for(lambda ops: sum(index_write(op) for op in ops if op.seq > mark) >= 2, WINDOW)
    gate.open()
    for task in (first, second):
        error = task.exception()
        kit.check(error is None, f"{task.what} raised {type(error).__name__}: {error}")
    for what, s in (("store", store), ("store after a restart", checkpoint_stores.restart(store))):
        entries = _entries(kit, s)
        lost = sorted({"probe", "session_a", "session_b"} - set(entries))
        kit.check(not lost, f"{what}: index() lost {lost} after concurrent full saves of session_a and session_b")


@pytest.mark.rule("CK-12")
def test_ck12_concurrent_full_saves_keep_every_entry(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-12 (§2): 8 threads each fully saving 4 sessions of their own at
    once: the index lists every saved session exactly once, before and after a restart."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    sessions = [[_session(store, f"t{t}_s{i}", title=f"thread {t} session {i}") for i in range(4)] for t in range(8)]

    def saver(mine: list[Any]) -> None:
        for _round in range(2):
            for s in mine:
                s.save()

    tasks = [kit.spawn(saver, mine, what=f"saver {t}") for t, mine in enumerate(sessions)]
    for t, task in enumerate(tasks):
        error = task.exception()
        kit.check(error is None, f"saver {t} raised {type(error).__name__}: {error}")
    expected = {s.session_id: _entry_of(s) for mine in sessions for s in mine}
    for what, s in (("store", store), ("store after a restart", checkpoint_stores.restart(store))):
        entries = _entries(kit, s)
        lost = sorted(set(expected) - set(entries))
        kit.check(
            not lost, f"{what}: index() lost {len(lost)} of {len(expected)} sessions saved concurrently: {lost[:6]}"
        )
        wrong = [sid for sid in expected if _entry_fields(entries[sid]) != expected[sid]]
        kit.check(not wrong, f"{what}: index entries of {wrong[:4]} do not match their last full save")
