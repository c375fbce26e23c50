"""Mutant: a save writes the final file in place with ``Path.write_text``.

The torn checkpoint of the checkpoint-race incident (its regression tests
``test_periodic_checkpoint_mutation_race_with_undo_last`` and
``test_cancel_stream_concurrent_checkpoint_produces_valid_json`` assert that the
on-disk JSON stays parseable): truncate-then-write leaves an empty or half-written
session file when the process dies in between (CK-05), and the write protocol has
no temporary file at all (CK-04).

CK-07 is unobservable: its test copies each snapshot at the rename that
publishes it, and an in-place write has no such moment (CK-05 covers it).
"""

from pathlib import Path

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

BREAKS = ("CK-05", "CK-04")
UNOBSERVABLE = ("CK-07",)


class DirectWriteStore(CheckpointStore):
    def write_file(self, target: Path, data: bytes) -> None:
        target.write_text(data.decode("ascii"))  # BUG: no temp file, no rename, no fsync


provider = Provider("mutant-direct-write", checkpoint_store=factory_of(DirectWriteStore))
