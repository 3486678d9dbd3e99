"""Pages hold layout and callbacks only (DESIGN.md, dashboards): no page module imports
sqlalchemy; their data comes from `dashboards/<page>_data.py`. Read from the source with `ast`
(an import inside a function counts too), not from a text search."""

from __future__ import annotations

import ast
from pathlib import Path

import dashboards.pages

PAGES = sorted(Path(dashboards.pages.__file__).parent.glob("*.py"))


def _imported_modules(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_pages_are_found():
    assert {"savings.py", "reservations.py", "contrat.py", "buildings.py"} <= {
        p.name for p in PAGES
    }


def test_no_page_module_imports_sqlalchemy():
    offenders = {
        page.name: sorted(m for m in _imported_modules(ast.parse(page.read_text())) if
                          m == "sqlalchemy" or m.startswith("sqlalchemy."))
        for page in PAGES
    }  # fmt: skip
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_the_check_sees_every_form_of_import():
    source = (
        "import sqlalchemy\nfrom sqlalchemy.orm import Session\n"
        "def f():\n    from sqlalchemy import select\n"
    )
    assert _imported_modules(ast.parse(source)) == {"sqlalchemy", "sqlalchemy.orm"}
