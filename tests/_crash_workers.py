"""Worker functions for ``test_crash.py``: they run in processes forked by the harness."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from pytest_lifecycle._probes.crash import limit_file_size

Report = Callable[[dict[str, Any]], None]


def count_forever(args: dict[str, Any], report: Report) -> None:
    n = 0
    while True:
        n += 1
        report({"n": n})


def chatty(args: dict[str, Any], report: Report) -> None:
    """Write far more than a pipe holds to both streams before reporting."""
    line = "x" * 1023 + "\n"
    for _ in range(args["kib"]):
        sys.stdout.write(line)
        sys.stderr.write(line)
    sys.stdout.flush()
    report({"done": True})


def fail(args: dict[str, Any], report: Report) -> None:
    report({"about": "to fail"})
    raise ValueError("the worker's own error")


def write_file(args: dict[str, Any], report: Report) -> None:
    limit_file_size(args["limit"], kill=args["kill"])
    try:
        with open(args["path"], "wb") as f:
            f.write(b"y" * args["size"])
    except OSError as exc:
        report({"errno": exc.errno})
        return
    report({"written": os.path.getsize(args["path"])})


def big_report(args: dict[str, Any], report: Report) -> None:
    report({"blob": "z" * 100_000})
