"""The public API is what suites and users import, and nothing else.

``pytest_lifecycle`` (its ``__all__``) and ``pytest_lifecycle.support`` (its
``__all__``) are public; every other module of the kit is private by name.
The shipped suites (``conformance/``), the README's Python examples and the
docs' must import public names only — they are what users copy.  Every public
name exists and says what it is.  Inside the kit, no layer imports the public
facade (it imports every layer: that would be a cycle import-linter cannot
see).  The project's own tests may import private modules: they test the
kit's internals.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import pytest_lifecycle
import pytest_lifecycle.support

ROOT = Path(__file__).resolve().parents[1]
PUBLIC: dict[str, set[str]] = {
    "pytest_lifecycle": set(pytest_lifecycle.__all__),
    "pytest_lifecycle.support": set(pytest_lifecycle.support.__all__),
}
SUITES = sorted((ROOT / "conformance").glob("*.py"))
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def private_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, what) for every import of a private kit module or of a name that is not public."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("pytest_lifecycle") and alias.name not in PUBLIC:
                    yield node.lineno, f"import {alias.name} (a private module)"
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("pytest_lifecycle"):
            module = node.module or ""
            if module not in PUBLIC:
                yield node.lineno, f"from {module} import … (a private module)"
                continue
            for alias in node.names:
                if alias.name not in PUBLIC[module] and f"{module}.{alias.name}" not in PUBLIC:
                    yield node.lineno, f"{alias.name} from {module} (not in its __all__)"


def code_blocks(path: Path) -> Iterator[tuple[int, str]]:
    """(first line, code) of every ```python block of *path*."""
    text = path.read_text(encoding="utf-8")
    for match in FENCE.finditer(text):
        yield text.count("\n", 0, match.start(1)) + 1, match.group(1)


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.name)
def test_suites_import_public_names_only(path: Path) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for line, what in private_imports(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not found, "a suite imports what is not public:\n" + "\n".join(found)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_documented_examples_import_public_names_only(path: Path) -> None:
    found = []
    for first, code in code_blocks(path):
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue  # a fragment (``...``), not a program
        found += [f"{path.relative_to(ROOT)}:{first + line - 1}: {what}" for line, what in private_imports(tree)]
    assert not found, "a documented example imports what is not public:\n" + "\n".join(found)


def test_the_readme_example_for_own_tests_uses_the_public_api() -> None:
    # The check above must have something to check: the "write your own tests" example imports the kit.
    imports = [code for _, code in code_blocks(ROOT / "README.md") if "from pytest_lifecycle import" in code]
    assert imports, "the README's own-tests example no longer imports from pytest_lifecycle"


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_name_exists_and_has_a_docstring(module: str) -> None:
    namespace = importlib.import_module(module)
    undocumented = []
    for name in sorted(PUBLIC[module]):
        assert hasattr(namespace, name), f"{module}.__all__ names {name}, which it does not define"
        obj = getattr(namespace, name)
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj):
            documented = bool(obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__)
        else:
            documented = _has_doc_comment(obj, name)
        if not documented:
            undocumented.append(name)
    assert not undocumented, f"public names of {module} without a docstring (or a #: comment): {undocumented}"


def _has_doc_comment(obj: object, name: str) -> bool:
    """A constant is documented by a ``#:`` comment right above its assignment in the module defining it."""
    for path in (ROOT / "pytest_lifecycle").rglob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if re.match(rf"{re.escape(name)}\s*(:[^=]*)?=", line) and i and lines[i - 1].startswith("#:"):
                return True
    return False


def test_the_layers_never_import_the_public_facade() -> None:
    found = []
    for path in sorted((ROOT / "pytest_lifecycle").rglob("*.py")):
        if path.name in ("__init__.py", "support.py", "__main__.py") and path.parent.name == "pytest_lifecycle":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in PUBLIC and not node.level:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import …")
            if isinstance(node, ast.Import) and any(a.name in PUBLIC for a in node.names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: import {node.names[0].name}")
    assert not found, "a layer imports the facade that imports every layer:\n" + "\n".join(found)


def test_the_check_catches_a_private_import() -> None:
    tree = ast.parse(
        "from pytest_lifecycle import Kit, _private\n"
        "from pytest_lifecycle._core.kit import Kit\n"
        "import pytest_lifecycle._probes.parking\n"
        "from pytest_lifecycle.support import spawn_watched\n"
    )
    assert [line for line, _ in private_imports(tree)] == [1, 2, 3]
