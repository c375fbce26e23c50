"""Mutant: the temporary file is renamed into place without being fsynced first.

Atomic against a SIGKILL (the page cache survives the process), but after a power
loss the rename can reach the disk before the data and leave an empty session file
under the final name -- the reason CK-05 checks the protocol, not just kills.
"""

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

BREAKS = ("CK-05",)


class NoFsyncStore(CheckpointStore):
    def sync_file(self, fd: int) -> None:
        pass  # BUG: no os.fsync(fd) before the rename


provider = Provider("mutant-no-fsync", checkpoint_store=factory_of(NoFsyncStore))
