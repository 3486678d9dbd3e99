"""The imports page's review of held readings (« Relevés en quarantaine »): the count badge,
the table with its « Examiner » buttons, a reading's facts, the decision panel (accept,
reject, meter change) and the confirmation sentence of a decision.

Pure builders from the rows `dashboards.imports_data` formats; the page's callbacks check
`quarantine.review` and take the decision through `imports_data.decide`.
"""

from __future__ import annotations

from dash import dcc, html

from dashboards.fmt import fr_number
from dashboards.imports_views import HIDDEN


def _badge_text(n: int) -> str:
    if n == 0:
        return "Aucun relevé en quarantaine"
    return f"{fr_number(n)} relevé{'s' if n > 1 else ''} en quarantaine"


def held_badge(n: int) -> list:
    """The held count near the top of the page, a link to the review section."""
    return [
        html.A(
            _badge_text(n),
            href="#imp-q-section",
            className="badge q-badge " + ("q-badge-held" if n else "q-badge-none"),
            **{"data-count": str(n)},
        )
    ]


def held_table(rows: list[dict], total: int) -> html.Div:
    """The held readings, newest first, each with its « Examiner » button."""
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
    table = html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
        className="data-table q-table",
    )
    return html.Div([html.P(caption, className="muted small") if caption else None, table])


def review_section(table) -> list:
    """« Relevés en quarantaine » (in the manager's layout only): the held readings and the
    decision panel."""
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


def _decision_panel() -> html.Div:
    return html.Div(
        id="imp-q-panel",
        className="card review-panel",
        style=HIDDEN,
        children=[
            html.H3(id="imp-q-title"),
            html.Div(id="imp-q-detail"),
            html.Label(
                [
                    "Motif (obligatoire)",
                    dcc.Textarea(
                        id="imp-q-why",
                        className="textarea",
                        rows=2,
                        placeholder="Pourquoi cette décision (ex. index relevé sur place le "
                        "15/01 par l'agent)",
                    ),
                ],
                className="form-field wide",
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
                            html.Label(
                                [
                                    "Ancien index final",
                                    dcc.Input(
                                        id="imp-q-old",
                                        type="text",
                                        inputMode="decimal",
                                        className="input",
                                        placeholder="ex. 123 456,7",
                                    ),
                                ],
                                className="form-field",
                            ),
                            html.Label(
                                [
                                    "Nouvel index de départ",
                                    dcc.Input(
                                        id="imp-q-new",
                                        type="text",
                                        inputMode="decimal",
                                        className="input",
                                        placeholder="ex. 0",
                                    ),
                                ],
                                className="form-field",
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


def detail(row: dict) -> html.Dl:
    """The facts of one held reading, its raw text included, for the decision panel."""
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


def confirm_text(action: str, row: dict, old, new) -> str:
    """The confirmation asked before a decision, naming the reading and its consequence."""
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
