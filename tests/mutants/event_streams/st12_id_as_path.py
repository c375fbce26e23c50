"""Mutant: the stream id is joined into the log's path as it is.

``storage_dir / f"{id}.log"`` with ``id = "../../x"`` writes outside the
storage directory (ST-12).
"""

from __future__ import annotations

from pathlib import Path

from reference_impl.event_streams import FileStorage, FileStreamRegistry

from ._base import mutant

BREAKS = ("ST-12",)


class RawPaths(FileStorage):
    def paths_of(self, stream_id: str) -> tuple[Path, Path]:
        # BUG: no encoding.
        return self.directory / f"{stream_id}.log", self.directory / f"{stream_id}.gone"


def any_string(stream_id: object) -> str:
    if not isinstance(stream_id, str) or not stream_id:
        raise ValueError(f"bad stream id {stream_id!r}")
    return stream_id  # BUG: no check for "/", ".." or NUL


class Registry(FileStreamRegistry):
    storage_class = RawPaths
    check_id = staticmethod(any_string)


provider = mutant("mutant-id-as-path", Registry)
