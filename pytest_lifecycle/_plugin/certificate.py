"""The certificate: what was certified, by which kit, with which verdicts, and how to replay each failure.

``--lifecycle-certificate PATH`` (``pytest-lifecycle certify … --certificate
PATH``) writes it as JSON (schema version 1, described by
``pytest_lifecycle/certificate.schema.json``).  It names the kit and a hash
of the contract text the rules were read from; the run (Python, platform,
profile, Hypothesis seed, command line); per provider its origin, its
distribution and version, and per rule the verdict, the tests that ran and
a *witness* for each test that did not pass (the trace, the shrunk
Hypothesis steps, the seed and a replay command).

Verdicts, per contract of a provider (over the rules of that contract that
ran): ``not claimed`` when the provider claims none of them;
``not certified`` when any is ``failed``, ``waived``, ``incomplete`` or
``skipped`` (none of these counts as passed; a stress rule that found a bug
is ``failed``); ``certified (non-strict)`` when the only breaches are of
SHOULDs; else ``certified``.  A provider is certified as its worst claimed
contract, and ``not certified`` when it claims none of the rules that ran
or the run did not complete.  The certificate's verdict is the worst over
its providers.

:func:`build` reads the run (configuration and
:class:`~pytest_lifecycle._plugin.report.LifecycleReport`); :func:`assemble` does
the same from the report's JSON alone, which is how ``pytest-lifecycle
certify`` still writes a certificate when the provider ended the process.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import re
import shlex
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from pytest_lifecycle._core.catalogue import CONTRACTS, RULES
from pytest_lifecycle._plugin.state import state_of
from pytest_lifecycle._version import __version__

if TYPE_CHECKING:
    from pytest_lifecycle._core.provider import Provider
    from pytest_lifecycle._plugin.report import LifecycleReport

__all__ = [
    "SCHEMA_VERSION",
    "STARTED",
    "VERDICTS",
    "CertificateError",
    "assemble",
    "build",
    "catalogue_sha256",
    "load",
    "provider_info",
    "witness",
]

SCHEMA_VERSION: Final = 1
#: Best first; a provider or certificate takes the worst of its parts.
VERDICTS: Final = ("certified", "certified (non-strict)", "not certified")
#: Rule verdicts that are never a pass (a waiver only keeps the gate open).
_NOT_PASSED: Final = frozenset({"failed", "waived", "incomplete", "skipped"})
#: Test outcomes that leave a witness.
_WITNESSED: Final = ("failed", "waived", "non-strict")
#: Test outcomes, worst first: a rule's message is that of its worst test.
_WORST_FIRST: Final = ("failed", "waived", "non-strict", "skipped", "not claimed", "passed")
#: When the run started (set by the publisher at configure time).
STARTED: Final = pytest.StashKey[datetime]()

_REPLAY_NOTE: Final = re.compile(r"\b[A-Z]{2,3}-\d\d replay with: (?P<command>pytest .+?)\s*$")
_SEED: Final = re.compile(r"--hypothesis-seed[= ](?P<seed>\S+)")
#: pytest's prefix of exception lines (and so of Hypothesis' notes) in a trace.
_E_PREFIX: Final = re.compile(r"^E {3}")


class CertificateError(ValueError):
    """A file that is not a certificate this kit can read (its message is one line)."""


# -- the kit ------------------------------------------------------------------------


def catalogue_sha256(directory: Traversable | Path | None = None) -> str:
    """SHA-256 over the contract text: every ``*.md`` of *directory*, by name.

    Each file contributes its name and its bytes (NUL-separated), so editing,
    adding or renaming a contract file changes the hash.

    :param directory: the contract directory (default: the one shipped in the package).
    """
    where: Traversable | Path = (
        directory if directory is not None else resources.files("pytest_lifecycle").joinpath("contract")
    )
    digest = hashlib.sha256()
    for entry in sorted((e for e in where.iterdir() if e.name.endswith(".md")), key=lambda e: e.name):
        digest.update(entry.name.encode("utf-8") + b"\0" + entry.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def _shipped_catalogue_sha256() -> str:
    return catalogue_sha256()


def _kit() -> dict[str, Any]:
    return {"name": "pytest-lifecycle", "version": __version__, "catalogue_sha256": _shipped_catalogue_sha256()}


# -- providers ----------------------------------------------------------------------


@cache
def _distributions() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distribution_of(spec: str | None) -> dict[str, str] | None:
    """The installed distribution that ships the module of *spec* (``module:attribute``), if any."""
    if not spec or ":" not in spec:
        return None
    top = spec.split(":", 1)[0].split(".", 1)[0]
    names = _distributions().get(top)
    if not names:
        return None
    try:
        return {"name": names[0], "version": importlib.metadata.version(names[0])}
    except importlib.metadata.PackageNotFoundError:
        return None


def provider_info(provider: Provider) -> dict[str, Any]:
    """What the certificate says about who was certified (origin, spec, distribution, capabilities)."""
    return {
        "origin": provider.origin,
        "spec": provider.spec,
        "distribution": distribution_of(provider.spec),
        "capabilities": sorted(provider.capabilities),
    }


_UNKNOWN_PROVIDER: Final[Mapping[str, Any]] = {"origin": None, "spec": None, "distribution": None, "capabilities": []}


# -- witnesses ----------------------------------------------------------------------


def _plain_lines(trace: str) -> list[str]:
    return [_E_PREFIX.sub("", line) for line in trace.splitlines()]


def shrunk_steps(trace: str | None) -> list[str] | None:
    """The shrunk Hypothesis steps of a state-machine failure (``state = …`` to ``state.teardown()``).

    A step printed over several lines is one entry.  The note can appear
    more than once in a trace: the first copy is taken.
    """
    if not trace:
        return None
    lines = _plain_lines(trace)
    start = next((i for i, line in enumerate(lines) if re.match(r"state = \w", line)), None)
    if start is None:
        return None
    steps: list[str] = []
    for line in lines[start:]:
        if steps and line.strip() and (line[:1].isspace() or line[:1] in ")]}"):
            steps[-1] += "\n" + line.rstrip()  # the continuation of a long call
        elif re.match(r"(?:[\w, ]+ = )?state\b", line):
            steps.append(line.rstrip())
        else:
            break
        if line.strip() == "state.teardown()":
            break
    return steps


def _replay_note(trace: str | None) -> str | None:
    for line in _plain_lines(trace or ""):
        found = _REPLAY_NOTE.search(line)
        if found:
            return found["command"]
    return None


def witness(test: Mapping[str, Any], *, hypothesis_seed: str | None) -> dict[str, Any]:
    """The witness of one test that did not pass (a ``--lifecycle-report`` test record).

    ``replay`` is the command of the state machine's replay note when the
    trace has one (it names the seed that found the failure), else the
    test's replay command (it names a profile other than ``ci``) with the
    run's ``--hypothesis-seed``, as the note names them.
    """
    trace = test.get("trace")
    replay = _replay_note(trace)
    if replay is None and test.get("replay"):
        replay = str(test["replay"])
        if hypothesis_seed is not None:
            replay += f" --hypothesis-seed={shlex.quote(hypothesis_seed)}"
    seed = _SEED.search(replay) if replay else None
    return {
        "nodeid": test["nodeid"],
        "outcome": test.get("outcome"),
        "message": test.get("message"),
        "trace": trace,
        "steps": shrunk_steps(trace),
        "seed": seed["seed"] if seed else None,
        "replay": replay,
    }


# -- verdicts -----------------------------------------------------------------------


def contract_verdict(rule_verdicts: Iterable[str]) -> str:
    """The verdict of a contract from the verdicts of its rules that ran."""
    verdicts = list(rule_verdicts)
    if all(v == "not claimed" for v in verdicts):
        return "not claimed"
    if any(v in _NOT_PASSED for v in verdicts):
        return "not certified"
    return "certified (non-strict)" if "non-strict" in verdicts else "certified"


def worst(verdicts: Iterable[str]) -> str:
    """The worst of certificate verdicts (``not certified`` for none)."""
    return max(verdicts, key=VERDICTS.index, default="not certified")


def _rule_message(tests: list[Mapping[str, Any]], fallback: str | None) -> str | None:
    # The worst test's message, first by node id: the same under xdist as serially.
    ranked = sorted(tests, key=lambda t: (_rank(t.get("outcome")), str(t["nodeid"])))
    for test in ranked:
        if test.get("outcome") == "passed":
            return None
        if test.get("message"):
            return str(test["message"])
    return fallback


def _rank(outcome: object) -> int:
    return _WORST_FIRST.index(str(outcome)) if outcome in _WORST_FIRST else 0


def _rule(
    rule_id: str,
    entry: Mapping[str, Any],
    *,
    hypothesis_seed: str | None,
    waiver: Mapping[str, Any] | None,
) -> dict[str, Any]:
    rule = RULES[rule_id]
    tests = sorted(entry.get("tests") or [], key=lambda t: str(t["nodeid"]))
    return {
        "verdict": entry["verdict"],
        "contract": rule.contract,
        "kind": rule.kind,
        "level": "must+should" if rule.should else "must",
        "duration": round(sum(float(t.get("duration") or 0.0) for t in tests), 6),
        "message": _rule_message(tests, entry.get("message")),
        "text": rule.where,
        "tests": [
            {
                "nodeid": t["nodeid"],
                "level": t.get("level", "must"),
                "outcome": t.get("outcome"),
                "duration": round(float(t.get("duration") or 0.0), 6),
            }
            for t in tests
        ],
        "witnesses": [witness(t, hypothesis_seed=hypothesis_seed) for t in tests if t.get("outcome") in _WITNESSED],
        "waiver": {"reason": waiver.get("reason"), "expires": waiver.get("expires")} if waiver else None,
    }


def _provider(
    name: str,
    info: Mapping[str, Any],
    rules: Mapping[str, Mapping[str, Any]],
    *,
    choices: Mapping[str, list[str]],
    complete: bool,
    hypothesis_seed: str | None,
    waivers: list[Mapping[str, Any]],
    coverage: Any,
) -> dict[str, Any]:
    applied = {w.get("rule"): w for w in waivers if w.get("provider") == name and w.get("status") == "applied"}
    by_rule = {
        r: _rule(r, e, hypothesis_seed=hypothesis_seed, waiver=applied.get(r))
        for r, e in sorted(rules.items())
        if r in RULES
    }
    contracts: dict[str, dict[str, Any]] = {}
    for contract in CONTRACTS:
        ran = [r for r, e in by_rule.items() if e["contract"] == contract]
        if ran:
            contracts[contract] = {"verdict": contract_verdict(by_rule[r]["verdict"] for r in ran), "rules": ran}
    claimed = [c["verdict"] for c in contracts.values() if c["verdict"] != "not claimed"]
    verdict = worst(claimed) if claimed and complete else "not certified"
    return {
        "origin": info.get("origin"),
        "spec": info.get("spec"),
        "distribution": info.get("distribution"),
        "capabilities": list(info.get("capabilities") or []),
        "verdict": verdict,
        "contracts": contracts,
        "rules": by_rule,
        "choices": {c: sorted(b) for c, b in sorted(choices.items())},
        "coverage": coverage,
    }


def assemble(
    results: Mapping[str, Any],
    *,
    run: Mapping[str, Any],
    providers: Mapping[str, Mapping[str, Any]],
    coverage: Mapping[str, Any] | None = None,
    waivers: list[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The certificate from a ``--lifecycle-report`` document and what the run says about itself.

    :param results: the report's JSON (:meth:`LifecycleReport.results`).
    :param run: the ``run`` section, without ``complete`` and ``exitstatus``
        (taken from *results*: a rule without a verdict makes it incomplete).
    :param providers: name → :func:`provider_info` of every selected provider
        (providers that only appear in *results* are listed with what is known).
    :param coverage: name → coverage section (``--lifecycle-cov``).
    :param waivers: the waivers and what became of them.
    """
    complete = bool(results.get("complete")) and not results.get("not_run")
    seed = run.get("hypothesis_seed")
    reported: Mapping[str, Mapping[str, Any]] = results.get("providers") or {}
    choices: Mapping[str, Mapping[str, list[str]]] = results.get("choices") or {}
    names = [*providers, *(p for p in reported if p not in providers)]
    section = {
        name: _provider(
            name,
            providers.get(name, _UNKNOWN_PROVIDER),
            reported.get(name, {}),
            choices=choices.get(name, {}),
            complete=complete,
            hypothesis_seed=seed,
            waivers=list(waivers or []),
            coverage=(coverage or {}).get(name),
        )
        for name in names
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "kit": _kit(),
        "run": {**run, "complete": complete, "exitstatus": results.get("exitstatus")},
        "verdict": worst(p["verdict"] for p in section.values()),
        "providers": section,
        "waivers": list(waivers or []),
        "abandoned": sorted(results.get("abandoned") or []),
    }


# -- from a pytest run --------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def run_info(config: pytest.Config, *, finished: datetime | None) -> dict[str, Any]:
    """The ``run`` section (without ``complete``/``exitstatus``) for *config*."""
    state = state_of(config)
    started = config.stash.get(STARTED, None) or datetime.now(UTC)
    seed = config.getoption("hypothesis_seed", None)
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "profile": state.profile.name,
        "hypothesis_seed": None if seed is None else str(seed),
        "command": ["pytest", *map(str, config.invocation_params.args)],
        "strict": state.strict,
        "rule_filter": list(state.rule_filter),
        "started": _iso(started),
        "finished": _iso(finished) if finished else None,
        "duration": round((finished - started).total_seconds(), 3) if finished else None,
    }


def build(
    config: pytest.Config,
    report: LifecycleReport,
    *,
    complete: bool,
    exitstatus: int | None,
    coverage: Mapping[str, Any] | None = None,
    waivers: list[Mapping[str, Any]] | None = None,
    resolve: bool = True,
) -> dict[str, Any]:
    """The certificate of the run *report* collected.

    :param complete: the run ended by itself (not interrupted, no internal error).
    :param exitstatus: the run's exit status (``None`` while it runs).
    :param coverage: provider name → coverage section (``provider_coverage.finish``).
    :param waivers: ``waivers.document(config, verdicts)``.
    :param resolve: resolve the selected providers if nothing did yet
        (``False`` at configure time, before every conftest offered its own).
    """
    state = state_of(config)
    try:
        selected = state.providers() if resolve else list(getattr(state, "_providers", None) or [])
    except Exception:  # a provider that cannot load: the report names it, the certificate lists what ran
        selected = []
    finished = datetime.now(UTC) if exitstatus is not None else None
    return assemble(
        report.results(complete=complete, exitstatus=exitstatus),
        run=run_info(config, finished=finished),
        providers={p.name: provider_info(p) for p in selected},
        coverage=coverage,
        waivers=waivers,
    )


# -- reading one ----------------------------------------------------------------------


def load(path: str | Path) -> dict[str, Any]:
    """Read the certificate at *path* and check it has what the CLI reads.

    :raises CertificateError: not readable, not JSON, not schema version 1,
        or a field missing; the message is one line naming the file.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CertificateError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise CertificateError(f"{path}: not a certificate (a JSON {type(doc).__name__}, expected an object)")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise CertificateError(
            f"{path}: not a pytest-lifecycle certificate of schema version {SCHEMA_VERSION} "
            f"(schema_version: {doc.get('schema_version')!r})"
        )
    problem = _structure_problem(doc)
    if problem:
        raise CertificateError(f"{path}: not a valid certificate: {problem}")
    return doc


def _structure_problem(doc: Mapping[str, Any]) -> str | None:
    for key, kind in (("kit", dict), ("run", dict), ("providers", dict), ("verdict", str)):
        if not isinstance(doc.get(key), kind):
            return f"{key!r} missing or not a JSON {'object' if kind is dict else 'string'}"
    if doc["verdict"] not in VERDICTS:
        return f"verdict {doc['verdict']!r} is none of {', '.join(VERDICTS)}"
    if not isinstance(doc["run"].get("profile"), str):
        return "run.profile missing"
    for name, provider in doc["providers"].items():
        if not isinstance(provider, dict) or not isinstance(provider.get("rules"), dict):
            return f"providers[{name!r}].rules missing"
        for rule_id, rule in provider["rules"].items():
            where = f"providers[{name!r}].rules[{rule_id!r}]"
            if not isinstance(rule, dict) or not isinstance(rule.get("verdict"), str):
                return f"{where}.verdict missing"
            witnesses = rule.get("witnesses")
            if not isinstance(witnesses, list) or not all(isinstance(w, dict) and "replay" in w for w in witnesses):
                return f"{where}.witnesses missing or without replay"
    return None
