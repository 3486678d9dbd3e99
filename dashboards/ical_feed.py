"""`/ical/<token>.ics`: the heating-schedule feeds, open without sign-in.

Calendar programs and building management systems cannot sign in: the secret token in the URL
is the access right (see `carnet.ical`). An unknown, revoked or malformed token gets a bare 404,
the same for all three, so the URL space reveals nothing. Read-only: GET and HEAD only.
"""

from __future__ import annotations

import flask

from carnet.db import session_scope
from carnet.ical import feed_for_token
from dashboards import db

PREFIX = "/ical/"
RULE = PREFIX + "<token>.ics"


def ical_view(token: str):
    with session_scope(db.engine()) as s:
        body = feed_for_token(s, token)
    if body is None:
        return not_found()
    return flask.Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Content-Disposition": 'inline; filename="chauffage.ics"',
            "Cache-Control": "private, max-age=300",
            "Referrer-Policy": "no-referrer",
        },
    )


def not_found(rest: str = ""):
    """Anything else under /ical/ is public too (no sign-in redirect): answer 404, not the app."""
    return flask.Response("Flux inconnu.\n", status=404, mimetype="text/plain")


def register(server: flask.Flask) -> None:
    server.add_url_rule(RULE, "ical_feed", ical_view, methods=["GET", "HEAD"])
    server.add_url_rule(PREFIX, "ical_root", not_found, methods=["GET", "HEAD"])
    server.add_url_rule(PREFIX + "<path:rest>", "ical_other", not_found, methods=["GET", "HEAD"])
