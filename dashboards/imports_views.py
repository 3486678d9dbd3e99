"""The imports page's components: the result of an upload (summary, notes, rejected rows),
the batch list with its « Annuler ce lot » buttons, and the revert panel.

Built from what `ingest` and `dashboards.imports_data` return, without reading the request or
the database: the page decides who sees what (a contractor: its own batches, no revert) and
passes it in, so that the same table serves the layout and every callback that redraws it.
"""

from __future__ import annotations

from pathlib import Path

from dash import dcc, html

from dashboards import imports_data
from dashboards.components import downloadable_table
from dashboards.fmt import fr_datetime, fr_number
from ingest.batch_report import BatchReport
from ingest.formats import FORMATS
from ingest.limits import MAX_UPLOAD_BYTES, fr_size

HIDDEN = {"display": "none"}
SHOWN_REJECTS = 200
STATUS_FR = imports_data.BATCH_STATUS_FR  # en cours, ok, partiel, échec, illisible...


def alert(text: str, ok: bool, id_: str) -> html.Div:
    """A callback's outcome: green when done, red when refused (`id_` for the tests)."""
    return html.Div(text, className="alert " + ("alert-ok" if ok else "alert-error"), id=id_)


def sentence(message) -> str:
    """A French message as a sentence: capital first letter (the rest untouched)."""
    text = str(message).strip().strip("'\"")
    return text[:1].upper() + text[1:]


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


def history_table(frame, can_revert: bool) -> html.Table:
    """The batch list; with « Annuler ce lot » on each revertible batch when `can_revert`."""
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
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
        className="data-table",
    )


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


def batch_options(frame) -> list[dict]:
    """The batches whose rejected rows one may open, for the dropdown above the list."""
    return [
        {
            "label": f"Lot n° {r.id} · {Path(str(r.source)).name} · {fr_number(r.rows_rejected)} "
            "rejet(s)",
            "value": int(r.id),
        }
        for r in frame.itertuples(index=False)
    ]


def _alert_class(report: BatchReport) -> str:
    """Green when all went in, amber when most did (rows rejected or held), red otherwise."""
    if report.status == "ok":
        return "alert-ok"
    written = report.rows_inserted + report.rows_updated + report.rows_unchanged
    return "alert-warn" if report.status == "partial" and written else "alert-error"


def report_block(report: BatchReport) -> html.Div:
    """What became of one uploaded file: message, counts, notes and the first rejected rows."""
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
        html.Div(report.message, className="alert " + _alert_class(report)),
        html.Div(summary, className="table-wrap"),
    ]
    if report.notes:
        children.append(html.Ul([html.Li(n) for n in report.notes[:20]], className="muted"))
    if report.rejected:
        rejected = rejected_table(report.rejected[:SHOWN_REJECTS], report.rows_rejected)
        if report.batch_id is not None:  # downloadable: the batch's rejected rows as stored
            rejected = downloadable_table(
                "imp-rejected-table",
                rejected,
                {"lot": int(report.batch_id)},
                key=f"envoi-{report.batch_id}",
            )
        children.append(rejected)
    return html.Div(children, className="card import-report")


def rejected_table(rows: list[dict], total: int | None = None) -> html.Div:
    """Rejected rows with their line, reason and raw text (`total`: all of the batch's)."""
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


def revert_panel() -> list:
    """The motif and confirmation of « Annuler ce lot » (in the manager's layout only)."""
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
                html.Label(
                    [
                        "Motif (obligatoire)",
                        dcc.Textarea(
                            id="imp-rv-why",
                            className="textarea",
                            rows=2,
                            placeholder="Pourquoi annuler ce lot (ex. fichier du mauvais compteur)",
                        ),
                    ],
                    className="form-field wide",
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


def upload_controls() -> list:
    """The format choice, the all-or-nothing switch and the drop zone (its size limit said)."""
    return [
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
    ]
