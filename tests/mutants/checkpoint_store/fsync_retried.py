"""Mutant: after an fsync fails with EIO, it fsyncs the same descriptor again and carries on.

The "fsyncgate" mistake: after a failed fsync the kernel may have dropped the dirty
pages and cleared the error, so the retry reports success for data that never
reached the disk -- the save returns normally with an unsynced file in place.  Only
writing the file again from scratch recovers (CK-05, open choice CK/io-error).
"""

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

BREAKS = ("CK-05",)


def _fsync_retrying(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EIO:
            raise
        os.fsync(fd)  # BUG: the same descriptor again; its dirty pages may be gone


class FsyncRetryingStore(CheckpointStore):
    def _write(self, target: Path, data: bytes) -> None:
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            try:
                remaining = memoryview(data)
                while remaining:
                    remaining = remaining[os.write(fd, remaining) :]
                _fsync_retrying(fd)
            finally:
                os.close(fd)
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            _fsync_retrying(dir_fd)
        finally:
            os.close(dir_fd)


provider = Provider("mutant-fsync-retried", checkpoint_store=factory_of(FsyncRetryingStore))
