"""The tools the shipped suites drive providers with, for writing your own tests.

``pytest_lifecycle`` holds what every test needs (the :class:`~pytest_lifecycle.Kit`,
providers, rules, the doubles); this module holds the rest a suite of
``conformance/`` uses, public and kept stable like the top level:

- **parking** — :func:`spawn_watched`, :class:`WatchedTask`,
  :func:`check_still_waiting`: know, without sleeping, that a call waits
  inside the provider;
- **leaks** — :func:`provider_growth`, :func:`check_growth`, :class:`Growth`:
  what the provider keeps after churn;
- **stress** — :class:`History`, :func:`describe_overlap`,
  :func:`switch_interval`, :func:`yield_thread`;
- **interleavings** — :func:`interleavings` of two calls, line by line;
- **crashes** — :class:`CrashHarness`, :class:`CrashRun`,
  :class:`CrashHarnessError`, :func:`limit_file_size`: SIGKILL a child
  process at a chosen point and restart;
- **file operations** — :class:`FileOps`, :class:`FileOp`,
  :class:`Injection`, :func:`durable_replace_problems`,
  :func:`recovery_problems`;
- **event loops** — :class:`LoopHung`;
- **checkpoint stores** — :class:`CheckpointStores`;
- **event streams** — :class:`Streams`, :class:`StreamRegistry`,
  :class:`Stream`, :class:`Subscriber`, :class:`Read`, :data:`END`,
  :class:`StreamErrors`, :func:`event`, :func:`seq_cursor`,
  :data:`TTL_SECONDS`;
- **the rest** — :func:`load_provider` (a provider by name or import path,
  in a child process), :func:`contract_support` (a contract's surfaces and
  context extras), :func:`short_repr` (a value as failure messages show
  it), :func:`replay_note` (the replay command of a ``@given`` test a suite
  runs itself).

The fixtures (``session_lifecycle``, ``gated_agent``, ``checkpoint_store``,
``event_streams``, …) need no import: the plugin provides them.
"""

from pytest_lifecycle._contracts import contract_support
from pytest_lifecycle._contracts.checkpoint_store import CheckpointStores
from pytest_lifecycle._contracts.event_streams import (
    END,
    TTL_SECONDS,
    Read,
    Stream,
    StreamErrors,
    StreamRegistry,
    Streams,
    Subscriber,
    event,
    seq_cursor,
)
from pytest_lifecycle._core.discovery import load_provider
from pytest_lifecycle._core.surface import short_repr
from pytest_lifecycle._plugin.machines import replay_note
from pytest_lifecycle._probes.asyncdrive import LoopHung
from pytest_lifecycle._probes.crash import CrashHarness, CrashHarnessError, CrashRun, limit_file_size
from pytest_lifecycle._probes.fileops import FileOp, FileOps, Injection, durable_replace_problems, recovery_problems
from pytest_lifecycle._probes.interleave import interleavings
from pytest_lifecycle._probes.leaks import Growth, check_growth, provider_growth
from pytest_lifecycle._probes.parking import WatchedTask, check_still_waiting, spawn_watched
from pytest_lifecycle._probes.stress import History, describe_overlap, switch_interval, yield_thread

__all__ = [
    "END",
    "TTL_SECONDS",
    "CheckpointStores",
    "CrashHarness",
    "CrashHarnessError",
    "CrashRun",
    "FileOp",
    "FileOps",
    "Growth",
    "History",
    "Injection",
    "LoopHung",
    "Read",
    "Stream",
    "StreamErrors",
    "StreamRegistry",
    "Streams",
    "Subscriber",
    "WatchedTask",
    "check_growth",
    "check_still_waiting",
    "contract_support",
    "describe_overlap",
    "durable_replace_problems",
    "event",
    "interleavings",
    "limit_file_size",
    "load_provider",
    "provider_growth",
    "recovery_problems",
    "replay_note",
    "seq_cursor",
    "short_repr",
    "spawn_watched",
    "switch_interval",
    "yield_thread",
]
