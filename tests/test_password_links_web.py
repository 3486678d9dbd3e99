"""`/mot-de-passe/<jeton>` over HTTP, without sign-in: an unknown token and a spent one get the
same 404 page, a GET (a link preview) spends nothing, the token never leaves in a Referer, and
the page is not cached."""

from __future__ import annotations

from carnet.admin_passwords import issue_link
from carnet.db import session_scope
from carnet.users import authenticate
from dashboards.app import create_app
from tests.helpers.browser import seed_users

PASSWORD = "choisi-par-moi-1"


def test_the_link_page_over_http(db_url, engine):
    seed_users(engine)
    with session_scope(engine) as s:
        path = issue_link(s, "agent", "gestionnaire")
    client = create_app(db_url).server.test_client()

    unknown = client.get("/mot-de-passe/pas-un-jeton")
    assert unknown.status_code == 404 and "inconnu, expiré" in unknown.text
    for _ in range(2):  # previews spend nothing
        page = client.get(path)
        assert page.status_code == 200 and "« agent »" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in page.headers

    short = client.post(path, data={"password": "court", "confirmation": "court"})
    assert short.status_code == 400 and "trop court" in short.text
    done = client.post(path, data={"password": PASSWORD, "confirmation": PASSWORD})
    assert done.status_code == 200 and "Mot de passe enregistré" in done.text
    again = client.post(path, data={"password": "autre-secret-9", "confirmation": "autre-secret-9"})
    assert again.status_code == 404 and again.text == unknown.text
    with session_scope(engine) as s:
        assert authenticate(s, "agent", PASSWORD) is not None
        assert authenticate(s, "agent", "autre-secret-9") is None
