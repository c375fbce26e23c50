"""The file-operation recorder (:mod:`pytest_lifecycle._probes.fileops`) and the durable-replace check."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_lifecycle._probes.fileops import FileOps, durable_replace_problems, recovery_problems


def durable_write(target: Path, data: bytes, *, fsync_file: bool = True, fsync_dir: bool = True) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent)
    try:
        os.write(fd, data)
        if fsync_file:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, target)
    if fsync_dir:
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def test_records_open_fsync_rename_and_directory_fsync(tmp_path: Path) -> None:
    with FileOps(tmp_path) as recorder:
        durable_write(tmp_path / "a.json", b"{}")
    kinds = [op.kind for op in recorder.ops]
    assert kinds == ["open", "fsync", "rename", "open", "fsync"], kinds
    rename = recorder.ops[2]
    assert rename.dest == str(tmp_path / "a.json") and rename.inode == recorder.ops[1].inode
    assert recorder.ops[4].is_dir
    assert durable_replace_problems(recorder.ops, tmp_path) == []


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"fsync_file": False}, "without an fsync of its source"),
        ({"fsync_dir": False}, "without an fsync of its directory"),
    ],
)
def test_a_missing_fsync_is_named(tmp_path: Path, kwargs: dict[str, bool], expected: str) -> None:
    with FileOps(tmp_path) as recorder:
        durable_write(tmp_path / "a.json", b"{}", **kwargs)
    (problem,) = durable_replace_problems(recorder.ops, tmp_path)
    assert expected in problem and "-> 'a.json'" in problem


def test_an_in_place_write_is_named(tmp_path: Path) -> None:
    with FileOps(tmp_path) as recorder:
        (tmp_path / "a.json").write_text("{}")
    problems = durable_replace_problems(recorder.ops, tmp_path)
    assert any("open('a.json', w)" in p and "in place" in p for p in problems), problems


def test_only_the_directory_is_recorded_and_fsync_is_restored(tmp_path: Path) -> None:
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    real = os.fsync
    with FileOps(inside) as recorder:
        assert os.fsync is not real
        durable_write(outside / "x", b"1")
    assert os.fsync is real
    assert recorder.ops == []


def test_interceptors_hold_and_inject_in_the_callers_thread(tmp_path: Path) -> None:
    release = threading.Event()
    with FileOps(tmp_path) as recorder:
        recorder.intercept(lambda op: release.wait(10) if op.kind == "rename" else None)
        writer = threading.Thread(target=durable_write, args=(tmp_path / "a", b"1"))
        writer.start()
        assert recorder.wait_for(lambda ops: any(op.kind == "rename" for op in ops), 10)
        assert not (tmp_path / "a").exists()  # held before the rename ran
        release.set()
        writer.join(10)
        assert (tmp_path / "a").read_bytes() == b"1"
        injection = recorder.inject("rename", code=errno.ENOSPC)
        with pytest.raises(OSError) as info:
            durable_write(tmp_path / "a", b"2")
        assert info.value.errno == errno.ENOSPC and injection.fired is not None
    assert (tmp_path / "a").read_bytes() == b"1"


def test_wait_for_times_out_without_failing(tmp_path: Path) -> None:
    with FileOps(tmp_path) as recorder:
        assert recorder.wait_for(lambda ops: bool(ops), 0.01) is False


# -- recovery after an injected I/O error (CK-05, open choice CK/io-error) ----------


def _fsync_retrying(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError:
        os.fsync(fd)  # the same descriptor again: no recovery


def _write_with(target: Path, data: bytes, fsync: Callable[[int], None] | None = None) -> None:
    # os.fsync is looked up at call time: the recorder wraps it.
    sync = fsync or (lambda fd: os.fsync(fd))
    fd, temp = tempfile.mkstemp(dir=target.parent)
    try:
        os.write(fd, data)
        sync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(temp)
        raise
    os.close(fd)
    os.replace(temp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        sync(dir_fd)
    finally:
        os.close(dir_fd)


def _rewriting(target: Path, data: bytes) -> None:
    try:
        _write_with(target, data)
    except OSError:
        _write_with(target, data)  # from scratch: a new temporary file


@pytest.mark.parametrize("nth", [1, 2], ids=["file fsync", "directory fsync"])
def test_a_rewrite_from_scratch_is_a_recovery(tmp_path: Path, nth: int) -> None:
    target = tmp_path / "a.json"
    with FileOps(tmp_path) as recorder:
        injection = recorder.inject("fsync", nth=nth, code=errno.EIO)
        _rewriting(target, b"new")
    assert injection.fired is not None and target.read_bytes() == b"new"
    assert recovery_problems(recorder.ops, injection.fired, {str(target)}, tmp_path) == []


@pytest.mark.parametrize(
    ("nth", "expected"),
    [(1, "puts in place the file whose fsync"), (2, "followed only by the failed fsync")],
    ids=["file fsync", "directory fsync"],
)
def test_fsync_retried_on_the_same_file_is_no_recovery(tmp_path: Path, nth: int, expected: str) -> None:
    target = tmp_path / "a.json"
    with FileOps(tmp_path) as recorder:
        injection = recorder.inject("fsync", nth=nth, code=errno.EIO)
        _write_with(target, b"new", fsync=_fsync_retrying)
    assert injection.fired is not None
    problems = recovery_problems(recorder.ops, injection.fired, {str(target)}, tmp_path)
    assert any(expected in p for p in problems), problems


def test_a_swallowed_error_leaves_a_target_never_replaced(tmp_path: Path) -> None:
    target, index = tmp_path / "a.json", tmp_path / "index.json"
    with FileOps(tmp_path) as recorder:
        injection = recorder.inject("fsync", nth=3, code=errno.EIO)  # the index's temporary file
        _write_with(target, b"new")
        with contextlib.suppress(OSError):
            _write_with(index, b"[]")
    assert injection.fired is not None
    (problem,) = recovery_problems(recorder.ops, injection.fired, {str(target), str(index)}, tmp_path)
    assert "nothing was renamed onto 'index.json'" in problem
