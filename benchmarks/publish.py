#!/usr/bin/env python
"""How long does publishing take?  Certificate + JSON + HTML + Markdown for a four-contract run.

    python benchmarks/publish.py [--report verdicts.json] [--repeat 20] [--workers 2]

Without ``--report`` it first certifies the reference on the four contracts
of the issue (session_lifecycle, respawn, checkpoint_store, keyed_locks: every
rule, ``ci`` profile) once, with ``--lifecycle-report``, and saves nothing
else; that run is not timed.  Then it times what the publisher does at the
end of a session, from the report alone: assembling the certificate (with
the provider's distribution looked up, cold on the first round), writing it
as JSON, rendering and writing the HTML page and the Markdown matrix.
It prints the first (cold) round, the median and the worst of ``--repeat``
rounds; the target is under 0.5 s.  Exit code 0 when the worst round meets it.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_lifecycle import Provider  # noqa: E402
from pytest_lifecycle._core.discovery import DEFAULT_PROVIDER, load_provider  # noqa: E402
from pytest_lifecycle._plugin import certificate  # noqa: E402
from pytest_lifecycle._plugin.publish import write_certificate  # noqa: E402
from pytest_lifecycle._render import html, markdown  # noqa: E402

CONTRACTS = ("session_lifecycle", "respawn", "checkpoint_store", "keyed_locks")
TARGET = 0.5
#: A certify run that takes this long is a harness failure, not a measurement.
RUN_TIMEOUT = 1800  # safety-net


def certify_once(report: Path, workers: int) -> None:
    """Certify the reference on the four contracts, leaving the JSON report at *report*."""
    args = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        *(f"conformance.{c}" for c in CONTRACTS),
        "--lifecycle-report",
        str(report),
        "-p",
        "no:cacheprovider",
        "-q",
        "-n",
        str(workers),
    ]
    started = time.perf_counter()
    done = subprocess.run(args, cwd=report.parent, capture_output=True, text=True, check=False, timeout=RUN_TIMEOUT)
    if done.returncode != 0 or not report.exists():
        sys.exit(f"the certify run failed (exit code {done.returncode}):\n{done.stdout[-4000:]}{done.stderr[-2000:]}")
    print(f"certify run (not timed): {time.perf_counter() - started:.1f} s")


def publish(results: dict[str, Any], out: Path, provider: Provider) -> float:
    """One round of what the publisher does; its wall time in seconds."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    run = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "profile": "ci",
        "hypothesis_seed": None,
        "command": ["pytest", "--pyargs", "conformance"],
        "strict": False,
        "rule_filter": [],
        "started": now.isoformat(timespec="seconds"),
        "finished": now.isoformat(timespec="seconds"),
        "duration": 0.0,
    }
    cert = certificate.assemble(results, run=run, providers={provider.name: certificate.provider_info(provider)})
    write_certificate(str(out / "cert.json"), cert)
    (out / "report.html").write_text(html.render(cert), encoding="utf-8")
    (out / "report.md").write_text(markdown.render(cert), encoding="utf-8")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=Path, help="a saved --lifecycle-report of a four-contract run")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers of the certify run")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="publish-bench-") as scratch:
        out = Path(scratch)
        report = options.report
        if report is None:
            report = out / "verdicts.json"
            certify_once(report, options.workers)
        results = json.loads(report.read_text(encoding="utf-8"))
        rules = sum(len(r) for r in results["providers"].values())
        tests = sum(len(v["tests"]) for r in results["providers"].values() for v in r.values())
        provider = load_provider(DEFAULT_PROVIDER)  # resolved before the session ends, as in a run
        times = [publish(results, out, provider) for _ in range(max(1, options.repeat))]
        sizes = {
            p.name: p.stat().st_size
            for p in sorted(out.iterdir())
            if p.suffix in (".json", ".html", ".md") and p.name != "verdicts.json"
        }
    print(f"{rules} rules, {tests} tests; written: " + ", ".join(f"{n} {s / 1024:.0f} KiB" for n, s in sizes.items()))
    print(
        f"publish (certificate + JSON + HTML + Markdown): first {times[0] * 1000:.1f} ms, "
        f"median {statistics.median(times) * 1000:.1f} ms, worst {max(times) * 1000:.1f} ms "
        f"over {len(times)} rounds (target < {TARGET * 1000:.0f} ms)"
    )
    return 0 if max(times) < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
