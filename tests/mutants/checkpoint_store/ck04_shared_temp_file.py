"""Mutant: every save of a session writes the same ``<id>.tmp`` before renaming it.

The bug behind the checkpoint-race incident's
``test_same_session_concurrent_saves_use_distinct_temp_files``: with the shared
``<sid>.tmp`` scheme two saves of one session target one temporary file, and the
second rename fails once the first consumed it.  (Here the saves are still
serialised by the writer lock, so only the shared name itself gives it away.)
"""

import os
from pathlib import Path

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

BREAKS = ("CK-04",)


class SharedTempStore(CheckpointStore):
    def open_temp_file(self, target: Path) -> tuple[int, str]:
        temp = target.with_name(target.stem + ".tmp")  # BUG: one temp name per file, not per write
        return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), str(temp)


provider = Provider("mutant-shared-temp-file", checkpoint_store=factory_of(SharedTempStore))
