"""Sign-in and server-side authorisation of the dashboards, over plain HTTP (Flask test client,
and `requests` against the app served by waitress)."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest
import requests
from dash._pages import _path_to_page

from carnet.db import get_engine, session_scope
from carnet.models import User
from carnet.roles import ROLE_LABELS_FR, can, is_contractor
from carnet.users import set_user
from dashboards import auth
from dashboards.app import create_app
from tests.helpers.browser import (
    LOGIN_OF_ROLE,
    USERS,
    dash_callback_payload,
    http_session,
    password_of,
    seed_users,
)
from tests.helpers.seed import seed_town
from tests.helpers.web_client import (
    CSRF,
    body,
    callback,
    components,
    page_content,
    sign_in,
    signed_in_client,
)

PORTFOLIO_ROLES = {role for role in LOGIN_OF_ROLE if can(role, "portfolio.view")}


def nav_links(client) -> dict[str, str]:
    layout = client.get("/_dash-layout").get_json()
    return {
        c["props"]["href"]: c["props"]["children"]
        for c in components(layout)
        if c["props"].get("className") == "nav-link"
    }


def test_anonymous_page_request_is_redirected_to_sign_in(app):
    client = app.server.test_client()
    for path in ("/", "/portefeuille", "/portefeuille?x=1", "/nimporte-quoi"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/connexion?suivant=")
    sign_in_page = client.get("/connexion")
    assert sign_in_page.status_code == 200
    assert "Mot de passe" in sign_in_page.text and 'lang="fr"' in sign_in_page.text


def test_anonymous_callback_and_api_requests_get_401(app):
    client = app.server.test_client()
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/_dash-dependencies").status_code == 401
    deps = signed_in_client(app, "gestionnaire").get("/_dash-dependencies").get_json()
    payload = dash_callback_payload(deps, "portfolio-table-wrap", {"portfolio-search.value": "a"})
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 401
    assert "Hôtel de ville" not in body(response)
    assert client.post("/portefeuille").status_code == 401


def test_wrong_password_is_refused_with_the_same_message_as_an_unknown_login(app):
    client = app.server.test_client()
    wrong = sign_in(client, "gestionnaire", "pas-le-bon-mot-de-passe")
    unknown = sign_in(client, "personne", "pas-le-bon-mot-de-passe")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Identifiant ou mot de passe incorrect." in body(response)
        assert "pas-le-bon-mot-de-passe" not in body(response)
    assert wrong.text.replace("gestionnaire", "X") == unknown.text.replace("personne", "X")
    assert client.get("/portefeuille").status_code == 302


def test_the_sign_in_form_escapes_what_it_echoes(app):
    client = app.server.test_client()
    evil = '"><script>alert(1)</script>'
    response = sign_in(client, evil, "pas-le-bon-mot-de-passe", suivant="/" + evil)
    assert response.status_code == 401
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_sign_in_without_the_form_token_is_refused(app):
    client = app.server.test_client()
    response = client.post(
        "/connexion", data={"login": "gestionnaire", "password": password_of("gestionnaire")}
    )
    assert response.status_code == 400
    assert client.get("/portefeuille").status_code == 302


def test_sign_in_redirects_to_a_local_page_only_and_sets_a_safe_cookie(app):
    client = app.server.test_client()
    response = sign_in(client, "gestionnaire", suivant="/portefeuille")
    assert response.status_code == 302 and response.headers["Location"] == "/portefeuille"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        client = app.server.test_client()
        assert sign_in(client, "gestionnaire", suivant=evil).headers["Location"] == "/"


def test_sign_out_ends_the_session(app):
    client = signed_in_client(app, "gestionnaire")
    assert client.get("/portefeuille").status_code == 200
    assert client.get("/deconnexion").status_code == 200  # GET only asks to confirm
    assert client.get("/portefeuille").status_code == 200
    token = CSRF.search(client.get("/deconnexion").text).group(1)
    assert client.post("/deconnexion", data={"csrf": token}).status_code == 303
    assert client.get("/portefeuille").status_code == 302
    assert client.get("/_dash-layout").status_code == 401


def test_a_password_change_or_deactivation_ends_open_sessions(app, db_url):
    client = signed_in_client(app, "gestionnaire")
    other = signed_in_client(app, "finances")
    with session_scope(get_engine(db_url)) as s:
        set_user(s, "gestionnaire", "manager", password="un-nouveau-mot-2")
        s.query(User).filter(User.login == "finances").update({"active": False})
    assert client.get("/portefeuille").status_code == 302
    assert other.get("/portefeuille").status_code == 302
    assert sign_in(app.server.test_client(), "finances").status_code == 401


@pytest.mark.parametrize("role", sorted(LOGIN_OF_ROLE))
def test_each_role_sees_only_its_pages_in_the_navigation(app, role):
    login = LOGIN_OF_ROLE[role]
    client = signed_in_client(app, login)
    links = nav_links(client)
    assert ("/portefeuille" in links) == can(role, "portfolio.view")
    import dash

    for page in dash.page_registry.values():
        capability = page.get("capability")
        if capability is not None and not can(role, capability):
            assert page["path"] not in links
    layout_text = json.dumps(client.get("/_dash-layout").get_json(), ensure_ascii=False)
    assert USERS[login][2] in layout_text and ROLE_LABELS_FR[role] in layout_text
    home = page_content(client, "/")
    assert home.status_code == 200
    if is_contractor(role):  # its landing page (issue 12), its pages stay in the navigation
        assert "landing-season" in body(home) and "home-pages" not in body(home)
    else:  # a welcome with links to the role's pages
        assert ("Portefeuille" in body(home)) == can(role, "portfolio.view")


@pytest.mark.parametrize("role", sorted(LOGIN_OF_ROLE))
def test_portfolio_page_and_its_callback_are_refused_to_roles_without_it(app, role):
    client = signed_in_client(app, LOGIN_OF_ROLE[role])
    page = client.get("/portefeuille")
    table = callback(client, "portfolio-table-wrap", {"portfolio-search.value": "o"})
    routed = page_content(client, "/portefeuille")
    if role in PORTFOLIO_ROLES:
        assert page.status_code == 200
        assert table.status_code == 200 and "portfolio-table" in body(table)
        assert "portfolio-summary" in body(routed)
        # building names link to the building's page only where a page serves it for the role
        record, _vars = _path_to_page("batiments/MAIRIE")
        linked = bool(record) and (
            record.get("capability") is None or can(role, record["capability"])
        )
        assert ('"href": "/batiments/MAIRIE"' in body(routed)) == linked
    else:
        assert page.status_code == 403 and "Accès refusé" in page.text
        assert table.status_code == 403
        assert "Hôtel de ville" not in body(table) and "MAIRIE" not in body(table)
        assert routed.status_code == 200 and "Accès refusé" in body(routed)
        assert "MAIRIE" not in body(routed)


def test_contractor_sees_only_its_contract_buildings(app):
    manager = signed_in_client(app, "gestionnaire")
    contractor = signed_in_client(app, "exploitant")
    everything = body(page_content(manager, "/portefeuille"))
    for code in ("MAIRIE", "ECOLE-PASTEUR", "GYMNASE"):
        assert code in everything
    for response in (
        page_content(contractor, "/portefeuille"),
        callback(contractor, "portfolio-table-wrap", {"portfolio-search.value": ""}),
    ):
        assert response.status_code == 200
        assert "MAIRIE-GAZ" in body(response)
        assert "ECOLE-PASTEUR" not in body(response) and "GYMNASE" not in body(response)


def test_guarded_download_route_refuses_other_roles(db_url):
    engine = get_engine(db_url)
    seed_users(engine)

    @auth.route("/test-export.csv", "finance.export")
    def export():
        return "a;b\n", 200, {"Content-Type": "text/csv"}

    try:
        app = create_app(db_url)
    finally:
        auth.ROUTES.pop("/test-export.csv")
    assert app.server.test_client().get("/test-export.csv").status_code == 302
    for role, login in LOGIN_OF_ROLE.items():
        response = signed_in_client(app, login).get("/test-export.csv")
        assert response.status_code == (200 if can(role, "finance.export") else 403), role


def test_secret_key_is_generated_once_and_private(db_url, monkeypatch):
    from dashboards.app import secret_key

    monkeypatch.delenv("CARNET_SECRET_KEY", raising=False)
    first, second = secret_key(), secret_key()
    assert first == second and len(first) >= 32
    from carnet.config import carnet_home

    mode = stat.S_IMODE(os.stat(carnet_home() / "secret_key").st_mode)
    assert mode == 0o600
    monkeypatch.setenv("CARNET_SECRET_KEY", "depuis-l-environnement")
    assert secret_key() == "depuis-l-environnement"


def test_secret_key_file_is_never_seen_empty_by_a_process_starting_alongside(db_url, monkeypatch):
    """Two server processes starting together on a fresh home: the second one, reading while
    the first is still generating its key, gets the same key, never an empty one (CI saw a
    sign-in page fail so: its two test workers shared the default home)."""
    import secrets as secrets_module

    from carnet.config import carnet_home
    from dashboards.app import secret_key

    monkeypatch.delenv("CARNET_SECRET_KEY", raising=False)
    real_token_hex = secrets_module.token_hex
    seen_meanwhile = []

    def token_hex_while_another_process_starts(nbytes=None):
        if not seen_meanwhile:  # the other process asks for the key while this one makes it
            seen_meanwhile.append(None)
            seen_meanwhile[0] = secret_key()
        return real_token_hex(nbytes)

    monkeypatch.setattr(secrets_module, "token_hex", token_hex_while_another_process_starts)
    mine = secret_key()
    assert len(mine) == 64 and seen_meanwhile == [mine]
    assert (carnet_home() / "secret_key").read_text(encoding="ascii") == mine
    assert [p.name for p in carnet_home().glob(".secret_key-*")] == []


def test_an_empty_secret_key_file_left_by_a_crash_is_replaced(db_url, monkeypatch):
    from carnet.config import carnet_home
    from dashboards.app import secret_key

    monkeypatch.delenv("CARNET_SECRET_KEY", raising=False)
    path = carnet_home() / "secret_key"
    path.write_text("", encoding="ascii")
    key = secret_key()
    assert len(key) == 64 and path.read_text(encoding="ascii") == key == secret_key()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_test_without_a_database_never_uses_the_checkouts_home():
    """A test that sets no home of its own gets its worker's (conftest `_own_home`): the
    checkout's `var/` is where `make demo` keeps its key and database, and two workers
    sharing it is how a sign-in page once failed in CI."""
    from pathlib import Path

    from carnet.config import carnet_home

    checkout_var = (Path(__file__).resolve().parents[1] / "var").resolve()
    assert carnet_home() != checkout_var
    assert checkout_var not in carnet_home().parents


def test_raw_http_callback_of_a_refused_role_gets_403_from_the_served_app(live_app):
    seed_town(live_app.engine)
    base = live_app.url
    anonymous = requests.Session()
    assert anonymous.get(base + "portefeuille", allow_redirects=False).status_code == 302
    manager = http_session(base, "gestionnaire", password_of("gestionnaire"))
    deps = manager.get(base + "_dash-dependencies", timeout=10).json()
    payload = dash_callback_payload(deps, "portfolio-table-wrap", {"portfolio-search.value": "h"})
    assert anonymous.post(base + "_dash-update-component", json=payload).status_code == 401
    ok = manager.post(base + "_dash-update-component", json=payload, timeout=10)
    assert ok.status_code == 200 and "Hôtel de ville" in body(ok)
    for role in ("programmer", "agent"):
        login = LOGIN_OF_ROLE[role]
        http = http_session(base, login, password_of(login))
        assert http.get(base + "portefeuille", timeout=10).status_code == 403
        refused = http.post(base + "_dash-update-component", json=payload, timeout=10)
        assert refused.status_code == 403
        assert "Hôtel de ville" not in body(refused)


def test_repeated_wrong_passwords_are_slowed_down(app):
    client = app.server.test_client()
    limit = app.server.extensions["carnet_sign_in_limiter"].max_failures
    for _ in range(limit):
        assert sign_in(client, "finances", "devine-encore-1").status_code == 401
    blocked = sign_in(client, "finances")  # even the right password, for now
    assert blocked.status_code == 429 and "Trop d’essais" in body(blocked)
    assert client.get("/portefeuille").status_code == 302
    # another login is not affected
    assert sign_in(app.server.test_client(), "gestionnaire").status_code == 302


def test_every_server_callback_is_guarded_and_refuses_roles_without_its_capability(app):
    """Every callback of every page (this shell's and the other pages') declares a capability
    with `guarded`, and a raw request from a role without it gets 403."""
    clients = {role: signed_in_client(app, login) for role, login in LOGIN_OF_ROLE.items()}
    anonymous = app.server.test_client()
    deps = clients["manager"].get("/_dash-dependencies").get_json()
    tried = 0
    for dep in deps:
        cb = app.callback_map[dep["output"]]
        func = cb.get("callback")
        if func is None or dep["output"].startswith(".._pages_content."):
            continue  # clientside (runs in the browser) / Dash's router (layouts are guarded)
        capability = getattr(func, "carnet_capability", None)
        assert capability is not None, f"callback {dep['output']} is not @guarded"
        payload = dash_callback_payload(deps, dep["output"])
        assert anonymous.post("/_dash-update-component", json=payload).status_code == 401
        for role, client in clients.items():
            if not can(role, capability):
                response = client.post("/_dash-update-component", json=payload)
                assert response.status_code == 403, (dep["output"], role, response.status_code)
                tried += 1
    assert tried > 0


def _sample_url(rule: str) -> str:
    """A concrete URL for a Flask rule or Dash path template (`<int:id>` -> 1, others -> x)."""
    return re.sub(r"<(?:(\w+):)?\w+>", lambda m: "1" if m.group(1) == "int" else "x", rule)


def test_every_page_and_download_refuses_roles_without_its_capability(app):
    import dash

    clients = {role: signed_in_client(app, login) for role, login in LOGIN_OF_ROLE.items()}
    anonymous = app.server.test_client()
    tried = 0
    for page in dash.page_registry.values():
        capability = page.get("capability")
        if capability is None:
            continue
        path = _sample_url(page.get("path_template") or page["path"])
        assert anonymous.get(path).status_code == 302
        for role, client in clients.items():
            response = client.get(path)
            if can(role, capability):
                assert response.status_code == 200, (path, role)
            else:
                assert response.status_code == 403, (path, role)
                routed = page_content(client, path)
                assert routed.status_code == 200 and "Accès refusé" in body(routed)
                tried += 1
    for rule, (_endpoint, _view, methods, capability) in auth.ROUTES.items():
        url = _sample_url(rule)
        method = "get" if "GET" in methods else "post"
        assert getattr(anonymous, method)(url).status_code in (302, 401)
        for role, client in clients.items():
            if not can(role, capability):
                assert getattr(client, method)(url).status_code == 403, (rule, role)
                tried += 1
    assert tried > 0


def test_an_unknown_login_costs_a_password_check_like_a_wrong_password(app, monkeypatch):
    """No timing hint either: both refusals run exactly one password hash check."""
    import carnet.users as users_module

    calls = []
    real_check = users_module.check_password_hash

    def counting(hash_, password):
        calls.append(hash_)
        return real_check(hash_, password)

    monkeypatch.setattr(users_module, "check_password_hash", counting)
    client = app.server.test_client()
    for login in ("gestionnaire", "personne"):
        calls.clear()
        assert sign_in(client, login, "pas-le-bon-mot-de-passe").status_code == 401
        assert len(calls) == 1, login
