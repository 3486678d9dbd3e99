"""French error pages with the app's look, for every path the server answers: Flask routes
(downloads, the QR form `/signaler/<jeton>`, assets) as well as Dash pages.

An agent scanning a renewed QR code, or anyone hitting a bug, must read French and find the
way home, never the framework's English « Not Found » or a traceback. The Dash API (`/_dash-…`)
gets a short JSON error instead: its caller is the browser's renderer, not a person.
"""

from __future__ import annotations

import flask
from werkzeug.exceptions import HTTPException

# status -> (title, explanation); anything else falls back on the 500 wording
MESSAGES_FR = {
    400: ("Requête incorrecte", "La demande envoyée n'a pas pu être comprise."),
    403: ("Accès refusé", "Votre rôle ne permet pas d'ouvrir cette page."),
    404: ("Page introuvable", "Cette adresse ne correspond à aucune page de Carnet."),
    405: ("Action impossible", "Cette adresse n'accepte pas cette action."),
    413: ("Fichier trop volumineux", "Le fichier envoyé dépasse la taille admise."),
    500: (
        "Une erreur est survenue",
        "Carnet n'a pas pu répondre. Réessayez dans un instant ; si l'erreur revient,"
        " prévenez le service des bâtiments.",
    ),
}
# a dead or renewed QR code: the building's sheet was reprinted, the old link is dead
QR_GONE = (
    "Ce QR code n'est plus valable : il a peut-être été renouvelé. Signalez le problème à"
    " l'accueil ou aux services techniques, qui vous donneront la nouvelle fiche."
)
API_PREFIXES = ("/_dash-", "/_reload-hash", "/_alive")

ERROR_HTML = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · Carnet</title>
<link rel="stylesheet" href="/assets/carnet.css"></head>
<body class="error-body">
<header class="header"><div class="topbar">
  <a class="brand" href="/"><span class="brand-mark">◧</span><span>Carnet</span></a>
</div></header>
<main class="content">
  <div class="forbidden error-page" id="{{ element_id }}">
    <h1>{{ title }}</h1>
    <p>{{ text }}</p>
    <p><a href="/" id="error-home">Retour à l'accueil</a></p>
  </div>
</main></body></html>"""


def error_page(status: int, text: str | None = None, title: str | None = None):
    """(html, status, headers): the French page of `status` in the app's frame."""
    default_title, default_text = MESSAGES_FR.get(status, MESSAGES_FR[500])
    html = flask.render_template_string(
        ERROR_HTML,
        status=status,
        title=title or default_title,
        text=text or default_text,
        element_id="acces-refuse" if status == 403 else f"erreur-{status}",
    )
    headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    return html, status, headers


def _api_error(status: int):
    title = MESSAGES_FR.get(status, MESSAGES_FR[500])[0]
    return flask.jsonify(erreur=title), status


def handle_http_error(error: HTTPException):
    """Any 4xx/5xx raised by a view or by routing (`abort(404)`, unknown URL, wrong method)."""
    status = error.code or 500
    if status < 400:  # redirects raised as exceptions (a missing trailing slash) pass
        return error
    path = flask.request.path
    if path.startswith(API_PREFIXES):
        return _api_error(status)
    qr_gone = status == 404 and path.startswith("/signaler/")
    html, status, headers = error_page(
        status, QR_GONE if qr_gone else None, "QR code périmé" if qr_gone else None
    )
    response = flask.make_response(html, status, headers)
    if status == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def register(server: flask.Flask) -> None:
    """Every HTTP error, and an unhandled exception too: Flask logs it with its traceback, then
    hands this handler a 500 (`InternalServerError`) that shows nothing of it."""
    server.register_error_handler(HTTPException, handle_http_error)
