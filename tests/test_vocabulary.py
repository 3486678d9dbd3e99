"""Each vocabulary and formatter is defined once per side (issue 14): the record side (`carnet`,
`ingest`, `dashboards`, `carnet_cli`) and `contract`, which imports nothing of the record and
so keeps its own pure constants. The sources are parsed, not imported: a literal copied back
into some module fails here, wherever it is."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECORD = ("carnet", "ingest", "dashboards", "carnet_cli")
CONTRACT = ("contract",)
FROZEN = ("carnet/migrations/",)  # history: migrations are never edited


def _modules(packages) -> dict[str, ast.Module]:
    out = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not rel.startswith(FROZEN):
                out[rel] = ast.parse(path.read_text(encoding="utf-8"), rel)
    return out


MODULES = {"record": _modules(RECORD), "contract": _modules(CONTRACT)}


def _docstrings(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _strings(tree: ast.Module):
    """Every string constant of the code (f-string parts included), docstrings left out."""
    docs = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.value


def _where(side: str, predicate) -> set[str]:
    return {rel for rel, tree in MODULES[side].items() if any(map(predicate, _strings(tree)))}


@pytest.mark.parametrize(
    ("side", "home"), [("record", "carnet/timeutil.py"), ("contract", "contract/calendar.py")]
)
def test_the_time_zone_is_named_in_one_module_per_side(side, home):
    assert _where(side, lambda s: "Europe/Paris" in s) == {home}


@pytest.mark.parametrize(
    ("side", "home"), [("record", "carnet/models.py"), ("contract", "contract/terms.py")]
)
def test_the_default_heating_season_is_written_once_per_side(side, home):
    found = _where(side, lambda s: s in ("10-01", "05-20"))
    assert found == {home}


def _label_dicts(side: str, key: str) -> set[str]:
    """Modules holding a dict literal of string labels keyed by codes, `key` among them."""
    out = set()
    for rel, tree in MODULES[side].items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict) or not node.keys:
                continue
            consts = [*node.keys, *node.values]
            if all(isinstance(c, ast.Constant) and isinstance(c.value, str) for c in consts) and (
                key in {k.value for k in node.keys}
            ):
                out.add(rel)
    return out


def test_quantity_labels_live_in_carnet_quantities():
    assert _label_dicts("record", "gas_volume_m3") == {"carnet/quantities.py"}
    assert _label_dicts("contract", "gas_volume_m3") == set()


def test_degree_day_method_labels_are_defined_once():
    assert _label_dicts("contract", "meteo_france") == {"contract/degree_days.py"}
    assert _label_dicts("record", "meteo_france") == set()


def test_one_money_formatter_one_time_zone_object():
    import carnet.fr_format
    import carnet.timeutil
    import dashboards.fmt

    assert dashboards.fmt.fr_eur is carnet.fr_format.fr_eur
    assert dashboards.fmt.fr_cents is carnet.fr_format.fr_cents
    assert dashboards.fmt.fr_number is carnet.fr_format.fr_number
    assert dashboards.fmt.TZ is carnet.timeutil.TZ
    defined = {
        rel
        for side in MODULES.values()
        for rel, tree in side.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(w in node.name for w in ("eur", "cents", "money"))
        and node.name.startswith(("fr_", "format_", "_fr"))
    }
    assert defined == {"carnet/fr_format.py"}


def test_contract_imports_nothing_of_the_record():
    offenders = set()
    for rel, tree in MODULES["contract"].items():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in RECORD for n in names):
                offenders.add(rel)
    assert offenders == set()


@pytest.mark.parametrize(
    ("code", "home"),
    [
        ("grdf-daily", "ingest/formats/__init__.py"),  # import formats
    ],
)
def test_each_label_table_is_written_once(code, home):
    assert _label_dicts("record", code) == {home}


def test_every_code_of_a_shown_vocabulary_has_its_label():
    from carnet.buildings import EQUIPMENT_LABELS_FR
    from carnet.portfolio_schema import EQUIPMENT_KINDS
    from carnet.roles import CAPABILITIES
    from dashboards.shell import CAPABILITY_LABELS_FR
    from ingest.formats import FORMAT_LABELS_FR, FORMATS

    assert set(EQUIPMENT_KINDS) <= set(EQUIPMENT_LABELS_FR)
    assert set(CAPABILITIES) <= set(CAPABILITY_LABELS_FR)
    assert set(FORMATS) == set(FORMAT_LABELS_FR)


def test_short_month_names_are_written_once():
    found = _where("record", lambda s: s == "févr.")
    assert found == {"dashboards/plotly_fr.py"}
