"""The import page: the manager and the contractor upload; the programmer is refused; a
contractor's values for another contract's channel are rejected with the reason."""

from __future__ import annotations

import json

from sqlalchemy import text

from carnet.db import get_engine
from tests.helpers.browser import LOGIN_OF_ROLE, dash_callback_payload, password_of
from tests.helpers.web_client import page_content, sign_in, upload

CSV = "point;horodate;valeur\nMAIRIE-T;01/12/2024 08:00;19,5\nPASTEUR-GAZ;01/12/2024 08:00;6000\n"


def _client(app, role):
    client = app.server.test_client()
    assert sign_in(client, LOGIN_OF_ROLE[role], password_of(LOGIN_OF_ROLE[role])).status_code == 302
    return client


def _text(response) -> str:
    return json.dumps(response.get_json(), ensure_ascii=False)


def _count(engine, code):
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT COUNT(*) FROM reading r JOIN channel c ON c.id = r.channel_id"
                " WHERE c.code = :c AND r.ts = :t"
            ),
            {"c": code, "t": 1733036400},  # 01/12/2024 08:00 Paris = 07:00 UTC
        ).scalar_one()


def test_programmer_is_refused(app):
    client = _client(app, "programmer")
    assert client.get("/imports").status_code == 403
    manager = _client(app, "manager")
    deps = manager.get("/_dash-dependencies").get_json()
    payload = dash_callback_payload(deps, "imp-result", {"imp-upload.contents": ["data:,x"]})
    assert client.post("/_dash-update-component", json=payload).status_code == 403


def test_contractor_rows_for_another_contract_are_rejected(app):
    engine = get_engine()
    client = _client(app, "contractor")
    assert client.get("/imports").status_code == 200
    response = upload(client, CSV)
    assert response.status_code == 200
    body = _text(response)
    assert "le point de mesure PASTEUR-GAZ n'appartient pas à votre contrat" in body
    assert _count(engine, "MAIRIE-T") == 1 and _count(engine, "PASTEUR-GAZ") == 0
    with engine.connect() as conn:
        login = conn.execute(text("SELECT user_login FROM import_batch")).scalar_one()
    assert login == LOGIN_OF_ROLE["contractor"]


def test_manager_imports_everywhere_and_sees_history(app):
    engine = get_engine()
    client = _client(app, "manager")
    response = upload(client, CSV)
    assert response.status_code == 200
    assert _count(engine, "PASTEUR-GAZ") == 1
    body = _text(response)
    assert "releves.csv" in body and "Lot n° 1" in body
    page = page_content(client, "/imports")
    assert page.status_code == 200
    text_ = _text(page)
    assert "Imports de relevés" in text_ and "Historique des lots" in text_
    assert "releves.csv" in text_  # the history lists the batch


def test_contractor_sees_only_its_own_batches(app):
    upload(_client(app, "manager"), CSV, name="du-gestionnaire.csv")
    contractor = _client(app, "contractor")
    upload(contractor, CSV, name="de-l-exploitant.csv")
    text_ = _text(page_content(contractor, "/imports"))
    assert "de-l-exploitant.csv" in text_ and "du-gestionnaire.csv" not in text_
    deps = contractor.get("/_dash-dependencies").get_json()
    payload = dash_callback_payload(deps, "imp-rejected", {"imp-batch.value": 1})
    assert contractor.post("/_dash-update-component", json=payload).status_code == 403


def test_history_shows_batches_with_and_without_a_message(app):
    """A batch with no message (a clean import) next to one with a reason: the empty cell
    must not break the page (it answered HTTP 500 under load: a NaN in the column)."""
    engine = get_engine()
    manager = _client(app, "manager")
    upload(manager, "point;horodate;valeur\nINCONNU;01/12/2024 08:00;1\n", name="refus.csv")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT message FROM import_batch")).scalar_one()  # a reason
        conn.execute(
            text(
                "INSERT INTO import_batch (source, format, origin, status, started_at,"
                " rows_read, rows_inserted, rows_updated, rows_unchanged, rows_rejected,"
                " rows_quarantined, user_login)"
                " VALUES ('sans-message.csv', 'generic', 'csv', 'ok', :now, 1, 1, 0, 0, 0, 0,"
                " 'agent')"
            ),
            {"now": "2026-12-01 08:00:00"},
        )
    page = page_content(manager, "/imports")
    assert page.status_code == 200
    body = _text(page)
    assert "sans-message.csv" in body and "refus.csv" in body
    assert "nan" not in body.replace("financ", "")
