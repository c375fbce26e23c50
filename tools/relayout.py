"""Move ``pytest_lifecycle``'s flat modules into layered private packages and rewrite every import.

Run from anywhere: ``python tools/relayout.py`` (``--dry-run`` lists what would change).
It is idempotent: a second run changes nothing.  Run it again after merging
a branch that still uses the old module paths (say, a suite added on main):

1. moves (``git mv`` when the tree is a git checkout) every module of
   :data:`MOVES` that is still at its old place;
2. in every ``.py`` file of the repository (except virtualenvs, build
   output and this script) rewrites imports of moved modules, turning the
   relative imports inside ``pytest_lifecycle/`` into absolute ones (a file
   that moved cannot keep ``from .kit import``; absolute imports read the
   same at every depth), and inside the package an import of a name the
   top-level package re-exports into an import from the module defining it
   (``from pytest_lifecycle import __version__`` would import the whole
   public API, and with it every layer);
3. in ``conformance/``, imports from private modules become imports of the
   public names (``pytest_lifecycle`` or ``pytest_lifecycle.support``),
   read from their ``__all__``; a name that is not public stays and is
   listed (``tests/test_public_api.py`` fails on it);
4. in ``.py``, ``.toml``, ``.md``, ``.cfg`` files and ``.ci/run``, rewrites
   the remaining dotted (``"pytest_lifecycle.plugin"``, ``:mod:`...```) and
   file-path (``pytest_lifecycle/kit.py``) references;
5. sorts and formats the rewritten Python files with ``ruff`` when it is
   on ``PATH``.

A module added to the old flat layout after this split is not moved (the
script cannot know its layer): it is listed at the end.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "pytest_lifecycle"

#: old module -> new module.  A package entry moves its ``__init__.py``.
MOVES: dict[str, str] = {
    # the core: no pytest, no Hypothesis
    "catalogue": "_core.catalogue",
    "errors": "_core.errors",
    "context": "_core.context",
    "provider": "_core.provider",
    "discovery": "_core.discovery",
    "runner": "_core.runner",
    "surface": "_core.surface",
    "kit": "_core.kit",
    "doubles.gate": "_core.gate",
    # the probes
    "parking": "_probes.parking",
    "crash": "_probes.crash",
    "fileops": "_probes.fileops",
    "leaks": "_probes.leaks",
    "stress": "_probes.stress",
    "interleave": "_probes.interleave",
    "asyncdrive": "_probes.asyncdrive",
    # the test doubles
    "doubles": "_doubles",
    "doubles.agent": "_doubles.agent",
    "doubles.sources": "_doubles.sources",
    # per-contract support (surfaces and fixtures)
    "contracts": "_contracts",
    "contracts.session_lifecycle": "_contracts.session_lifecycle",
    "contracts.respawn": "_contracts.respawn",
    "contracts.checkpoint_store": "_contracts.checkpoint_store",
    "contracts.keyed_locks": "_contracts.keyed_locks",
    "contracts.event_streams": "_contracts.event_streams",
    # rendering of certificates
    "render": "_render",
    "render.badge": "_render.badge",
    "render.github": "_render.github",
    "render.html": "_render.html",
    "render.markdown": "_render.markdown",
    # the pytest plugin
    "options": "_plugin.options",
    "fixtures": "_plugin.fixtures",
    "report": "_plugin.report",
    "state": "_plugin.state",
    "waivers": "_plugin.waivers",
    "publish": "_plugin.publish",
    "certificate": "_plugin.certificate",
    "provider_coverage": "_plugin.provider_coverage",
    "hookspecs": "_plugin.hookspecs",
    "profiles": "_plugin.profiles",
    "machines": "_plugin.machines",
    "gate": "_plugin.exit_gate",
    "plugin": "_plugin.plugin",
    # the command line
    "cli": "_cli",
}

#: Private names that became public under another name: (old module, name) -> public name.
RENAMED: dict[tuple[str, str], str] = {
    ("machines", "_replay_note"): "replay_note",
}

#: Docstrings of the packages the split creates.
NEW_PACKAGES: dict[str, str] = {
    "_core": "The core: catalogue, provider, context, runner, surfaces, the Kit and its gates.  Never imports pytest or Hypothesis.",
    "_probes": "Probes of a provider's threads, files, memory and processes (parking, crash, leaks, …).  Never import pytest or Hypothesis.",
    "_plugin": "The pytest plugin: options, fixtures, discovery of suites, the report, certificates and the exit gate.",
}

SKIP_DIRS = {".git", "build", "dist", "__pycache__", ".hypothesis", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
TEXT_SUFFIXES = {".toml", ".md", ".cfg"}
EXTRA_TEXT_FILES = (".ci/run",)

OLD = {f"{PACKAGE}.{old}": f"{PACKAGE}.{new}" for old, new in MOVES.items()}
NEW_TO_OLD = {new: old for old, new in OLD.items()}


def map_module(module: str) -> str:
    """The new name of *module* (or of the moved package it lies in); unchanged if it did not move."""
    parts = module.split(".")
    for cut in range(len(parts), 1, -1):
        head = ".".join(parts[:cut])
        if head in OLD:
            return ".".join([OLD[head], *parts[cut:]])
    return module


# -- 1. moves ------------------------------------------------------------------------------------


def git_tracked(path: Path) -> bool:
    done = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], cwd=ROOT, capture_output=True)
    return done.returncode == 0


def move_files(dry_run: bool) -> list[str]:
    done = []
    for old, new in sorted(OLD.items(), key=lambda kv: kv[0].count(".")):
        src, dst = _file_of(old), _file_of(new)
        if not src.exists() or dst.exists():
            continue
        done.append(f"move {src.relative_to(ROOT)} -> {dst.relative_to(ROOT)}")
        if dry_run:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if git_tracked(src):
            subprocess.run(["git", "mv", str(src), str(dst)], cwd=ROOT, check=True)
        else:
            shutil.move(src, dst)
    for name, doc in NEW_PACKAGES.items():
        init = ROOT / PACKAGE / name / "__init__.py"
        if (ROOT / PACKAGE / name).is_dir() and not init.exists():
            done.append(f"create {init.relative_to(ROOT)}")
            if not dry_run:
                init.write_text(f'"""{doc}"""\n', encoding="utf-8")
    # Old package directories left with nothing but caches go.
    for old in ("contracts", "doubles", "render"):
        directory = ROOT / PACKAGE / old
        if directory.is_dir() and not any(p.suffix == ".py" for p in directory.rglob("*")):
            if not dry_run:
                shutil.rmtree(directory)
            done.append(f"remove {directory.relative_to(ROOT)}")
    return done


def _file_of(module: str) -> Path:
    base = ROOT.joinpath(*module.split("."))
    is_package = any(other.startswith(module + ".") for other in (*OLD, *OLD.values()))
    return base / "__init__.py" if is_package else base.with_suffix(".py")


# -- 2./3. imports in Python files --------------------------------------------------------------


def module_of_file(path: Path) -> tuple[str, bool]:
    """The dotted name of the module in *path*, and whether it is a package ``__init__``."""
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def old_module_of(module: str) -> str:
    """Where *module* was before the split (relative imports in it were written from there)."""
    parts = module.split(".")
    for cut in range(len(parts), 1, -1):
        head = ".".join(parts[:cut])
        if head in NEW_TO_OLD:
            return ".".join([NEW_TO_OLD[head], *parts[cut:]])
    return module


def public_names() -> dict[str, str]:
    """Public name -> the public module exporting it (``pytest_lifecycle`` first, then ``support``)."""
    table: dict[str, str] = {}
    for module in (f"{PACKAGE}.support", PACKAGE):  # the top level wins
        path = _file_of(module) if module != PACKAGE else ROOT / PACKAGE / "__init__.py"
        if not path.exists():
            continue
        for name in _dunder_all(path):
            table[name] = module
    return table


def _dunder_all(path: Path) -> list[str]:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            value = ast.literal_eval(node.value)
            return [str(v) for v in value]
    return []


def reexports() -> dict[str, str]:
    """Name -> defining module, for the names ``pytest_lifecycle/__init__.py`` imports."""
    table: dict[str, str] = {}
    init = ROOT / PACKAGE / "__init__.py"
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom):
            base = _absolute(node, PACKAGE, is_package=True)
            for alias in node.names:
                table[alias.asname or alias.name] = map_module(base)
    return table


def _absolute(node: ast.ImportFrom, module: str, *, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    if not is_package:
        parts.pop()
    if node.level > 1:
        parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def is_module(name: str) -> bool:
    """Whether *name* is a module of the package, before or after the split."""
    if name in OLD or name in NEW_TO_OLD:
        return True
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def rewrite_python(path: Path, text: str, publics: dict[str, str], exported: dict[str, str]) -> tuple[str, list[str]]:
    """*text* with its imports rewritten; also the private names a suite still imports."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text, []
    module, is_package = module_of_file(path)
    inside = module == PACKAGE or module.startswith(PACKAGE + ".")
    facade = module in (PACKAGE, f"{PACKAGE}.support", f"{PACKAGE}.__main__")
    suite = module == "conformance" or module.startswith("conformance.")
    written_from = old_module_of(module)
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []
    leftovers: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level and not inside:
            continue
        base = _absolute(node, written_from, is_package=is_package)
        if base != PACKAGE and not base.startswith(PACKAGE + "."):
            continue
        # (module, "name" or "name as alias") per imported name, in order.
        targets: list[tuple[str, str]] = []
        for alias in node.names:
            name, asname = alias.name, alias.asname
            full = f"{base}.{name}"
            if is_module(full) and name != "*":
                new = map_module(full)
                parent, _, leaf = new.rpartition(".")
                targets.append((parent, _alias(leaf, asname if asname else (name if leaf != name else None))))
                continue
            new_base = map_module(base)
            old_base = old_module_of(new_base)
            renamed = RENAMED.get((old_base.removeprefix(PACKAGE + "."), name))
            if inside and not facade and new_base == PACKAGE and name in exported:
                # Inside the package, import from the layer, not the facade.
                targets.append((exported[name], _alias(name, asname)))
            elif suite and _private(new_base):
                public = renamed or name
                if public in publics:
                    targets.append((publics[public], _alias(public, asname or (name if public != name else None))))
                else:
                    targets.append((new_base, _alias(name, asname)))
                    leftovers.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name} from {new_base}")
            else:
                targets.append((new_base, _alias(name, asname)))
        grouped: dict[str, list[str]] = {}
        for target, name in targets:
            grouped.setdefault(target, []).append(name)
        unchanged = not node.level and len(grouped) == 1 and next(iter(grouped)) == node.module
        if unchanged and [n for n in grouped[node.module or ""]] == [_alias(a.name, a.asname) for a in node.names]:
            continue
        end = node.end_lineno or node.lineno
        inner = "".join(lines[node.lineno - 1 : end])[node.col_offset :]
        if "#" in inner[: len(inner) - len(lines[end - 1]) + (node.end_col_offset or 0)]:
            leftovers.append(f"{path.relative_to(ROOT)}:{node.lineno}: a comment inside a rewritten import was dropped")
        # What shares the first and last line: the indentation, and a trailing
        # comment (a ``noqa`` marker, say) that every statement of the split keeps.
        head = lines[node.lineno - 1][: node.col_offset]
        tail = lines[end - 1][node.end_col_offset :]
        comment = tail.rstrip("\n")
        statement = f"{comment}\n{head}".join(
            f"from {target} import {', '.join(names)}" for target, names in grouped.items()
        )
        edits.append((node.lineno - 1, end, head + statement + tail))
    for start, end, replacement in sorted(edits, reverse=True):
        lines[start:end] = [replacement]
    return "".join(lines), leftovers


def _alias(name: str, asname: str | None) -> str:
    return f"{name} as {asname}" if asname and asname != name else name


def _private(module: str) -> bool:
    return module != PACKAGE and module != f"{PACKAGE}.support"


# -- 4. dotted and path references in any text ----------------------------------------------------


def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    olds = sorted((old.removeprefix(PACKAGE + ".") for old in OLD), key=len, reverse=True)
    dotted = re.compile(rf"\b{PACKAGE}\.({'|'.join(re.escape(o) for o in olds)})\b")
    slashed = sorted({o.replace(".", "/") for o in olds}, key=len, reverse=True)
    path = re.compile(rf"\b{PACKAGE}/({'|'.join(re.escape(o) for o in slashed)})(\.py\b|/)")
    return dotted, path


def rewrite_references(text: str) -> str:
    dotted, path = _patterns()
    text = dotted.sub(lambda m: map_module(f"{PACKAGE}.{m.group(1)}"), text)

    def moved_path(m: re.Match[str]) -> str:
        old = m.group(1).replace("/", ".")
        new = map_module(f"{PACKAGE}.{old}").replace(".", "/")
        if m.group(2) == ".py" and _file_of(f"{PACKAGE}.{old}").name == "__init__.py":
            return f"{new}/__init__.py"
        return f"{new}{m.group(2)}"

    return path.sub(moved_path, text)


_LINK = re.compile(r"\]\((?!https?:|#)([^)#\s]+)")


def rewrite_links(path: Path, text: str) -> str:
    """Relative Markdown links to a moved module (``](../doubles/agent.py)``) follow it."""
    here = path.parent

    def moved(m: re.Match[str]) -> str:
        target = (here / m.group(1)).resolve()
        try:
            rel = target.relative_to(ROOT)
        except ValueError:
            return m.group(0)
        parts = rel.with_suffix("").parts if rel.suffix == ".py" else rel.parts
        if not parts or parts[0] != PACKAGE:
            return m.group(0)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        old = ".".join(parts)
        new = map_module(old)
        if new == old:
            return m.group(0)
        new_path = ROOT.joinpath(*new.split("."))
        if rel.suffix == ".py":
            new_path = new_path / "__init__.py" if _file_of(new).name == "__init__.py" else new_path.with_suffix(".py")
        link = os.path.relpath(new_path, here) + ("/" if m.group(1).endswith("/") else "")
        return f"]({link}"

    return _LINK.sub(moved, text)


# -- driver ----------------------------------------------------------------------------------------


def files() -> Iterator[Path]:
    me = Path(__file__).resolve()
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.startswith(".venv") or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.resolve() == me or not path.is_file():
            continue
        if path.suffix == ".py" or path.suffix in TEXT_SUFFIXES or str(rel) in EXTRA_TEXT_FILES:
            yield path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="list the changes, write nothing")
    args = parser.parse_args()
    for line in move_files(args.dry_run):
        print(line)
    publics, exported = public_names(), reexports()
    changed: list[Path] = []
    leftovers: list[str] = []
    for path in files():
        text = path.read_text(encoding="utf-8")
        new = text
        if path.suffix == ".py":
            new, private = rewrite_python(path, new, publics, exported)
            leftovers += private
        new = rewrite_references(new)
        if path.suffix == ".md":
            new = rewrite_links(path, new)
        if new != text:
            changed.append(path)
            if not args.dry_run:
                path.write_text(new, encoding="utf-8")
    for path in changed:
        print(f"rewrote {path.relative_to(ROOT)}")
    python = [str(p) for p in changed if p.suffix == ".py"]
    ruff = shutil.which("ruff")
    if python and ruff and not args.dry_run:
        subprocess.run([ruff, "check", "--quiet", "--select", "I", "--fix", *python], cwd=ROOT, check=False)
        subprocess.run([ruff, "format", "--quiet", *python], cwd=ROOT, check=False)
    strays = sorted(
        p.relative_to(ROOT)
        for p in (ROOT / PACKAGE).glob("*.py")
        if p.stem not in {"__init__", "__main__", "support", "_cli", "_version"}
    )
    for stray in strays:
        leftovers.append(f"{stray}: a module in the old flat layout; move it into its layer by hand")
    for line in leftovers:
        print(f"check: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
