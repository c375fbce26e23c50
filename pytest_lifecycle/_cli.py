"""``pytest-lifecycle``: certify a provider without remembering pytest flags.

    pytest-lifecycle --version             print the kit's version
    pytest-lifecycle rules [ID ...]        print the rule catalogue, or the full
                                           text of rules (LC-05) or contracts (LC)
    pytest-lifecycle providers             list the available providers
    pytest-lifecycle certify [NAME ...] [OPTIONS] [-- PYTEST-ARGS]
                                           run the conformance suites against NAME
                                           (default: the reference) and print the
                                           provider x rule table
        --certificate PATH   write the certificate (JSON)  (--lifecycle-certificate)
        --waivers PATH       known deviations (TOML)       (--lifecycle-waivers)
        --markdown PATH      the matrix as Markdown        (--lifecycle-markdown)
        --html PATH          a self-contained HTML report  (--lifecycle-html)
        --cov PACKAGE        lines of PACKAGE each rule runs, repeatable (--lifecycle-cov)
        --strict             a broken SHOULD fails the run (--lifecycle-strict)
        --rule ID            only these rules (LC-05) or contracts (LC), repeatable
        --profile NAME       ci (default), thorough, quick, or a Hypothesis profile
        --report PATH        the verdicts as JSON          (--lifecycle-report)
    pytest-lifecycle replay CERT RULE [--provider NAME] [-- PYTEST-ARGS]
                                           run the failing test of RULE again, as the
                                           certificate CERT recorded it: same provider,
                                           Hypothesis seed and profile
    pytest-lifecycle badge CERT [-o PATH] [--provider NAME]
                                           write an SVG badge of CERT's verdict
                                           (default: lifecycle-badge.svg)

Everything is a thin layer over ``pytest --pyargs conformance``.  ``certify``
runs it in a child process (its own session) and exits 0 only when that run
completed and every selected rule got its verdict: a provider that exits
the process, segfaults or kills its process group fails the rule that was
running (exit code 1), named on stderr, and the certificate, if one was
asked for, says ``not certified`` (``run.complete: false``).  Otherwise the
exit code is pytest's: 0 passed, 1 a rule failed, 4 usage error, 5 nothing
ran.  ``replay`` runs each failing test of the rule (its witnesses) with
``python -m pytest`` and exits 1 if one fails again, else with the replayed
run's code; a rule broken only in its SHOULD is replayed under
``--lifecycle-strict`` so that the breach shows as a failure.  A
certificate that cannot be read, a rule or provider it has no failure for:
one line on stderr, exit code 4.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import pytest

from pytest_lifecycle._core.catalogue import RULES, UnknownRuleError
from pytest_lifecycle._plugin import certificate
from pytest_lifecycle._plugin.certificate import CertificateError, load
from pytest_lifecycle._plugin.publish import write_certificate
from pytest_lifecycle._plugin.report import print_rule
from pytest_lifecycle._render.badge import render
from pytest_lifecycle._version import __version__

__all__ = ["main"]

USAGE_ERROR = int(pytest.ExitCode.USAGE_ERROR)


class _Usage(Exception):
    """A usage error of a subcommand: one line on stderr, exit code 4."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Usage(f"{self.prog}: {message}")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except _Usage as exc:
        print(str(exc), file=sys.stderr)
        return USAGE_ERROR
    except BrokenPipeError:
        # Output piped into `head` that closed early: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else USAGE_ERROR
    if args[0] in ("-V", "--version"):
        print(f"pytest-lifecycle {__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command in ("certify", "replay", "badge") and rest[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if command == "rules":
        return _rules(rest) if rest and not rest[0].startswith("-") else int(pytest.main(["--lifecycle-rules", *rest]))
    if command == "providers":
        return int(pytest.main(["--lifecycle-providers", *rest]))
    if command == "certify":
        return _certify_command(rest)
    if command == "replay":
        return _replay(rest)
    if command == "badge":
        return _badge(rest)
    print(f"pytest-lifecycle: unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return USAGE_ERROR


def _split(rest: list[str]) -> tuple[list[str], list[str]]:
    """The subcommand's own arguments, and the pytest arguments after ``--``."""
    if "--" in rest:
        at = rest.index("--")
        return rest[:at], rest[at + 1 :]
    return rest, []


# -- certify ----------------------------------------------------------------------

#: certify option → the pytest option it stands for.
_CERTIFY_OPTIONS = {
    "certificate": "--lifecycle-certificate",
    "waivers": "--lifecycle-waivers",
    "markdown": "--lifecycle-markdown",
    "html": "--lifecycle-html",
    "profile": "--lifecycle-profile",
    "report": "--lifecycle-report",
}


def _certify_command(rest: list[str]) -> int:
    own, extra = _split(rest)
    parser = _Parser(prog="pytest-lifecycle certify", add_help=False)
    parser.add_argument("names", nargs="*")
    for name in _CERTIFY_OPTIONS:
        parser.add_argument(f"--{name}", metavar="PATH" if name != "profile" else "NAME")
    parser.add_argument("--cov", action="append", default=[], metavar="PACKAGE")
    parser.add_argument("--rule", action="append", default=[], metavar="ID")
    parser.add_argument("--strict", action="store_true")
    parsed = parser.parse_args(own)
    pytest_args = ["--pyargs", "conformance", "-p", "no:cacheprovider"]
    pytest_args += [arg for name in parsed.names for arg in ("--lifecycle-provider", name)]
    for name, option in _CERTIFY_OPTIONS.items():
        if getattr(parsed, name) is not None:
            pytest_args += [option, getattr(parsed, name)]
    pytest_args += [arg for package in parsed.cov for arg in ("--lifecycle-cov", package)]
    pytest_args += [arg for rule in parsed.rule for arg in ("--lifecycle-rule", rule)]
    pytest_args += ["--lifecycle-strict"] if parsed.strict else []
    return _certify([*pytest_args, *extra])


def _option(args: list[str], name: str) -> str | None:
    """The last value of ``name VALUE`` or ``name=VALUE`` in pytest *args*."""
    found = None
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith(name + "="):
            found = arg.split("=", 1)[1]
    return found


def _certify(args: list[str]) -> int:
    report = _option(args, "--lifecycle-report")
    cert_path = _option(args, "--lifecycle-certificate")
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="pytest-lifecycle-") as scratch:
        if report is None:
            report = os.path.join(scratch, "verdicts.json")
            args = [*args, "--lifecycle-report", report]
        # A new session: a provider that kills its process group kills the
        # run, not this gate.
        child = subprocess.run([sys.executable, "-m", "pytest", *args], start_new_session=True, check=False)
        doc = _read_json(report)
    code = child.returncode
    if doc is not None and doc.get("complete") and not doc.get("not_run") and code >= 0:
        return code
    if doc is None and code == USAGE_ERROR:
        return code  # pytest refused the arguments before any test (and said why)
    how = f"signal {-code}" if code < 0 else f"exit code {code}"
    who = _who_ended(doc or {})
    missing = ", ".join((doc or {}).get("not_run", [])) or "unknown"
    print(
        f"pytest-lifecycle certify: {who} ended the process ({how}); rules without a verdict: {missing}",
        file=sys.stderr,
    )
    if cert_path is not None:
        try:
            _certificate_after_crash(cert_path, doc or {}, args, started=started, how=how)
        except OSError as exc:
            print(
                f"pytest-lifecycle certify: --certificate {cert_path}: cannot write: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return USAGE_ERROR
    return 1


def _certificate_after_crash(
    path: str, results: dict[str, Any], args: list[str], *, started: datetime, how: str
) -> None:
    """Rewrite the certificate of a run whose process ended: ``not certified``, ``run.complete: false``.

    What the run said about itself comes from the certificate the child
    wrote when it started (if it got that far); the verdicts from the
    incremental report; the test that was running becomes a failure of its
    rule, the witness naming how the process ended.
    """
    try:
        early: Mapping[str, Any] = certificate.load(path)
    except certificate.CertificateError:
        early = {}
    providers = {
        name: {k: p.get(k) for k in ("origin", "spec", "distribution", "capabilities")}
        for name, p in (early.get("providers") or {}).items()
    }
    results = {**results, "complete": False, "exitstatus": 1}
    _fail_running_test(results, how, providers)
    finished = datetime.now(UTC)
    run = dict(early.get("run") or {})
    run.setdefault("started", started.isoformat(timespec="seconds"))
    if not run.get("command"):
        run.update(
            python=platform.python_version(),
            implementation=platform.python_implementation(),
            platform=platform.platform(),
            profile=_option(args, "--lifecycle-profile") or "ci",
            hypothesis_seed=_option(args, "--hypothesis-seed"),
            command=["pytest", *args],
            strict="--lifecycle-strict" in args,
            rule_filter=_options(args, "--lifecycle-rule"),
        )
    run.update(finished=finished.isoformat(timespec="seconds"), duration=round((finished - started).total_seconds(), 3))
    run.pop("complete", None)
    run.pop("exitstatus", None)
    write_certificate(path, certificate.assemble(results, run=run, providers=providers))


def _options(args: list[str], name: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == name]


def _running_test(results: Mapping[str, Any]) -> tuple[str, str | None, str | None] | None:
    """(node id, provider, rule) of the test the process ended during, as far as the report tells."""
    running = results.get("running")
    if not running:
        return None
    # Conformance tests are named after their rule: test_lc16_… → LC-16.
    match = re.search(r"test_([a-z]+)(\d\d)_[^\[]*(?:\[(.*)\])?", running)
    if match is None:
        return running, None, None
    rule = f"{match[1].upper()}-{match[2]}"
    # The provider: among those still waiting for this rule, the one the test id names.
    waiting = [p for p, _, r in (entry.rpartition(" ") for entry in results.get("not_run") or []) if r == rule]
    named = sorted((p for p in waiting if match[3] and p in match[3]), key=len, reverse=True)
    provider = (named or waiting or [match[3]])[0]
    return running, provider, rule


def _fail_running_test(results: dict[str, Any], how: str, providers: Mapping[str, Any]) -> None:
    """Record the test the process ended during as a failed test of its rule."""
    found = _running_test(results)
    if found is None or found[1] is None or found[2] not in RULES:
        return
    running, provider, rule = found
    assert provider is not None and rule is not None
    message = f"[{rule}] provider {provider!r} ended the process ({how}) during {running}"
    spec = (providers.get(provider) or {}).get("spec") or provider
    # Every conformance test is collected from its contract's module.
    name = re.search(r"::(\w+)", running)
    replay = (
        f"pytest --pyargs conformance.{RULES[rule].contract} -k '{name[1]}' --lifecycle-provider {spec}"
        if name
        else None
    )
    test = {
        "nodeid": running,
        "level": "must",
        "outcome": "failed",
        "duration": 0.0,
        "message": message,
        "trace": None,
        "replay": replay,
    }
    entry = (
        results.setdefault("providers", {})
        .setdefault(provider, {})
        .setdefault(
            rule,
            {"verdict": "failed", "kind": RULES[rule].kind, "message": message, "text": RULES[rule].where, "tests": []},
        )
    )
    entry["verdict"] = "failed"
    entry["tests"] = [*entry.get("tests", []), test]


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None


def _who_ended(results: Mapping[str, Any]) -> str:
    found = _running_test(results)
    if found is None:
        return "the run before any test started"
    running, provider, rule = found
    if rule is None:
        return f"the test {running}"
    who = f"provider {provider!r}" if provider else "the provider"
    return f"{who} (during {rule}, in {running})"


# -- replay -----------------------------------------------------------------------


def _load_certificate(command: str, path: str) -> dict[str, Any]:
    try:
        return load(path)
    except CertificateError as exc:
        raise _Usage(f"pytest-lifecycle {command}: {exc}") from None


def _replay(rest: list[str]) -> int:
    own, extra = _split(rest)
    parser = _Parser(prog="pytest-lifecycle replay", add_help=False)
    parser.add_argument("certificate", metavar="CERT")
    parser.add_argument("rule", metavar="RULE")
    parser.add_argument("--provider", metavar="NAME")
    parsed = parser.parse_args(own)
    rule = parsed.rule.upper()
    if rule not in RULES:
        raise _Usage(
            f"pytest-lifecycle replay: unknown rule id {parsed.rule!r} "
            f"(the catalogue declares {next(iter(RULES))} … {list(RULES)[-1]}: pytest-lifecycle rules)"
        )
    cert = _load_certificate("replay", parsed.certificate)
    providers: dict[str, Any] = cert["providers"]
    if parsed.provider is not None and parsed.provider not in providers:
        raise _Usage(
            f"pytest-lifecycle replay: {parsed.certificate} has no provider {parsed.provider!r} "
            f"(it certifies: {', '.join(sorted(providers)) or 'none'})"
        )
    names = [parsed.provider] if parsed.provider is not None else sorted(providers)
    failing = [n for n in names if providers[n]["rules"].get(rule, {}).get("witnesses")]
    if not failing:
        seen = {n: providers[n]["rules"][rule]["verdict"] for n in names if rule in providers[n]["rules"]}
        said = ", ".join(f"{v} for {n!r}" for n, v in seen.items()) or "it did not run"
        raise _Usage(
            f"pytest-lifecycle replay: {rule} did not fail in {parsed.certificate} ({said}): nothing to replay"
        )
    if len(failing) > 1:
        raise _Usage(
            f"pytest-lifecycle replay: {rule} failed for several providers in {parsed.certificate}; "
            f"choose one with --provider ({', '.join(failing)})"
        )
    provider = providers[failing[0]]
    codes = []
    for witness in provider["rules"][rule]["witnesses"]:
        argv = _replay_argv(witness, provider, cert["run"], failing[0])
        print(
            f"pytest-lifecycle replay: {' '.join(shlex.quote(a) for a in ['python', '-m', 'pytest', *argv, *extra])}",
            file=sys.stderr,
        )
        child = subprocess.run([sys.executable, "-m", "pytest", *argv, *extra], check=False)
        codes.append(child.returncode if child.returncode >= 0 else 1)
    return 1 if 1 in codes else max(codes)


def _replay_argv(
    witness: Mapping[str, Any], provider: Mapping[str, Any], run: Mapping[str, Any], name: str
) -> list[str]:
    """The pytest arguments that run the witness's test again, as the certificate recorded it."""
    if not witness.get("replay"):
        raise _Usage(f"pytest-lifecycle replay: no replay command recorded for {witness.get('nodeid')}")
    words = shlex.split(str(witness["replay"]))
    if words[:1] == ["pytest"]:
        words = words[1:]
    target: list[str] = []
    skip = False
    for _i, word in enumerate(words):
        if skip:
            skip = False
        elif word in ("--lifecycle-provider", "--hypothesis-seed", "--lifecycle-profile"):
            skip = True
        elif not word.startswith(("--lifecycle-provider=", "--hypothesis-seed=", "--lifecycle-profile=")):
            target.append(word)
    argv = [
        *target,
        "--lifecycle-provider",
        str(provider.get("spec") or name),
        "--lifecycle-profile",
        str(run.get("profile") or "ci"),
    ]
    if witness.get("seed") is not None:
        argv.append(f"--hypothesis-seed={witness['seed']}")
    if run.get("strict") or witness.get("outcome") == "non-strict":
        argv.append("--lifecycle-strict")  # a broken SHOULD shows its failure instead of an expected one
    if witness.get("outcome") == "waived":
        argv += ["-o", "lifecycle_waivers="]  # the failure itself, not the waiver
    argv += ["-p", "no:cacheprovider"]
    if importlib.util.find_spec("xdist") is not None:
        argv += ["-n", "0"]
    if importlib.util.find_spec("pytest_randomly") is not None:
        argv += ["-p", "no:randomly"]
    return argv


# -- badge ------------------------------------------------------------------------


def _badge(rest: list[str]) -> int:
    parser = _Parser(prog="pytest-lifecycle badge", add_help=False)
    parser.add_argument("certificate", metavar="CERT")
    parser.add_argument("-o", "--output", default="lifecycle-badge.svg", metavar="PATH")
    parser.add_argument("--provider", metavar="NAME")
    parsed = parser.parse_args(rest)
    cert = _load_certificate("badge", parsed.certificate)
    if parsed.provider is not None and parsed.provider not in cert["providers"]:
        raise _Usage(
            f"pytest-lifecycle badge: {parsed.certificate} has no provider {parsed.provider!r} "
            f"(it certifies: {', '.join(sorted(cert['providers'])) or 'none'})"
        )
    svg = render(cert, parsed.provider)
    try:
        with open(parsed.output, "w", encoding="utf-8") as f:
            f.write(svg)
    except OSError as exc:
        raise _Usage(f"pytest-lifecycle badge: -o {parsed.output}: cannot write: {exc.strerror or exc}") from None
    print(
        f"pytest-lifecycle badge: wrote {parsed.output} ({cert['providers'][parsed.provider]['verdict'] if parsed.provider else cert['verdict']})"
    )
    return 0


# -- rules ------------------------------------------------------------------------


def _rules(selectors: list[str]) -> int:
    chosen: list[str] = []
    for selector in selectors:
        matched = [r for r in RULES if r == selector.upper() or r.startswith(selector.upper() + "-")]
        if not matched:
            print(f"pytest-lifecycle rules: {UnknownRuleError(selector)}", file=sys.stderr)
            return 4
        chosen += matched
    for n, rule_id in enumerate(chosen):
        if n:
            print("\n" + "-" * 72)
        print_rule(rule_id)
    return 0
