"""Plain Flask routes of the carnet: attachment downloads, the printable QR code, and the
agents' phone-friendly observation form.

The form is plain HTML (multipart POST, no JavaScript) on purpose: it is opened from a QR code
on a phone in a school corridor, with a photo straight from the camera. Every route checks
the user's rights through `carnet` (a contractor only on its buildings, 403 otherwise).
"""

from __future__ import annotations

import os
import secrets

import flask
import qrcode
import qrcode.image.svg
from werkzeug.exceptions import abort

from carnet.access import CarnetPermissionError
from carnet.attachments import MAX_BYTES, AttachmentError, add_attachment, open_attachment
from carnet.buildings import building_by_qr_token, building_rooms
from carnet.logbook import add_entry, may_write
from carnet.logbook_refs import LogbookError, resolve_building
from dashboards import db
from dashboards.auth import current_user, route

CSRF_KEY = "csrf_carnet_forms"


def _csrf_token() -> str:
    token = flask.session.get(CSRF_KEY)
    if not token:
        token = secrets.token_urlsafe(24)
        flask.session[CSRF_KEY] = token
    return token


def _csrf_ok(token: str | None) -> bool:
    expected = flask.session.get(CSRF_KEY)
    return bool(expected and token and secrets.compare_digest(token, expected))


@route("/pieces-jointes/<int:attachment_id>", "carnet.view")
def download_attachment(attachment_id: int):
    user = current_user()
    with db.session() as s:
        try:
            path, att = open_attachment(s, user, attachment_id)
        except CarnetPermissionError:
            abort(403)
        except LookupError:
            abort(404)
        filename, content_type = att.filename, att.content_type
    response = flask.send_file(
        path,
        mimetype=content_type,
        download_name=filename,
        # a PDF is downloaded (browsers refuse to run their PDF viewer in a sandboxed document);
        # photos are shown inline, sandboxed
        as_attachment=content_type == "application/pdf"
        or flask.request.args.get("telecharger") == "1",
        max_age=0,
    )
    # uploaded content: never let it run scripts in our origin
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def signal_url(token: str) -> str:
    """Absolute link printed in the QR code: `CARNET_PUBLIC_URL` (the address staff phones
    reach, e.g. behind a reverse proxy) or else the address of this request."""
    base = os.environ.get("CARNET_PUBLIC_URL") or flask.request.host_url
    return base.rstrip("/") + f"/signaler/{token}"


def qr_svg(data: str) -> str:
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=10,
    )
    return image.to_string(encoding="unicode")


QR_HTML = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>QR code · {{ name }}</title>
<link rel="stylesheet" href="/assets/carnet.css">
<style>
  body { background: #fff; }
  .qr-sheet { max-width: 16cm; margin: 1.5cm auto; text-align: center; font-size: 18px; }
  .qr-sheet h1 { font-size: 28px; }
  .qr-code svg { width: 11cm; height: 11cm; }
  .qr-url { font-family: monospace; font-size: 12px; word-break: break-all; color: #444; }
  @media print { .no-print { display: none; } .qr-sheet { margin: 0 auto; } }
</style></head>
<body><main class="qr-sheet" id="qr-sheet">
  <h1>{{ name }}</h1>
  <p><strong>Vous avez remarqué un problème dans ce bâtiment ?</strong><br>
     Radiateur froid, fuite, porte qui ferme mal… Scannez ce code avec votre téléphone
     pour le signaler aux services techniques.</p>
  <div class="qr-code" id="qr-code">{{ svg|safe }}</div>
  <p class="qr-url" id="qr-url">{{ url }}</p>
  <p class="no-print"><button onclick="window.print()">Imprimer</button>
     <a href="/batiments/{{ code }}">Retour à la fiche du bâtiment</a></p>
</main></body></html>"""


@route("/batiments/<code>/qr", "carnet.edit")
def building_qr(code: str):
    with db.session() as s:
        try:
            building = resolve_building(s, code)
        except LookupError:
            abort(404)
        token = building.qr_token  # drawn when the building was created (a GET writes nothing)
        if not token:
            abort(404)
        name, code = building.name, building.code
    url = signal_url(token)
    return flask.render_template_string(QR_HTML, name=name, code=code, url=url, svg=qr_svg(url))


SIGNAL_HTML = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Signaler · {{ name }}</title>
<link rel="stylesheet" href="/assets/carnet.css">
<link rel="stylesheet" href="/assets/logbook.css"></head>
<body class="signal-body">
<main class="signal-card" id="signal-form-page">
  <p class="signal-brand"><span class="brand-mark">◧</span> Carnet</p>
  <h1>Signaler un problème</h1>
  <p class="signal-building" id="signal-building">{{ name }}</p>
  {% if error %}<div class="alert alert-error" id="signal-error" role="alert">{{ error }}</div>
  {% elif not in_scope %}<div class="alert alert-error" id="signal-out-of-scope" role="alert">{{ out_of_scope }}</div>{% endif %}
  <form method="post" enctype="multipart/form-data" id="signal-form">
    <input type="hidden" name="csrf" value="{{ csrf }}">
    {% if in_scope %}
    <label for="room">Où ?</label>
    <select id="room" name="room">
      <option value="">Bâtiment (sans précision)</option>
      {% for r in rooms %}<option value="{{ r.code }}" {% if r.code == room %}selected{% endif %}>{{ r.name }}</option>{% endfor %}
    </select>
    {% endif %}
    <label for="text">Qu'avez-vous constaté ?</label>
    <textarea id="text" name="text" rows="5" required maxlength="4000"
      placeholder="Ex. : le radiateur sous la fenêtre est froid depuis ce matin">{{ text }}</textarea>
    <label for="photo">Photo (facultative, {{ max_mb }} Mo au plus)</label>
    <input id="photo" name="photo" type="file" accept="image/*,application/pdf">
    <button type="submit" id="signal-submit">Envoyer le signalement</button>
  </form>
  <p class="signal-foot"><a href="/mes-signalements" id="my-reports-link">Mes signalements et les réponses</a></p>
</main></body></html>"""


OUT_OF_SCOPE = (
    "Votre rôle ou votre contrat ne permet pas de signaler un problème dans ce bâtiment : "
    "adressez-vous aux services techniques."
)


@route("/signaler/<token>", "carnet.observation", methods=("GET", "POST"))
def signal(token: str):
    """The agents' form: room, what they saw, a photo. Creates an open observation.

    Whoever may not report on this building (a contractor of another contract) sees only what
    the printed QR sheet shows: the building's name, and the form without its rooms."""
    user = current_user()
    request = flask.request
    with db.session() as s:
        building = building_by_qr_token(s, token)
        if building is None:
            abort(404)
        name, building_id = building.name, building.id
        in_scope = may_write(s, user, building, "observation")
        rooms = building_rooms(s, building_id) if in_scope else []
    form = {"room": "", "text": "", "error": None}
    status = 200
    if request.method == "POST":
        form["room"] = request.form.get("room", "") if in_scope else ""
        form["text"] = (request.form.get("text") or "").strip()
        photo = request.files.get("photo")
        if not _csrf_ok(request.form.get("csrf")):
            form["error"], status = "Le formulaire a expiré, veuillez recommencer.", 400
        elif not in_scope:
            form["error"], status = OUT_OF_SCOPE, 403
        else:
            try:
                with db.session() as s:  # one transaction: no observation without its photo
                    entry = add_entry(
                        s,
                        user,
                        building_id,
                        "observation",
                        form["text"],
                        room=form["room"] or None,
                        source="qr",
                    )
                    if photo is not None and photo.filename:
                        add_attachment(s, user, entry, photo.filename, photo.stream)
                    entry_id = entry.id
                return flask.redirect(f"/mes-signalements?envoye={entry_id}")
            except CarnetPermissionError:
                form["error"], status = OUT_OF_SCOPE, 403
            except (AttachmentError, LogbookError, LookupError) as exc:
                form["error"], status = str(exc).strip("'\""), 400
    html = flask.render_template_string(
        SIGNAL_HTML,
        name=name,
        rooms=rooms,
        in_scope=in_scope,
        out_of_scope=OUT_OF_SCOPE,
        csrf=_csrf_token(),
        max_mb=MAX_BYTES // (1024 * 1024),
        **form,
    )
    return html, status, {"Cache-Control": "no-store"}
