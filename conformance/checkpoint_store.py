"""Conformance suite of the checkpoint-race contract (CONTRACTS.md §2, CK-01..CK-12).

A store persists long agent runs while they stream; a checkpoint thread saves
whenever work happened, racing with cancel, undo and the final save.  The
tests come from the bug history of seed ``003_55ff0f944c592606``: a shared
``<id>.tmp`` that made concurrent saves fail, checkpoints that tore JSON or
saved an interleaving of two states, a checkpoint thread that outlived the
final save.

Nothing here sleeps to synchronise.  Races are driven by holding a provider's
file operation (a rename, seen through :mod:`pytest_lifecycle.fileops`) on a
kit gate; what reached disk is read back through the provider's own ``load``;
real crashes are SIGKILLs of child processes (:mod:`pytest_lifecycle.crash`).
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
from pathlib import Path
from typing import Any

import pytest

from pytest_lifecycle import Context, Kit, run_machine
from pytest_lifecycle.contracts.checkpoint_store import CheckpointStores
from pytest_lifecycle.crash import CrashHarness, CrashHarnessError, CrashRun
from pytest_lifecycle.fileops import FileOp, FileOps, durable_replace_problems
from pytest_lifecycle.surface import short_repr

from . import _checkpoint_crash as crash
from ._checkpoint_machine import checkpoint_machine
from ._checkpoint_support import (
    Snapshots,
    apply,
    differences,
    from_provider_thread,
    learn_layout,
    listing,
    state_of,
    writes_to,
)

__all__ = [
    "test_ck01_model_conformance",
    "test_ck01_restart_returns_every_field",
    "test_ck02_skip_index_leaves_index_untouched",
    "test_ck03_touch_updated_at",
    "test_ck04_concurrent_saves_use_distinct_temp_files",
    "test_ck04_failed_saves_leave_no_temp_files",
    "test_ck04_many_concurrent_saves_never_fail",
    "test_ck05_injected_faults_keep_old_version",
    "test_ck05_save_protocol_is_durable",
    "test_ck05_sigkill_at_random_moments",
    "test_ck05_write_cut_at_byte_offset",
    "test_ck06_saves_only_after_activity",
    "test_ck06_stop_returns_within_one_interval",
    "test_ck07_snapshots_are_states_at_lock_release",
    "test_ck08_checkpoint_keeps_pending_message_through_crash",
    "test_ck08_pending_message_survives_restart",
    "test_ck09_nothing_written_after_stop",
    "test_ck10_escaping_ids_are_rejected",
    "test_ck10_very_long_id",
    "test_ck11_damaged_file_is_never_half_loaded",
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


def _session(store: Any, session_id: str, *, title: str = "Test Session", messages: list[dict[str, Any]] | None = None, **fields: Any) -> Any:
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
    return [t.name for t in threading.enumerate() if t not in before and t.is_alive() and not t.name.startswith("lifecycle-")]


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
    """CK-01 (CONTRACTS.md §2): ``save`` then ``load`` on a *new* store over the same
    directory returns the same fields, pending fields included."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    tricky = [
        {"role": "user", "content": "Ünïcode ✓ 漢字 🚀 \u2028 \"quoted\" \\ back\x00slash"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": 1, "args": {"x": [1.5, None, True]}}]},
    ]
    full = _session(
        store, "full-1", title="A \"title\" ✓", messages=tricky,
        pending_user_message="do a long task", pending_started_at=kit.clock() + 0.125, active_stream_id="stream-abc",
    )
    full.save()
    bare = _session(store, "bare-2", title="", messages=[])
    bare.save(skip_index=True)
    saved = {s.session_id: (state_of(s), s.updated_at) for s in (full, bare)}

    # A restart sees every field of the last save.
    fresh = checkpoint_stores.restart(store)
    for sid, (state, updated_at) in saved.items():
        got = fresh.load(sid)
        kit.check(got is not None, f"{fresh!r}.load({sid!r}) returned None after {sid!r} was saved")
        kit.expect(got.session_id, sid, f"session_id loaded for {sid!r}")
        kit.check(state_of(got) == state, f"{sid!r} loaded after a restart differs from its save: {differences(state_of(got), state)}")
        kit.expect(got.updated_at, updated_at, f"updated_at of {sid!r} after a restart")
    kit.expect(fresh.load("never-saved"), None, "load of an id that was never saved")

    # The last save wins, cleared pending fields included.
    full.title = "second title"
    full.messages.append({"role": "assistant", "content": "more"})
    apply(full, {"pending_user_message": None, "pending_started_at": None, "active_stream_id": None})
    full.save(skip_index=True)
    state = _loaded_state(kit, checkpoint_stores.restart(store), "full-1", "after a second save and a restart")
    kit.check(state == state_of(full), f"the second save of 'full-1' did not come back: {differences(state, state_of(full))}")


@pytest.mark.rule("CK-01")
def test_ck01_model_conformance(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-01 (CONTRACTS.md §2), with CK-02 and CK-03: a Hypothesis state machine over
    save / save(skip_index) / save(touch_updated_at=False) / mutate under ``lock_for`` /
    checkpoint activity / stop / restart / load / index, checked against a model of
    what may be on disk and in the index."""
    run_machine(checkpoint_machine(lifecycle_kit, checkpoint_stores), lifecycle_kit)


# -- CK-02 -------------------------------------------------------------------------


@pytest.mark.rule("CK-02")
def test_ck02_skip_index_leaves_index_untouched(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-02 (CONTRACTS.md §2): ``save(skip_index=True)`` writes the session but leaves
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

    # A full save indexes it; the other entry is updated by its own full save only.
    hidden.save()
    entries = _entries(kit, store)
    kit.check("hidden" in entries, f"index() after a full save of 'hidden' does not list it: {short_repr(sorted(entries), 200)}")
    kit.expect(_entry_fields(entries["hidden"]), _entry_of(hidden), "index entry of 'hidden' after its full save")
    kit.expect(entries.get("indexed"), before[0], "index entry of 'indexed' (only skip_index saves since)")
    indexed.save()
    entries = _entries(kit, checkpoint_stores.restart(store))
    kit.expect(
        {sid: _entry_fields(e) for sid, e in entries.items()},
        {"hidden": _entry_of(hidden), "indexed": _entry_of(indexed)},
        "index() after full saves of both and a restart",
    )


# -- CK-03 -------------------------------------------------------------------------


@pytest.mark.rule("CK-03")
def test_ck03_touch_updated_at(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-03 (CONTRACTS.md §2): ``touch_updated_at=False`` keeps ``updated_at``; a
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
    kit.expect(_entries(kit, store)["touch"].get("updated_at"), kept, "index updated_at after save(touch_updated_at=False)")

    # A default save advances it, on disk and in the index.
    session.save()
    advanced = session.updated_at
    kit.check(advanced > kept, f"updated_at after a default save with the clock 60s later: expected > {kept!r}, got {advanced!r}")
    loaded = checkpoint_stores.restart(store).load("touch")
    kit.expect(getattr(loaded, "updated_at", None), advanced, "updated_at loaded after a default save")
    kit.expect(_entries(kit, store)["touch"].get("updated_at"), advanced, "index updated_at after a default save")
    # With the clock standing still it never goes back.
    session.save(skip_index=True)
    kit.check(session.updated_at >= advanced, f"updated_at went back from {advanced!r} to {session.updated_at!r} on a default save")


# -- CK-04 -------------------------------------------------------------------------


@pytest.mark.rule("CK-04")
def test_ck04_concurrent_saves_use_distinct_temp_files(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-04 (CONTRACTS.md §2): two concurrent saves of one session never fail and never
    share a temporary file (the seed's shared ``<id>.tmp``): the first save is held
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
    renames = lambda ops: [op for op in ops if op.seq > mark and op.kind == "rename"]  # noqa: E731

    first = session.save.spawn(skip_index=True)
    gate.wait_entered(1, unless=first)
    second = session.save.spawn(skip_index=True)
    # Give the second save its chance to reach its own rename; a provider that
    # serialises saves keeps it waiting on its lock instead (the window ends).
    recorder.wait_for(lambda ops: len(renames(ops)) >= 2, WINDOW)
    if second.done:
        held = renames(recorder.ops)[0].describe(recorder.root)
        kit.fail(f"the second save returned while the first was held inside {held} without renaming a temporary file into place")
    gate.open()
    for n, task in enumerate((first, second), 1):
        error = task.exception()
        kit.check(error is None, f"concurrent save #{n} of one session raised {type(error).__name__}: {error}")

    sources = [op.path for op in renames(recorder.ops)]
    shared = sorted({os.path.relpath(p, recorder.root) for p in sources if sources.count(p) > 1})
    kit.check(not shared, f"two concurrent saves renamed the same temporary file {shared} into place (each save needs its own)")
    kit.expect(listing(checkpoint_stores.context(store).path), baseline, "files left after the concurrent saves")
    state = _loaded_state(kit, checkpoint_stores.restart(store), "same_sid", "after two concurrent saves")
    kit.check(state == state_of(session), f"the file after concurrent saves is not the saved state: {differences(state, state_of(session))}")


@pytest.mark.rule("CK-04")
def test_ck04_many_concurrent_saves_never_fail(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-04 (CONTRACTS.md §2): many threads saving one session at once (full and
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
    """CK-04 (CONTRACTS.md §2): no temporary file is left behind, also by saves that
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
    faults = [(kind, n, code) for kind, code in (("rename", errno.ENOSPC), ("fsync", errno.EIO))
              for n in range(1, 1 + sum(op.kind == kind for op in clean))]
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
        kit.check(not left, f"a save that failed with {injection!r} left {left} behind (still there after the next save)")

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
    kit.check(len(failures) <= len(fired), f"{len(failures)} concurrent saves failed but only {len(fired)} faults were injected: {failures!r}")
    session.save()
    left = sorted(listing(path) - baseline)
    kit.check(not left, f"concurrent saves with injected faults ({fired!r}) left {left} behind")


# -- CK-05 -------------------------------------------------------------------------


@pytest.mark.rule("CK-05")
def test_ck05_save_protocol_is_durable(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-05 (CONTRACTS.md §2): a power loss drops what was never fsynced, so every save
    writes a temporary file, fsyncs it, renames it into place and fsyncs the directory
    (checked on the recorded file operations, as ALICE does; OSDI'14)."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    recorder = checkpoint_stores.record(store)
    root = recorder.root
    session = _session(store, "durable", pending_user_message="pending", pending_started_at=kit.clock(), active_stream_id="s-1")

    def check(what: str, ops: list[FileOp]) -> None:
        problems = durable_replace_problems(ops, root)
        kit.check(not problems, f"{what}: " + "; ".join(problems))

    steps = [
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
    _under_lock(kit, store, session, lambda s: s.messages.append({"role": "assistant", "content": "tool result"}),
                what="append under lock_for", save=False)
    checkpointer.notify_activity()
    by_checkpoint = lambda op: op.seq > mark and from_provider_thread(op) and op.kind in ("rename", "open")  # noqa: E731
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
def test_ck05_sigkill_at_random_moments(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores, request: pytest.FixtureRequest) -> None:
    """CK-05 (CONTRACTS.md §2): a child process saving in a loop is killed with SIGKILL at
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
    with _harness(kit, spec) as harness:
        for k in range(1, kills + 1):
            run = harness.start("conformance._checkpoint_crash:save_loop", args)
            loaded = run.wait_report(lambda r: "loaded" in r)
            _child_ok(kit, harness, run, loaded, f"the child of SIGKILL #{k}")
            kit.expect(loaded and loaded["loaded"], version, f"version the child of kill #{k} loaded")
            # The moment of death: after 0-2 completed saves, then a random part of a cycle.
            saves = rng.randint(0, 2)
            t0 = time.monotonic()
            if saves:
                run.wait_report(lambda r: r.get("saved", 0) >= version + saves)
            end = run.kill(after=rng.uniform(0, 1.5 * cycle))
            _child_ok(kit, harness, run, True, f"the child of SIGKILL #{k}")
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
    """CK-05 (CONTRACTS.md §2): a crash at an exact byte offset of a write (RLIMIT_FSIZE
    with SIGXFSZ at its default action) leaves the old or the new version; the same
    limit with SIGXFSZ ignored makes that write fail (EFBIG): the save must raise, and
    the old version stay."""
    kit = lifecycle_kit
    spec, ctx, args = _crash_store(kit, checkpoint_stores)
    version = 0
    with _harness(kit, spec) as harness:
        for kill in (True, False):
            size = len(repr(crash.version_state(version + 1)))
            for offset in (0, 1, 100, size // 4, size // 2, size - 100):
                what = "killed by SIGXFSZ" if kill else "failing with EFBIG"
                moment = f"a save of v{version + 1} {what} at byte {offset}"
                run = harness.start("conformance._checkpoint_crash:cut_write",
                                    {**args, "offset": offset, "kill": kill, "skip_index": offset % 2 == 1})
                end = run.wait()
                _child_ok(kit, harness, run, end, moment, died_of=signal.SIGXFSZ if kill else None)
                assert end is not None
                raised = next((r for r in end.reports if "raised" in r), None)
                completed = any("saved" in r for r in end.reports)
                if not kill:
                    kit.check(raised or completed, f"{moment}: the child reported neither a result nor an error: {end.reports}")
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
def test_ck05_injected_faults_keep_old_version(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-05 (CONTRACTS.md §2): EIO from the k-th fsync or ENOSPC from the k-th rename of a
    save (each k in turn) must surface as an error from ``save`` and leave the old version
    (or, when the fault comes after the session file was replaced, the new one) — never a
    torn or missing file."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "faulty", title="v0")
    recorder = checkpoint_stores.record(store)
    layout = learn_layout(kit, recorder, session)
    mark = recorder.mark()
    session.save()
    clean = recorder.since(mark)
    faults = [(kind, n, code) for kind, code in (("fsync", errno.EIO), ("rename", errno.ENOSPC))
              for n in range(1, 1 + sum(op.kind == kind for op in clean))]
    kit.check(any(kind == "fsync" for kind, _, _ in faults), "a full save made no fsync")
    old = state_of(session)
    for number, (kind, nth, code) in enumerate(faults, 1):
        new = {**old, "title": f"v{number}", "messages": [*old["messages"], {"role": "user", "content": f"turn {number}"}]}
        apply(session, new)
        mark = recorder.mark()
        injection = recorder.inject(kind, nth=nth, code=code)
        try:
            session.save()
        except Exception as exc:
            error: Exception | None = exc
        else:
            error = None
        finally:
            injection.remove()
        if injection.fired is None:
            continue  # this save made fewer such operations
        replaced = any(op.kind == "rename" and op.dest in layout.session_files and op.seq < injection.fired.seq
                       for op in recorder.since(mark))
        kit.check(error is not None, f"save() returned normally although {injection.fired.describe(recorder.root)} "
                                     f"failed with {errno.errorcode[code]} (the error must surface)")
        state = _loaded_state(kit, checkpoint_stores.restart(store), "faulty", f"after a save failed with {injection!r}")
        allowed = [old, new] if replaced else [old]
        kit.check(state in allowed, f"after a save that failed with {injection!r} a fresh store loaded neither "
                                    f"{'the old nor the new' if replaced else 'the old'} version: {differences(state, old)}")
        session.save()  # a clean save: the next fault starts from a known old version
        old = state_of(session)


def _crash_store(kit: Kit, checkpoint_stores: CheckpointStores) -> tuple[str, Context, dict[str, Any]]:
    """A store holding version 0 of the crash session, and the child's arguments."""
    spec = _spec(kit)
    ctx = kit.context()
    session = checkpoint_stores.new(ctx).create(crash.SESSION_ID, title="v0", messages=[])
    apply(session, crash.version_state(0))
    session.save()
    return spec, ctx, {"provider": spec, "path": str(ctx.path), "clock": kit.clock()}


def _harness(kit: Kit, spec: str) -> CrashHarness:
    try:
        return CrashHarness([spec.partition(":")[0], crash.__name__], timeout=kit.timeout)
    except CrashHarnessError as exc:
        kit.fail(f"cannot start the crash child for provider spec {spec!r}: {exc}")


def _child_ok(kit: Kit, harness: CrashHarness, run: CrashRun, reported: object, what: str, *, died_of: int | None = None) -> None:
    """Fail with the child's own story when it broke for another reason than the kit's kill."""
    __tracebackhide__ = True
    end = run.end
    stderr = harness.tail("stderr", 1500).strip()
    note = f"\nchild stderr (last lines):\n{stderr}" if stderr else ""
    if end is None and not reported:
        run.kill()
        kit.fail(f"{what}: the child reported nothing within {kit.timeout:g}s{note}")
    if end is None:
        return
    if end.error:
        kit.fail(f"{what}: the code in the child raised:\n{end.error}")
    if not reported:
        kit.fail(f"{what}: {end.describe()} before it reported{note}")
    if end.signal not in (None, signal.SIGKILL, died_of):
        kit.fail(f"{what}: {end.describe()}{note}")
    if end.exit_code not in (None, 0):
        kit.fail(f"{what}: {end.describe()}{note}")


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
    """CK-06 (CONTRACTS.md §2): the checkpointer saves only after activity — no activity,
    no save; each burst of activity, at least one save — and ``stop()`` returns the
    number of saves it made.  "No save" is watched for a window of many intervals."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "ckpt", pending_user_message="do a long task")
    recorder = checkpoint_stores.record(store)
    layout = learn_layout(kit, recorder, session)
    checkpointer = checkpoint_stores.start_checkpointer(store, session, interval=INTERVAL)
    saves = lambda ops: [op for op in ops if writes_to({layout.session_file}, provider_thread=True)(op)]  # noqa: E731

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
            _under_lock(kit, store, session, lambda s: s.messages.append({"role": "tool", "content": "done"}),
                        what="tool result under lock_for", save=False)
            checkpointer.notify_activity()
        saved = recorder.wait_for(lambda ops: len(saves(ops)) > count, kit.timeout)
        kit.check(saved, f"no checkpoint save within {kit.timeout:g}s of burst #{burst} of notify_activity()")
        at_most(burst, count, f"for burst #{burst} of {burst} notify_activity() call(s)")
    made = checkpointer.stop()
    kit.expect(made, len(saves(recorder.ops)), "stop() (the number of checkpoint saves observed)")


@pytest.mark.rule("CK-06")
def test_ck06_stop_returns_within_one_interval(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-06 (CONTRACTS.md §2): ``stop()`` returns within one interval with its thread
    gone — idle with a long interval, and while the caller holds ``lock_for`` and a
    checkpoint wants it (the seed's deadlock of a lock taken twice)."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "stopper")
    session.save()
    checkpointer_interval = [2.0]

    def stop_timed(checkpointer: Any, before: set[threading.Thread], *, holding: bool) -> tuple[int, float, list[str]]:
        def block() -> tuple[int, float, list[str]]:
            def timed() -> tuple[int, float, list[str]]:
                t0 = time.monotonic()
                made = checkpointer.stop()
                return made, time.monotonic() - t0, _provider_threads(before)

            if not holding:
                return timed()
            with store.lock_for("stopper"):
                session.title = "final under lock"
                # safety-net: not a synchronisation — three intervals in which a
                # tick that has activity to save starts waiting for this lock.
                threading.Event().wait(3 * checkpointer_interval[0])
                return timed()

        return kit.call(block, what=f"{checkpointer!r}.stop(){' under lock_for' if holding else ''}")

    # Idle, with an interval far longer than any tick.
    interval = checkpointer_interval[0]
    before = set(threading.enumerate())
    checkpointer = checkpoint_stores.start_checkpointer(store, session, interval=interval)
    made, took, alive = stop_timed(checkpointer, before, holding=False)
    kit.check(took <= interval + kit.prompt, f"stop() of an idle checkpointer took {took:.2f}s with interval={interval}")
    kit.check(not alive, f"stop() returned with thread(s) {alive} still alive")
    kit.expect(made, 0, "stop() of a checkpointer without activity")

    # A tick waits for the lock the caller holds while it calls stop().
    interval = checkpointer_interval[0] = 0.05
    before = set(threading.enumerate())
    checkpointer = checkpoint_stores.start_checkpointer(store, session, interval=interval)
    checkpointer.notify_activity()
    made, took, alive = stop_timed(checkpointer, before, holding=True)
    kit.check(took <= interval + kit.prompt, f"stop() called under lock_for took {took:.2f}s with interval={interval}")
    kit.check(not alive, f"stop() called under lock_for returned with thread(s) {alive} still alive")


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
    """CK-07 (CONTRACTS.md §2): while start/cancel/undo/append mutations run under
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
    by_checkpointer = lambda ops: sum(map(save, ops))  # noqa: E731

    for n in range(20):
        kind = ("start", "append", "cancel", "undo")[n % 4]
        pause = n in (5, 6, 7, 13, 14, 15)  # append, cancel, undo: twice each held half-done
        first, rest = {
            "start": (_start_run, lambda s: None),
            "append": (lambda s: _append_first(s, n), lambda s: _append_rest(s, n)),
            "cancel": (_cancel_first, _cancel_rest),
            "undo": (_undo_first, _undo_rest),
        }[kind]
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
        pytest.skip("saves write the session file in place (no rename), so what reached disk cannot be copied at the "
                    "moment it did; CK-05 covers such writes")

    checked = 0
    for op, got in snapshots.load("race_test"):
        what = f"the snapshot written by {op.describe(recorder.root)} [{op.thread}]"
        kit.check(not isinstance(got, Exception), f"{what} does not load: {type(got).__name__}: {got}")
        if got is None:
            continue  # not this session's file (another file was renamed first)
        state = state_of(got)
        checked += 1
        kit.check(state in allowed, f"{what} is no state at a lock release (an interleaving): "
                                    f"{short_repr(state, 300)}; nearest: {differences(state, _nearest(state, allowed))}")
    kit.check(checked, "no snapshot of the session reached disk")


def _nearest(state: dict[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any]:
    return min(candidates, key=lambda c: sum(state.get(k) != v for k, v in c.items()))


# -- CK-08 -------------------------------------------------------------------------


@pytest.mark.rule("CK-08")
def test_ck08_pending_message_survives_restart(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-08 (CONTRACTS.md §2): a pending user message written before a run starts
    (checkpoint-style ``save(skip_index=True)``) survives a restart, messages intact."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    session = _session(store, "survive1", messages=[{"role": "user", "content": "first turn"}])
    session.save()
    apply(session, {"pending_user_message": "do a long research task", "pending_started_at": kit.clock(),
                    "active_stream_id": "stream-abc123"})
    session.save(skip_index=True)
    state = _loaded_state(kit, checkpoint_stores.restart(store), "survive1", "after a restart")
    kit.check(state == state_of(session), f"the pending message did not survive a restart: {differences(state, state_of(session))}")


@pytest.mark.rule("CK-08")
def test_ck08_checkpoint_keeps_pending_message_through_crash(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-08 (CONTRACTS.md §2): the pending message set under ``lock_for`` once a run has
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
    """CK-09 (CONTRACTS.md §2): once ``stop()`` has returned the checkpointer writes
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
    _under_lock(kit, store, session, lambda s: s.messages.append({"role": "assistant", "content": "partial"}),
                what="streamed reply under lock_for", save=False)
    checkpointer.notify_activity()
    gate.wait_entered(1)
    held = next(op for op in recorder.ops if save(op))

    stopping = checkpointer.stop.spawn()
    # Bounded: a stop() that joins its thread cannot return while the save is held.
    stopping.wait(WINDOW)
    kit.check(not stopping.done, f"stop() returned while the checkpoint's {held.describe(recorder.root)} was still "
                                 "held: that save lands after stop()")
    gate.open()
    made = stopping.result()
    kit.check(made >= 1, f"stop() returned {made} though a checkpoint save was in progress")
    stopped = recorder.mark()

    # The final save, as the seed's success path makes it.
    final = _under_lock(kit, store, session, lambda s: apply(s, {"pending_user_message": None, "active_stream_id": None,
                                                                 "title": "final"}), what="final save under lock_for")
    late = lambda ops: [op for op in ops if op.seq > stopped and op.kind in ("rename", "open") and from_provider_thread(op)]  # noqa: E731
    # Bounded observation of WINDOW (25 intervals) for a late checkpoint write.
    recorder.wait_for(lambda ops: bool(late(ops)), WINDOW)
    written_late = late(recorder.ops)
    if written_late:
        kit.fail(f"the checkpointer wrote after stop() returned: {written_late[0].describe(recorder.root)} [{written_late[0].thread}]")
    state = _loaded_state(kit, checkpoint_stores.restart(store), "final", "after stop() and the final save")
    kit.check(state == final, f"the final save was overwritten: {differences(state, final)}")


# -- CK-10 -------------------------------------------------------------------------

#: Ids that could escape the directory; ``<outside>`` becomes an absolute path
#: next to the store's directory.  Each must be refused with ValueError.
ESCAPING_IDS = [
    "", ".", "..", "../x", "../../x", "a/b", "a/", "a/../../x", "./x", "<outside>/abs", "x\x00y", "\x00",
    # A backslash separates only on Windows; elsewhere it is an ordinary character.
    *(["..\\x", "a\\b"] if os.name == "nt" else []),
]
assert ESCAPING_IDS, "no escaping ids: CK-10 would test nothing"


@pytest.mark.rule("CK-10")
@pytest.mark.parametrize("raw_id", ESCAPING_IDS, ids=[repr(i) for i in ESCAPING_IDS])
def test_ck10_escaping_ids_are_rejected(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores, raw_id: str) -> None:
    """CK-10 (CONTRACTS.md §2): ids with separators, ``..``, absolute paths, NUL or empty
    are rejected with ValueError by ``create`` (or its ``save``) and ``load``, and nothing
    is written outside ``ctx.path``."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    inside = checkpoint_stores.context(store).path
    root = inside.parent
    outside = root / "outside"
    outside.mkdir(exist_ok=True)
    session_id = raw_id.replace("<outside>", str(outside))
    before = listing(root) - {os.path.join(inside.name, n) for n in listing(inside)}
    recorder = FileOps(root).start()
    kit.on_close(recorder.stop)
    try:
        kit.call(lambda: _create_and_save(store, session_id), what=f"create({session_id!r}) and save()")
    except ValueError:
        pass
    else:
        kit.fail(f"create({session_id!r}) and save() did not raise ValueError")
    finally:
        recorder.stop()
        escaped = [op for op in recorder.ops if not op.path.startswith(str(inside) + os.sep)
                   and (op.kind in ("rename", "remove", "truncate") or (op.kind == "open" and op.writes))]
        after = listing(root) - {os.path.join(inside.name, n) for n in listing(inside)}
        kit.check(not escaped and after == before,
                  f"create/save of {session_id!r} touched files outside ctx.path: "
                  f"{[op.describe(root) for op in escaped] or sorted(after - before)}")
    try:
        got = store.load(session_id)
    except ValueError:
        return
    kit.fail(f"{store!r}.load({session_id!r}) returned {got!r} instead of raising ValueError")


def _create_and_save(store: Any, session_id: str) -> None:
    store.create(session_id, title="escape", messages=[{"role": "user", "content": "x"}]).save()


@pytest.mark.rule("CK-10")
def test_ck10_very_long_id(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-10 (CONTRACTS.md §2): a very long id is cleanly refused with ValueError or
    round-trips — never an OSError from deep inside, never a file outside ``ctx.path``."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    inside = checkpoint_stores.context(store).path
    before = listing(inside.parent)
    session_id = "x" * 10_000
    try:
        kit.call(lambda: _create_and_save(store, session_id), what="create('x' * 10000) and save()")
    except ValueError:
        kit.expect(listing(inside.parent), before, "files after a refused very long id")
        return
    except OSError as exc:
        kit.fail(f"create/save of a 10000-character id raised {type(exc).__name__}: {exc} instead of ValueError")
    got = checkpoint_stores.restart(store).load(session_id)
    kit.check(got is not None and got.title == "escape", "a 10000-character id was accepted but did not round-trip")


# -- CK-11 -------------------------------------------------------------------------

DAMAGE = {
    "truncated to half": lambda data: data[: len(data) // 2],
    "cut before its last byte": lambda data: data[:-1],
    "truncated to one byte": lambda data: data[:1],
    "empty": lambda data: b"",
    "garbage": lambda data: bytes(range(256)) * 4,
    "another shape": lambda data: b"[]",
    "null": lambda data: b"null",
}

#: Exceptions that show a half-parsed file, not a clear refusal.
UNCLEAR = (KeyError, TypeError, AttributeError, IndexError)


@pytest.mark.rule("CK-11")
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_ck11_damaged_file_is_never_half_loaded(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores, damage: str) -> None:
    """CK-11 (CONTRACTS.md §2): a truncated or corrupt session file is never half-loaded:
    ``load`` returns ``None``, raises a clear error, or (if the damage lost nothing) the
    whole session; ``index()`` skips it and keeps the other sessions."""
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
        kit.fail(f"load of a session file {damage} raised {type(exc).__name__}: {exc} (half-parsed; expected None or a clear error)")
    except Exception:
        pass
    else:
        if got is not None:
            whole = state_of(got) == state_of(session)
            kit.check(whole, f"load of a session file {damage} half-loaded it: {differences(state_of(got), state_of(session))}")
    try:
        entries = _entries(kit, fresh)
    except Exception as exc:
        kit.fail(f"index() with a session file {damage} raised {type(exc).__name__}: {exc}")
    kit.check(whole or "victim" not in entries, f"index() lists 'victim' though its file is {damage}")
    kit.check("bystander" in entries, f"index() lost 'bystander' because another session file is {damage}")


# -- CK-12 -------------------------------------------------------------------------


@pytest.mark.rule("CK-12")
def test_ck12_index_update_race(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-12 (CONTRACTS.md §2): a full save of session A is held inside its index update
    while a full save of session B runs; the index must list both (a read-modify-write of
    the index without a lock loses A)."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    probe = _session(store, "probe")
    recorder = checkpoint_stores.record(store)
    layout = learn_layout(kit, recorder, probe)
    if not layout.index_files:
        pytest.skip("a full save wrote no file that a skip_index save does not: the index update cannot be held")
    index_write = lambda op: (op.kind == "rename" and op.dest in layout.index_files) or (  # noqa: E731
        op.kind == "open" and op.writes and op.path in layout.index_files)
    gate = kit.gate("index update", closed=True)
    checkpoint_stores.hold(recorder, gate, index_write)
    a, b = _session(store, "session-a"), _session(store, "session-b")
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
        lost = sorted({"probe", "session-a", "session-b"} - set(entries))
        kit.check(not lost, f"{what}: index() lost {lost} after concurrent full saves of session-a and session-b")


@pytest.mark.rule("CK-12")
def test_ck12_concurrent_full_saves_keep_every_entry(lifecycle_kit: Kit, checkpoint_stores: CheckpointStores) -> None:
    """CK-12 (CONTRACTS.md §2): 8 threads each fully saving 4 sessions of their own at
    once: the index lists every saved session exactly once, before and after a restart."""
    kit = lifecycle_kit
    store = checkpoint_stores()
    sessions = [[_session(store, f"t{t}-s{i}", title=f"thread {t} session {i}") for i in range(4)] for t in range(8)]

    def saver(mine: list[Any]) -> None:
        for round_ in range(2):
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
        kit.check(not lost, f"{what}: index() lost {len(lost)} of {len(expected)} sessions saved concurrently: {lost[:6]}")
        wrong = [sid for sid in expected if _entry_fields(entries[sid]) != expected[sid]]
        kit.check(not wrong, f"{what}: index entries of {wrong[:4]} do not match their last full save")
