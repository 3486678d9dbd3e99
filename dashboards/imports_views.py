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


def summary_table(path, fmt, batch_id, counts, status) -> html.Table:
    """One file's counts (read, new, updated, unchanged, rejected) and state: the upload's
    report, or the same line drawn again from its batch (its download)."""
    return html.Table(
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
                        html.Td(path, className="code"),
                        html.Td(fmt or "—"),
                        html.Td(str(batch_id or "—"), className="num"),
                        *[html.Td(fr_number(v), className="num") for v in counts],
                        html.Td(STATUS_FR.get(status, status)),
                    ]
                )
            ),
        ],
        className="data-table",
    )


def report_block(report: BatchReport) -> html.Div:
    """What became of one uploaded file: message, counts, notes and the first rejected rows."""
    counts = (
        report.rows_read,
        report.rows_inserted,
        report.rows_updated,
        report.rows_unchanged,
        report.rows_rejected,
    )
    summary = summary_table(report.path, report.format, report.batch_id, counts, report.status)
    if report.batch_id is not None:
        summary = downloadable_table(
            "imp-report", summary, {"lot": int(report.batch_id)}, key=str(report.batch_id)
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
                dcc.Checklist(
                    id="imp-choose",
                    options=[{"label": " Choisir moi-même les colonnes", "value": "map"}],
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


# ---------------------------------------------------------------- column mapping (issue 13)

_GUESS = {  # a first guess per role from the column's name (the user corrects it)
    "channel": ("point", "capteur", "compteur", "channel", "voie", "canal", "sonde"),
    "timestamp": ("date", "heure", "quand", "horodat", "time", "jour"),
    "value": ("valeur", "mesure", "value", "index", "releve", "relevé", "conso"),
    "quality": ("qualit", "quality", "statut"),
    "unit": ("unit",),
}


def _guess(columns: list[str]) -> dict:
    chosen: dict[str, str] = {}
    for role, words in _GUESS.items():
        for c in columns:
            if c not in chosen.values() and any(w in c.casefold() for w in words):
                chosen[role] = c
                break
    return chosen


def mapping_panel(columns: list[str], filename: str, token: str, can_save: bool) -> html.Div:
    """« Indiquer les colonnes » of an uploaded file: one choice per role, the date format,
    decimal mark, clock and the point of a file without one; a preview of the first lines as
    the import reads them; « Importer » and (`can_save`) « Enregistrer comme profil »."""
    guess = _guess(columns)
    options = [{"label": c, "value": c} for c in columns]

    def role(name: str, required: bool):
        return html.Label(
            [
                imports_data.MAP_ROLE_LABELS_FR[name],
                dcc.Dropdown(
                    id=f"imp-map-{name}",
                    options=options,
                    value=guess.get(name),
                    clearable=not required or name == "channel",
                    placeholder="—",
                ),
            ],
            className="form-field",
        )

    save = (
        [
            html.Div(
                className="form-actions",
                children=[
                    dcc.Input(
                        id="imp-map-profile-name",
                        type="text",
                        placeholder="Nom du profil (ex. capteurs-ecole)",
                        className="input",
                    ),
                    html.Button(
                        "Enregistrer comme profil",
                        id="imp-map-save",
                        className="btn btn-secondary",
                        n_clicks=0,
                    ),
                ],
            ),
            html.Div(id="imp-map-save-msg"),
        ]
        if can_save
        else []
    )
    return html.Div(
        id="imp-map-panel",
        className="card mapping-panel",
        children=[
            dcc.Store(id="imp-map-file", data={"token": token, "name": filename}),
            html.H3(f"Indiquer les colonnes de {filename}"),
            html.P(
                [
                    "Colonnes trouvées : ",
                    html.Span(" · ".join(columns), id="imp-map-columns", className="code"),
                ],
                className="muted",
            ),
            html.Div(
                className="form-grid mapping-roles",
                children=[
                    role("channel", True),
                    role("timestamp", True),
                    role("value", True),
                    role("quality", False),
                    role("unit", False),
                    html.Label(
                        [
                            "Point de mesure de tout le fichier (sans colonne de point)",
                            dcc.Input(id="imp-map-default-channel", type="text", className="input"),
                        ],
                        className="form-field",
                    ),
                    html.Label(
                        [
                            "Format des dates",
                            dcc.Dropdown(
                                id="imp-map-date-format",
                                options=[
                                    {"label": label, "value": fmt}
                                    for fmt, label in imports_data.DATE_FORMATS.items()
                                ],
                                value="",
                                clearable=False,
                            ),
                        ],
                        className="form-field",
                    ),
                    html.Label(
                        [
                            "Séparateur décimal",
                            dcc.Dropdown(
                                id="imp-map-decimal",
                                options=[
                                    {"label": "Celui du fichier", "value": ""},
                                    {"label": "Virgule (12,5)", "value": ","},
                                    {"label": "Point (12.5)", "value": "."},
                                ],
                                value="",
                                clearable=False,
                            ),
                        ],
                        className="form-field",
                    ),
                    html.Label(
                        [
                            "Fuseau horaire des dates",
                            dcc.Dropdown(
                                id="imp-map-timezone",
                                options=[
                                    {"label": "Heure de Paris", "value": "local"},
                                    {"label": "UTC", "value": "utc"},
                                ],
                                value="local",
                                clearable=False,
                            ),
                        ],
                        className="form-field",
                    ),
                ],
            ),
            html.H4(f"Aperçu des {imports_data.PREVIEW_ROWS} premières lignes, telles que lues"),
            html.Div(id="imp-map-preview"),
            html.Div(
                className="form-actions",
                children=[
                    html.Button(
                        "Importer", id="imp-map-import", className="btn btn-primary", n_clicks=0
                    )
                ],
            ),
            *save,
        ],
    )


def preview_view(result: dict | None, error: str | None = None) -> html.Div:
    """The preview table (line, point, date, value as they will be stored) and its rejects."""
    if error:
        return html.Div(sentence(error), className="alert alert-error", id="imp-map-error")
    readings, rejected = result["readings"], result["rejected"]
    children = []
    if readings:
        children.append(
            html.Table(
                [
                    html.Thead(
                        html.Tr(
                            [html.Th(h) for h in ("Ligne", "Point de mesure", "Date", "Valeur")]
                        )
                    ),
                    html.Tbody(
                        [
                            html.Tr(
                                [
                                    html.Td(str(r["line"]), className="num"),
                                    html.Td(r["point"], className="code"),
                                    html.Td(r["date"], className="date"),
                                    html.Td(r["value"], className="num"),
                                ]
                            )
                            for r in readings
                        ]
                    ),
                ],
                className="data-table",
                id="imp-map-preview-table",
            )
        )
    if rejected:
        children.append(
            html.Ul(
                [html.Li(f"ligne {r['line']} : {r['reason']}") for r in rejected],
                className="muted",
                id="imp-map-preview-rejected",
            )
        )
    if not children:
        children.append(html.P("Aucune ligne lue.", className="muted"))
    return html.Div(children)
