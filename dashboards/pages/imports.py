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

import base64
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
from dashboards.components import alert, data_table, field, page_head
from dashboards.fmt import fr_datetime, fr_number
from ingest.formats import FORMATS
from ingest.importer import (
    BatchReport,
    batch_rejected,
    import_file,
)
from ingest.limits import MAX_UPLOAD_BYTES, fr_size

CAPABILITY = "import.csv"
REVIEW = "quarantine.review"  # the manager's quarantine review
REVERT = "batch.revert"  # the manager's batch revert
HIDDEN = {"display": "none"}
SHOWN_REJECTS = 200
STATUS_FR = imports_data.BATCH_STATUS_FR  # en cours, ok, partiel, échec, illisible...

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


def _status_cell(r) -> html.Td:
    """The batch status in French; a reverted batch says by whom, when and why."""
    children = [imports_data.batch_status_fr(r.status)]
    if r.status == "reverted":
        children.append(
            html.Div(
                f"le {fr_datetime(r.reverted_at)} par {r.reverted_by or '—'} : "
                f"{r.revert_reason or '—'}",
                className="small muted",
            )
        )
    return html.Td(children, title=r.message or "", className=f"batch-status status-{r.status}")


def _history_table(frame) -> html.Table:
    user = current_user()
    can_revert = user is not None and user.can(REVERT)
    head = [
        "Lot",
        "Début",
        "Fichier",
        "Format",
        "État",
        "Lues",
        "Nouvelles",
        "Mises à jour",
        "Inchangées",
        "Rejetées",
        "En quarantaine",
        "Par",
    ] + (["Action"] if can_revert else [])
    rows = [
        html.Tr(
            [
                html.Td(str(r.id), className="num"),
                html.Td(fr_datetime(r.started_at), className="date"),
                html.Td(Path(str(r.source)).name, className="code", title=str(r.source)),
                html.Td(r.format or "—"),
                _status_cell(r),
                *[
                    html.Td(fr_number(getattr(r, c)), className="num")
                    for c in (
                        "rows_read",
                        "rows_inserted",
                        "rows_updated",
                        "rows_unchanged",
                        "rows_rejected",
                        "rows_quarantined",
                    )
                ],
                html.Td(r.user_login or "—"),
                *([_revert_cell(r)] if can_revert else []),
            ],
            **{"data-batch": str(r.id)},
        )
        for r in frame.itertuples(index=False)
    ]
    if not rows:
        return html.P("Aucun lot d'import pour l'instant.", className="muted")
    return data_table(head, rows)


def _batch_options(frame) -> list[dict]:
    return [
        {
            "label": f"Lot n° {r.id} · {Path(str(r.source)).name} · {fr_number(r.rows_rejected)} "
            "rejet(s)",
            "value": int(r.id),
        }
        for r in frame.itertuples(index=False)
    ]


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
            html.Div(
                className="filters",
                children=[
                    dcc.Dropdown(
                        id="imp-format",
                        options=[{"label": "Format : détection automatique", "value": ""}]
                        + [{"label": f"Format : {name}", "value": name} for name in FORMATS],
                        value="",
                        clearable=False,
                        style={"minWidth": "22rem"},
                    ),
                    dcc.Checklist(
                        id="imp-strict",
                        options=[
                            {
                                "label": " Tout ou rien (une ligne rejetée annule le fichier)",
                                "value": "strict",
                            }
                        ],
                        value=[],
                    ),
                ],
            ),
            dcc.Upload(
                id="imp-upload",
                multiple=True,
                max_size=MAX_UPLOAD_BYTES,
                className="card upload-zone",
                style={
                    "borderStyle": "dashed",
                    "padding": "1.5rem",
                    "textAlign": "center",
                    "cursor": "pointer",
                },
                children=html.Div(
                    [
                        "Déposez ici vos fichiers (CSV, XLSX) ou ",
                        html.A("choisissez-les"),
                        f" · {fr_size(MAX_UPLOAD_BYTES)} au plus par envoi",
                    ]
                ),
            ),
            dcc.Loading(html.Div(id="imp-result")),
            *_review_section(user),
            html.H2("Historique des lots"),
            dcc.Dropdown(
                id="imp-batch",
                options=_batch_options(history),
                placeholder="Voir les lignes rejetées d'un lot…",
            ),
            html.Div(id="imp-rejected"),
            *_revert_panel(user),
            html.Div(_history_table(history), id="imp-history", className="table-wrap"),
        ],
    )


def _alert_kind(report: BatchReport) -> str:
    """Green when all went in, amber when most did (rows rejected or held), red otherwise."""
    if report.status == "ok":
        return "ok"
    written = report.rows_inserted + report.rows_updated + report.rows_unchanged
    return "warn" if report.status == "partial" and written else "error"


def _report_block(report: BatchReport) -> html.Div:
    summary = html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th(h)
                        for h in (
                            "Fichier",
                            "Format",
                            "Lot",
                            "Lues",
                            "Nouvelles",
                            "Mises à jour",
                            "Inchangées",
                            "Rejetées",
                            "État",
                        )
                    ]
                )
            ),
            html.Tbody(
                html.Tr(
                    [
                        html.Td(report.path, className="code"),
                        html.Td(report.format or "—"),
                        html.Td(str(report.batch_id or "—"), className="num"),
                        *[
                            html.Td(fr_number(v), className="num")
                            for v in (
                                report.rows_read,
                                report.rows_inserted,
                                report.rows_updated,
                                report.rows_unchanged,
                                report.rows_rejected,
                            )
                        ],
                        html.Td(STATUS_FR.get(report.status, report.status)),
                    ]
                )
            ),
        ],
        className="data-table",
    )
    children = [
        alert(report.message, _alert_kind(report)),
        html.Div(summary, className="table-wrap"),
    ]
    if report.notes:
        children.append(html.Ul([html.Li(n) for n in report.notes[:20]], className="muted"))
    if report.rejected:
        children.append(_rejected_table(report.rejected[:SHOWN_REJECTS], report.rows_rejected))
    return html.Div(children, className="card import-report")


def _rejected_table(rows: list[dict], total: int | None = None) -> html.Div:
    table = html.Table(
        [
            html.Thead(html.Tr([html.Th("Ligne"), html.Th("Motif"), html.Th("Texte brut")])),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(
                                "—" if r.get("line_no") is None else str(r["line_no"]),
                                className="num",
                            ),
                            html.Td(r.get("reason") or ""),
                            html.Td(html.Code((r.get("raw") or "")[:200])),
                        ]
                    )
                    for r in rows
                ]
            ),
        ],
        className="data-table",
    )
    caption = f"Lignes rejetées ({len(rows)} affichée(s)"
    caption += f", {fr_number(total)} valeur(s) rejetée(s))" if total is not None else ")"
    return html.Div([html.H3(caption), html.Div(table, className="table-wrap")])


def _decoded_size(content) -> int:
    """Bytes of an upload (`data:...;base64,XXXX`) once decoded, without decoding it."""
    data = str(content or "").partition(",")[2].rstrip()
    return len(data) * 3 // 4 - data[-2:].count("=")


def _write_base64(content: str, path: Path, step: int = 1 << 22) -> None:
    """Decode an upload straight to `path`, a slice at a time (no second copy in memory):
    the file then goes through the same bounded reader as `carnet import`."""
    head, sep, data = content.partition(",")
    if not sep or ";base64" not in head:
        raise ValueError("not a base64 data URL")
    with open(path, "wb") as out:
        for i in range(0, len(data), step):  # step is a multiple of 4: slices decode alone
            out.write(base64.b64decode(data[i : i + step], validate=False))


@callback(
    Output("imp-result", "children"),
    Output("imp-history", "children"),
    Output("imp-batch", "options"),
    Input("imp-upload", "contents"),
    State("imp-upload", "filename"),
    State("imp-format", "value"),
    State("imp-strict", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def upload(contents, filenames, fmt, strict):
    if not contents:
        raise PreventUpdate
    user = current_user()
    contents = contents if isinstance(contents, list) else [contents]
    filenames = filenames if isinstance(filenames, list) else [filenames]
    engine = db.engine()
    allowed = current_scope().channel_filter  # a contractor: its contract's channels only
    blocks = []
    sizes = [_decoded_size(c) for c in contents]
    if sum(sizes) > MAX_UPLOAD_BYTES:  # the browser checks each file; this is the whole send
        return (
            alert(
                f"Envoi refusé : {fr_size(sum(sizes))} ({fr_size(MAX_UPLOAD_BYTES)} au plus par "
                "envoi) ; déposez les fichiers un par un, ou importez-les avec carnet import.",
                "error",
            ),
            dash.no_update,
            dash.no_update,
        )
    for content, name in zip(contents, filenames, strict=False):
        name = Path(str(name or "fichier.csv")).name
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            try:
                _write_base64(content, path)
            except (IndexError, ValueError, binascii.Error):
                blocks.append(alert(f"{name} : envoi illisible", "error"))
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
        blocks.append(_report_block(report))
    history = _history()
    return blocks, _history_table(history), _batch_options(history)


@callback(
    Output("imp-rejected", "children"),
    Input("imp-batch", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def show_rejected(batch_id):
    if not batch_id:
        return None
    mine = _history(limit=100_000)
    if int(batch_id) not in set(mine["id"].astype(int)):
        abort(403)  # another user's batch: a contractor sees only its own
    rej = batch_rejected(db.engine(), int(batch_id))
    if not len(rej):
        return html.P(f"Lot n° {batch_id} : aucune ligne rejetée.", className="muted")
    rows = rej.head(SHOWN_REJECTS).astype(object).where(rej.notna(), None).to_dict("records")
    return _rejected_table(rows, None)


# ---------------------------------------------------------------- manager: quarantine review


def _sentence(message) -> str:
    """A French message as a sentence: capital first letter (the rest untouched)."""
    text = str(message).strip().strip("'\"")
    return text[:1].upper() + text[1:]


def _badge_text(n: int) -> str:
    if n == 0:
        return "Aucun relevé en quarantaine"
    return f"{fr_number(n)} relevé{'s' if n > 1 else ''} en quarantaine"


def _badge(n: int) -> list:
    return [
        html.A(
            _badge_text(n),
            href="#imp-q-section",
            className="badge q-badge " + ("q-badge-held" if n else "q-badge-none"),
            **{"data-count": str(n)},
        )
    ]


def _review_badge(user) -> list:
    """The held-readings count near the top of the page (manager only)."""
    if user is None or not user.can(REVIEW):
        return []
    n = imports_data.held_count(db.engine())
    return [html.P(_badge(n), id="imp-q-badge", className="q-badge-line")]


def _held_table(rows: list[dict], total: int) -> html.Div:
    if not rows:
        return html.P("Aucun relevé en attente de décision.", className="muted")
    head = ["", "Point de mesure", "Bâtiment", "Date", "Valeur", "Fichier", "Ligne", "Raison"]
    body = [
        html.Tr(
            [
                html.Td(
                    html.Button(
                        "Examiner",
                        id={"type": "imp-q-pick", "id": r["id"]},
                        className="btn btn-secondary btn-small",
                        n_clicks=0,
                    )
                ),
                html.Td(r["point"], className="code"),
                html.Td(r["building"], className="code"),
                html.Td(r["date"], className="date"),
                html.Td(r["value"], className="num"),
                html.Td(r["file"], className="code", title=r["file_full"]),
                html.Td(r["line"], className="num"),
                html.Td(r["reason"], className="q-reason"),
            ],
            **{"data-quarantine": str(r["id"])},
        )
        for r in rows
    ]
    caption = (
        f"{fr_number(len(rows))} relevé(s) affiché(s) sur {fr_number(total)}, les plus récents "
        "d'abord : « carnet quarantine list » les donne tous."
        if total > len(rows)
        else None
    )
    table = data_table(head, body, extra_class="q-table")
    return html.Div([html.P(caption, className="muted small") if caption else None, table])


def _held_view(engine) -> tuple[html.Div, list]:
    """The review table and the badge, as they stand now."""
    total = imports_data.held_count(engine)
    return _held_table(imports_data.held_rows(engine), total), _badge(total)


def _decision_panel() -> html.Div:
    return html.Div(
        id="imp-q-panel",
        className="card review-panel",
        style=HIDDEN,
        children=[
            html.H3(id="imp-q-title"),
            html.Div(id="imp-q-detail"),
            field(
                "Motif (obligatoire)",
                dcc.Textarea(
                    id="imp-q-why",
                    className="textarea",
                    rows=2,
                    placeholder="Pourquoi cette décision (ex. index relevé sur place le "
                    "15/01 par l'agent)",
                ),
                wide=True,
            ),
            html.Div(
                className="form-actions",
                children=[
                    html.Button("Accepter", id="imp-q-accept", className="btn", n_clicks=0),
                    html.Button(
                        "Rejeter", id="imp-q-reject", className="btn btn-secondary", n_clicks=0
                    ),
                ],
            ),
            html.Fieldset(
                className="meter-change",
                children=[
                    html.Legend("Changement de compteur"),
                    html.P(
                        "Si ce relevé vient d'un compteur remplacé, indiquez le dernier index "
                        "de l'ancien compteur et le premier index du nouveau : la consommation "
                        "est comptée sur chacun, sans saut ni retour à zéro.",
                        className="muted small",
                    ),
                    html.Div(
                        className="form-grid",
                        children=[
                            field(
                                "Ancien index final",
                                dcc.Input(
                                    id="imp-q-old",
                                    type="text",
                                    inputMode="decimal",
                                    className="input",
                                    placeholder="ex. 123 456,7",
                                ),
                            ),
                            field(
                                "Nouvel index de départ",
                                dcc.Input(
                                    id="imp-q-new",
                                    type="text",
                                    inputMode="decimal",
                                    className="input",
                                    placeholder="ex. 0",
                                ),
                            ),
                        ],
                    ),
                    html.Div(
                        className="form-actions",
                        children=[
                            html.Button(
                                "Déclarer un changement de compteur",
                                id="imp-q-replace",
                                className="btn btn-secondary",
                                n_clicks=0,
                            )
                        ],
                    ),
                ],
            ),
        ],
    )


def _review_section(user) -> list:
    """« Relevés en quarantaine » (manager only): the held readings and the decision panel."""
    if user is None or not user.can(REVIEW):
        return []
    table, _badge_children = _held_view(db.engine())
    return [
        html.Section(
            id="imp-q-section",
            className="review",
            children=[
                html.H2("Relevés en quarantaine"),
                html.P(
                    "Ces relevés ont été mis à l'écart à l'import parce qu'ils sont "
                    "physiquement invraisemblables ou ambigus : ils ne changent aucun chiffre "
                    "(consommations, intéressement, export) tant que personne n'a décidé. "
                    "Examinez un relevé, indiquez le motif, puis acceptez-le, rejetez-le ou "
                    "déclarez un changement de compteur ; chaque décision est inscrite au "
                    "journal d'audit.",
                    className="lead",
                ),
                html.Div(id="imp-q-msg"),
                html.Div(table, id="imp-q-table", className="table-wrap q-table-wrap"),
                _decision_panel(),
                dcc.Store(id="imp-q-selected"),
                dcc.Store(id="imp-q-pending"),
                dcc.ConfirmDialog(id="imp-q-confirm"),
            ],
        )
    ]


def _detail(row: dict) -> html.Dl:
    facts = [
        ("Valeur", row["value"]),
        ("Raison", row["reason"]),
        ("Fichier", f"{row['file_full'] or row['file']}, ligne {row['line']}"),
        ("Lot", "—" if row["batch_id"] is None else f"n° {row['batch_id']}"),
    ]
    items = []
    for label, value in facts:
        items += [html.Dt(label), html.Dd(value)]
    items += [html.Dt("Texte brut"), html.Dd(html.Code(row["raw"][:500] or "—"))]
    return html.Dl(items, className="facts")


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
        gone = alert("Ce relevé n'est plus en quarantaine.", "error", "imp-q-error")
        return None, HIDDEN, None, None, gone, "", "", ""
    title = f"Relevé n° {row['id']} · {row['point']} ({row['building']}) · {row['date']}"
    form = (dash.no_update,) * 3 if selected == row["id"] else ("", "", "")
    return row["id"], {}, title, _detail(row), None, *form


def _confirm_text(action: str, row: dict, old, new) -> str:
    what = f"le relevé n° {row['id']} ({row['point']}, {row['date']}, {row['value']})"
    if action == "accept":
        return (
            f"Accepter {what} ? Il entre dans les relevés et dans les chiffres qui en "
            "dépendent ; la décision est inscrite au journal d'audit."
        )
    if action == "reject":
        return (
            f"Rejeter {what} ? Il ne comptera dans aucun chiffre ; la décision est inscrite "
            "au journal d'audit."
        )
    return (
        f"Déclarer un changement de compteur pour {what} : ancien index final {old}, nouvel "
        "index de départ " + f"{new} ? La déclaration est inscrite au carnet et au journal d'audit."
    )


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
        return False, dash.no_update, None, alert(msg, "error", "imp-q-error")
    try:
        imports_data.check_decision(action, why, old, new)
    except imports_data.ReviewInputError as exc:
        return (
            False,
            dash.no_update,
            None,
            alert(_sentence(exc), "error", "imp-q-error"),
        )
    pending = {"action": action, "id": row["id"]}
    return True, _confirm_text(action, row, old, new), pending, None


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
        error = alert(_sentence(exc), "error", "imp-q-error")
        return error, table, badge, *keep
    table, badge = _held_view(engine)
    return alert(message, "ok", "imp-q-ok"), table, badge, None, HIDDEN, "", "", ""


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


def _revert_cell(r) -> html.Td:
    if not imports_data.batch_revertible(r.status):
        return html.Td("—", className="muted")
    return html.Td(
        html.Button(
            "Annuler ce lot",
            id={"type": "imp-rv-pick", "id": int(r.id)},
            className="btn btn-secondary btn-small",
            n_clicks=0,
        )
    )


def _revert_panel(user) -> list:
    """The motif and confirmation of « Annuler ce lot » (manager only)."""
    if user is None or not user.can(REVERT):
        return []
    return [
        html.Div(id="imp-rv-msg"),
        html.Div(
            id="imp-rv-panel",
            className="card review-panel",
            style=HIDDEN,
            children=[
                html.H3(id="imp-rv-title"),
                html.P(
                    "Annuler un lot retire chaque relevé qu'il a ajouté, rétablit chaque relevé "
                    "qu'il a remplacé et recalcule les cumuls. C'est refusé s'il touche une "
                    "période arrêtée (rouvrez-la d'abord) ou si un lot plus récent s'appuie "
                    "sur lui.",
                    className="muted small",
                ),
                field(
                    "Motif (obligatoire)",
                    dcc.Textarea(
                        id="imp-rv-why",
                        className="textarea",
                        rows=2,
                        placeholder="Pourquoi annuler ce lot (ex. fichier du mauvais compteur)",
                    ),
                    wide=True,
                ),
                html.Div(
                    className="form-actions",
                    children=[
                        html.Button(
                            "Annuler ce lot",
                            id="imp-rv-submit",
                            className="btn btn-secondary btn-danger",
                            n_clicks=0,
                        )
                    ],
                ),
            ],
        ),
        dcc.Store(id="imp-rv-selected"),
        dcc.ConfirmDialog(id="imp-rv-confirm"),
    ]


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
        return None, HIDDEN, None, alert("Lot inconnu.", "error", "imp-rv-error"), ""
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
        return False, dash.no_update, alert(msg, "error", "imp-rv-error")
    if not (why or "").strip():
        return (
            False,
            dash.no_update,
            alert("Indiquez le motif de l'annulation.", "error", "imp-rv-error"),
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
        error = alert(_sentence(exc), "error", "imp-rv-error")
        return error, *(dash.no_update,) * 5
    except BatchRevertRefused as exc:
        error = alert(_sentence(exc), "error", "imp-rv-error")
        return error, *(dash.no_update,) * 5
    history = _history()
    ok = alert(message, "ok", "imp-rv-ok")
    return ok, _history_table(history), _batch_options(history), None, HIDDEN, ""
