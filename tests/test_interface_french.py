"""The interface says everything in French (issue 15): every page, for every role, rendered on
the demo town as the Dash router sends it to the browser, shows none of the record's codes
(`gas`, `generic-boiler`, `m3`, `manager`, `open`...: taken from the vocabularies themselves,
not from a list written here) and writes no number with a decimal point."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid

import dash
import pytest
from sqlalchemy import create_engine, select, text

from carnet import db as carnet_db
from carnet import models, quarantine, roles
from carnet.adjustment_kinds import ADJUSTMENT_KINDS
from carnet.db import session_scope
from carnet.energies import ENERGY_LABELS_FR
from carnet.models import Building
from carnet.portfolio_schema import DJU_METHODS, EQUIPMENT_KINDS
from carnet.quantities import KNOWN_UNITS, QUANTITIES
from carnet_cli.demo.town import build_demo
from dashboards.app import create_app
from ingest.modbus.registers import registers_dir
from tests.helpers.web_client import page_content, sign_in

# one worker builds the demo and renders on it (`make test` uses --dist loadgroup)
pytestmark = pytest.mark.xdist_group(name="demo")

TODAY = dt.date(2026, 11, 25)
LOGINS = {roles.MANAGER: "gestionnaire", roles.CONTRACTOR: "exploitant",
          roles.FINANCE: "finances", roles.PROGRAMMER: "culture", roles.AGENT: "agent"}  # fmt: skip


def _codes() -> set[str]:
    """The codes of every vocabulary the pages show, from the enums and label tables."""
    words = {
        *models.LOG_KINDS, *models.LOG_STATUSES, *models.BOOKING_STATUSES,
        *models.ALARM_STATUSES, *models.WORK_ORDER_STATUSES, *models.WORK_ORDER_PRIORITIES,
        *models.WORK_ORDER_ORIGINS, *models.REX_STATUSES, *models.DECISION_STATUSES,
        *quarantine.STATUSES, *quarantine.REASON_LABELS_FR, *ADJUSTMENT_KINDS, *DJU_METHODS,
        *EQUIPMENT_KINDS, *QUANTITIES, *roles.ROLES, *ENERGY_LABELS_FR,
        *(p.stem for p in registers_dir().glob("*.yaml")),  # device models
        *(unit for unit, shown in KNOWN_UNITS.items() if unit != shown),  # m3, degC...
    }  # fmt: skip
    # a code that is also the French word it stands for is no leak (« observation »,
    # « option », « alarme » are French)
    return {w for w in words if w.lower() not in FRENCH_WORDS}


FRENCH_WORDS = {"observation", "option", "inspection", "usage", "agent", "obligation"}
CODES = _codes()
WORD = re.compile("|".join(rf"(?<![\w-]){re.escape(c)}(?![\w-])" for c in sorted(CODES)))
# 45.0; not 127.0.0.1, nor a text's article (« art. 31.6 »)
DECIMAL_POINT = re.compile(r"(?<![\d.])(?<!art\. )\d+\.\d+(?![\d.])")
SHOWN = ("children", "label", "placeholder", "title", "start_date_placeholder_text",
         "end_date_placeholder_text")  # fmt: skip


def visible_texts(node) -> list[str]:
    """The strings of a Dash layout (as JSON) a person reads: children, labels, option labels,
    placeholders; never ids, values, classes, links or a figure's data."""
    out: list[str] = []
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, list):
        for item in node:
            out += visible_texts(item)
    elif isinstance(node, dict):
        props = node.get("props", node) if "type" in node else node
        for key in SHOWN:
            if key in props:
                out += visible_texts(props[key])
        for option in props.get("options") or []:
            out += visible_texts(option.get("label") if isinstance(option, dict) else option)
    return out


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    base = os.environ.get("CARNET_TEST_DATABASE_URL", "")
    admin = None
    if base.startswith("postgresql"):
        name = f"carnet_fr_{uuid.uuid4().hex[:10]}"
        admin = create_engine(
            base.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{base.rpartition('/')[0]}/{name}"
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('demo-fr') / 'demo.sqlite'}"
    engine = carnet_db.make_engine(url)
    carnet_db.upgrade(engine)
    build_demo(engine, seed=42, today=TODAY)
    with session_scope(engine) as s:
        codes = list(s.scalars(select(Building.code).order_by(Building.code)))
    yield create_app(url), codes
    engine.dispose()
    carnet_db.reset_engines()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _paths(building_codes: list[str]) -> list[str]:
    paths = []
    for page in dash.page_registry.values():
        template = page.get("path_template")
        if template:
            paths += [re.sub(r"<\w+>", code, template) for code in building_codes]
        elif page["path"] != "/404":
            paths.append(page["path"])
    return paths


def test_the_vocabularies_give_codes_to_look_for():
    # what the issue found on the screens is among them
    assert {"gas", "generic-boiler", "m3", "manager", "contractor", "open", "closed"} <= CODES


@pytest.mark.parametrize("role", roles.ROLES)
def test_no_page_shows_a_code_or_a_decimal_point(demo_app, role):
    app, buildings = demo_app
    client = app.server.test_client()
    login = LOGINS[role]
    assert sign_in(client, login, f"demo-{login}").status_code == 302
    found, rendered, seen = {}, 0, 0
    for path in _paths(buildings):
        response = page_content(client, path)
        assert response.status_code == 200, path
        texts = visible_texts(response.get_json()["response"]["_pages_content"]["children"])
        rendered, seen = rendered + 1, seen + sum(map(len, texts))
        leaks = {m.group(0) for t in texts for m in WORD.finditer(t)}
        points = {m.group(0) for t in texts for m in DECIMAL_POINT.finditer(t)}
        if leaks or points:
            context = [t for t in texts if WORD.search(t) or DECIMAL_POINT.search(t)][:6]
            found[path] = (sorted(leaks), sorted(points), context)
    assert rendered >= len(buildings) + 10 and seen > 100 * rendered  # texts were found
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)
