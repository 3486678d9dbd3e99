"""Imports (`/imports`): drop reading files, see what became of every row, and the history.

The manager imports into any channel; a contractor only into its contract's channels (values
for any other channel are rejected with the reason, by `ingest.importer` itself) and sees only
its own batches. The work is `ingest.importer.import_file`, the same as `carnet import`.

The manager also reviews here what the import held back (« Relevés en quarantaine »: accept,
reject, declare a meter replacement) and reverts a batch (« Annuler ce lot »), through
`dashboards.imports_data` (`carnet.quarantine`, `carnet.batches`): those sections are only in
the manager's layout, and each of their callbacks checks the capability on the server.
"""

from __future__ import annotations

import binascii
import tempfile
from pathlib import Path

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate
from flask import abort

from carnet.batches import BatchRevertRefused
from carnet.quarantine import QuarantineError
from carnet.roles import is_contractor
from dashboards import db, imports_data
from dashboards.auth import current_scope, current_user, guarded, require
from dashboards.components import downloadable_table, page_head
from dashboards.downloads import register_table
from dashboards.imports_review_views import (
    confirm_text,
    detail,
    held_badge,
    held_table,
    review_section,
)
from dashboards.imports_views import (
    HIDDEN,
    SHOWN_REJECTS,
    alert,
    batch_options,
    history_table,
    mapping_panel,
    preview_view,
    rejected_table,
    report_block,
    revert_panel,
    sentence,
    summary_table,
    upload_controls,
)
from ingest.importer import batch_rejected, import_file
from ingest.limits import MAX_UPLOAD_BYTES, fr_size

CAPABILITY = "import.csv"
REVIEW = "quarantine.review"  # the manager's quarantine review
REVERT = "batch.revert"  # the manager's batch revert
PROFILE_EDIT = "carnet.edit"  # saving an import profile changes the town's set-up (manager)


dash.register_page(
    __name__,
    path="/imports",
    name="Imports",
    title="Imports · Carnet",
    description="Déposer des relevés (CSV, export GRDF XLSX) : bilan, lignes rejetées, historique.",
    order=60,
    capability=CAPABILITY,
)


def _own_login() -> str | None:
    """None for the manager (every batch), else the contractor's login (its own batches)."""
    user = current_user()
    return user.login if user is not None and is_contractor(user.role) else None


def _history(limit: int = 50):
    return imports_data.batch_history(db.engine(), limit=limit, user=_own_login())


def _history_table(frame):
    """The batch list as this user sees it (« Annuler ce lot » for whoever may revert)."""
    user = current_user()
    table = history_table(frame, can_revert=user is not None and user.can(REVERT))
    return downloadable_table("imp-history-table", table)


def _rejected_of(batch_id):
    """The rejected rows of one of the user's batches (403 for another user's batch)."""
    if not str(batch_id).isdigit():
        abort(400)
    mine = _history(limit=100_000)
    if int(batch_id) not in set(mine["id"].astype(int)):
        abort(403)  # another user's batch: a contractor sees only its own
    rej = batch_rejected(db.engine(), int(batch_id))
    if not len(rej):
        return html.P(f"Lot n° {batch_id} : aucune ligne rejetée.", className="muted")
    rows = rej.head(SHOWN_REJECTS).astype(object).where(rej.notna(), None).to_dict("records")
    return rejected_table(rows, None)


def _report_again(params: dict):
    """An upload's summary line, drawn again from its batch (one of the user's own)."""
    batch_id = params.get("lot")
    mine = _history(limit=100_000)
    row = mine[mine["id"] == batch_id] if isinstance(batch_id, int) else mine.iloc[0:0]
    if row.empty:
        abort(403)
    r = row.iloc[0]
    counts = [int(r[c]) for c in ("rows_read", "rows_inserted", "rows_updated", "rows_unchanged",
                                  "rows_rejected")]  # fmt: skip
    return summary_table(
        Path(str(r["source"])).name, r["format"], int(r["id"]), counts, r["status"]
    )


register_table("imp-report", CAPABILITY, _report_again, filename="import")
register_table(
    "imp-history-table",
    CAPABILITY,
    lambda _params: history_table(_history(), can_revert=False),
    filename="lots-import",
)
register_table(
    "imp-rejected-table",
    CAPABILITY,
    lambda params: _rejected_of(params.get("lot")),
    filename="lignes-rejetees",
)
register_table(
    "imp-q-table",
    REVIEW,
    lambda _params: held_table(imports_data.held_rows(db.engine()), 0),
    filename="quarantaine",
)


def layout(**_query):
    user = current_user()
    history = _history()
    scope_note = (
        "Vos fichiers ne peuvent alimenter que les points de mesure des bâtiments de votre "
        "contrat : toute autre valeur est rejetée avec son motif."
        if user is not None and is_contractor(user.role)
        else "Formats reconnus : CSV générique (long ou large, anglais ou français), exports "
        "Enedis (courbe de charge, index quotidiens), GRDF (CSV ou XLSX), météo, enregistreurs."
    )
    return html.Div(
        className="page imports",
        children=[
            page_head(
                "Imports de relevés",
                "Chaque fichier devient un lot : chaque ligne est importée, mise à jour, "
                "inchangée ou rejetée avec son motif. Réimporter un fichier ne change "
                "rien. " + scope_note,
                *_review_badge(user),
            ),
            *upload_controls(),
            dcc.Loading(html.Div(id="imp-result")),
            html.Div(id="imp-map"),
            *_review_section(user),
            html.H2("Historique des lots"),
            dcc.Dropdown(
                id="imp-batch",
                options=batch_options(history),
                placeholder="Voir les lignes rejetées d'un lot…",
            ),
            html.Div(id="imp-rejected"),
            *(revert_panel() if user is not None and user.can(REVERT) else []),
            html.Div(_history_table(history), id="imp-history", className="table-wrap"),
        ],
    )


@callback(
    Output("imp-result", "children"),
    Output("imp-history", "children"),
    Output("imp-batch", "options"),
    Output("imp-map", "children"),
    Input("imp-upload", "contents"),
    State("imp-upload", "filename"),
    State("imp-format", "value"),
    State("imp-strict", "value"),
    State("imp-choose", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def upload(contents, filenames, fmt, strict, choose=None):
    if not contents:
        raise PreventUpdate
    user = current_user()
    contents = contents if isinstance(contents, list) else [contents]
    filenames = filenames if isinstance(filenames, list) else [filenames]
    engine = db.engine()
    allowed = current_scope().channel_filter  # a contractor: its contract's channels only
    blocks = []
    sizes = [imports_data.decoded_size(c) for c in contents]
    if sum(sizes) > MAX_UPLOAD_BYTES:  # the browser checks each file; this is the whole send
        return (
            alert(
                f"Envoi refusé : {fr_size(sum(sizes))} ({fr_size(MAX_UPLOAD_BYTES)} au plus par "
                "envoi) ; déposez les fichiers un par un, ou importez-les avec carnet import.",
                "error",
            ),
            dash.no_update,
            dash.no_update,
            None,
        )
    mapping = None
    for content, name in zip(contents, filenames, strict=False):
        name = Path(str(name or "fichier.csv")).name
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            try:
                imports_data.write_base64(content, path)
            except (IndexError, ValueError, binascii.Error):
                blocks.append(alert(f"{name} : envoi illisible", "error"))
                continue
            columns = None
            if mapping is None:  # the first file whose columns are to be chosen
                columns = imports_data.needs_mapping(engine, path, fmt)
                if columns is None and "map" in (choose or []):
                    columns = imports_data.found_columns(path) or None
            if columns is not None:
                token = imports_data.keep_pending(path, user.login)
                mapping = mapping_panel(columns, name, token, user.can(PROFILE_EDIT))
                blocks.append(
                    html.Div(
                        f"{name} : indiquez ses colonnes ci-dessous (format non reconnu ou "
                        "choix demandé) ; rien n'est importé avant « Importer ».",
                        className="alert alert-info",
                        id="imp-map-needed",
                    )
                )
                continue
            report = import_file(
                engine,
                path,
                fmt=fmt or None,
                strict="strict" in (strict or []),
                user=user.login,
                allowed_channel_ids=allowed,
                source_name=name,
            )
        blocks.append(report_block(report))
    history = _history()
    return blocks, _history_table(history), batch_options(history), mapping


# ---------------------------------------------------------------- column mapping (issue 13)

_MAP_STATES = [
    State("imp-map-file", "data"),
    *[
        State(f"imp-map-{k}", "value")
        for k in (*imports_data.MAP_ROLES, "default-channel", "date-format", "decimal", "timezone")
    ],
]


def _choice(values) -> dict:
    keys = (*imports_data.MAP_ROLES, "default_channel", "date_format", "decimal", "timezone")
    return dict(zip(keys, values, strict=True))


def _mapped_file(file) -> Path:
    """The uploaded file the mapping is for, kept on the server for this user."""
    token = file.get("token") if isinstance(file, dict) else None
    return imports_data.pending_file(token, current_user().login)


@callback(
    Output("imp-map-preview", "children"),
    *[
        Input(f"imp-map-{k}", "value")
        for k in (*imports_data.MAP_ROLES, "default-channel", "date-format", "decimal", "timezone")
    ],
    State("imp-map-file", "data"),
)
@guarded(CAPABILITY)
def preview_mapping(*args):
    """The first lines as the import will read them, again at each choice."""
    *values, file = args
    try:
        path = _mapped_file(file)
        profile = imports_data.mapping_profile(_choice(values))
        allowed = current_scope().channel_filter
        return preview_view(imports_data.preview(db.engine(), path, profile, allowed=allowed))
    except imports_data.MappingError as exc:
        return preview_view(None, str(exc))


@callback(
    Output("imp-result", "children", allow_duplicate=True),
    Output("imp-history", "children", allow_duplicate=True),
    Output("imp-batch", "options", allow_duplicate=True),
    Output("imp-map", "children", allow_duplicate=True),
    Input("imp-map-import", "n_clicks"),
    *_MAP_STATES,
    State("imp-strict", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def import_mapped(clicks, file, *rest):
    """« Importer »: the file read with the mapping, as `carnet import --profile` would; the
    waiting file is then removed (a refused strict file stays, to be read otherwise)."""
    if not clicks:
        raise PreventUpdate
    *values, strict = rest
    user = current_user()
    try:
        path = _mapped_file(file)
        profile = imports_data.mapping_profile(_choice(values))
    except imports_data.MappingError as exc:
        keep = (dash.no_update,) * 3
        return alert(sentence(exc), False, "imp-map-error"), *keep
    report = import_file(
        db.engine(),
        path,
        strict="strict" in (strict or []),
        user=user.login,
        allowed_channel_ids=current_scope().channel_filter,
        source_name=path.name,
        columns=profile,
    )
    if report.status in ("ok", "partial"):
        imports_data.drop_pending(file.get("token"), user.login)
    history = _history()  # the panel stays: « Enregistrer comme profil » after a good import
    return [report_block(report)], _history_table(history), batch_options(history), dash.no_update


@callback(
    Output("imp-map-save-msg", "children"),
    Input("imp-map-save", "n_clicks"),
    State("imp-map-profile-name", "value"),
    *_MAP_STATES[1:],
    prevent_initial_call=True,
)
@guarded(PROFILE_EDIT)
def save_mapping(clicks, name, *values):
    """« Enregistrer comme profil »: stored as the portfolio's `import_profiles:` are."""
    user = require(PROFILE_EDIT)
    if not clicks:
        raise PreventUpdate
    try:
        profile = imports_data.mapping_profile(_choice(values))
        message = imports_data.save_profile(db.engine(), name, profile, user.login)
    except imports_data.MappingError as exc:
        return alert(sentence(exc), False, "imp-map-save-error")
    return alert(message, True, "imp-map-save-ok")


@callback(
    Output("imp-rejected", "children"),
    Input("imp-batch", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def show_rejected(batch_id):
    if not batch_id:
        return None
    params = {"lot": int(batch_id) if str(batch_id).isdigit() else None}
    return downloadable_table("imp-rejected-table", _rejected_of(batch_id), params, str(batch_id))


# ---------------------------------------------------------------- manager: quarantine review


def _review_badge(user) -> list:
    """The held-readings count near the top of the page (manager only)."""
    if user is None or not user.can(REVIEW):
        return []
    n = imports_data.held_count(db.engine())
    return [html.P(held_badge(n), id="imp-q-badge", className="q-badge-line")]


def _held_view(engine) -> tuple[html.Div, list]:
    """The review table and the badge, as they stand now."""
    total = imports_data.held_count(engine)
    table = held_table(imports_data.held_rows(engine), total)
    return downloadable_table("imp-q-table", table), held_badge(total)


def _review_section(user) -> list:
    """« Relevés en quarantaine », in the manager's layout only."""
    if user is None or not user.can(REVIEW):
        return []
    table, _badge_children = _held_view(db.engine())
    return review_section(table)


_ACTION_OF_BUTTON = {"imp-q-accept": "accept", "imp-q-reject": "reject", "imp-q-replace": "replace"}


def _clicked() -> bool:
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


@callback(
    Output("imp-q-selected", "data"),
    Output("imp-q-panel", "style"),
    Output("imp-q-title", "children"),
    Output("imp-q-detail", "children"),
    Output("imp-q-msg", "children"),
    Output("imp-q-why", "value", allow_duplicate=True),
    Output("imp-q-old", "value", allow_duplicate=True),
    Output("imp-q-new", "value", allow_duplicate=True),
    Input({"type": "imp-q-pick", "id": ALL}, "n_clicks"),
    State("imp-q-selected", "data"),
    prevent_initial_call=True,
)
@guarded(REVIEW)
def pick_held(_clicks, selected):
    """« Examiner »: the reading's details and the decision form (emptied for another one: a
    motif is given for one reading)."""
    require(REVIEW)
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not _clicked():
        raise PreventUpdate
    row = imports_data.held_row(db.engine(), int(trigger["id"]))
    if row is None:
        gone = alert("Ce relevé n'est plus en quarantaine.", False, "imp-q-error")
        return None, HIDDEN, None, None, gone, "", "", ""
    title = f"Relevé n° {row['id']} · {row['point']} ({row['building']}) · {row['date']}"
    form = (dash.no_update,) * 3 if selected == row["id"] else ("", "", "")
    return row["id"], {}, title, detail(row), None, *form


@callback(
    Output("imp-q-confirm", "displayed"),
    Output("imp-q-confirm", "message"),
    Output("imp-q-pending", "data"),
    Output("imp-q-msg", "children", allow_duplicate=True),
    Input("imp-q-accept", "n_clicks"),
    Input("imp-q-reject", "n_clicks"),
    Input("imp-q-replace", "n_clicks"),
    State("imp-q-selected", "data"),
    State("imp-q-why", "value"),
    State("imp-q-old", "value"),
    State("imp-q-new", "value"),
    prevent_initial_call=True,
)
@guarded(REVIEW)
def ask_decision(_accept, _reject, _replace, selected, why, old, new):
    """First step: check the motif (and the indexes) and ask for confirmation."""
    require(REVIEW)
    action = _ACTION_OF_BUTTON.get(ctx.triggered_id)
    if action is None or not _clicked():
        raise PreventUpdate
    row = None
    if isinstance(selected, int | str) and str(selected).isdigit():
        row = imports_data.held_row(db.engine(), int(selected))
    if row is None:
        msg = "Choisissez d'abord un relevé en quarantaine (bouton « Examiner »)."
        return False, dash.no_update, None, alert(msg, False, "imp-q-error")
    try:
        imports_data.check_decision(action, why, old, new)
    except imports_data.ReviewInputError as exc:
        return (
            False,
            dash.no_update,
            None,
            alert(sentence(exc), False, "imp-q-error"),
        )
    pending = {"action": action, "id": row["id"]}
    return True, confirm_text(action, row, old, new), pending, None


@callback(
    Output("imp-q-msg", "children", allow_duplicate=True),
    Output("imp-q-table", "children"),
    Output("imp-q-badge", "children"),
    Output("imp-q-selected", "data", allow_duplicate=True),
    Output("imp-q-panel", "style", allow_duplicate=True),
    Output("imp-q-why", "value"),
    Output("imp-q-old", "value"),
    Output("imp-q-new", "value"),
    Input("imp-q-confirm", "submit_n_clicks"),
    State("imp-q-pending", "data"),
    State("imp-q-why", "value"),
    State("imp-q-old", "value"),
    State("imp-q-new", "value"),
    prevent_initial_call=True,
)
@guarded(REVIEW)
def decide_held(submitted, pending, why, old, new):
    """Second step, once confirmed: the decision, through `carnet.quarantine`."""
    user = require(REVIEW)
    if not submitted or not isinstance(pending, dict):
        raise PreventUpdate
    action, qid = pending.get("action"), pending.get("id")
    if action not in imports_data.DECISIONS or not str(qid).isdigit():
        raise PreventUpdate
    engine = db.engine()
    keep = (dash.no_update,) * 5
    try:
        message = imports_data.decide(
            engine, action, int(qid), actor=user.login, why=why, old_final=old, new_start=new
        )
    except (imports_data.ReviewInputError, QuarantineError) as exc:
        table, badge = _held_view(engine)
        error = alert(sentence(exc), False, "imp-q-error")
        return error, table, badge, *keep
    table, badge = _held_view(engine)
    return alert(message, True, "imp-q-ok"), table, badge, None, HIDDEN, "", "", ""


@callback(
    Output("imp-q-table", "children", allow_duplicate=True),
    Output("imp-q-badge", "children", allow_duplicate=True),
    Input("imp-history", "children"),
    prevent_initial_call=True,
)
@guarded(REVIEW)
def refresh_held(_history):
    """An upload or a revert changed the batches: what is held may have changed too."""
    require(REVIEW)
    return _held_view(db.engine())


# ---------------------------------------------------------------- manager: batch revert


def _own_batch_label(batch_id) -> str | None:
    if not str(batch_id).isdigit():
        return None
    return imports_data.batch_label(db.engine(), int(batch_id))


@callback(
    Output("imp-rv-selected", "data"),
    Output("imp-rv-panel", "style"),
    Output("imp-rv-title", "children"),
    Output("imp-rv-msg", "children"),
    Output("imp-rv-why", "value", allow_duplicate=True),
    Input({"type": "imp-rv-pick", "id": ALL}, "n_clicks"),
    State("imp-rv-selected", "data"),
    prevent_initial_call=True,
)
@guarded(REVERT)
def pick_batch(_clicks, selected):
    """« Annuler ce lot » in the history: the motif form for that batch (emptied for another)."""
    require(REVERT)
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not _clicked():
        raise PreventUpdate
    label = _own_batch_label(trigger["id"])
    if label is None:
        return None, HIDDEN, None, alert("Lot inconnu.", False, "imp-rv-error"), ""
    why = dash.no_update if selected == int(trigger["id"]) else ""
    return int(trigger["id"]), {}, f"Annuler le {label[0].lower()}{label[1:]}", None, why


@callback(
    Output("imp-rv-confirm", "displayed"),
    Output("imp-rv-confirm", "message"),
    Output("imp-rv-msg", "children", allow_duplicate=True),
    Input("imp-rv-submit", "n_clicks"),
    State("imp-rv-selected", "data"),
    State("imp-rv-why", "value"),
    prevent_initial_call=True,
)
@guarded(REVERT)
def ask_revert(clicks, selected, why):
    require(REVERT)
    if not clicks:
        raise PreventUpdate
    label = _own_batch_label(selected)
    if label is None:
        msg = "Choisissez d'abord un lot (bouton « Annuler ce lot » de l'historique)."
        return False, dash.no_update, alert(msg, False, "imp-rv-error")
    if not (why or "").strip():
        return (
            False,
            dash.no_update,
            alert("Indiquez le motif de l'annulation.", False, "imp-rv-error"),
        )
    message = (
        f"Annuler le {label[0].lower()}{label[1:]} ? Ses relevés sont retirés, ceux qu'il avait "
        "remplacés sont rétablis ; l'annulation est inscrite au journal d'audit."
    )
    return True, message, None


@callback(
    Output("imp-rv-msg", "children", allow_duplicate=True),
    Output("imp-history", "children", allow_duplicate=True),
    Output("imp-batch", "options", allow_duplicate=True),
    Output("imp-rv-selected", "data", allow_duplicate=True),
    Output("imp-rv-panel", "style", allow_duplicate=True),
    Output("imp-rv-why", "value"),
    Input("imp-rv-confirm", "submit_n_clicks"),
    State("imp-rv-selected", "data"),
    State("imp-rv-why", "value"),
    prevent_initial_call=True,
)
@guarded(REVERT)
def revert_batch(submitted, selected, why):
    """Once confirmed: revert the batch through `carnet.batches.revert_batch`."""
    user = require(REVERT)
    if not submitted or _own_batch_label(selected) is None:
        raise PreventUpdate
    engine = db.engine()
    try:
        message = imports_data.revert(engine, int(selected), actor=user.login, why=why)
    except imports_data.ReviewInputError as exc:
        error = alert(sentence(exc), False, "imp-rv-error")
        return error, *(dash.no_update,) * 5
    except BatchRevertRefused as exc:
        error = alert(sentence(exc), False, "imp-rv-error")
        return error, *(dash.no_update,) * 5
    history = _history()
    ok = alert(message, True, "imp-rv-ok")
    return ok, _history_table(history), batch_options(history), None, HIDDEN, ""
