"""Fiche bâtiment (`/batiments/<code>`): the carnet de santé of one building.

The record (identity, open alarms, obligations, equipment tree, measuring points, rooms,
documents) and the logbook come first; the logbook is paged and filtered by the database, and
each entry the user may edit has « Modifier ». The forms (add to the logbook, edit an entry,
the manager's triage, adapt an obligation) are dialogs opened by buttons, emptied once saved.
All rules are enforced by `carnet.logbook`/`carnet.access`; this module only lays them out: the
data comes from `dashboards.building_data`, the pieces from `dashboards.building_*_views` and
`dashboards.building_forms`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

import dash
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html
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
from dashboards.building_forms import (
    add_defaults,
    add_form,
    dialog,
    edit_form,
    kind_options,
    kinds_for,
    obligation_form,
)
from dashboards.carnet_views import obligations_table
from dashboards.components import alert, downloadable_table
from dashboards.downloads import register_table
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
NO = dash.no_update


def _triage_view(user, code: str):
    """The manager's triage cards, or None for whoever may not triage."""
    rows = building_data.triage_rows(db.engine(), user, code)
    return None if rows is None else logbook_views.triage_cards(rows)


def _triage_label(rows: dict | None) -> str:
    return f"Signalements à traiter ({len((rows or {}).get('pending') or [])})"


def _record_parts(rec: dict) -> dict:
    return {
        "obligations": _dl(
            "bp-obligations",
            record_views.obligations_summary(rec["obligations"], rec["identity"]["code"]),
            rec["identity"]["code"],
        ),
        "alarms": logbook_views.alarms(rec["open_alarms"]),
        "documents": record_views.documents(rec["documents"]),
    }


def _record_sections(rec: dict, parts: dict) -> list:
    """The record, one section a line (a new section of the record is one more line here)."""
    code = rec["identity"]["code"]
    return [
        section("Alarmes ouvertes", parts["alarms"], "bp-alarms"),
        section("Obligations", parts["obligations"], "bp-obligations-wrap"),
        section("Équipements", record_views.equipment(rec["equipment"])),
        section(
            "Points de mesure", _dl("bp-channels", record_views.channels(rec["channels"]), code)
        ),
        section("Salles", _dl("bp-rooms", record_views.rooms(rec["rooms"]), code)),
        section("Documents", parts["documents"], "bp-documents"),
    ]


def _dl(table_id: str, table, code: str):
    return downloadable_table(table_id, table, {"batiment": code}, key=code)


def _record(params: dict) -> dict:
    """The building's record as the signed-in user may read it (a download of its tables)."""
    code = params.get("batiment")
    try:
        return building_data.sections(
            db.engine(), current_user(), str(code or ""), None, False, with_logbook=False
        )["rec"]
    except CarnetPermissionError:
        abort(403)
    except LookupError:
        abort(404)


register_table(
    "bp-obligations",
    CAPABILITY,
    lambda p: obligations_table(_record(p).get("obligations") or []),
    "obligations-batiment",
)
register_table("bp-rooms", CAPABILITY, lambda p: record_views.rooms(_record(p)["rooms"]), "salles")
register_table(
    "bp-channels",
    CAPABILITY,
    lambda p: record_views.channels(_record(p).get("channels") or []),
    "points-de-mesure",
)


def _logbook_section(rec: dict, page: dict) -> html.Section:
    authors = sorted({r["author_login"] for r in rec["timeline"]})
    return html.Section(
        id="bp-logbook",
        className="bp-section",
        children=[
            html.H2("Carnet"),
            logbook_views.filters(rec, authors),
            html.P(logbook_views.page_count(page), id="bp-page-count", className="muted"),
            html.Div(logbook_views.timeline(page), id="bp-timeline"),
            logbook_views.pager(page),
        ],
    )


def _actions(user, can_add: bool, triage, can_adapt: bool) -> html.Div:
    """The buttons that open the page's dialogs (only those the role may use)."""
    buttons = []
    if can_add:
        buttons.append(html.Button("Ajouter au carnet", id="bp-open-add", className="btn"))
    if triage is not None:
        buttons.append(
            html.Button(_triage_label(triage), id="bp-open-triage", className="btn btn-secondary")
        )
    if can_adapt:
        buttons.append(
            html.Button("Adapter une obligation", id="bp-open-ob", className="btn btn-secondary")
        )
    return html.Div(buttons, className="bp-actions", id="bp-actions") if buttons else None


def layout(code: str | None = None, **_query):
    user = current_user()
    if user is None:
        return forbidden_block("Fiche bâtiment")
    try:
        data = building_data.sections(db.engine(), user, code or "")
    except CarnetPermissionError:
        return forbidden_block("Fiche bâtiment")
    except LookupError:
        return html.Div(
            [html.H1("Bâtiment introuvable"), dcc.Link("Retour aux bâtiments", href="/batiments")],
            className="forbidden",
            id="bp-not-found",
        )
    rec = data["rec"]
    code = rec["identity"]["code"]
    token = building_data.qr_token(db.engine(), code) if user.can("carnet.observation") else None
    head = record_views.identity(rec, user, token)
    stores = [dcc.Store(id="bp-code", data=code)]
    if rec["rooms_only"]:
        return html.Div(
            [
                *stores,
                head,
                section("Salles", _dl("bp-rooms", record_views.rooms(rec["rooms"]), code)),
            ],
            className="page building-page rooms-only",
        )
    obligations = building_data.building_obligations(db.engine(), user, code)
    triage = data["triage"]
    add = add_form(rec, user, obligations)
    edit = edit_form(rec, user)
    adapt = obligation_form(user, obligations)
    dialogs = [
        dialog("bp-dlg-add", "Ajouter au carnet", add) if add is not None else None,
        dialog("bp-dlg-edit", "Modifier l'entrée", edit, title_id="bp-edit-title")
        if edit is not None
        else None,
        dialog(
            "bp-dlg-triage",
            "Signalements à traiter",
            html.Div(
                [
                    html.Div(id="bp-triage-msg"),
                    html.Div(logbook_views.triage_cards(triage), id="bp-triage"),
                ]
            ),
        )
        if triage is not None
        else None,
        dialog("bp-dlg-ob", "Adapter une obligation de ce bâtiment", adapt)
        if adapt is not None
        else None,
    ]
    children = [
        *stores,
        dcc.Store(id="bp-rev-add", data=0),
        dcc.Store(id="bp-rev-triage", data=0),
        dcc.Store(id="bp-rev-edit", data=0),
        dcc.Store(id="bp-rev-ob", data=0),
        dcc.Store(id="bp-page", data=data["logbook"]["page"]),
        head,
        _actions(user, add is not None, triage, adapt is not None),
        html.Div(id="bp-done", **{"aria-live": "polite"}),
        html.Div(
            className="bp-columns",
            children=[
                html.Div(
                    _record_sections(rec, _record_parts(rec)), className="bp-side", id="bp-record"
                ),
                html.Div(_logbook_section(rec, data["logbook"]), className="bp-main"),
            ],
        ),
        *dialogs,
    ]
    children.append(tertiaire_views.tertiaire_section(code))
    return html.Div(children, className="page building-page")


# ---------------------------------------------------------------- callbacks


@callback(
    Output("bp-timeline", "children"),
    Output("bp-page", "data"),
    Output("bp-page-count", "children"),
    Output("bp-page-label", "children"),
    Output("bp-page-prev", "disabled"),
    Output("bp-page-next", "disabled"),
    Input("bp-rev-add", "data"),
    Input("bp-rev-triage", "data"),
    Input("bp-rev-edit", "data"),
    Input("bp-f-kind", "value"),
    Input("bp-f-status", "value"),
    Input("bp-f-period", "start_date"),
    Input("bp-f-period", "end_date"),
    Input("bp-f-text", "value"),
    Input("bp-f-equipment", "value"),
    Input("bp-f-author", "value"),
    Input("bp-page-prev", "n_clicks"),
    Input("bp-page-next", "n_clicks"),
    State("bp-page", "data"),
    State("bp-code", "data"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def refresh_logbook(
    _rev_add,
    _rev_triage,
    _rev_edit,
    kinds,
    status,
    start,
    end,
    text,
    equipment,
    author,
    _prev,
    _next,
    page,
    code,
):
    """One page of the logbook for the filters: a filter or a new entry goes back to the most
    recent page, « Plus anciennes » / « Plus récentes » turn it, an edit or a triage keeps it."""
    trigger = ctx.triggered_id
    page = int(page or 1)
    if trigger == "bp-page-prev":
        page -= 1
    elif trigger == "bp-page-next":
        page += 1
    elif trigger not in ("bp-rev-edit", "bp-rev-triage"):
        page = 1
    filters = building_data.filter_args(kinds, equipment, start, end, author, status, text)
    try:
        data = building_data.logbook_page(db.engine(), current_user(), code, filters, page)
    except CarnetPermissionError:
        abort(403)
    return (
        logbook_views.timeline(data),
        data["page"],
        logbook_views.page_count(data),
        logbook_views.page_label(data),
        data["page"] <= 1,
        data["page"] >= data["pages"],
    )


@callback(
    Output("bp-obligations-wrap", "children"),
    Output("bp-alarms", "children"),
    Output("bp-documents", "children"),
    Input("bp-rev-add", "data"),
    Input("bp-rev-triage", "data"),
    Input("bp-rev-edit", "data"),
    Input("bp-rev-ob", "data"),
    State("bp-code", "data"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def refresh_record(_rev_add, _rev_triage, _rev_edit, _rev_ob, code):
    """The record's parts a write may change (obligations done, alarms closed, new files)."""
    try:
        data = building_data.sections(
            db.engine(), current_user(), code, with_triage=False, with_logbook=False
        )
    except CarnetPermissionError:
        abort(403)
    parts = _record_parts(data["rec"])
    return parts["obligations"], parts["alarms"], parts["documents"]


# the dialogs open and close in the browser (nothing to check: the forms' callbacks are guarded)
_TOGGLE = """function() {
    var opened = dash_clientside.callback_context.triggered.some(function(t) {
        return t.prop_id === "%s.n_clicks" && t.value;
    });
    return !opened;
}"""
for _dialog, _opener, _closers in (
    ("bp-dlg-add", "bp-open-add", [Input("bp-rev-add", "data")]),
    ("bp-dlg-triage", "bp-open-triage", []),
    ("bp-dlg-ob", "bp-open-ob", [Input("bp-rev-ob", "data")]),
):
    clientside_callback(
        _TOGGLE % _opener,
        Output(_dialog, "hidden", allow_duplicate=True),
        Input(_opener, "n_clicks"),
        Input(f"{_dialog}-close", "n_clicks"),
        *_closers,
        prevent_initial_call=True,
    )
clientside_callback(  # a new page of the logbook is read from its top
    """function() {
        var logbook = document.getElementById("bp-logbook");
        if (logbook) { logbook.scrollIntoView({block: "start"}); }
        return window.dash_clientside.no_update;
    }""",
    Output("bp-logbook", "className"),
    Input("bp-page-prev", "n_clicks"),
    Input("bp-page-next", "n_clicks"),
    prevent_initial_call=True,
)
clientside_callback(
    "function() { return true; }",
    Output("bp-dlg-edit", "hidden", allow_duplicate=True),
    Input("bp-dlg-edit-close", "n_clicks"),
    Input("bp-rev-edit", "data"),
    prevent_initial_call=True,
)


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


_ADD_FIELDS = ("kind", "equipment", "room", "date", "cost", "status", "obligation", "text")


@callback(
    Output("bp-add-msg", "children"),
    Output("bp-done", "children", allow_duplicate=True),
    Output("bp-rev-add", "data"),
    Output("bp-add-kind", "value"),
    Output("bp-add-equipment", "value"),
    Output("bp-add-room", "value"),
    Output("bp-add-date", "date"),
    Output("bp-add-cost", "value"),
    Output("bp-add-status", "value"),
    Output("bp-add-obligation", "value"),
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
    running=[(Output("bp-add-submit", "disabled"), True, False)],
    prevent_initial_call=True,
)
@guarded("carnet.observation")
def add(
    n, code, kind, equipment, room, day, cost, status, obligation, text, contents, filename, rev
):
    """Write the entry; once saved the form is emptied (a second click finds no text and
    writes nothing) and its dialog closes (through `bp-rev-add`)."""
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
        error = alert(_message(exc), "error", "bp-add-error")
        return error, NO, NO, *[NO] * len(_ADD_FIELDS), NO, NO
    ok = alert(f"Entrée n° {entry_id} enregistrée.", "ok", "bp-add-ok")
    empty = add_defaults(user)
    return None, ok, (rev or 0) + 1, *[empty[f] for f in _ADD_FIELDS], None, None


@callback(
    Output("bp-triage-msg", "children"),
    Output("bp-rev-triage", "data"),
    Output("bp-triage", "children"),
    Output("bp-open-triage", "children"),
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
        return alert(_message(exc), "error", "bp-triage-error"), NO, NO, NO
    rows = building_data.triage_rows(db.engine(), user, code)
    cards = logbook_views.triage_cards(rows)  # the timeline and the rest follow bp-rev-triage
    return alert(msg, "ok", "bp-triage-ok"), (rev or 0) + 1, cards, _triage_label(rows)


_EDIT_FIELDS = (
    ("kind", "value"),
    ("date", "date"),
    ("equipment", "value"),
    ("room", "value"),
    ("status", "value"),
    ("cost", "value"),
    ("text", "value"),
    ("note", "value"),
)


@callback(
    Output("bp-edit-id", "data"),
    Output("bp-edit-title", "children"),
    Output("bp-edit-kind", "options"),
    *[Output(f"bp-edit-{name}", prop) for name, prop in _EDIT_FIELDS],
    Output("bp-edit-msg", "children", allow_duplicate=True),
    Output("bp-dlg-edit", "hidden", allow_duplicate=True),
    Input({"type": "bp-edit-open", "id": ALL}, "n_clicks"),
    State("bp-code", "data"),
    prevent_initial_call=True,
)
@guarded("carnet.intervention")
def open_edit(clicks, code):
    """« Modifier » on an entry: the edit dialog opens with the entry's values (checked: this
    building, and an entry the user may edit)."""
    trigger = ctx.triggered_id
    if not trigger or not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate  # the buttons of a page just drawn
    user = current_user()
    try:
        v = building_data.entry_form_values(db.engine(), user, code, trigger["id"])
    except (CarnetPermissionError, LogbookError, LookupError) as exc:
        return (NO,) * (3 + len(_EDIT_FIELDS)) + (alert(_message(exc), "error"), False)
    kinds = kinds_for(user)
    options = kind_options(kinds if v["kind"] in kinds else [*kinds, v["kind"]])
    values = [v[name] if name != "note" else v["answer"] for name, _ in _EDIT_FIELDS]
    return v["id"], f"Modifier l'entrée n° {v['id']}", options, *values, None, False


@callback(
    Output("bp-edit-msg", "children"),
    Output("bp-done", "children", allow_duplicate=True),
    Output("bp-rev-edit", "data"),
    Input("bp-edit-submit", "n_clicks"),
    State("bp-code", "data"),
    State("bp-edit-id", "data"),
    *[State(f"bp-edit-{name}", prop) for name, prop in _EDIT_FIELDS],
    State("bp-rev-edit", "data"),
    running=[(Output("bp-edit-submit", "disabled"), True, False)],
    prevent_initial_call=True,
)
@guarded("carnet.intervention")
def edit(n, code, entry_id, kind, day, equipment, room, status, cost, text, note, rev):
    """Save the edited entry through the audited `carnet.logbook.edit_entry`."""
    if not n:
        raise PreventUpdate
    values = {
        "kind": kind,
        "date": day,
        "equipment": equipment,
        "room": room,
        "status": status,
        "cost": cost,
        "text": text,
        "answer": note,
    }
    try:
        building_data.update_entry(db.engine(), current_user(), code, entry_id, values)
    except (CarnetPermissionError, LogbookError, LookupError) as exc:
        return alert(_message(exc), "error", "bp-edit-error"), NO, NO
    done = alert(f"Entrée n° {entry_id} mise à jour.", "ok", "bp-edit-ok")
    return None, done, (rev or 0) + 1


_OB_FIELDS = (
    ("id", "value"),
    ("months", "value"),
    ("days", "value"),
    ("last", "date"),
    ("active", "value"),
    ("notes", "value"),
)


@callback(
    Output("bp-ob-msg", "children"),
    Output("bp-done", "children", allow_duplicate=True),
    Output("bp-rev-ob", "data"),
    *[Output(f"bp-ob-{name}", prop) for name, prop in _OB_FIELDS],
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
        return alert(str(exc), "error", "bp-ob-error"), NO, NO, *[NO] * len(_OB_FIELDS)
    done = alert("Obligation mise à jour.", "ok", "bp-ob-ok")
    return None, done, (rev or 0) + 1, *[None] * len(_OB_FIELDS)  # the form emptied
