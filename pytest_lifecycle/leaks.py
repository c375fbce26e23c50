"""Measuring what a run leaves behind in memory (LC-16, RS-07, LK-07)."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Callable, TypeVar

__all__ = ["traced_growth"]

T = TypeVar("T")


def traced_growth(run: Callable[[], T]) -> tuple[T, int]:
    """Run *run*; return its result and the traced memory it left behind.

    Memory is compared after a full collection on both sides, so garbage
    cycles do not count; only what the run keeps reachable does.  Tracing is
    started (and stopped again) unless someone already traces.
    """
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        result = run()
        gc.collect()
        return result, tracemalloc.get_traced_memory()[0] - before
    finally:
        if started:
            tracemalloc.stop()
