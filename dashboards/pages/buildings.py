"""Bâtiments (`/batiments`): the buildings the user may see, with what needs attention in each
(observations to triage, overdue obligations, open alarms); each links to its carnet."""

from __future__ import annotations

import dash
from dash import dcc, html

from carnet.roles import is_programmer
from dashboards import db
from dashboards.auth import current_user
from dashboards.buildings_data import building_rows
from dashboards.components import data_table, downloadable_table, page_head
from dashboards.downloads import register_table

CAPABILITY = "carnet.view"

dash.register_page(
    __name__,
    path="/batiments",
    name="Bâtiments",
    title="Bâtiments · Carnet",
    description="Le carnet de santé de chaque bâtiment : équipements, interventions, "
    "obligations, signalements.",
    order=20,
    capability=CAPABILITY,
)


def _table(_params=None):
    user = current_user()
    rooms_only = is_programmer(user.role)
    rows = []
    for b in building_rows(db.engine(), user):
        cells = [
            html.Td(dcc.Link(b["code"], href=f"/batiments/{b['code']}"), className="code"),
            html.Td(dcc.Link(b["name"], href=f"/batiments/{b['code']}"), className="building-name"),
            html.Td((b["usage"] or "—").capitalize()),
        ]
        if not rooms_only:
            n_obs, n_late, n_alarm = b["observations"], b["late"], b["alarms"]
            cells += [
                html.Td(str(n_obs), className="num" + (" warn" if n_obs else "")),
                html.Td(str(n_late), className="num" + (" late" if n_late else "")),
                html.Td(str(n_alarm), className="num" + (" late" if n_alarm else "")),
            ]
        rows.append(html.Tr(cells, **{"data-building": b["code"]}))
    head = [html.Th("Code"), html.Th("Bâtiment"), html.Th("Usage")]
    if not rooms_only:
        head += [
            html.Th("Signalements à traiter", className="num"),
            html.Th("Obligations en retard", className="num"),
            html.Th("Alarmes ouvertes", className="num"),
        ]
    table = (
        data_table(head, rows, id_="buildings-table")
        if rows
        else html.P("Aucun bâtiment.", className="muted")
    )
    return table


register_table("buildings-table", CAPABILITY, _table, filename="batiments")


def layout(**_query):
    table = downloadable_table("buildings-table", _table())
    return html.Div(
        className="page buildings",
        children=[
            page_head("Bâtiments", "Le carnet de santé de chaque bâtiment."),
            html.Div(table, className="table-wrap"),
        ],
    )
