"""Mutant: a save that fails leaves its temporary file behind.

CK-04's "no temporary files behind": without the ``unlink`` in the error path every
failed checkpoint (a full disk, an I/O error) leaks one ``.tmp`` file, and a disk
that is full stays full.
"""

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

BREAKS = ("CK-04",)


class LeakyStore(CheckpointStore):
    def discard_temp_file(self, temp_name: str) -> None:
        pass  # BUG: the temp file of a failed write stays


provider = Provider("mutant-temp-left-on-error", checkpoint_store=factory_of(LeakyStore))
