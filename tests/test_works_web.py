"""Roles of the works programme and of the users' screens, the logbook kind `usage`, and the
users' screen `/affichage/<jeton>`: renders for a valid token without sign-in, shows no euros,
names or logins, refuses a revoked (or unknown) token in French."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from carnet.access import CarnetPermissionError
from carnet.db import session_scope
from carnet.display import contributions, set_tips, set_token
from carnet.logbook import add_entry
from carnet.models import Building, ContractBuilding, User
from carnet.works import add_works, works_rows
from dashboards.app import create_app
from tests.helpers.browser import USERS
from tests.helpers.carnet_web_seed import seed_carnet
from tests.helpers.web_client import body, callback, sign_in


def client_for(app, login: str):
    client = app.server.test_client()
    assert sign_in(client, login).status_code == 302, login
    return client


def _user(s, login: str) -> User:
    return s.scalar(select(User).where(User.login == login))


@pytest.fixture
def town(engine):
    seed_carnet(engine)
    with session_scope(engine) as s:
        manager, agent = _user(s, "gestionnaire"), _user(s, "agent")
        add_works(s, manager, "MAIRIE", "Isolation des combles", dt.date(2025, 9, 1), "42 500",
                  expected_mwh=18.0, subsidies=[("CEE", "7 000")])  # fmt: skip
        obs = add_entry(s, agent, "MAIRIE", "observation", "Il fait 15 °C dans la salle du conseil",
                        title="Salle du conseil froide")  # fmt: skip
        obs.answer, obs.status = "Vanne de zone débloquée le lendemain.", "done"
        add_entry(s, agent, "MAIRIE", "observation", "Fenêtre du hall qui ne ferme plus",
                  title="Fenêtre du hall")  # fmt: skip
        add_entry(s, agent, "MAIRIE", "usage", "Portes coupe-feu fermées le soir par l'agent",
                  title="Fermeture des portes coupe-feu")  # fmt: skip
        mairie = s.scalar(select(ContractBuilding).join(Building).where(Building.code == "MAIRIE"))
        mairie.reference_year, mairie.reference_kwh = 2023, 200_000.0
        token = set_token(s, manager, "MAIRIE")
        set_tips(s, manager, "MAIRIE", "Fermez les portes coupe-feu\nConsigne 19 °C affichée")
    return token


def test_who_may_see_and_write_the_programme(engine, town):
    with session_scope(engine) as s:
        assert [r["title"] for r in works_rows(s, _user(s, "finances"))] == [
            "Isolation des combles"
        ]
        for login in ("exploitant", "agent", "programmation"):
            with pytest.raises(CarnetPermissionError):
                works_rows(s, _user(s, login))
        for login in ("finances", "exploitant", "agent"):
            with pytest.raises(CarnetPermissionError):
                add_works(s, _user(s, login), "MAIRIE", "x", dt.date(2025, 1, 1), 1)
        for login in ("finances", "exploitant", "agent"):
            with pytest.raises(CarnetPermissionError):
                set_token(s, _user(s, login), "MAIRIE")
        # the programmer writes no usage action (no logbook), the agent does
        with pytest.raises(CarnetPermissionError):
            add_entry(s, _user(s, "programmation"), "MAIRIE", "usage", "Consigne affichée")


def test_the_pages_by_role(engine, town):
    app = create_app()
    allowed = {"/programme-travaux": {"gestionnaire", "finances"},
               "/ecrans-usagers": {"gestionnaire"}}  # fmt: skip
    for path, logins in allowed.items():
        for login in USERS:
            client = client_for(app, login)
            status = client.get(path).status_code
            assert status == (200 if login in logins else 403), (path, login, status)
    manager = client_for(app, "gestionnaire")
    page = body(
        callback(manager, "_pages_content", {"_pages_location.pathname": "/programme-travaux"})
    )
    assert "Isolation des combles" in page and "CEE" in page
    assert "MAIRIE : trajectoire du décret tertiaire" in page and "Avec les travaux" in page
    screens = body(
        callback(
            manager,
            "_pages_content",
            {
                "_pages_location.pathname": "/ecrans-usagers",
                "_pages_location.search": "?batiment=MAIRIE",
            },
        )
    )
    assert "2 signalement(s), dont 1 traité(s)" in screens and "1 action(s) d'usage" in screens
    # finance reads the programme but its add callback is refused
    finance = client_for(app, "finances")
    refused = callback(finance, "works-msg", {"works-add.n_clicks": 1})
    assert refused.status_code == 403


def test_contributions_show_what_followed_what(engine, town):
    with session_scope(engine) as s:
        events = contributions(s, _user(s, "gestionnaire"), "MAIRIE")
    assert [(e["kind"], e["answered"]) for e in events] == [
        ("observation", True), ("observation", False), ("usage", False)
    ]  # fmt: skip


def test_the_users_screen_renders_for_its_token_with_nothing_personal_or_financial(engine, town):
    app = create_app()
    client = app.server.test_client()  # nobody signed in
    page = client.get(f"/affichage/{town}")
    assert page.status_code == 200
    html = page.text
    assert 'http-equiv="refresh"' in html and 'name="viewport"' in html
    assert "Hôtel de ville" in html
    assert "Salle du conseil froide" in html and "Vanne de zone débloquée" in html
    assert "Fenêtre du hall" in html
    assert "Fermez les portes coupe-feu" in html and "Consigne 19 °C affichée" in html
    assert "€" not in html and "EUR" not in html and "MWh" not in html
    for login, (_role, _pw, name) in USERS.items():
        assert login not in html and name not in html, login
    assert "Isolation des combles" not in html  # the programme's money stays inside


def test_a_revoked_or_unknown_token_is_refused_in_french(engine, town):
    app = create_app()
    client = app.server.test_client()
    with session_scope(engine) as s:
        assert set_token(s, _user(s, "gestionnaire"), "MAIRIE", revoke=True) is None
    for path in (f"/affichage/{town}", "/affichage/inconnu", "/affichage/", "/affichage/a/b"):
        refused = client.get(path)
        assert refused.status_code == 404, path
        assert "Cet affichage n'existe pas ou a été retiré par la commune" in refused.text
        assert "/connexion" not in refused.headers.get("Location", "")
