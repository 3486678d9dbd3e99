"""Fiche bâtiment (`/batiments/<code>`): the carnet de santé of one building.

Identity, rooms, the equipment tree, channels with their last reading, documents, the logbook
timeline with its filters, obligations with overdue badges, open alarms, and per role the forms
to write in it (the contractor's interventions, the agents' observations, the manager's triage).
All rules are enforced by `carnet.logbook`/`carnet.access`; this module only lays them out: the
data comes from `dashboards.building_data`, the pieces from `dashboards.building_*_views` and
`dashboards.building_forms`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate
from werkzeug.exceptions import abort

import dashboards.carnet_routes  # noqa: F401  (registers the downloads, QR and form routes)
from carnet.access import CarnetPermissionError
from carnet.attachments import AttachmentError
from carnet.logbook_refs import LogbookError
from carnet.timeutil import TZ
from dashboards import building_data, db
from dashboards import building_logbook_views as logbook_views
from dashboards import building_record_views as record_views
from dashboards import building_tertiaire_views as tertiaire_views
from dashboards.auth import current_user, guarded, require
from dashboards.building_forms import add_form, edit_form, obligation_form
from dashboards.carnet_views import obligations_table
from dashboards.components import alert
from dashboards.shell import forbidden_block

CAPABILITY = "carnet.view"

dash.register_page(
    __name__,
    path_template="/batiments/<code>",
    name="Fiche bâtiment",
    title="Fiche bâtiment · Carnet",
    description="Le carnet de santé d'un bâtiment.",
    order=21,
    capability=CAPABILITY,
    nav=False,
)

section = record_views.section


def _triage_view(user, code: str):
    """The manager's triage cards, or None for whoever may not triage."""
    rows = building_data.triage_rows(db.engine(), user, code)
    return None if rows is None else logbook_views.triage_cards(rows)


def _sections(code: str, user, filters: dict | None = None, with_triage: bool = True) -> dict:
    """The dynamic parts, recomputed after each write or filter change (the triage cards only
    when asked: the triage callback refreshes them itself)."""
    data = building_data.sections(db.engine(), user, code, filters, with_triage)
    rec = data["rec"]
    if rec["rooms_only"]:
        return {"rec": rec}
    return {
        "rec": rec,
        "timeline": logbook_views.timeline(data["timeline"]),
        "obligations": obligations_table(rec["obligations"]),
        "alarms": logbook_views.alarms(rec["open_alarms"]),
        "documents": record_views.documents(rec["documents"]),
        "triage": None if data["triage"] is None else logbook_views.triage_cards(data["triage"]),
    }


def layout(code: str | None = None, **_query):
    user = current_user()
    if user is None:
        return forbidden_block("Fiche bâtiment")
    try:
        parts = _sections(code or "", user)
    except CarnetPermissionError:
        return forbidden_block("Fiche bâtiment")
    except LookupError:
        return html.Div(
            [html.H1("Bâtiment introuvable"), dcc.Link("Retour aux bâtiments", href="/batiments")],
            className="forbidden",
            id="bp-not-found",
        )
    rec = parts["rec"]
    code = rec["identity"]["code"]
    token = building_data.qr_token(db.engine(), code) if user.can("carnet.observation") else None
    head = record_views.identity(rec, user, token)
    stores = [dcc.Store(id="bp-code", data=code)]
    if rec["rooms_only"]:
        return html.Div(
            [*stores, head, section("Salles", record_views.rooms(rec["rooms"]))],
            className="page building-page rooms-only",
        )
    obligations = building_data.building_obligations(db.engine(), user, code)
    authors = sorted({r["author_login"] for r in rec["timeline"]})
    children = [
        *stores,
        dcc.Store(id="bp-rev-add", data=0),
        dcc.Store(id="bp-rev-triage", data=0),
        dcc.Store(id="bp-rev-edit", data=0),
        dcc.Store(id="bp-rev-ob", data=0),
        head,
        section("Alarmes ouvertes", parts["alarms"], "bp-alarms"),
        section("Obligations", parts["obligations"], "bp-obligations-wrap"),
        obligation_form(user, obligations),
        html.Div(
            className="bp-columns",
            children=[
                html.Div(
                    className="bp-main",
                    children=[
                        section("Signalements à traiter", parts["triage"], "bp-triage")
                        if parts["triage"] is not None
                        else None,
                        html.Div(id="bp-triage-msg"),
                        add_form(rec, user, obligations),
                        edit_form(user),
                        html.Section(
                            [
                                html.H2("Carnet"),
                                logbook_views.filters(rec, authors),
                                html.Div(parts["timeline"], id="bp-timeline"),
                            ],
                            className="bp-section",
                        ),
                    ],
                ),
                html.Div(
                    className="bp-side",
                    children=[
                        section("Équipements", record_views.equipment(rec["equipment"])),
                        section("Points de mesure", record_views.channels(rec["channels"])),
                        section("Salles", record_views.rooms(rec["rooms"])),
                        section("Documents", parts["documents"], "bp-documents"),
                    ],
                ),
            ],
        ),
    ]
    children.append(tertiaire_views.tertiaire_section(code))
    return html.Div(children, className="page building-page")


# ---------------------------------------------------------------- callbacks


@callback(
    Output("bp-timeline", "children"),
    Output("bp-obligations-wrap", "children"),
    Output("bp-alarms", "children"),
    Output("bp-documents", "children"),
    Input("bp-rev-add", "data"),
    Input("bp-rev-triage", "data"),
    Input("bp-rev-edit", "data"),
    Input("bp-rev-ob", "data"),
    Input("bp-f-kind", "value"),
    Input("bp-f-equipment", "value"),
    Input("bp-f-period", "start_date"),
    Input("bp-f-period", "end_date"),
    Input("bp-f-author", "value"),
    State("bp-code", "data"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def refresh(_rev_add, _rev_triage, _rev_edit, _rev_ob, kinds, equipment, start, end, author, code):
    user = current_user()
    filters = building_data.filter_args(kinds, equipment, start, end, author)
    try:
        parts = _sections(code, user, filters, with_triage=False)
    except CarnetPermissionError:
        abort(403)
    return parts["timeline"], parts["obligations"], parts["alarms"], parts["documents"]


@callback(
    Output("bp-add-file-name", "children"),
    Input("bp-add-file", "filename"),
    prevent_initial_call=True,
)
@guarded("carnet.observation")
def show_file_name(filename):
    return f"Fichier joint : {filename}" if filename else ""


def _decode_upload(contents: str) -> bytes:
    try:
        _header, data = contents.split(",", 1)
        return base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise AttachmentError("fichier illisible") from exc


def _message(exc: Exception) -> str:
    return str(exc).strip("'\"")


@callback(
    Output("bp-add-msg", "children"),
    Output("bp-rev-add", "data"),
    Output("bp-add-text", "value"),
    Output("bp-add-file", "contents"),
    Output("bp-add-file", "filename"),
    Input("bp-add-submit", "n_clicks"),
    State("bp-code", "data"),
    State("bp-add-kind", "value"),
    State("bp-add-equipment", "value"),
    State("bp-add-room", "value"),
    State("bp-add-date", "date"),
    State("bp-add-cost", "value"),
    State("bp-add-status", "value"),
    State("bp-add-obligation", "value"),
    State("bp-add-text", "value"),
    State("bp-add-file", "contents"),
    State("bp-add-file", "filename"),
    State("bp-rev-add", "data"),
    prevent_initial_call=True,
)
@guarded("carnet.observation")
def add(
    n, code, kind, equipment, room, day, cost, status, obligation, text, contents, filename, rev
):
    if not n:
        raise PreventUpdate
    user = current_user()
    when = None
    if day:
        picked = dt.date.fromisoformat(day[:10])
        now = dt.datetime.now(TZ)
        when = now if picked == now.date() else dt.datetime.combine(picked, dt.time(12), TZ)
    try:
        attachment = (filename or "fichier", _decode_upload(contents)) if contents else None
        entry_id = building_data.add_to_logbook(
            db.engine(),
            user,
            code,
            kind,
            text or "",
            attachment=attachment,
            equipment=equipment,
            room=room,
            occurred_at=when,
            cost=cost,
            status=status,
            obligation=obligation,
        )
    except (CarnetPermissionError, LogbookError, AttachmentError, LookupError) as exc:
        no = dash.no_update
        return alert(_message(exc), "error", "bp-add-error"), no, no, no, no
    ok = alert(f"Entrée n° {entry_id} enregistrée.", "ok", "bp-add-ok")
    return ok, (rev or 0) + 1, "", None, None


@callback(
    Output("bp-triage-msg", "children"),
    Output("bp-rev-triage", "data"),
    Output("bp-triage", "children"),
    Input({"type": "tri-btn", "action": ALL, "id": ALL}, "n_clicks"),
    State({"type": "tri-answer", "id": ALL}, "value"),
    State({"type": "tri-answer", "id": ALL}, "id"),
    State({"type": "tri-kind", "id": ALL}, "value"),
    State({"type": "tri-kind", "id": ALL}, "id"),
    State({"type": "tri-target", "id": ALL}, "value"),
    State({"type": "tri-target", "id": ALL}, "id"),
    State("bp-code", "data"),
    State("bp-rev-triage", "data"),
    prevent_initial_call=True,
)
@guarded("carnet.triage")
def triage(clicks, answers, answer_ids, kinds, kind_ids, targets, target_ids, code, rev):
    trigger = ctx.triggered_id
    if not trigger or not any(c for c in clicks or []):
        raise PreventUpdate
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    user = require("carnet.triage")
    entry_id = trigger["id"]
    answer = dict(zip([i["id"] for i in answer_ids], answers, strict=True)).get(entry_id)
    kind = dict(zip([i["id"] for i in kind_ids], kinds, strict=True)).get(entry_id)
    target = dict(zip([i["id"] for i in target_ids], targets, strict=True)).get(entry_id)
    try:
        msg = building_data.triage_action(
            db.engine(),
            user,
            code,
            entry_id,
            trigger["action"],
            kind=kind or "corrective",
            target=target,
            answer=(answer or "").strip() or None,
        )
    except (LogbookError, LookupError) as exc:
        no = dash.no_update
        return alert(_message(exc), "error", "bp-triage-error"), no, no
    cards = _triage_view(user, code)  # the timeline and the rest follow through bp-rev-triage
    return alert(msg, "ok", "bp-triage-ok"), (rev or 0) + 1, cards


@callback(
    Output("bp-edit-msg", "children"),
    Output("bp-rev-edit", "data"),
    Input("bp-edit-submit", "n_clicks"),
    State("bp-code", "data"),
    State("bp-edit-id", "value"),
    State("bp-edit-status", "value"),
    State("bp-edit-cost", "value"),
    State("bp-edit-note", "value"),
    State("bp-rev-edit", "data"),
    prevent_initial_call=True,
)
@guarded("carnet.intervention")
def edit(n, code, entry_id, status, cost, note, rev):
    if not n:
        raise PreventUpdate
    user = current_user()
    try:
        building_data.update_entry(
            db.engine(), user, code, entry_id, status, cost, (note or "").strip() or None
        )
    except CarnetPermissionError as exc:
        return alert(str(exc), "error", "bp-edit-error"), dash.no_update
    except (LogbookError, LookupError) as exc:
        return alert(_message(exc), "error", "bp-edit-error"), dash.no_update
    return alert(f"Entrée n° {entry_id} mise à jour.", "ok", "bp-edit-ok"), (rev or 0) + 1


@callback(
    Output("bp-ob-msg", "children"),
    Output("bp-rev-ob", "data"),
    Input("bp-ob-submit", "n_clicks"),
    State("bp-code", "data"),
    State("bp-ob-id", "value"),
    State("bp-ob-months", "value"),
    State("bp-ob-days", "value"),
    State("bp-ob-last", "date"),
    State("bp-ob-active", "value"),
    State("bp-ob-notes", "value"),
    State("bp-rev-ob", "data"),
    prevent_initial_call=True,
)
@guarded("carnet.edit")
def edit_obligation_cb(n, code, ob_id, months, days, last, active, notes, rev):
    if not n:
        raise PreventUpdate
    user = require("carnet.edit")
    changes: dict = {}
    if months:
        changes |= {"periodicity_months": int(months), "periodicity_days": None}
    elif days:
        changes |= {"periodicity_days": int(days), "periodicity_months": None}
    if last:
        changes["last_done_on"] = dt.date.fromisoformat(last[:10])
    if active:
        changes["active"] = active == "yes"
    if (notes or "").strip():
        changes["notes"] = notes.strip()
    try:
        building_data.update_obligation(db.engine(), user, code, ob_id, changes)
    except (ValueError, LookupError, CarnetPermissionError) as exc:
        return alert(str(exc), "error", "bp-ob-error"), dash.no_update
    return alert("Obligation mise à jour.", "ok", "bp-ob-ok"), (rev or 0) + 1
