"""Pages hold layout and callbacks only (DESIGN.md, dashboards): no page module imports
sqlalchemy nor opens a session (`dashboards.db.session`); their data comes from
`dashboards/<page>_data.py`. Read from the source with `ast`
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


def _db_session_uses(tree: ast.AST) -> list[int]:
    """Lines reaching `dashboards.db.session`, whatever the module or the function is called
    here (`db.session()`, `import dashboards.db as x; x.session`, `from dashboards.db import
    session as s`)."""
    aliases = set()  # local names of the module dashboards.db
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            for alias in node.names:
                if node.module == "dashboards" and alias.name == "db":
                    aliases.add(alias.asname or "db")
                elif node.module == "dashboards.db" and alias.name == "session":
                    lines.append(node.lineno)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "dashboards.db" and alias.asname:
                    aliases.add(alias.asname)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr == "session"):
            continue
        value = node.value
        named = isinstance(value, ast.Name) and value.id in aliases
        dotted = (  # dashboards.db.session after `import dashboards.db`
            isinstance(value, ast.Attribute)
            and value.attr == "db"
            and isinstance(value.value, ast.Name)
            and value.value.id == "dashboards"
        )
        if named or dotted:
            lines.append(node.lineno)
    return sorted(lines)


def test_no_page_module_opens_a_session():
    offenders = {page.name: _db_session_uses(ast.parse(page.read_text())) for page in PAGES}
    assert {name: lines for name, lines in offenders.items() if lines} == {}


def test_the_session_check_sees_every_form():
    source = (
        "from dashboards import db\n"
        "import dashboards.db\n"
        "import dashboards.db as base\n"
        "from dashboards.db import session\n"
        "def f():\n"
        "    with db.session() as s:\n"
        "        pass\n"
        "    dashboards.db.session()\n"
        "    base.session()\n"
        "    db.engine()\n"
        "    other.session()\n"
    )
    assert _db_session_uses(ast.parse(source)) == [4, 6, 8, 9]
