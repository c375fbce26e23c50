"""The kit's async driving of stream providers (:mod:`pytest_lifecycle._probes.asyncdrive`).

A provider that blocks the loop, never finishes, or leaks ``CancelledError``
fails the rule under test with that cause, and the run goes on to the next
rule; thread work (``asyncio.to_thread``) is waited for, or seen to park;
the kit's loop never meets the test's own (``asyncio.run``, anyio).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

from pytest_lifecycle import Provider, get_rule
from pytest_lifecycle._contracts import supports
from pytest_lifecycle._contracts.event_streams import END, Streams, event
from pytest_lifecycle._core.kit import Kit
from pytest_lifecycle._probes.asyncdrive import LoopDriver, LoopHung
from reference_impl.event_streams import ERRORS, memory_factory

MEMORY = Provider("memory", event_streams=memory_factory, options={"event_streams": ERRORS})

#: A provider module whose registry misbehaves in one way, chosen by BUG.
BROKEN = """
import asyncio, time
from pytest_lifecycle import Provider
from reference_impl.event_streams import ERRORS, EventStream, MemoryStreamRegistry

BUG = {bug!r}

class Stream(EventStream):
    async def emit(self, payload, *, close=False):
        if payload["seq"] >= 2:
            if BUG == "blocks":
                time.sleep(1.2)          # synchronous I/O in a coroutine
            elif BUG == "never":
                await asyncio.get_running_loop().create_future()
            elif BUG == "cancelled":
                raise asyncio.CancelledError("leaked")
        return await super().emit(payload, close=close)

class Registry(MemoryStreamRegistry):
    stream_class = Stream

def factory(ctx):
    return Registry(cursor_fn=ctx.cursor_fn, ttl_seconds=ctx.ttl_seconds, clock=ctx.clock)

provider = Provider("broken-" + BUG, event_streams=factory, options={{"event_streams": ERRORS}})
"""


def certify(pytester: pytest.Pytester, bug: str, *rules: str) -> tuple[pytest.RunResult, dict]:
    pytester.makepyfile(**{f"broken_{bug}": BROKEN.format(bug=bug)})
    pytester.syspathinsert()
    report = pytester.path / "report.json"
    args = [
        "--pyargs",
        "conformance.event_streams",
        "--lifecycle-provider",
        f"broken_{bug}:provider",
        "--lifecycle-timeout",
        "0.5",
        "--lifecycle-report",
        str(report),
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    for rule in rules:
        args += ["--lifecycle-rule", rule]
    result = pytester.runpytest_inprocess(*args)
    return result, json.loads(report.read_text())["providers"][f"broken-{bug}"]


@pytest.mark.parametrize(
    ("bug", "says"),
    [
        ("blocks", "the event loop is blocked at broken_blocks.py"),
        ("never", "every task is waiting and nothing will wake them"),
        ("cancelled", "raised CancelledError"),
    ],
)
def test_a_misbehaving_provider_fails_the_rule_and_the_run_goes_on(
    pytester: pytest.Pytester, bug: str, says: str
) -> None:
    result, verdicts = certify(pytester, bug, "ST-01", "ST-02")
    message = verdicts["ST-01"]["message"]
    assert verdicts["ST-01"]["verdict"] == "failed", result.stdout.str()
    assert message.startswith("[ST-01]") and says in message, message
    # The next rule still got its verdict (its tests emit only cursor 1).
    assert verdicts["ST-02"]["verdict"] in ("passed", "failed"), verdicts["ST-02"]
    if bug == "blocks":
        assert "streams['s'].emit({'seq': 2" in message or "emit" in message, message


@pytest.fixture
def kit(tmp_path: Path):
    kit = Kit(provider=MEMORY, rule=get_rule("ST-01"), timeout=1.0, directory=tmp_path, contracts=supports())
    yield kit
    kit.close()


def test_thread_work_is_waited_for_or_seen_parked(kit: Kit) -> None:
    driver = LoopDriver(kit, "a test loop")
    release = threading.Event()
    done: list[str] = []

    def fsync_like() -> str:
        time.sleep(0.05)  # real work in the thread: the loop is not idle until it ends
        done.append("slow")
        return "slow"

    def held() -> str:
        release.wait()  # parked: the loop counts as idle around it
        return "held"

    assert driver.run(lambda: asyncio.to_thread(fsync_like), "slow thread work") == "slow"
    assert done == ["slow"]
    pending = driver.start(lambda: asyncio.to_thread(held), "held thread work")
    assert not pending.done
    release.set()
    driver.finish(pending)
    assert pending.result() == "held"


def test_a_loop_that_never_settles_names_where_it_is(kit: Kit) -> None:
    driver = LoopDriver(kit, "a test loop")

    async def spin() -> None:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            pass

    with pytest.raises(LoopHung) as caught:
        driver.start(spin, "spin()")
    assert "blocked at test_event_streams_kit.py" in str(caught.value) and "in spin()" in str(caught.value)


def test_the_kit_loop_runs_beside_the_tests_own_loop(kit: Kit) -> None:
    streams = Streams(kit)

    async def inside_a_running_loop() -> list[object]:
        stream = streams.new().get_or_create("s")  # synchronous kit calls inside asyncio.run
        stream.emit(event(1), close=True)
        sub = stream.subscribe()
        return [sub.read().outcome()[1], sub.read().outcome()[1]]

    got = asyncio.run(inside_a_running_loop())
    assert got[0] == event(1)
    assert got[1] is END


def test_with_anyio_plugin_active(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_lifecycle._contracts.event_streams import event

        pytestmark = pytest.mark.anyio

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.rule("ST-01")
        async def test_kit_inside_anyio(event_streams):
            stream = event_streams.new().get_or_create("s")
            stream.emit(event(1))
            assert stream.last_cursor() == 1
        """
    )
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-q", "--lifecycle-provider", "reference_impl.provider:provider"
    )
    result.assert_outcomes(passed=1)
