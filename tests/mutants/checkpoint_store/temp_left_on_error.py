"""Mutant: a save that fails leaves its temporary file behind.

CK-04's "no temporary files behind": without the ``unlink`` in the error path every
failed checkpoint (a full disk, an I/O error) leaks one ``.tmp`` file, and a disk
that is full stays full.
"""

import os
import tempfile
from pathlib import Path

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

BREAKS = ("CK-04",)


class LeakyStore(CheckpointStore):
    def _write(self, target: Path, data: bytes) -> None:
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            remaining = memoryview(data)
            while remaining:
                remaining = remaining[os.write(fd, remaining) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp_name, target)  # BUG: no unlink of temp_name when this or the fsync fails
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


provider = Provider("mutant-temp-left-on-error", checkpoint_store=factory_of(LeakyStore))
