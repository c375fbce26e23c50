"""Mutant: after an fsync fails with EIO, it fsyncs the same descriptor again and carries on.

The "fsyncgate" mistake: after a failed fsync the kernel may have dropped the dirty
pages and cleared the error, so the retry reports success for data that never
reached the disk -- the save returns normally with an unsynced file in place.  Only
writing the file again from scratch recovers (CK-05, open choice CK/io-error).
"""

import errno
import os

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

BREAKS = ("CK-05",)


class FsyncRetryingStore(CheckpointStore):
    def sync_file(self, fd: int) -> None:
        try:
            os.fsync(fd)
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            os.fsync(fd)  # BUG: the same descriptor again; its dirty pages may be gone


provider = Provider("mutant-fsync-retried", checkpoint_store=factory_of(FsyncRetryingStore))
