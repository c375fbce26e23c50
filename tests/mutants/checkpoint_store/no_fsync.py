"""Mutant: the temporary file is renamed into place without being fsynced first.

Atomic against a SIGKILL (the page cache survives the process), but after a power
loss the rename can reach the disk before the data and leave an empty session file
under the final name — the reason CK-05 checks the protocol, not just kills.
"""

import os
import tempfile
from pathlib import Path

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

BREAKS = ("CK-05",)


class NoFsyncStore(CheckpointStore):
    def _write(self, target: Path, data: bytes) -> None:
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            try:
                remaining = memoryview(data)
                while remaining:
                    remaining = remaining[os.write(fd, remaining) :]
                # BUG: no os.fsync(fd) before the rename
            finally:
                os.close(fd)
            os.replace(temp_name, target)
        except BaseException:
            os.unlink(temp_name)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


provider = Provider("mutant-no-fsync", checkpoint_store=factory_of(NoFsyncStore))
