"""The web app's security findings (issue 17), each with a test that failed before its fix:
off-site redirects after sign-in, sessions that outlive a sign-out, sign-out by GET, no
Content-Security-Policy, a sign-in limiter that locked out the rightful user but let 200 logins
through, the signalement page showing rooms out of scope, 500 on malformed asset paths.

Flask test client on the real app and database (SQLite, or PostgreSQL with
`CARNET_TEST_DATABASE_URL`); the browser side of the CSP is in `test_browser_security.py`."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from sqlalchemy import select, update

from carnet.db import get_engine, session_scope
from carnet.models import Building, User
from carnet.portfolio import remove
from carnet.users import set_user
from dashboards.app import create_app
from tests.helpers.browser import password_of, seed_users
from tests.helpers.carnet_web_seed import OTHER_PASSWORD, seed_carnet

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
HOST = "localhost"  # the Flask test client's host


@pytest.fixture
def app(db_url):
    seed_users(get_engine(db_url))
    return create_app(db_url)


class FrozenClock:
    """A clock the limiter reads instead of `time.monotonic`: the tests count refusals without
    waiting for real seconds."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def frozen_limiter(app) -> FrozenClock:
    clock = FrozenClock()
    app.server.extensions["carnet_sign_in_limiter"].clock = clock
    return clock


def sign_in(client, login, password=None, suivant=None, addr="127.0.0.1", forwarded_for=None):
    env = {"REMOTE_ADDR": addr}
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    token = CSRF.search(client.get("/connexion", environ_base=env).text).group(1)
    data = {"login": login, "password": password or password_of(login), "csrf": token}
    if suivant is not None:
        data["suivant"] = suivant
    return client.post("/connexion", data=data, environ_base=env, headers=headers)


def signed_in(app, login, password=None):
    client = app.server.test_client()
    assert sign_in(client, login, password).status_code == 302
    return client


def browser_target(location: str) -> urllib.parse.SplitResult:
    """Where a browser goes for this Location header: it drops tabs and newlines and reads a
    backslash as a slash before resolving it against the page's address (WHATWG URL)."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    return urllib.parse.urlsplit(urllib.parse.urljoin(f"http://{HOST}/connexion", cleaned))


# ------------------------------------------------------------- 1. same-site redirects only

OFF_SITE = [
    "/\t/evil.example/page",
    "/%09/evil.example/page",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "//evil.example/x",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%255Cevil.example",
    "/%2509/evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "evil.example",
]
SAME_SITE = ["/portefeuille", "/batiments/MAIRIE?onglet=carnet", "/economies?saison=2025-2026"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_sign_in_never_redirects_off_site(app, target):
    # the form's hidden field, as posted
    response = sign_in(app.server.test_client(), "gestionnaire", suivant=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/", target
    # the link a phishing mail would carry: /connexion?suivant=..., opened signed in or not
    client = app.server.test_client()
    query = "/connexion?suivant=" + urllib.parse.quote(target, safe="/%:")
    page = client.get(query)
    assert 'name="suivant" value="/"' in page.text
    assert sign_in(client, "gestionnaire").status_code == 302
    again = client.get(query)
    assert again.status_code == 302 and again.headers["Location"] == "/"
    assert browser_target(again.headers["Location"]).netloc == HOST


def test_the_reported_link_stays_on_site(app):
    client = signed_in(app, "gestionnaire")
    response = client.get("/connexion?suivant=/%09/host/page")
    assert response.status_code == 302
    assert browser_target(response.headers["Location"]).netloc == HOST


@pytest.mark.parametrize("target", SAME_SITE)
def test_sign_in_keeps_a_same_site_destination(app, target):
    response = sign_in(app.server.test_client(), "gestionnaire", suivant=target)
    assert response.status_code == 302 and response.headers["Location"] == target


# ------------------------------------------------- 2. a server-side session version


def session_cookie(client) -> str:
    return client.get_cookie("carnet_session").value


def client_with_cookie(app, value: str):
    client = app.server.test_client()
    client.set_cookie("carnet_session", value, domain=HOST)
    return client


def sign_out(client):
    """Sign out as the shell's button does: POST with the session's token."""
    page = client.get("/deconnexion")
    token = CSRF.search(page.text).group(1)
    return client.post("/deconnexion", data={"csrf": token})


def version_of(engine, login) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(User.session_version).where(User.login == login))


def test_a_cookie_taken_before_sign_out_is_dead_after_it(app, db_url):
    engine = get_engine(db_url)
    client = signed_in(app, "gestionnaire")
    stolen = session_cookie(client)
    assert client_with_cookie(app, stolen).get("/portefeuille").status_code == 200
    before = version_of(engine, "gestionnaire")
    response = sign_out(client)
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/connexion")
    assert version_of(engine, "gestionnaire") == before + 1
    replay = client_with_cookie(app, stolen)
    page = replay.get("/portefeuille")
    assert page.status_code == 302 and page.headers["Location"].startswith("/connexion")
    assert replay.get("/_dash-layout").status_code == 401
    # a fresh sign-in works, with a new cookie
    fresh = signed_in(app, "gestionnaire")
    assert fresh.get("/portefeuille").status_code == 200
    assert session_cookie(fresh) != stolen


def test_a_password_reset_or_a_deactivation_ends_sessions_for_good(app, db_url):
    engine = get_engine(db_url)
    manager = signed_in(app, "gestionnaire")
    finance = signed_in(app, "finances")
    old_finance_cookie = session_cookie(finance)
    v_manager, v_finance = version_of(engine, "gestionnaire"), version_of(engine, "finances")
    with session_scope(engine) as s:
        set_user(s, "gestionnaire", "manager", password="un-nouveau-mot-2")
        remove(s, "user", "finances", actor="test")
    assert version_of(engine, "gestionnaire") == v_manager + 1
    assert version_of(engine, "finances") == v_finance + 1
    assert manager.get("/portefeuille").status_code == 302
    assert finance.get("/portefeuille").status_code == 302
    # reactivated later (same password): the cookie of before stays dead
    with session_scope(engine) as s:
        s.execute(update(User).where(User.login == "finances").values(active=True))
    assert client_with_cookie(app, old_finance_cookie).get("/portefeuille").status_code == 302
    assert signed_in(app, "finances").get("/portefeuille").status_code == 200


def test_a_role_change_does_not_end_the_session(app, db_url):
    client = signed_in(app, "finances")
    with session_scope(get_engine(db_url)) as s:
        set_user(s, "finances", "manager")
    # still signed in: the unknown page's 404 in the app's frame, not the sign-in redirect
    assert client.get("/carnet-inexistant-mais-connecte").status_code == 404


# ------------------------------------------------------- 3. sign-out by POST with a token


def test_sign_out_by_get_only_asks_for_confirmation(app):
    client = signed_in(app, "gestionnaire")
    page = client.get("/deconnexion")  # what an <img src=/deconnexion> does
    assert page.status_code == 200
    assert "Se déconnecter" in page.text and 'method="post"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get("/portefeuille").status_code == 200  # still signed in
    anonymous = app.server.test_client().get("/deconnexion")
    assert anonymous.status_code in (302, 303)
    assert anonymous.headers["Location"].startswith("/connexion")


def test_sign_out_post_needs_the_session_token(app):
    client = signed_in(app, "gestionnaire")
    for data in ({}, {"csrf": ""}, {"csrf": "un-jeton-devine"}):
        refused = client.post("/deconnexion", data=data)
        assert refused.status_code == 400, data
        assert "Le formulaire a expiré" in refused.text
        assert client.get("/portefeuille").status_code == 200
    # another user's token does not work either
    other = signed_in(app, "finances")
    other_token = CSRF.search(other.get("/deconnexion").text).group(1)
    assert client.post("/deconnexion", data={"csrf": other_token}).status_code == 400
    assert client.get("/portefeuille").status_code == 200
    assert sign_out(client).status_code in (302, 303)
    assert client.get("/portefeuille").status_code == 302
    # a POST once signed out lands on the sign-in page (no JSON error for a person)
    late = client.post("/deconnexion", data={"csrf": "x"})
    assert late.status_code in (302, 303) and late.headers["Location"].startswith("/connexion")


def _components(node):
    if isinstance(node, dict):
        if "props" in node and "type" in node:
            yield node
            yield from _components(node["props"].get("children"))
        else:
            for value in node.values():
                yield from _components(value)
    elif isinstance(node, list):
        for item in node:
            yield from _components(item)


def test_the_shell_signs_out_with_a_form_carrying_the_token(app):
    client = signed_in(app, "gestionnaire")
    layout = list(_components(client.get("/_dash-layout").get_json()))
    assert not [c for c in layout if c["props"].get("href") == "/deconnexion"]
    (form,) = [c for c in layout if c["type"] == "Form"]
    assert form["props"]["action"] == "/deconnexion"
    assert form["props"]["method"].lower() == "post"
    (button,) = [c for c in _components(form["props"]["children"]) if c["type"] == "Button"]
    assert button["props"]["type"] == "submit" and button["props"]["name"] == "csrf"
    response = client.post("/deconnexion", data={"csrf": button["props"]["value"]})
    assert response.status_code in (302, 303)
    assert client.get("/portefeuille").status_code == 302


# ------------------------------------------------------------ 4. security headers and CSP


def csp_directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no CSP on {response.request.path}"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def test_pages_carry_a_strict_content_security_policy(app):
    client = signed_in(app, "gestionnaire")
    first, second = client.get("/portefeuille"), client.get("/portefeuille")
    nonces = []
    for response in (first, second):
        csp = csp_directives(response)
        scripts = csp["script-src"]
        assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
        (nonce,) = [w[len("'nonce-") : -1] for w in scripts if w.startswith("'nonce-")]
        assert len(nonce) >= 16
        nonces.append(nonce)
        assert csp["frame-ancestors"] == ["'none'"]
        assert csp["object-src"] == ["'none'"]
        assert csp["default-src"] == ["'self'"]
        assert "base-uri" in csp and "form-action" in csp
        # every script of the Dash index carries this response's nonce (comments aside: the
        # index keeps an `<!--[if IE]><script>` that no browser runs)
        html = re.sub(r"<!--.*?-->", "", response.text, flags=re.S)
        tags = re.findall(r"<script\b[^>]*>", html)
        inline = re.findall(r"<script\b(?![^>]*\bsrc=)[^>]*>(?!</script>)", html)
        assert tags and inline, "the Dash index has its config and renderer scripts"
        assert all(f'nonce="{nonce}"' in tag for tag in tags), tags
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer")
        assert "Strict-Transport-Security" not in response.headers
    assert nonces[0] != nonces[1], "a nonce is used once"
    for path in ("/connexion", "/deconnexion", "/_dash-layout"):
        assert csp_directives(client.get(path))["frame-ancestors"] == ["'none'"], path


def test_hsts_only_behind_https(db_url, monkeypatch):
    seed_users(get_engine(db_url))
    monkeypatch.setenv("CARNET_SECURE_COOKIES", "1")
    client = create_app(db_url).server.test_client()
    hsts = client.get("/connexion").headers["Strict-Transport-Security"]
    assert re.fullmatch(r"max-age=\d+(; includeSubDomains)?", hsts)
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 15_552_000  # 180 days


# ------------------------------------------------------------ 5. the sign-in limiter


def test_many_logins_from_one_address_are_slowed_down(app):
    frozen_limiter(app)
    client = app.server.test_client()
    statuses = [
        sign_in(client, f"inconnu{i}", "devine-encore-1", addr="203.0.113.9").status_code
        for i in range(200)
    ]
    refused, checked = statuses.count(429), statuses.count(401)
    assert refused + checked == 200
    assert refused >= 180 and checked <= 20, (refused, checked)
    # another address is not slowed by this one
    assert sign_in(client, "gestionnaire", addr="198.51.100.4").status_code == 302


def test_one_login_tried_from_many_addresses_is_slowed_down(app):
    frozen_limiter(app)
    statuses = [
        sign_in(
            app.server.test_client(),
            "finances",
            "devine-encore-1",
            addr=f"10.0.{i // 250}.{i % 250}",
        ).status_code
        for i in range(100)
    ]
    refused, checked = statuses.count(429), statuses.count(401)
    assert refused >= 90 and checked <= 10, (refused, checked)


def _wait_told(response) -> int:
    match = re.search(r"réessayez dans (\d+) s", response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) == int(match.group(1))
    return int(match.group(1))


def test_the_rightful_user_waits_an_increasing_but_bounded_delay_not_a_lockout(app):
    clock = frozen_limiter(app)
    client = app.server.test_client()
    waits = []
    for _ in range(12):  # someone keeps guessing this login, waiting out each delay
        response = sign_in(client, "finances", "devine-encore-1")
        if response.status_code == 429:
            waits.append(_wait_told(response))
            clock.advance(waits[-1])
            response = sign_in(client, "finances", "devine-encore-1")
        assert response.status_code == 401
    assert waits == sorted(waits) and waits[-1] > waits[0], waits  # the delay grows
    cap = max(waits)
    assert cap <= 120, "bounded: never the old 10-minute lockout"
    # the rightful user, with the right password: told to wait at most the cap, then let in
    refused = sign_in(client, "finances")
    assert refused.status_code == 429 and "Trop d’essais" in refused.get_data(as_text=True)
    wait = _wait_told(refused)
    assert 0 < wait <= cap
    clock.advance(wait)
    assert sign_in(client, "finances").status_code == 302
    # a success forgets the login's failures: the next mistake is not delayed
    assert sign_in(app.server.test_client(), "finances", "faute-de-frappe").status_code == 401


def test_behind_a_trusted_proxy_each_client_address_counts(db_url, monkeypatch):
    seed_users(get_engine(db_url))
    monkeypatch.setenv("CARNET_TRUSTED_PROXIES", "1")
    app = create_app(db_url)
    frozen_limiter(app)
    proxy = "127.0.0.1"  # every request reaches the app from the proxy
    statuses = [
        sign_in(
            app.server.test_client(), f"x{i}", "devine-1", addr=proxy, forwarded_for="203.0.113.9"
        ).status_code
        for i in range(20)
    ]
    assert statuses.count(429) >= 8, statuses
    # another client behind the same proxy is not slowed by the first one
    other = sign_in(
        app.server.test_client(), "gestionnaire", addr=proxy, forwarded_for="198.51.100.4"
    )
    assert other.status_code == 302


def test_without_a_trusted_proxy_a_forged_forwarded_for_changes_nothing(app):
    frozen_limiter(app)
    statuses = [
        sign_in(
            app.server.test_client(), f"x{i}", "devine-1", forwarded_for=f"192.0.2.{i}"
        ).status_code
        for i in range(20)
    ]
    assert statuses.count(429) >= 8, statuses


def test_a_wrong_proxy_count_is_refused_at_start_up(db_url, monkeypatch):
    monkeypatch.setenv("CARNET_TRUSTED_PROXIES", "oui")
    with pytest.raises(ValueError, match="CARNET_TRUSTED_PROXIES"):
        create_app(db_url)


def test_the_limiter_memory_is_bounded(app):
    limiter = app.server.extensions["carnet_sign_in_limiter"]
    clock = frozen_limiter(app)
    for i in range(30_000):
        limiter.failed(f"login-{i}", f"198.18.{i // 250 % 250}.{i % 250}")
        clock.advance(0.001)
    assert limiter.tracked() <= limiter.max_keys
    assert limiter.wait_s("login-29999", "198.18.0.1") >= 0


# ---------------------------------------------------- 6. the signalement page and its scope


@pytest.fixture
def carnet_app(db_url):
    seed_carnet(get_engine(db_url))
    return create_app(db_url)


def _qr_token(app, db_url) -> str:
    manager = signed_in(app, "gestionnaire")
    assert manager.get("/batiments/MAIRIE/qr").status_code == 200
    with session_scope(get_engine(db_url)) as s:
        return s.scalar(select(Building.qr_token).where(Building.code == "MAIRIE"))


def test_the_signalement_page_shows_rooms_only_to_those_in_scope(carnet_app, db_url):
    token = _qr_token(carnet_app, db_url)
    for login in ("agent", "exploitant", "gestionnaire"):
        page = signed_in(carnet_app, login).get(f"/signaler/{token}").get_data(as_text=True)
        assert "Hôtel de ville" in page and "Salle du conseil" in page, login
    other = signed_in(carnet_app, "exploitant2", OTHER_PASSWORD)
    response = other.get(f"/signaler/{token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Hôtel de ville" in page and 'id="signal-form"' in page  # what the QR sheet shows
    for secret in ("Salle du conseil", "Accueil", "MAIRIE-CONSEIL", "MAIRIE-ACCUEIL", "MAIRIE"):
        assert secret not in page, secret
    refused = other.post(
        f"/signaler/{token}", data={"csrf": CSRF.search(page).group(1), "text": "Fuite"}
    )
    assert refused.status_code == 403
    body = refused.get_data(as_text=True)
    assert "Salle du conseil" not in body and "MAIRIE-CONSEIL" not in body
    assert "ne permet pas" in body


# -------------------------------------------------------- 7. malformed asset paths: 404

MALFORMED = [
    "/_dash-component-suites/..%2f..%2fetc/passwd",
    "/_dash-component-suites/dash/..%2f..%2fapp.py",
    "/_dash-component-suites/dash/..%2fdash.py",
    "/_dash-component-suites/%2e%2e/%2e%2e/x.js",
    "/_dash-component-suites/nope/x.js",
    "/_dash-component-suites/dash/dcc/nope.js",
    "/_dash-component-suites/dash/deps/react@18.v4_4_1m1.min.js",
    "/_dash-component-suites/dash/deps/react@18.3.1.min.js%00.html",
    "/_dash-component-suites/plotly/..%5c..%5cplotly.min.js",
    "/_dash-component-suites/dash/",
    "/assets/..%2f..%2fapp.py",
    "/assets/%2e%2e/app.py",
]


def test_malformed_asset_paths_answer_404(app):
    client = signed_in(app, "gestionnaire")
    index = client.get("/").text
    sources = re.findall(r'<script[^>]* src="(/_dash-component-suites/[^"]+)"', index)
    assert sources and client.get(sources[0]).status_code == 200
    for path in MALFORMED:
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert "Traceback" not in response.text and "registered" not in response.text
