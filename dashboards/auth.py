"""Who is signed in, and whether they may use a page, a callback or a download.

Everything here is enforced on the server: the navigation only hides what these checks
already refuse. See `dashboards/README.md` for how page authors use it.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import flask
import flask_login
from werkzeug.exceptions import abort

from carnet.access import Scope, scope_of
from carnet.models import User
from carnet.roles import CAPABILITIES, ROLE_LABELS_FR, can, is_contractor
from dashboards import db


@dataclass(frozen=True, eq=False)
class SignedInUser(flask_login.UserMixin):
    """The signed-in user, loaded from the database on every request (so a role change or a
    deactivation takes effect at once)."""

    id: int
    login: str
    name: str
    role: str
    contract_id: int | None
    fingerprint: str = ""
    session_version: int = 0

    @property
    def role_label(self) -> str:
        return ROLE_LABELS_FR.get(self.role, self.role)

    def can(self, capability: str) -> bool:
        return can(self.role, capability)

    def get_id(self) -> str:
        # kept in the session cookie and checked on every request (`session_matches`): a new
        # password hash or a new session version (sign-out, reset, deactivation) ends it
        return f"{self.id}:{self.fingerprint}:{self.session_version}"


def fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def signed_in_user(user: User) -> SignedInUser:
    return SignedInUser(
        id=user.id,
        login=user.login,
        name=user.name,
        role=user.role,
        contract_id=user.contract_id,
        fingerprint=fingerprint(user.password_hash),
        session_version=user.session_version or 0,
    )


def parse_session_id(session_id: str) -> tuple[int, str, int] | None:
    """(user id, password fingerprint, session version) of a session's user id, or None for
    anything else (a cookie of an older format is dead too)."""
    parts = session_id.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
        return None
    return int(parts[0]), parts[1], int(parts[2])


def session_matches(user: SignedInUser, session_id: str) -> bool:
    parsed = parse_session_id(session_id)
    return parsed is not None and parsed[1:] == (user.fingerprint, user.session_version)


SESSION_TOKEN_KEY = "csrf_session"


def session_token() -> str:
    """The signed-in session's anti-forgery token (made on first use, dropped with the session
    at sign-out): forms that change state for the user (sign-out) post it back."""
    token = flask.session.get(SESSION_TOKEN_KEY)
    if not token:
        token = secrets.token_urlsafe(24)
        flask.session[SESSION_TOKEN_KEY] = token
    return token


def session_token_ok(token: str | None) -> bool:
    expected = flask.session.get(SESSION_TOKEN_KEY)
    return bool(expected and token and secrets.compare_digest(str(token), expected))


def current_user() -> SignedInUser | None:
    """The signed-in user of this request, or None (anonymous, or outside a request)."""
    if not flask.has_request_context():
        return None
    user = flask_login.current_user
    if user is None or not user.is_authenticated:
        return None
    return user._get_current_object() if hasattr(user, "_get_current_object") else user


def require(capability: str) -> SignedInUser:
    """The signed-in user if their role has `capability`; else abort 401 (anonymous) or 403."""
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")
    user = current_user()
    if user is None:
        abort(401)
    if not user.can(capability):
        abort(403)
    return user


def guarded(capability: str) -> Callable:
    """Decorator for Dash callbacks: refuse (HTTP 403) a user whose role lacks `capability`.
    Put it BELOW `@dash.callback(...)`, right above the function."""
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            require(capability)
            return func(*args, **kwargs)

        wrapper.carnet_capability = capability
        return wrapper

    return decorate


# rule -> (endpoint, view, methods, capability); added to the Flask server by `create_app`.
ROUTES: dict[str, tuple[str, Callable, tuple[str, ...], str]] = {}


def route(rule: str, capability: str, methods: tuple[str, ...] = ("GET",)) -> Callable:
    """Declare a plain Flask route (a download, an export) guarded by `capability`, e.g.
    `@route("/export/finance.csv", "finance.export")`. `create_app` registers it."""
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")

    def decorate(func: Callable) -> Callable:
        endpoint = "carnet_route_" + rule.strip("/").replace("/", "_").replace("<", "").replace(
            ">", ""
        ).replace(":", "_")
        ROUTES[rule] = (endpoint, guarded(capability)(func), tuple(methods), capability)
        return func

    return decorate


def current_scope() -> Scope:
    """The signed-in user's scope (`carnet.access.scope_of`): aborts 401 when anonymous, 403
    for a contractor bound to no contract. Pages pass it to their data modules."""
    user = current_user()
    if user is None:
        abort(401)
    if is_contractor(user.role) and user.contract_id is None:
        abort(403)
    return scope_of(db.engine(), user)
