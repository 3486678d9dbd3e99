"""The Carnet web app: a Dash multi-page app behind a Flask-Login sign-in.

Every request goes through `_guard`: anonymous users are sent to `/connexion` (pages) or get
401 (Dash API, other methods); a page whose registered `capability` the role lacks gets 403.
Callbacks and downloads check their own capability (`dashboards.auth.guarded`, `route`).
"""

from __future__ import annotations

import importlib
import os
import secrets
import threading
import time
from pathlib import Path

import dash
import flask
import flask_login
from dash._pages import _path_to_page

from carnet.config import carnet_home
from carnet.db import get_engine, session_scope
from carnet.models import User
from carnet.users import authenticate
from dashboards import auth, db, ical_feed, shell

HERE = Path(__file__).resolve().parent
SIGN_IN_PATH = "/connexion"
SIGN_OUT_PATH = "/deconnexion"
PUBLIC_PREFIXES = ("/assets/", "/ical/")  # /ical/: the secret token is the access right
PUBLIC_PATHS = {SIGN_IN_PATH, "/_favicon.ico", "/favicon.ico"}
API_PREFIXES = ("/_dash-", "/_reload-hash", "/_alive")
BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."


class SignInLimiter:
    """Slows password guessing: after `max_failures` failed sign-ins of one login from one
    address within `window_s`, that pair is refused (429) until the window has passed."""

    def __init__(self, max_failures: int = 5, window_s: float = 600.0):
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key, now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.window_s]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def blocked_for(self, key) -> float:
        """Seconds left before `key` may try again (0: it may)."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(key, now)
            if len(times) < self.max_failures:
                return 0.0
            return self.window_s - (now - times[-self.max_failures])

    def failed(self, key) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 10_000:  # many distinct logins tried: forget expired ones
                for other in list(self._failures):
                    self._recent(other, now)
            self._failures.setdefault(key, []).append(now)

    def succeeded(self, key) -> None:
        with self._lock:
            self._failures.pop(key, None)


def secret_key() -> str:
    """`CARNET_SECRET_KEY`, else a key generated once and kept in CARNET_HOME/secret_key (0600)
    so that sessions survive a restart."""
    key = os.environ.get("CARNET_SECRET_KEY")
    if key:
        return key
    path = carnet_home() / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip()


def create_app(database_url: str | None = None) -> dash.Dash:
    engine = get_engine(database_url)
    server = flask.Flask("carnet", root_path=str(HERE))
    server.config.update(
        SECRET_KEY=secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="carnet_session",
        SESSION_COOKIE_SECURE=os.environ.get("CARNET_SECURE_COOKIES", "") == "1",
        REMEMBER_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=50 * 1024 * 1024,
    )
    server.config[db.ENGINE_KEY] = engine

    server.extensions["carnet_sign_in_limiter"] = SignInLimiter()
    login_manager = flask_login.LoginManager()
    login_manager.init_app(server)

    @login_manager.user_loader
    def _load_user(session_id: str):
        user_id, _, fingerprint = session_id.partition(":")
        if not user_id.isdigit():
            return None
        with session_scope(engine) as s:
            user = s.get(User, int(user_id))
            if user is None or not user.active or not user.password_hash:
                return None
            signed = auth.signed_in_user(user)
        return signed if signed.fingerprint == fingerprint else None

    app = dash.Dash(
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
    for page in dash.page_registry.values():
        shell.guard_layout(page)
    ical_feed.register(server)
    for module in sorted(HERE.glob("*_routes.py")):  # modules declaring `auth.route`s
        importlib.import_module(f"dashboards.{module.stem}")
    for rule, (endpoint, view, methods, _cap) in auth.ROUTES.items():
        server.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=list(methods))

    server.before_request(_guard)
    server.add_url_rule(SIGN_IN_PATH, "sign_in", _sign_in, methods=["GET", "POST"])
    server.add_url_rule(SIGN_OUT_PATH, "sign_out", _sign_out, methods=["GET", "POST"])
    server.register_error_handler(401, _unauthorised)
    server.register_error_handler(403, _forbidden)

    @server.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    # Bind the page callbacks (collected globally by `dash.callback` when the pages were
    # imported) to this app now, not at its first real request: another app built later in
    # the same process would otherwise take them.
    server.test_client().get("/_dash-layout")
    return app


def _is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def _guard():
    path = flask.request.path
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


def _safe_next(target: str | None) -> str:
    """Only a local path: never `//host`, a scheme or a backslash trick."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if target.startswith(SIGN_IN_PATH) or target.startswith(SIGN_OUT_PATH):
        return "/"
    return target


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
            error="Le formulaire a expiré, veuillez recommencer.",
            login=login,
            suivant=request.form.get("suivant", ""),
            status=400,
        )
    limiter: SignInLimiter = flask.current_app.extensions["carnet_sign_in_limiter"]
    key = (login.casefold(), request.remote_addr or "")
    wait_s = limiter.blocked_for(key)
    if wait_s:
        minutes = max(1, round(wait_s / 60))
        return _sign_in_page(
            error=f"Trop d’essais infructueux : réessayez dans {minutes} min.",
            login=login,
            suivant=request.form.get("suivant", ""),
            status=429,
        )
    user = None
    if login and password:
        with session_scope(db.engine()) as s:
            # an unknown login costs the same password check as a wrong password
            found = authenticate(s, login, password)
            user = auth.signed_in_user(found) if found is not None else None
    if user is None:
        limiter.failed(key)
        return _sign_in_page(
            error=BAD_CREDENTIALS, login=login, suivant=request.form.get("suivant", ""), status=401
        )
    limiter.succeeded(key)
    flask.session.clear()  # a fresh session on every sign-in
    flask_login.login_user(user)
    return flask.redirect(_safe_next(request.form.get("suivant")))


def _sign_out():
    flask_login.logout_user()
    flask.session.clear()
    return flask.redirect(flask.url_for("sign_in"))


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

FORBIDDEN_HTML = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<title>Accès refusé · Carnet</title>
<link rel="stylesheet" href="/assets/carnet.css"></head>
<body class="sign-in-body">
<main class="sign-in-card forbidden" id="acces-refuse">
  <h1>Accès refusé</h1>
  <p>Votre rôle ne permet pas d'ouvrir {% if name %}la page « {{ name }} »{% else %}cette page{% endif %}.</p>
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


def _forbidden_page(name: str | None):
    return flask.render_template_string(FORBIDDEN_HTML, name=name), 403
