"""`/mot-de-passe/<jeton>`: set one's password through the one-time link the manager gave
(`carnet.admin_passwords`), without being signed in: the secret token in the URL is the right.

GET shows the form and spends nothing (a link preview must not burn it); POST sets the
password and spends the link. An unknown, expired or spent token gets the same 404 page. The
token never leaves in a Referer header (`no-referrer`)."""

from __future__ import annotations

import flask

from carnet.admin_passwords import LINK_PREFIX, link_login, use_link
from carnet.db import session_scope
from carnet.users import MIN_PASSWORD_LENGTH, UserError
from dashboards import db

RULE = LINK_PREFIX + "<token>"
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

PAGE_HTML = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mot de passe · Carnet</title>
<link rel="stylesheet" href="/assets/carnet.css"></head>
<body class="sign-in-body">
<main class="sign-in-card" id="password-page">
  <div class="sign-in-brand"><span class="brand-mark">◧</span> Carnet</div>
  {% if done %}
  <div class="alert alert-ok" id="password-done" role="status">Mot de passe enregistré pour
    « {{ login }} ». Vous pouvez vous connecter.</div>
  <p><a href="/connexion" id="password-sign-in">Se connecter</a></p>
  {% elif login %}
  <p class="sign-in-lead">Choisissez le mot de passe du compte « {{ login }} »
    (au moins {{ min_length }} caractères). Ce lien ne sert qu'une fois.</p>
  {% if error %}<div class="alert alert-error" id="password-error" role="alert">{{ error }}</div>{% endif %}
  <form method="post" autocomplete="off">
    <label for="password">Nouveau mot de passe</label>
    <input id="password" name="password" type="password" autocomplete="new-password" required autofocus>
    <label for="confirmation">Confirmez le mot de passe</label>
    <input id="confirmation" name="confirmation" type="password" autocomplete="new-password" required>
    <button type="submit" id="password-submit">Enregistrer</button>
  </form>
  {% else %}
  <div class="alert alert-error" id="password-dead" role="alert">Ce lien est inconnu, expiré
    ou déjà utilisé. Demandez-en un nouveau au gestionnaire.</div>
  {% endif %}
</main></body></html>"""


def _page(status: int = 200, **values):
    body = flask.render_template_string(PAGE_HTML, min_length=MIN_PASSWORD_LENGTH, **values)
    return body, status, HEADERS | {"Content-Type": "text/html; charset=utf-8"}


def password_view(token: str):
    with session_scope(db.engine()) as s:
        login = link_login(s, token)
    if login is None:
        return _page(404)
    if flask.request.method != "POST":
        return _page(login=login)
    form = flask.request.form
    try:
        with session_scope(db.engine()) as s:
            use_link(s, token, form.get("password") or "", form.get("confirmation") or "")
    except UserError as exc:
        with session_scope(db.engine()) as s:
            still = link_login(s, token)
        return _page(400 if still else 404, login=still, error=str(exc))
    return _page(login=login, done=True)


def not_found(rest: str = ""):
    return _page(404)


def register(server: flask.Flask) -> None:
    server.add_url_rule(RULE, "password_link", password_view, methods=["GET", "POST"])
    server.add_url_rule(LINK_PREFIX, "password_link_root", not_found, methods=["GET"])
