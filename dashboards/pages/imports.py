"""Imports (`/imports`): drop reading files, see what became of every row, and the history.

The manager imports into any channel; a contractor only into its contract's channels (values
for any other channel are rejected with the reason, by `ingest.importer` itself) and sees only
its own batches. The work is `ingest.importer.import_file`, the same as `carnet import`.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from pathlib import Path

import dash
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate
from flask import abort

from dashboards import db
from dashboards.auth import current_user, guarded
from dashboards.fmt import fr_datetime, fr_number
from ingest.formats import FORMATS
from ingest.importer import (
    BatchReport,
    batch_rejected,
    contract_channel_ids,
    import_file,
    list_batches,
)

CAPABILITY = "import.csv"
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
SHOWN_REJECTS = 200
STATUS_FR = {
    "ok": "importé",
    "partial": "importé, lignes rejetées",
    "failed": "refusé",
    "unreadable": "illisible",
    "running": "en cours",
}

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
    return user.login if user is not None and user.role == "contractor" else None


def _history(limit: int = 50):
    return list_batches(db.engine(), limit=limit, user=_own_login())


def _history_table(frame) -> html.Table:
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
        "Par",
    ]
    rows = [
        html.Tr(
            [
                html.Td(str(r.id), className="num"),
                html.Td(fr_datetime(r.started_at), className="date"),
                html.Td(Path(str(r.source)).name, className="code", title=str(r.source)),
                html.Td(r.format or "—"),
                html.Td(STATUS_FR.get(r.status, r.status), title=r.message or ""),
                *[
                    html.Td(fr_number(getattr(r, c)), className="num")
                    for c in (
                        "rows_read",
                        "rows_inserted",
                        "rows_updated",
                        "rows_unchanged",
                        "rows_rejected",
                    )
                ],
                html.Td(r.user_login or "—"),
            ]
        )
        for r in frame.itertuples(index=False)
    ]
    if not rows:
        return html.P("Aucun lot d'import pour l'instant.", className="muted")
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
        className="data-table",
    )


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
        if user is not None and user.role == "contractor"
        else "Formats reconnus : CSV générique (long ou large, anglais ou français), exports "
        "Enedis (courbe de charge, index quotidiens), GRDF (CSV ou XLSX), météo, enregistreurs."
    )
    return html.Div(
        className="page imports",
        children=[
            html.Div(
                className="page-head",
                children=[
                    html.H1("Imports de relevés"),
                    html.P(
                        "Chaque fichier devient un lot : chaque ligne est importée, mise à jour, "
                        "inchangée ou rejetée avec son motif. Réimporter un fichier ne change "
                        "rien. " + scope_note,
                        className="lead",
                    ),
                ],
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
                        f" · {MAX_UPLOAD_BYTES // (1024 * 1024)} Mo au plus par fichier",
                    ]
                ),
            ),
            dcc.Loading(html.Div(id="imp-result")),
            html.H2("Historique des lots"),
            dcc.Dropdown(
                id="imp-batch",
                options=_batch_options(history),
                placeholder="Voir les lignes rejetées d'un lot…",
            ),
            html.Div(id="imp-rejected"),
            html.Div(_history_table(history), id="imp-history", className="table-wrap"),
        ],
    )


def _report_block(report: BatchReport) -> html.Div:
    ok = report.status == "ok"
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
        html.Div(report.message, className="alert " + ("alert-ok" if ok else "alert-error")),
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
    allowed = None
    if user.role == "contractor":
        if user.contract_id is None:
            abort(403)
        allowed = contract_channel_ids(engine, user.contract_id)
    blocks = []
    for content, name in zip(contents, filenames, strict=False):
        name = Path(str(name or "fichier.csv")).name
        try:
            data = base64.b64decode(content.split(",", 1)[1], validate=False)
        except (IndexError, binascii.Error):
            blocks.append(html.Div(f"{name} : envoi illisible", className="alert alert-error"))
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
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
