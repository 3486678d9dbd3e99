"""Mes notifications (`/mes-notifications`): which e-mail notices the signed-in user receives,
and how (at once, in the daily digest at a chosen hour, or never); the last notices and their
state; and, while no mail server is set (`CARNET_SMTP_URL`), that they wait in the outbox."""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from carnet.notifications import MODE_LABELS_FR, MODES
from dashboards import notifications_data as data
from dashboards.auth import current_user, guarded, require
from dashboards.components import alert, downloadable_table, page_head
from dashboards.downloads import register_table

CAPABILITY = "notifications.own"

dash.register_page(
    __name__,
    path="/mes-notifications",
    name="Mes notifications",
    title="Mes notifications · Carnet",
    description="Choisir les avis reçus par e-mail : tout de suite ou en résumé quotidien.",
    order=90,
    capability=CAPABILITY,
)


def _address(email: str | None) -> html.P:
    if email:
        return html.P(["Les avis sont envoyés à ", html.Strong(email), "."], id="notif-email")
    return html.P(
        "Aucune adresse e-mail n'est enregistrée pour vous : demandez-la au gestionnaire"
        " (fichier de patrimoine ou `carnet user add --email`). Aucun avis n'est préparé d'ici là.",
        className="alert alert-error",
        id="notif-email",
    )


def _smtp_notice(configured: bool) -> html.Div | None:
    if configured:
        return None
    return alert(
        "Aucun serveur d'envoi n'est configuré (CARNET_SMTP_URL) : les avis restent dans la"
        " file d'envoi et partiront dès qu'il le sera.",
        "error",
        "notif-no-smtp",
    )


def _choice_row(row: dict) -> html.Tr:
    return html.Tr(
        [
            html.Td(row["label"]),
            html.Td(
                dcc.RadioItems(
                    id={"type": "notif-mode", "kind": row["kind"]},
                    options=[{"label": MODE_LABELS_FR[m], "value": m} for m in MODES],
                    value=row["mode"],
                    inline=True,
                )
            ),
        ],
        **{"data-kind": row["kind"]},
    )


def _recent(rows: list[dict]) -> html.Div:
    if not rows:
        return html.P("Aucun avis pour l'instant.", className="muted", id="notif-recent")
    return html.Div(
        html.Table(
            [
                html.Thead(
                    html.Tr(
                        [html.Th("Créé le"), html.Th("Objet"), html.Th("Envoi"), html.Th("État")]
                    )
                ),
                html.Tbody(
                    [
                        html.Tr(
                            [
                                html.Td(r["date"], className="date"),
                                html.Td(r["subject"]),
                                html.Td(r["mode"]),
                                html.Td(r["state"]),
                            ]
                        )
                        for r in rows
                    ]
                ),
            ],
            className="data-table",
        ),
        className="table-wrap",
        id="notif-recent",
    )


register_table(
    "notif-recent-table",
    CAPABILITY,
    lambda _params: _recent(data.choices(current_user().id).recent),
    filename="mes-avis",
)


def layout(**_query):
    user = current_user()
    c = data.choices(user.id)
    return html.Div(
        className="page my-notifications",
        children=[
            page_head("Mes notifications", "Ce que Carnet vous envoie par e-mail, et quand."),
            _smtp_notice(c.smtp_configured),
            _address(c.email),
            html.Div(
                className="table-wrap",
                children=html.Table(
                    [
                        html.Thead(html.Tr([html.Th("Avis"), html.Th("Réception")])),
                        html.Tbody([_choice_row(r) for r in c.rows]),
                    ],
                    className="data-table",
                    id="notif-choices",
                ),
            ),
            html.Div(
                className="filters",
                children=[
                    html.Label("Heure du résumé quotidien (heure de Paris)", htmlFor="notif-hour"),
                    dcc.Dropdown(
                        id="notif-hour",
                        options=[{"label": f"{h:02d}:00", "value": h} for h in range(24)],
                        value=c.digest_hour,
                        clearable=False,
                        style={"width": "8rem"},
                    ),
                    html.Button("Enregistrer", id="notif-save", n_clicks=0),
                ],
            ),
            html.Div(id="notif-msg"),
            html.H2("Derniers avis"),
            downloadable_table("notif-recent-table", _recent(c.recent)),
        ],
    )


@callback(
    Output("notif-msg", "children"),
    Input("notif-save", "n_clicks"),
    State({"type": "notif-mode", "kind": ALL}, "value"),
    State({"type": "notif-mode", "kind": ALL}, "id"),
    State("notif-hour", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def save(n_clicks, modes, ids, hour):
    if not n_clicks:
        raise PreventUpdate
    user = require(CAPABILITY)
    chosen = {i["kind"]: m for i, m in zip(ids or [], modes or [], strict=True)}
    try:
        data.save(user.id, chosen, None if hour is None else int(hour))
    except (ValueError, TypeError) as exc:
        return alert(str(exc), "error")
    return alert("Vos choix sont enregistrés.", "ok", "notif-saved")
