"""The Carnet web app: a Dash multi-page app behind a Flask-Login sign-in.

Every request goes through `_guard`: anonymous users are sent to `/connexion` (pages) or get
401 (Dash API, other methods); a page whose registered `capability` the role lacks gets 403.
Callbacks and downloads check their own capability (`dashboards.auth.guarded`, `route`).
Sign-out is a POST with the session's token and ends every session of the user (session
version); headers, CSP and the sign-in limiter are in `dashboards.security`.
"""

from __future__ import annotations

import importlib
import os
import secrets
import tempfile
from pathlib import Path

import dash
import flask
import flask_login
from dash._pages import _path_to_page
from dash.exceptions import DependencyException
from werkzeug.middleware.proxy_fix import ProxyFix

from carnet.config import carnet_home
from carnet.db import get_engine, session_scope
from carnet.models import User
from carnet.users import authenticate, end_sessions
from dashboards import (
    affichage,
    auth,
    db,
    downloads,
    error_pages,
    ical_feed,
    password_links,
    security,
    shell,
)
from dashboards.components import french_dropdowns
from dashboards.security import SignInLimiter
from ingest.limits import UPLOAD_REQUEST_BYTES

HERE = Path(__file__).resolve().parent
SIGN_IN_PATH = "/connexion"
SIGN_OUT_PATH = "/deconnexion"
# /ical/ and /affichage/: the secret token in the URL is the access right
PUBLIC_PREFIXES = ("/assets/", "/ical/", "/affichage/", "/mot-de-passe/")
# the sign-out view deals with anonymous requests itself (back to the sign-in page)
PUBLIC_PATHS = {SIGN_IN_PATH, SIGN_OUT_PATH, "/_favicon.ico", "/favicon.ico"}
API_PREFIXES = ("/_dash-", "/_reload-hash", "/_alive")
# paths Dash or Flask serve themselves: what their own routes do not match is missing (404),
# never the app's page through Dash's catch-all route
RESERVED_PREFIXES = ("/_dash-", "/_reload-hash", "/_alive", "/assets/", "/static/")
CATCH_ALL_RULE = "/<path:path>"
BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."
EXPIRED_FORM = "Le formulaire a expiré, veuillez recommencer."
TRUSTED_PROXIES_ENV = "CARNET_TRUSTED_PROXIES"


class CarnetDash(dash.Dash):
    """Dash whose index page gives each of its scripts this response's CSP nonce (Dash writes
    its config, its renderer and the clientside callbacks as inline scripts)."""

    def interpolate_index(self, **kwargs) -> str:
        nonce = security.csp_nonce()
        for part in ("config", "scripts", "renderer"):
            kwargs[part] = security.add_nonce(kwargs.get(part, ""), nonce)
        return super().interpolate_index(**kwargs)


def trusted_proxies() -> int:
    """`CARNET_TRUSTED_PROXIES`: how many reverse proxies stand in front (0: none). Only then is
    `X-Forwarded-For` believed, so the limiter sees each client's own address."""
    value = os.environ.get(TRUSTED_PROXIES_ENV, "").strip() or "0"
    if not value.isdigit():
        raise ValueError(f"{TRUSTED_PROXIES_ENV} : nombre de proxys attendu, pas « {value} »")
    return int(value)


def secret_key() -> str:
    """`CARNET_SECRET_KEY`, else a key generated once and kept in CARNET_HOME/secret_key (0600)
    so that sessions survive a restart. The file appears whole or not at all (written aside,
    then linked into place): the server's other processes starting at the same moment read
    the same key, never an empty file (an empty key makes every page that uses the session
    fail)."""
    key = os.environ.get("CARNET_SECRET_KEY")
    if key:
        return key
    path = carnet_home() / "secret_key"
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
    fd, aside = tempfile.mkstemp(prefix=".secret_key-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(aside, path)  # fails if another process published its key first
        except FileExistsError:
            if not path.read_text(encoding="ascii").strip():
                os.replace(aside, path)  # an empty file left by a crash: the key replaces it
    finally:
        if os.path.exists(aside):
            os.unlink(aside)
    return path.read_text(encoding="ascii").strip()


def create_app(database_url: str | None = None) -> dash.Dash:
    french_dropdowns()  # before the pages build any
    engine = get_engine(database_url)
    secure = os.environ.get("CARNET_SECURE_COOKIES", "") == "1"
    server = flask.Flask("carnet", root_path=str(HERE))
    server.config.update(
        SECRET_KEY=secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="carnet_session",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        # an upload's base64 request, with room for the callback's other inputs
        MAX_CONTENT_LENGTH=UPLOAD_REQUEST_BYTES + 2 * 1024 * 1024,
    )
    server.config[db.ENGINE_KEY] = engine
    proxies = trusted_proxies()
    if proxies:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=proxies, x_proto=proxies)

    server.extensions["carnet_sign_in_limiter"] = SignInLimiter()
    login_manager = flask_login.LoginManager()
    login_manager.init_app(server)

    @login_manager.user_loader
    def _load_user(session_id: str):
        parsed = auth.parse_session_id(session_id)
        if parsed is None:
            return None
        with session_scope(engine) as s:
            user = s.get(User, parsed[0])
            if user is None or not user.active or not user.password_hash:
                return None
            signed = auth.signed_in_user(user)
        return signed if auth.session_matches(signed, session_id) else None

    app = CarnetDash(
        # the package name: Dash then names the page modules `dashboards.pages.x`, as a plain
        # import does, so a page imported by another module is not registered twice
        "dashboards",
        server=server,
        use_pages=True,
        pages_folder="pages",
        assets_folder=str(HERE / "assets"),
        title="Carnet",
        update_title=None,
        suppress_callback_exceptions=True,
        serve_locally=True,
        include_pages_meta=False,  # an internal tool: no social-network cards
    )
    app.index_string = app.index_string.replace("<html>", '<html lang="fr">')
    app.layout = shell.shell_layout
    app.clientside_callback(
        """function(pathname, ids) {
            return ids.map(function(id) {
                var here = pathname === id.path || pathname.startsWith(id.path + "/");
                return here ? "nav-link active" : "nav-link";
            });
        }""",
        dash.Output({"type": "nav-link", "path": dash.ALL}, "className"),
        dash.Input("_pages_location", "pathname"),
        dash.State({"type": "nav-link", "path": dash.ALL}, "id"),
    )
    app.clientside_callback(  # phones: « Menu » opens the navigation, a new page folds it
        """function(n, pathname, current) {
            var ctx = window.dash_clientside.callback_context;
            var pressed = ctx.triggered.some(function(t) {
                return t.prop_id === "nav-menu.n_clicks";
            });
            return pressed && (current || "").indexOf("nav-open") < 0 ? "nav nav-open" : "nav";
        }""",
        dash.Output("main-nav", "className"),
        dash.Input("nav-menu", "n_clicks"),
        dash.Input("_pages_location", "pathname"),
        dash.State("main-nav", "className"),
    )
    for page in dash.page_registry.values():
        shell.guard_layout(page)
    ical_feed.register(server)
    downloads.register(app)
    affichage.register(server)
    password_links.register(server)
    for module in sorted(HERE.glob("*_routes.py")):  # modules declaring `auth.route`s
        importlib.import_module(f"dashboards.{module.stem}")
    for rule, (endpoint, view, methods, _cap) in auth.ROUTES.items():
        server.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=list(methods))

    server.before_request(_guard)
    server.add_url_rule(SIGN_IN_PATH, "sign_in", _sign_in, methods=["GET", "POST"])
    server.add_url_rule(SIGN_OUT_PATH, "sign_out", _sign_out, methods=["GET", "POST"])
    error_pages.register(server)  # French pages for every other error, 500 included
    server.register_error_handler(401, _unauthorised)
    server.register_error_handler(403, _forbidden)
    # Dash raises this for a component-suite path it did not register (`..%2f`, unknown file)
    server.register_error_handler(DependencyException, _missing)
    server.after_request(_unknown_page_status)
    server.after_request(security.security_headers(secure))

    # Bind the page callbacks (collected globally by `dash.callback` when the pages were
    # imported) to this app now, not at its first real request: another app built later in
    # the same process would otherwise take them.
    server.test_client().get("/_dash-layout")
    return app


def _is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def _guard():
    path = flask.request.path
    rule = flask.request.url_rule
    if rule is not None and rule.rule == CATCH_ALL_RULE and path.startswith(RESERVED_PREFIXES):
        return _missing(None)
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    user = auth.current_user()
    if user is None:
        if _is_api(path) or flask.request.method not in ("GET", "HEAD"):
            flask.abort(401)
        target = flask.request.full_path if flask.request.query_string else path
        return flask.redirect(flask.url_for("sign_in", suivant=target))
    if not _is_api(path):
        page, _vars = _path_to_page(path.strip("/"))
        if page and not shell.page_allowed(page, user):
            return _forbidden_page(page.get("name"))
    return None


def _unknown_page_status(response: flask.Response) -> flask.Response:
    """An address no page serves answers 404 (a dead link in a bookmark or an e-mail), while
    Dash still renders its French « Page introuvable » in the app's frame."""
    rule = flask.request.url_rule
    if rule is not None and rule.rule == CATCH_ALL_RULE and response.status_code == 200:
        page, _vars = _path_to_page(flask.request.path.strip("/"))
        if not page or page["module"].endswith("not_found_404"):
            response.status_code = 404
    return response


def _safe_next(target: str | None) -> str:
    """Only a path of this site (see `security.safe_next`), never the sign-in or sign-out page."""
    return security.safe_next(target, refused_prefixes=(SIGN_IN_PATH, SIGN_OUT_PATH))


def _sign_in():
    request = flask.request
    if request.method == "GET":
        if auth.current_user() is not None:
            return flask.redirect(_safe_next(request.args.get("suivant")))
        return _sign_in_page(suivant=request.args.get("suivant", ""))
    login = (request.form.get("login") or "").strip()
    password = request.form.get("password") or ""
    token = request.form.get("csrf") or ""
    expected = flask.session.get("csrf_sign_in")
    if not expected or not secrets.compare_digest(token, expected):
        return _sign_in_page(
            error=EXPIRED_FORM, login=login, suivant=request.form.get("suivant", ""), status=400
        )
    limiter: SignInLimiter = flask.current_app.extensions["carnet_sign_in_limiter"]
    address = request.remote_addr or ""
    retry_s = limiter.retry_after_s(login, address)
    if retry_s:  # refused before any password check; the wait is not extended
        html, status, headers = _sign_in_page(
            error=f"Trop d’essais infructueux : réessayez dans {retry_s} s.",
            login=login,
            suivant=request.form.get("suivant", ""),
            status=429,
        )
        return html, status, headers | {"Retry-After": str(retry_s)}
    user = None
    if login and password:
        with session_scope(db.engine()) as s:
            # an unknown login costs the same password check as a wrong password
            found = authenticate(s, login, password)
            user = auth.signed_in_user(found) if found is not None else None
    if user is None:
        limiter.failed(login, address)
        return _sign_in_page(
            error=BAD_CREDENTIALS, login=login, suivant=request.form.get("suivant", ""), status=401
        )
    limiter.succeeded(login)
    flask.session.clear()  # a fresh session on every sign-in
    flask_login.login_user(user)
    auth.session_token()  # this session's token, for the sign-out form
    return flask.redirect(_safe_next(request.form.get("suivant")))


def _sign_out():
    """GET: a confirmation page (a link or an `<img>` elsewhere signs nobody out). POST with the
    session's token: every session of the user ends (its session version is incremented)."""
    user = auth.current_user()
    if user is None:
        return flask.redirect(flask.url_for("sign_in"), code=303)
    if flask.request.method != "POST":
        return _sign_out_page(user)
    if not auth.session_token_ok(flask.request.form.get("csrf")):
        return _sign_out_page(user, error=EXPIRED_FORM, status=400)
    with session_scope(db.engine()) as s:
        end_sessions(s, user.id)
    flask_login.logout_user()
    flask.session.clear()
    return flask.redirect(flask.url_for("sign_in"), code=303)


def _missing(_error):
    return error_pages.error_page(404, "Ressource introuvable.")


def _unauthorised(_error):
    if _is_api(flask.request.path) or flask.request.method not in ("GET", "HEAD"):
        return flask.jsonify(erreur="Connexion requise."), 401
    return flask.redirect(flask.url_for("sign_in"))


def _forbidden(_error):
    if _is_api(flask.request.path):
        return flask.jsonify(erreur="Accès refusé : votre rôle ne le permet pas."), 403
    return _forbidden_page(None)


SIGN_IN_HTML = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connexion · Carnet</title>
<link rel="stylesheet" href="/assets/carnet.css"></head>
<body class="sign-in-body">
<main class="sign-in-card">
  <div class="sign-in-brand"><span class="brand-mark">◧</span> Carnet</div>
  <p class="sign-in-lead">Carnet de santé des bâtiments communaux et suivi du contrat de chauffage.</p>
  {% if error %}<div class="alert alert-error" id="sign-in-error" role="alert">{{ error }}</div>{% endif %}
  <form method="post" action="/connexion" autocomplete="on">
    <input type="hidden" name="csrf" value="{{ csrf }}">
    <input type="hidden" name="suivant" value="{{ suivant }}">
    <label for="login">Identifiant</label>
    <input id="login" name="login" type="text" value="{{ login }}" autocomplete="username" required autofocus>
    <label for="password">Mot de passe</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <button type="submit" id="sign-in-submit">Se connecter</button>
  </form>
</main></body></html>"""

SIGN_OUT_HTML = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Déconnexion · Carnet</title>
<link rel="stylesheet" href="/assets/carnet.css"></head>
<body class="sign-in-body">
<main class="sign-in-card" id="sign-out-page">
  <div class="sign-in-brand"><span class="brand-mark">◧</span> Carnet</div>
  <p class="sign-in-lead">Connecté : {{ name }}. Se déconnecter ferme aussi les sessions ouvertes
    sur vos autres appareils.</p>
  {% if error %}<div class="alert alert-error" id="sign-out-error" role="alert">{{ error }}</div>{% endif %}
  <form method="post" action="/deconnexion">
    <input type="hidden" name="csrf" value="{{ csrf }}">
    <button type="submit" id="sign-out-submit">Se déconnecter</button>
  </form>
  <p><a href="/">Retour à l'accueil</a></p>
</main></body></html>"""


def _sign_in_page(error: str | None = None, login: str = "", suivant: str = "", status: int = 200):
    token = flask.session.get("csrf_sign_in")
    if not token:
        token = secrets.token_urlsafe(24)
        flask.session["csrf_sign_in"] = token
    html = flask.render_template_string(
        SIGN_IN_HTML, error=error, login=login, suivant=_safe_next(suivant), csrf=token
    )
    return html, status, {"Cache-Control": "no-store"}


def _sign_out_page(user: auth.SignedInUser, error: str | None = None, status: int = 200):
    html = flask.render_template_string(
        SIGN_OUT_HTML, name=user.name, error=error, csrf=auth.session_token()
    )
    return html, status, {"Cache-Control": "no-store"}


def _forbidden_page(name: str | None):
    what = f"la page « {name} »" if name else "cette page"
    return error_pages.error_page(403, f"Votre rôle ne permet pas d'ouvrir {what}.")
