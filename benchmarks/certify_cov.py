#!/usr/bin/env python
"""What does ``--lifecycle-cov`` cost?  The whole kit on a provider, with and without it, side by side.

    python benchmarks/certify_cov.py [--rounds 2] [--workers 0] [--provider reference] [--package reference_impl]

Each round runs ``python -m pytest --pyargs conformance`` twice on the
provider -- once plain, once with ``--lifecycle-cov PACKAGE`` -- alternating
which goes first, each in a fresh temporary directory (no Hypothesis
database, no cache) with the same ``--hypothesis-seed``, so both do the same
work.  It prints every wall time, the CPU time of each run, the medians and
their ratio, and the coverage summary of the last measured run.  Exit code 0
when every run passed and the ratio of the medians is at most ``--limit``
(default 2.0).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: A run that takes this long is a harness failure, not a measurement.
RUN_TIMEOUT = 1800  # safety-net


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def certify(provider: str, package: str | None, workers: int, seed: int) -> tuple[float, float, str]:
    """One run of the whole kit: (wall seconds, CPU seconds, output)."""
    with tempfile.TemporaryDirectory(prefix="certify-cov-") as tmp:
        # An empty ini: not the project's (its addopts say -n auto), so --workers decides.
        Path(tmp, "pytest.ini").write_text("[pytest]\n")
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            "pytest.ini",
            "-p",
            "no:cacheprovider",
            "-q",
            "--pyargs",
            "conformance",
            "--lifecycle-provider",
            provider,
            f"--hypothesis-seed={seed}",
            "-n",
            str(workers),
        ]
        if package is not None:
            cmd += ["--lifecycle-cov", package]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE", "COVERAGE_"))}
        cpu, start = child_cpu(), time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        wall, cpu = time.perf_counter() - start, child_cpu() - cpu
    if proc.returncode != 0:
        sys.exit(f"run failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-5000:]}\n{proc.stderr[-3000:]}")
    return wall, cpu, proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs of each variant (default 2)")
    parser.add_argument("--workers", type=int, default=0, help="pytest -n (default 0: serial)")
    parser.add_argument("--provider", default="reference", help="--lifecycle-provider (default reference)")
    parser.add_argument("--package", default="reference_impl", help="--lifecycle-cov (default reference_impl)")
    parser.add_argument("--seed", type=int, default=0, help="--hypothesis-seed of every run (default 0)")
    parser.add_argument("--limit", type=float, default=2.0, help="the highest acceptable ratio (default 2.0)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    times: dict[str, list[tuple[float, float]]] = {"plain": [], "cov": []}
    summary = ""
    for i in range(args.rounds):
        # Alternate the order so that a machine getting busier or quieter weighs on both alike.
        for variant in ("plain", "cov") if i % 2 == 0 else ("cov", "plain"):
            wall, cpu, out = certify(args.provider, args.package if variant == "cov" else None, args.workers, args.seed)
            times[variant].append((wall, cpu))
            print(f"round {i + 1} {variant:<5} wall {wall:7.1f} s  cpu {cpu:7.1f} s", flush=True)
            if variant == "cov":
                summary = "\n".join(line for line in out.splitlines() if line.startswith("coverage of provider"))
    median = {v: statistics.median(w for w, _ in runs) for v, runs in times.items()}
    cpu = {v: statistics.median(c for _, c in runs) for v, runs in times.items()}
    ratio = median["cov"] / median["plain"]
    print(f"\nwhole kit on {args.provider!r}, -n {args.workers}, {args.rounds} rounds, Python {sys.version.split()[0]}")
    print(f"  without --lifecycle-cov: median wall {median['plain']:.1f} s (cpu {cpu['plain']:.1f} s)")
    print(f"  with --lifecycle-cov {args.package}: median wall {median['cov']:.1f} s (cpu {cpu['cov']:.1f} s)")
    print(f"  ratio {ratio:.2f}x (wall), {cpu['cov'] / cpu['plain']:.2f}x (cpu); limit {args.limit:.1f}x")
    if summary:
        print(summary)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "times": times,
                    "median": median,
                    "cpu": cpu,
                    "ratio": ratio,
                    "python": sys.version.split()[0],
                    "workers": args.workers,
                },
                indent=2,
            )
        )
    return 0 if ratio <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
