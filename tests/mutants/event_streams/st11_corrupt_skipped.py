"""Mutant: recovery skips records it cannot read, wherever they are.

"Be graceful": a damaged record in the middle of the log is dropped without a
word, and the stream comes back with a hole -- the silent loss a client
resuming with after=N never notices (ST-11).
"""

from __future__ import annotations

from typing import Any

from reference_impl.event_streams import FileStorage, FileStreamRegistry, decode_record

from ._base import mutant

BREAKS = ("ST-11",)


def lenient_decode(data: bytes, where: str) -> tuple[list[dict[str, Any]], int]:
    records = []
    offset = 0
    for line in data.split(b"\n")[:-1]:
        record = decode_record(line)
        offset += len(line) + 1
        if record is not None:  # BUG: a damaged record is skipped, not reported
            records.append(record)
    return records, offset


class Lenient(FileStorage):
    decode = staticmethod(lenient_decode)


class Registry(FileStreamRegistry):
    storage_class = Lenient


provider = mutant("mutant-corrupt-skipped", Registry)
