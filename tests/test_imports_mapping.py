"""Issue 13 on the imports page: a file whose header is not recognised gets the column
mapping (roles, date format, decimal mark, clock), a preview read by the import's own parser,
« Importer » with it, and « Enregistrer comme profil » stored as the portfolio file does; the
next file of that header is then recognised by its profile."""

from __future__ import annotations

import base64
import datetime as dt
import json

from sqlalchemy import select

from carnet.config import carnet_home
from carnet.db import get_engine
from carnet.models import AuditEvent, Channel, ImportBatch, ImportProfile, Reading
from dashboards import imports_data
from tests.helpers.browser import LOGIN_OF_ROLE, dash_callback_payload
from tests.helpers.seed import epoch
from tests.helpers.web_client import signed_in_client

FILE = "Capteur;Quand;Mesure\nMAIRIE-T;2025-01-16 08:00;19,5\nMAIRIE-T;2025-01-16 09:00;20,25\n"
CHOICE = {
    "imp-map-channel.value": "Capteur",
    "imp-map-timestamp.value": "Quand",
    "imp-map-value.value": "Mesure",
    "imp-map-quality.value": None,
    "imp-map-unit.value": None,
    "imp-map-default-channel.value": "",
    "imp-map-date-format.value": "%Y-%m-%d %H:%M",
    "imp-map-decimal.value": ",",
    "imp-map-timezone.value": "local",
}


def _data_url(text: str) -> str:
    return "data:text/csv;base64," + base64.b64encode(text.encode()).decode()


def _post(client, output, values, trigger=None):
    """The callback producing `output` (or, with `trigger`, the one that input fires)."""
    deps = client.get("/_dash-dependencies").get_json()
    if trigger is not None:
        deps = [d for d in deps if d["inputs"] and d["inputs"][0]["id"] == trigger]
        output = deps[0]["output"]
    response = client.post(
        "/_dash-update-component", json=dash_callback_payload(deps, output, values)
    )
    return response, json.dumps(response.get_json(), ensure_ascii=False)


def _upload(client, text, name):
    values = {
        "imp-upload.contents": [_data_url(text)],
        "imp-upload.filename": [name],
        "imp-format.value": "",
        "imp-strict.value": [],
        "imp-choose.value": [],
    }
    return _post(client, "imp-result", values)


def _file_store(response) -> dict:
    """The waiting file's store the upload's mapping panel holds (its token, its name)."""
    from tests.helpers.web_client import components

    (store,) = [
        c for c in components(response.get_json()) if c["props"].get("id") == "imp-map-file"
    ]
    return {"imp-map-file.data": store["props"]["data"]}


def _stored(engine, code):
    with engine.connect() as conn:
        cid = conn.execute(select(Channel.id).where(Channel.code == code)).scalar_one()
        rows = conn.execute(
            select(Reading.ts, Reading.value).where(Reading.channel_id == cid).order_by(Reading.ts)
        ).all()
    return {int(ts): v for ts, v in rows}


def test_unrecognised_header_is_mapped_previewed_imported_and_saved(app, db_url):
    engine = get_engine(db_url)
    manager = signed_in_client(app, LOGIN_OF_ROLE["manager"])
    response, text = _upload(manager, FILE, "capteurs.csv")
    assert response.status_code == 200
    assert '"imp-map-panel"' in text and "Capteur · Quand · Mesure" in text
    with engine.connect() as conn:  # nothing imported before « Importer »
        assert (
            conn.execute(select(ImportBatch).where(ImportBatch.source == "capteurs.csv")).all()
            == []
        )
    state = _file_store(response)
    assert len(list((carnet_home() / imports_data.PENDING_DIR).rglob("capteurs.csv"))) == 1
    response, text = _post(manager, "imp-map-preview", {**CHOICE, **state})
    assert response.status_code == 200
    assert "MAIRIE-T" in text and "16/01/2025 08:00" in text and "20,25" in text
    # a wrong date format: the preview says so by each line's reason, read by the parser
    wrong = {**CHOICE, "imp-map-date-format.value": "%d/%m/%Y %H:%M"}
    _response, text = _post(manager, "imp-map-preview", {**wrong, **state})
    assert "imp-map-preview-rejected" in text and "16/01/2025 08:00" not in text

    values = {"imp-map-import.n_clicks": 1, **CHOICE, **state, "imp-strict.value": []}
    response, text = _post(manager, None, values, trigger="imp-map-import")
    assert response.status_code == 200, text[:300]
    stored = _stored(engine, "MAIRIE-T")
    assert stored[epoch(dt.datetime(2025, 1, 16, 8, 0))] == 19.5
    # the file waited on the server (sent once by the browser) and is gone once imported
    assert not list((carnet_home() / imports_data.PENDING_DIR).rglob("capteurs.csv"))
    assert stored[epoch(dt.datetime(2025, 1, 16, 9, 0))] == 20.25

    values = {"imp-map-save.n_clicks": 1, "imp-map-profile-name.value": "capteurs", **CHOICE}
    response, text = _post(manager, "imp-map-save-msg", values)
    assert response.status_code == 200 and "imp-map-save-ok" in text, text
    with engine.connect() as conn:
        profile = conn.execute(select(ImportProfile).where(ImportProfile.code == "capteurs")).one()
        audit = conn.execute(
            select(AuditEvent).where(
                AuditEvent.action == "load", AuditEvent.actor == LOGIN_OF_ROLE["manager"]
            )
        ).all()
    assert profile.columns == {"channel": "Capteur", "timestamp": "Quand", "value": "Mesure"}
    assert (profile.date_format, profile.decimal) == ("%Y-%m-%d %H:%M", ",")
    assert audit  # the portfolio loader's audit line

    # the next file of that header is recognised by its profile and imported at once
    second = "Capteur;Quand;Mesure\nMAIRIE-T;2025-01-17 10:00;21,5\n"
    response, text = _upload(manager, second, "capteurs-2.csv")
    assert '"imp-map-panel"' not in text
    with engine.connect() as conn:
        batch = conn.execute(
            select(ImportBatch).where(ImportBatch.source == "capteurs-2.csv")
        ).one()
    assert batch.format == "profile" and batch.rows_inserted == 1
    assert _stored(engine, "MAIRIE-T")[epoch(dt.datetime(2025, 1, 17, 10, 0))] == 21.5


def test_a_profile_is_refused_like_in_the_portfolio_file_and_only_the_manager_saves(app):
    manager = signed_in_client(app, LOGIN_OF_ROLE["manager"])
    bad = {**CHOICE, "imp-map-channel.value": None, "imp-map-default-channel.value": "NOPE"}
    values = {"imp-map-save.n_clicks": 1, "imp-map-profile-name.value": "x", **bad}
    _response, text = _post(manager, "imp-map-save-msg", values)
    assert "imp-map-save-error" in text and "NOPE" in text
    contractor = signed_in_client(app, LOGIN_OF_ROLE["contractor"])
    values = {"imp-map-save.n_clicks": 1, "imp-map-profile-name.value": "y", **CHOICE}
    response, _text = _post(contractor, "imp-map-save-msg", values)
    assert response.status_code == 403


def test_a_file_of_one_point_and_the_contractors_preview(app):
    """No channel column: the point of the whole file is given; a contractor's preview already
    says which lines its contract does not cover (the import rejects them the same way)."""
    one = "Quand;Mesure\n16/01/2025 08:00;19.5\n16/01/2025 09:00;21\n"
    manager = signed_in_client(app, LOGIN_OF_ROLE["manager"])
    response, text = _upload(manager, one, "sonde.csv")
    assert '"imp-map-panel"' in text
    choice = {
        **CHOICE,
        "imp-map-channel.value": None,
        "imp-map-default-channel.value": "MAIRIE-T",
        "imp-map-date-format.value": "%d/%m/%Y %H:%M",
        "imp-map-decimal.value": ".",
    }
    state = _file_store(response)
    _response, text = _post(manager, "imp-map-preview", {**choice, **state})
    assert "MAIRIE-T" in text and "19,5" in text and "16/01/2025 09:00" in text
    # the contractor of TEST-CONTRAT (MAIRIE only): the school's meter is not its own
    contractor = signed_in_client(app, LOGIN_OF_ROLE["contractor"])
    other = "Capteur;Quand;Mesure\nPASTEUR-GAZ;2025-01-16 08:00;18\nMAIRIE-T;2025-01-16 08:00;19\n"
    response, _text = _upload(contractor, other, "x.csv")
    assert response.status_code == 200
    mine = _file_store(response)
    _response, text = _post(contractor, "imp-map-preview", {**CHOICE, **mine})
    assert "hors de votre contrat" in text and "PASTEUR-GAZ" not in text
    # the manager's waiting file is not the contractor's: its token finds nothing
    _response, text = _post(contractor, "imp-map-preview", {**choice, **state})
    assert "imp-map-error" in text and "MAIRIE-T" not in text
