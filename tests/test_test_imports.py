"""Test modules share code through `tests/helpers/`, never by importing one another: an imported
test module's tests run again in the importer, and its fixtures leak there, shadowed silently."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _imported_modules(source: str, package: str) -> set[str]:
    """The modules `source` (a module of `package`) imports: absolute names, relative imports
    resolved, and `from P import M` counted as importing `P.M` as well."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _test_modules_imported(source: str, package: str) -> list[str]:
    """The test modules among them: a last part `test_*` under `tests`, or a bare `test_*` (a
    module found through a `sys.path` entry)."""
    return sorted(
        name
        for name in _imported_modules(source, package)
        if name.rpartition(".")[2].startswith("test_")
        and (name.startswith("tests.") or "." not in name)
    )


def test_the_check_sees_each_way_of_importing_a_test_module():
    source = (
        "from tests.test_backup import cli\n"
        "from .test_ingest_page import upload\n"
        "from tests import test_fmt\n"
        "import test_users\n"
        "from tests.helpers.browser import sign_in\n"
        "from carnet.db import session_scope\n"
    )
    assert _test_modules_imported(source, "tests") == [
        "test_users",
        "tests.test_backup",
        "tests.test_fmt",
        "tests.test_ingest_page",
    ]


def test_no_test_module_imports_another_test_module():
    offenders = {}
    for path in sorted([*TESTS.rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]):
        package = ".".join(path.relative_to(ROOT).parts[:-1])
        found = _test_modules_imported(path.read_text(encoding="utf-8"), package)
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}


def test_helpers_hold_no_test_and_no_fixture():
    """Fixtures are in tests/conftest.py; a test or a fixture in a helper would be collected, or
    shadowed, in every module that imports it."""
    found = {}
    for path in sorted((TESTS / "helpers").glob("*.py")):
        names = [
            node.name
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and (
                node.name.startswith("test_")
                or any("fixture" in ast.unparse(d) for d in node.decorator_list)
            )
        ]
        if names:
            found[path.name] = names
    assert found == {}
    assert (TESTS / "helpers" / "__init__.py").is_file()
