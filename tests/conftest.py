import gc
import os
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

# Hundreds of Python processes start inside this suite (xdist workers, pytester
# subprocesses, the CLI), each importing and assertion-rewriting the same ~120
# modules.  Under PYTHONDONTWRITEBYTECODE (set on some CI images) none could
# reuse the others' work, which doubled the suite's time: the suite's runs
# cache their bytecode instead -- outside the source tree, as that setting asks.
if sys.dont_write_bytecode or os.environ.get("PYTHONDONTWRITEBYTECODE"):
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    _cache = Path(tempfile.gettempdir()) / f"pytest-lifecycle-bytecode-{os.getuid()}"
    sys.pycache_prefix = os.environ.setdefault("PYTHONPYCACHEPREFIX", str(_cache))
    sys.dont_write_bytecode = False

# Imported once here, so in-process pytester runs (which drop the modules a
# run imports) do not pay for Hypothesis and the suites on every run.
import hypothesis.stateful
import hypothesis.strategies  # noqa: F401
import pytest
from hypothesis.configuration import storage_directory

import conformance.checkpoint_store
import conformance.event_streams
import conformance.keyed_locks
import conformance.respawn
import conformance.session_lifecycle  # noqa: F401
from pytest_lifecycle import CONTRACTS
from tests._hostile import group_of

try:  # the SSE client, kept across in-process runs (the `sse` extra)
    import httpcore  # noqa: F401
    import httpx  # noqa: F401
except ImportError:
    pass

# The kit's inner runs must not write into a real GitHub job's step summary
# or annotations when this suite itself runs under GitHub Actions.
for _variable in ("GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
    os.environ.pop(_variable, None)

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _young_heap() -> None:
    """Each test starts with the heap of the tests before it frozen (``gc.freeze``).

    The kit's probes and the keyed-locks suite collect garbage on purpose
    (``gc.collect()``: a lock only a reference cycle keeps is gone; a leak
    is measured on a collected heap), and pytest collects at the end of
    every in-process run.  In this process a full collection walks
    everything the session has loaded and kept -- tenths of a second each,
    hundreds of times (a fifth of the suite's time); a user's run has no
    such heap.  Frozen objects stay alive and are skipped by collections, so
    a test's collections see the objects it made, as a user's run would.
    """
    gc.collect()  # the previous test's garbage, before its survivors are frozen
    gc.freeze()


@pytest.fixture(autouse=True)
def _shared_hypothesis_constants(request: pytest.FixtureRequest) -> None:
    """A pytester run shares this process's cache of the constants Hypothesis reads from local modules.

    Hypothesis parses the source of every local module (with this editable
    install: the kit, the reference, the suites) for constants to draw, and
    caches them, by source hash, under ``.hypothesis/constants`` of the
    current directory.  Each pytester run has a directory of its own, so each
    one parsed them all again -- seconds per run.  Only that cache is shared:
    each run keeps its own example database.
    """
    if "pytester" not in request.fixturenames:
        return
    home = request.getfixturevalue("pytester").path / ".hypothesis"
    shared = storage_directory("constants", intent_to_write=False).path
    shared.mkdir(parents=True, exist_ok=True)
    home.mkdir(exist_ok=True)
    (home / "constants").symlink_to(shared, target_is_directory=True)


#: The tests of ``test_hypothesis.py`` that read its first LC-17 failure (``first_failure``).
FIRST_FAILURE_TESTS = frozenset(
    {
        "test_failure_prints_shrunk_steps_and_replay_command",
        "test_hypothesis_seed_replays_the_same_failure",
        "test_example_database_replays_the_failure",
    }
)

#: The test of ``test_hostile.py`` whose runs are shared (``tests._hostile.run_group``).
HOSTILE_MATRIX = "test_every_claimed_rule_gets_an_honest_verdict"

#: Modules whose tests read one module-scoped run (a certification, a measured
#: run): spread over the workers, each worker would make it again.
MODULE_BATCHES = frozenset({"test_cli_replay.py", "test_provider_coverage.py"})


def batch_of(nodeid: str) -> str | None:
    """The batch a test shares one run with, or None: a batch's tests must run on one xdist worker.

    - ``test_mutants.py``: one run per contract (ids start with ``<contract>/``);
    - ``test_alternates.py``: one run per contract and mode (ids ``<contract>/<name>-<mode>``);
    - ``test_hypothesis.py``: the first LC-17 failure, read by :data:`FIRST_FAILURE_TESTS`;
    - ``test_hostile.py``: one run per contract and fault group (ids ``<contract>-<fault>``);
    - the modules of :data:`MODULE_BATCHES`: the whole module.
    """
    path, _, rest = nodeid.partition("::")
    function, _, param = rest.partition("[")
    module, param = PurePosixPath(path).name, param.removesuffix("]")
    contract, mode = param.partition("/")[0], param.rpartition("-")[2]
    if module == "test_mutants.py" and contract in CONTRACTS:
        return f"{path}::{contract}"
    if module == "test_alternates.py" and mode in ("serial", "xdist") and contract in CONTRACTS:
        return f"{path}::{contract}-{mode}"
    if module in MODULE_BATCHES:
        return path
    if module == "test_hypothesis.py" and function in FIRST_FAILURE_TESTS:
        return f"{path}::first-failure"
    contract, _, fault = param.partition("-")
    if module == "test_hostile.py" and function == HOSTILE_MATRIX and contract in CONTRACTS:
        return f"{path}::{contract}-{group_of(fault)}"
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    # `-n auto`: two workers per CPU.  Most of this suite's time is spent
    # waiting -- on the subprocesses it starts and on the kit's timeouts that
    # hung mutants and hostile providers run into -- so one worker per CPU
    # leaves the CPUs idle a third of the time.
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own setting wins
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 2 * cpus


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    # `--dist load` (what `-n` implies), except that a batch's tests go to one
    # worker, which then runs the batch once.  (`--dist loadgroup` would do it
    # with `xdist_group` markers, but pytest-xdist 3.8 cannot rename node ids
    # under pytest 9.)  Batches are scheduled first, as the largest scopes.
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BatchScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return batch_of(nodeid) or nodeid

    return BatchScheduling(config, log)
