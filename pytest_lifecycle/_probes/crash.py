"""Real crashes: run code in a child process and SIGKILL it when the kit says.

Example::

    with CrashHarness(preload=["mypkg.provider"]) as harness:
        run = harness.start("mypkg.crashes:save_loop", {"path": str(ctx.path)})
        run.wait_report(lambda r: "saved" in r)
        end = run.kill(after=0.002)
        end.reports   # what the child reported before it died

How it is built, and why:

- One *zygote* per harness: a fresh interpreter in its own session (so its
  own process group) that imports the ``preload`` modules once and then
  forks one *worker* per run.  A run costs a fork, not an interpreter start,
  so a test can afford dozens of kills; the zygote is single-threaded, so
  forking it is safe.
- The zygote alone reaps workers and it alone sends their SIGKILL: a pid is
  never signalled after it was reaped, so no unrelated process can be hit.
- A worker runs ``function(args, report)``; ``report(dict)`` sends a small
  JSON line on a dedicated control pipe with one ``write`` (atomic below
  ``PIPE_BUF``), so reports from a process killed mid-run are whole or absent.
- The children's stdout and stderr are drained continuously by a reader
  thread (a chatty child never blocks on a full pipe); the last 64 KiB of
  each are kept for failure messages.
- :meth:`CrashHarness.close` closes the zygote's stdin, on which the zygote
  SIGKILLs and reaps every worker and exits; then, before reaping the zygote
  (whose pid, hence the group id, stays reserved until then), it SIGKILLs the
  whole process group as a safety net, and joins the reader: nothing is left
  behind, not even a zombie.  Workers also exit when they notice the zygote is
  gone (the next time they report), and the zygote exits when the parent dies
  (its stdin closes).
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn, final

__all__ = ["CrashHarness", "CrashHarnessError", "CrashRun", "RunEnd", "child_environment", "limit_file_size"]

#: Bytes of each output stream kept for failure messages.
TAIL_BYTES: Final = 64 * 1024
#: Longest control line a worker writes (reports are cut to fit; PIPE_BUF >= 512).
_MAX_LINE: Final = 4000

#: Run in the child, so that importing this module runs no package code first.
_ZYGOTE_CODE: Final = "import pytest_lifecycle._probes.crash as c; c._zygote_main()"


class CrashHarnessError(RuntimeError):
    """The harness itself failed (the zygote died, a preload did not import, …)."""


@final
@dataclass(frozen=True)
class RunEnd:
    """How a run ended."""

    run: int
    pid: int
    #: Everything the worker reported, in order.
    reports: list[dict[str, Any]]
    #: The signal that ended it (``SIGKILL`` after :meth:`CrashRun.kill`), or ``None``.
    signal: int | None
    #: The exit code when it exited by itself.
    exit_code: int | None
    #: The worker's traceback when its function raised.
    error: str | None = None

    @property
    def killed(self) -> bool:
        return self.signal == signal.SIGKILL

    def describe(self) -> str:
        if self.signal is not None:
            return f"run #{self.run} (pid {self.pid}) ended by {signal.Signals(self.signal).name}"
        return f"run #{self.run} (pid {self.pid}) exited with code {self.exit_code}"


@final
class CrashRun:
    """One worker process; created by :meth:`CrashHarness.start`."""

    def __init__(self, harness: CrashHarness, run: int, target: str) -> None:
        self._harness = harness
        self.run = run
        self.target = target
        self.pid = 0
        self.reports: list[dict[str, Any]] = []
        self.error: str | None = None
        self.end: RunEnd | None = None
        self.started_at = time.monotonic()

    @property
    def ended(self) -> bool:
        return self.end is not None

    def wait_report(
        self, ready: Callable[[dict[str, Any]], bool], timeout: float | None = None
    ) -> dict[str, Any] | None:
        """The first report for which ``ready(report)`` holds, waiting for it.

        ``None`` if the run ended without one, or after *timeout* (default:
        the harness timeout).
        """
        found: list[dict[str, Any]] = []

        def check() -> bool:
            found[:] = [r for r in self.reports if ready(r)][:1]
            return bool(found) or self.ended

        self._harness._wait(check, self._harness.timeout if timeout is None else timeout)
        return found[0] if found else None

    def wait(self, timeout: float | None = None) -> RunEnd | None:
        """Wait for the run to end by itself; ``None`` if it is still running."""
        self._harness._wait(lambda: self.ended, self._harness.timeout if timeout is None else timeout)
        return self.end

    def kill(self, after: float = 0.0) -> RunEnd:
        """SIGKILL the worker *after* seconds (at once by default) and wait until it is reaped.

        The delay is how the kit picks the moment of the crash; it ends early
        if the run ends by itself.

        :raises CrashHarnessError: the worker was not reaped within the timeout.
        """
        if after > 0:
            # A chosen moment of death, not a synchronisation: the wait ends
            # early only if the run ends by itself.
            self._harness._wait(lambda: self.ended, after)
        if not self.ended:
            self._harness._send({"op": "kill", "run": self.run})
        end = self.wait()
        if end is None:
            raise CrashHarnessError(
                f"run #{self.run} (pid {self.pid}) was not reaped {self._harness.timeout:g}s after SIGKILL"
            )
        return end

    def __repr__(self) -> str:
        return f"<CrashRun #{self.run} {self.target} pid={self.pid} {'ended' if self.ended else 'running'}>"


def child_environment(extra_path: Iterable[str] = ()) -> dict[str, str]:
    """The parent's environment with ``PYTHONPATH`` set to the parent's ``sys.path``.

    So a child imports what the parent imports (an in-tree provider, a
    pytester directory, a ``tests`` package on the rootdir).
    """
    entries = [os.path.abspath(p or os.getcwd()) for p in [*extra_path, *sys.path] if isinstance(p, str)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(entries))
    return env


@final
class CrashHarness:
    """A zygote process that forks workers the kit can kill.

    :param preload: modules the zygote imports once, before any run (the
        provider, the worker functions); an import error fails the start.
    :param timeout: seconds any wait on the child may take.
    :param cwd: the children's working directory (default: the parent's).
    """

    def __init__(self, preload: Iterable[str] = (), *, timeout: float = 10.0, cwd: Path | str | None = None) -> None:
        self.timeout = timeout
        self._cond = threading.Condition()
        self._runs: dict[int, CrashRun] = {}
        self._next_run = 1
        self._send_lock = threading.Lock()
        self._tails = {"stdout": collections.deque[bytes](), "stderr": collections.deque[bytes]()}
        self._tail_sizes = {"stdout": 0, "stderr": 0}
        self.output_bytes = {"stdout": 0, "stderr": 0}
        self._ready = False
        self._failure: str | None = None
        self._eof = False
        self._closed = False
        control_read, control_write = os.pipe()
        self._stop_read, self._stop_write = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _ZYGOTE_CODE, str(control_write), *preload],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(control_write,),
                cwd=cwd,
                env=child_environment(),
                start_new_session=True,
            )
        except BaseException:
            for fd in (control_read, control_write, self._stop_read, self._stop_write):
                os.close(fd)
            raise
        os.close(control_write)
        self._control = control_read
        self._reader = threading.Thread(target=self._read_loop, name="lifecycle-crash-reader", daemon=True)
        self._reader.start()
        try:
            if not self._wait(lambda: self._ready or self._failure is not None or self._eof, self.timeout):
                raise CrashHarnessError(f"the crash zygote did not start within {self.timeout:g}s{self._stderr_note()}")
            if not self._ready:
                raise CrashHarnessError(
                    f"the crash zygote failed to start: {self._failure or 'it exited'}{self._stderr_note()}"
                )
        except BaseException:
            self.close()
            raise

    # -- runs -------------------------------------------------------------------

    def start(self, target: str, args: Mapping[str, Any] | None = None) -> CrashRun:
        """Fork a worker running ``target(args, report)``; *target* is ``module:function``.

        :raises CrashHarnessError: the zygote did not fork within the timeout.
        """
        with self._cond:
            run = CrashRun(self, self._next_run, target)
            self._next_run += 1
            self._runs[run.run] = run
        self._send({"op": "run", "run": run.run, "target": target, "args": dict(args or {})})
        if not self._wait(lambda: run.pid != 0 or self._eof, self.timeout) or run.pid == 0:
            raise CrashHarnessError(f"the crash zygote did not fork run #{run.run}{self._stderr_note()}")
        return run

    @property
    def runs(self) -> list[CrashRun]:
        with self._cond:
            return list(self._runs.values())

    def tail(self, stream: str = "stderr", limit: int = 2000) -> str:
        """The last *limit* characters the children wrote to *stream*."""
        with self._cond:
            data = b"".join(self._tails[stream])
        return data[-limit:].decode("utf-8", "replace")

    # -- teardown ---------------------------------------------------------------

    def close(self) -> None:
        """Kill the zygote and every worker, reap them, stop the reader. Idempotent."""
        if self._closed:
            return
        self._closed = True
        # Closing its stdin makes the zygote SIGKILL and reap every worker, then
        # exit; when every process holding our pipes is gone, the reader sees EOF.
        with contextlib.suppress(OSError):
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        if not self._wait(lambda: self._eof, self.timeout):  # pragma: no cover - a wedged zygote
            self._kill_group()
            self._wait(lambda: self._eof, self.timeout)
        # A safety net for anything that outlived its pipes: the group id is the
        # zygote's pid, which stays reserved until we reap the zygote below.
        self._kill_group()
        try:
            self._proc.wait(self.timeout)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
            self._proc.kill()
            self._proc.wait()
        self._reader.join(self.timeout)
        if self._reader.is_alive():  # pragma: no cover - a writer escaped the group
            os.write(self._stop_write, b"x")
            self._reader.join(self.timeout)
        for fd in (self._control, self._stop_read, self._stop_write):
            with contextlib.suppress(OSError):
                os.close(fd)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)

    def __enter__(self) -> CrashHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------

    def _wait(self, ready: Callable[[], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(ready, timeout)

    def _send(self, command: dict[str, Any]) -> None:
        line = (json.dumps(command) + "\n").encode()
        with self._send_lock:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(line)
                self._proc.stdin.flush()
            except (OSError, ValueError) as exc:
                raise CrashHarnessError(f"the crash zygote is gone ({exc}){self._stderr_note()}") from exc

    def _stderr_note(self) -> str:
        text = self.tail("stderr", 1500).strip()
        return f"\nchild stderr (last lines):\n{text}" if text else ""

    def _read_loop(self) -> None:
        assert self._proc.stdout is not None and self._proc.stderr is not None
        streams = {self._proc.stdout.fileno(): "stdout", self._proc.stderr.fileno(): "stderr", self._control: "control"}
        selector = selectors.DefaultSelector()
        for fd in (*streams, self._stop_read):
            selector.register(fd, selectors.EVENT_READ)
        pending = b""
        try:
            while streams:
                for key, _ in selector.select():
                    fd = int(key.fd)
                    if fd == self._stop_read:
                        return
                    data = os.read(fd, 65536)
                    if not data:
                        selector.unregister(fd)
                        del streams[fd]
                        continue
                    if streams[fd] == "control":
                        pending += data
                        *lines, pending = pending.split(b"\n")
                        self._dispatch(lines)
                    else:
                        self._keep(streams[fd], data)
        finally:
            selector.close()
            with self._cond:
                self._eof = True
                for run in self._runs.values():
                    if run.end is None and run.pid:
                        run.end = RunEnd(run.run, run.pid, list(run.reports), None, None, run.error)
                self._cond.notify_all()

    def _keep(self, stream: str, data: bytes) -> None:
        with self._cond:
            tail = self._tails[stream]
            tail.append(data)
            self.output_bytes[stream] += len(data)
            self._tail_sizes[stream] += len(data)
            while self._tail_sizes[stream] - len(tail[0]) >= TAIL_BYTES:
                self._tail_sizes[stream] -= len(tail.popleft())

    def _dispatch(self, lines: list[bytes]) -> None:
        with self._cond:
            for line in lines:
                try:
                    self._handle(json.loads(line))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # not one of ours; the reader must survive anything
            self._cond.notify_all()

    def _handle(self, message: dict[str, Any]) -> None:
        event = message.get("ev")
        run = self._runs.get(message.get("run", 0))
        if event == "ready":
            self._ready = True
        elif event == "error":
            self._failure = str(message.get("error"))
        elif run is None:
            return
        elif event == "forked":
            run.pid = int(message["pid"])
        elif event == "report":
            run.reports.append(message["data"])
        elif event == "failed":
            run.error = str(message.get("error"))
        elif event == "exit":
            run.end = RunEnd(run.run, run.pid, list(run.reports), message.get("signal"), message.get("code"), run.error)


# -- helpers for worker functions ----------------------------------------------------


def limit_file_size(nbytes: int | None, *, kill: bool = True) -> None:
    """In a worker: cut every later write at file offset *nbytes* (``RLIMIT_FSIZE``).

    With ``kill=True`` the write that crosses the limit kills the process with
    ``SIGXFSZ`` (its default action, which Python replaces with "ignore" at
    start-up): a crash at an exact byte offset, deterministic where a timed
    SIGKILL is not.  With ``kill=False`` that write fails with ``EFBIG``
    instead: an injected write error.  ``None`` lifts the limit again.
    """
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if nbytes is None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        return
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL if kill else signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))


# -- the child side -------------------------------------------------------------------


def _send_line(fd: int, message: dict[str, Any]) -> None:
    line = json.dumps(message, default=repr)
    if len(line) >= _MAX_LINE:  # keep it one atomic write: cut the payload
        cut = {k: str(v)[-(_MAX_LINE // 2) :] for k, v in message.items() if k in ("data", "error")}
        line = json.dumps({**message, **cut}, default=repr)
    os.write(fd, (line + "\n").encode())


def _zygote_main() -> None:
    control = int(sys.argv[1])

    def send(message: dict[str, Any]) -> None:
        _send_line(control, message)

    try:
        for module in sys.argv[2:]:
            importlib.import_module(module)
    except BaseException:
        send({"ev": "error", "error": traceback.format_exc(limit=6)[-3000:]})
        sys.exit(1)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    live: dict[int, int] = {}  # pid -> run
    pids: dict[int, int] = {}  # run -> pid
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    send({"ev": "ready"})
    buffered = b""

    def reap(block: bool = False) -> None:
        while live:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            run = live.pop(pid, None)
            if run is None:
                continue
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
            send({"ev": "exit", "run": run, "pid": pid, "signal": sig, "code": code})

    while True:
        for key, _ in selector.select():
            if key.fd == wake_read:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_read, 4096)
                continue
            data = os.read(0, 65536)
            if not data:  # the parent is gone or done: take every worker down
                for pid in live:
                    os.kill(pid, signal.SIGKILL)
                reap(block=True)
                os._exit(0)
            *lines, buffered = (buffered + data).split(b"\n")
            for line in lines:
                command = json.loads(line)
                if command["op"] == "run":
                    sys.stdout.flush()
                    sys.stderr.flush()
                    pid = os.fork()
                    if pid == 0:
                        selector.close()
                        _worker(control, command, close=(wake_read, wake_write))
                    live[pid] = command["run"]
                    pids[command["run"]] = pid
                    send({"ev": "forked", "run": command["run"], "pid": pid})
                elif command["op"] == "kill":
                    pid = pids.get(command["run"], 0)
                    if pid in live:  # not reaped yet, so the pid is still this worker's
                        os.kill(pid, signal.SIGKILL)
        reap()


def _worker(control: int, command: dict[str, Any], *, close: Iterable[int]) -> NoReturn:
    run = command["run"]
    zygote = os.getppid()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in close:
        os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    with contextlib.suppress(Exception):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a SIGXFSZ death dumps no core

    def report(data: dict[str, Any]) -> None:
        if os.getppid() != zygote:  # orphaned: the harness is gone
            os._exit(3)
        _send_line(control, {"ev": "report", "run": run, "data": data})

    code = 0
    try:
        module_name, _, attr = command["target"].partition(":")
        function = getattr(importlib.import_module(module_name), attr)
        function(command["args"], report)
    except BaseException:
        code = 1
        with contextlib.suppress(BaseException):
            _send_line(control, {"ev": "failed", "run": run, "error": traceback.format_exc(limit=8)[-3000:]})
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
