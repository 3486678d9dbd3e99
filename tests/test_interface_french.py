"""The interface says everything in French (issue 15): every page, for every role, rendered on
the demo town as the Dash router sends it to the browser, shows none of the record's codes
(`gas`, `generic-boiler`, `m3`, `manager`, `open`...: taken from the vocabularies themselves,
not from a list written here) and writes no number with a decimal point. The import page puts
the command line's options in words."""

from __future__ import annotations

import json
import re
from pathlib import Path

import dash
import pytest
from sqlalchemy import select

from carnet import db as carnet_db
from carnet import roles
from carnet.db import session_scope
from carnet.models import Building
from dashboards.app import create_app
from ingest.format_detection import FORMAT_HINT, for_the_page
from ingest.formats import EXPECTED
from ingest.formats.generic import COLUMNS_HINT
from tests.helpers.browser import seed_users
from tests.helpers.demo_copy import demo_copy
from tests.helpers.french_text import CODES, english_in
from tests.helpers.seed import seed_town
from tests.helpers.web_client import body, page_content, sign_in, signed_in_client, upload

LOGINS = {roles.MANAGER: "gestionnaire", roles.CONTRACTOR: "exploitant",
          roles.FINANCE: "finances", roles.PROGRAMMER: "culture", roles.AGENT: "agent"}  # fmt: skip
EXPECTED_FR = " ; ".join(f"{name} : {what}" for name, what in EXPECTED.items())
SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
SHOWN = ("children", "label", "placeholder", "title", "start_date_placeholder_text",
         "end_date_placeholder_text")  # fmt: skip


def visible_texts(node) -> list[str]:
    """The strings of a Dash layout (as JSON) a person reads: children, labels, option labels,
    placeholders, tooltips; never ids, values, classes, links or a figure's data."""
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
    with demo_copy(tmp_path_factory.mktemp("demo-fr")) as url:
        with session_scope(carnet_db.get_engine(url)) as s:
            codes = list(s.scalars(select(Building.code).order_by(Building.code)))
        yield create_app(url), codes


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
    assert visible_texts({"type": "P", "props": {"children": ["gas", {"props": {
        "children": "45.0", "id": "m3"}, "type": "Span"}]}}) == ["gas", "45.0"]  # fmt: skip


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
        codes, points, where = english_in(texts)
        if codes or points:
            found[path] = (sorted(codes), sorted(points), where)
    assert rendered >= len(buildings) + 10 and seen > 100 * rendered  # texts were found
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


def test_the_import_page_words_the_command_line_options(engine, db_url):
    seed_users(engine)
    seed_town(engine)
    client = signed_in_client(create_app(db_url), "gestionnaire")
    reply = upload(client, "Sonde;Heure;Lecture\nMAIRIE-T;01/11/2024 10:00;19,5\n")
    # what the mapping panel says, not its stored upload token (random: it may hold "--")
    outputs = reply.get_json()["response"].values()
    unreadable = "\n".join(t for out in outputs for t in visible_texts(list(out.values())))
    assert "indiquez ses colonnes" in unreadable and "Indiquer les colonnes" in unreadable
    assert "--" not in unreadable
    # a report's message (the command line's) as the page writes it
    shown = for_the_page(f"format non reconnu ; attendues pour {EXPECTED_FR} ; {COLUMNS_HINT}"
                         f"{FORMAT_HINT}")  # fmt: skip
    assert "--" not in shown and "choisissez le format dans la liste « Format »" in shown
    assert "GRDF, relevés quotidiens : date, volume" in shown
    codes, points, where = english_in([shown])
    assert not codes and not points, where
    grdf = (SAMPLES / "grdf_quotidien.csv").read_text(encoding="cp1252")  # a PCE unknown here
    unknown = body(upload(client, grdf, "grdf.csv"))
    assert "inconnu : aucun point de mesure ne porte ce numéro" in unknown
    assert "external_ref" not in unknown


def test_the_contractors_results_and_their_past_range_carry_their_sign(db_url):
    create_app(db_url)  # registers the pages
    from dashboards.pages.accueil_exploitant import _range, _result

    low, _, high = _range(721.8, 766.07)
    assert (low, high) == ("+721,80\u00a0€", "à +766,07\u00a0€")  # like the result beside it
    assert _range(-1234.5, 10)[0] == "\u22121\u202f234,50\u00a0€"
    assert _result(-0.6).children == "\u22120,60\u00a0€" and _result(12).children == "+12,00\u00a0€"
