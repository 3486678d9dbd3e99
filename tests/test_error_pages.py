"""French error pages in the app's frame (issue 15): a dead or renewed QR link, an unknown
page, asset or display screen, a refused page, a wrong method and a server error answer their
HTTP status with a French page (the app's top bar, a link home), never the framework's English
« Not Found » or a traceback; the Dash API gets a short French JSON instead."""

from __future__ import annotations

from sqlalchemy import select, text

from carnet.db import session_scope
from carnet.models import Building, new_qr_token
from tests.helpers.web_client import body, page_content, sign_in

ENGLISH = ("Not Found", "Internal Server Error", "Method Not Allowed", "Forbidden", "Traceback")


def _client(app, login):
    client = app.server.test_client()
    sign_in(client, login)
    return client


def _french_page(response, status: int, *words: str) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == status, (response.status_code, page[:300])
    assert response.mimetype == "text/html"
    for english in ENGLISH:
        assert english not in page, english
    assert '<html lang="fr">' in page and 'name="viewport"' in page  # readable on a phone
    assert 'class="topbar"' in page and 'href="/"' in page  # the app's frame, the way home
    for word in words:
        assert word in page, word
    return page


def _qr_token(engine, code="MAIRIE") -> str:
    with session_scope(engine) as s:
        return s.scalar(select(Building.qr_token).where(Building.code == code))


def test_a_dead_or_renewed_qr_link_says_so_in_french(app, engine):
    agent = _client(app, "agent")
    old = _qr_token(engine)
    assert agent.get(f"/signaler/{old}").status_code == 200
    with session_scope(engine) as s:  # the sheet is reprinted with a new code
        s.scalar(select(Building).where(Building.code == "MAIRIE")).qr_token = new_qr_token()
    _french_page(agent.get(f"/signaler/{old}"), 404, "QR code", "plus valable")
    _french_page(agent.get("/signaler/jamais-imprime"), 404, "plus valable")
    assert agent.get(f"/signaler/{_qr_token(engine)}").status_code == 200


def test_unknown_addresses_answer_404_in_french(app):
    manager = _client(app, "gestionnaire")
    unknown = manager.get("/adresse-qui-n-existe-pas")
    assert unknown.status_code == 404  # the app's index: Dash draws its page in the frame
    rendered = body(page_content(manager, "/adresse-qui-n-existe-pas"))
    assert "Page introuvable" in rendered and "Not Found" not in rendered
    _french_page(manager.get("/assets/inconnu.css"), 404, "introuvable")
    _french_page(manager.get("/_dash-component-suites/nope/x.js"), 404, "introuvable")
    _french_page(manager.get("/pieces-jointes/999999"), 404, "Page introuvable")
    _french_page(manager.get("/batiments/NOPE/qr"), 404)
    screen = manager.get("/affichage/jeton-inconnu")  # the public screens' own French page
    assert screen.status_code == 404 and "Affichage indisponible" in screen.get_data(as_text=True)
    assert manager.get("/").status_code == 200 and manager.get("/portefeuille").status_code == 200


def test_refusals_and_wrong_methods_answer_in_french(app):
    agent = _client(app, "agent")
    _french_page(agent.get("/equipements"), 403, "Accès refusé", "Équipements")
    _french_page(agent.get("/export/finances/C1/2025-10.csv"), 403, "Accès refusé")
    wrong = agent.delete("/pieces-jointes/1")
    _french_page(wrong, 405, "Action impossible")
    assert "GET" in wrong.headers["Allow"]
    anonymous = app.server.test_client().get("/adresse-qui-n-existe-pas")
    assert anonymous.status_code == 302 and "/connexion" in anonymous.headers["Location"]


def test_a_server_error_shows_a_french_page_without_its_details(app, engine):
    manager = _client(app, "gestionnaire")
    assert manager.get("/pieces-jointes/1").status_code == 404
    with engine.begin() as conn:  # the database lost a table: every read of it fails
        conn.execute(text("DROP TABLE attachment"))
    page = _french_page(manager.get("/pieces-jointes/1"), 500, "Une erreur est survenue")
    assert "attachment" not in page and "sqlalchemy" not in page.lower()
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE device_status"))
    api = page_content(manager, "/equipements")  # a Dash callback failing the same way
    assert api.status_code == 500
    assert api.get_json() == {"erreur": "Une erreur est survenue"}
