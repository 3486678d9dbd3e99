"""Bâtiments (`/batiments`): the buildings the user may see, with what needs attention in each
(observations to triage, overdue obligations, open alarms); each links to its carnet. The
search filters as one types, without accents or case (« ecole » finds « École »)."""

from __future__ import annotations

import dash
from dash import Input, Output, callback, dcc, html

from carnet.roles import is_programmer
from dashboards import db
from dashboards.auth import current_user, guarded
from dashboards.buildings_data import building_rows
from dashboards.components import data_table, downloadable_table, fr_sort_key, page_head
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


def _matches(b: dict, needle: str) -> bool:
    return needle in fr_sort_key(f"{b['code']} {b['name']} {b['usage'] or ''}")


def _table(user, search: str | None = None):
    rooms_only = is_programmer(user.role)
    needle = fr_sort_key(search.strip()) if search and search.strip() else ""
    rows = []
    for b in building_rows(db.engine(), user):  # a few dozen buildings
        if needle and not _matches(b, needle):
            continue
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
    if rows:
        return data_table(head, rows, id_="buildings-table")
    return html.P(
        "Aucun bâtiment ne correspond." if needle else "Aucun bâtiment.", className="muted"
    )


def _rebuilt(params: dict):
    search = params.get("recherche")
    return _table(current_user(), search if isinstance(search, str) else None)


register_table("buildings-table", CAPABILITY, _rebuilt, filename="batiments")


def _downloadable(user, search: str | None = None):
    return downloadable_table("buildings-table", _table(user, search), {"recherche": search or ""})


def layout(**_query):
    user = current_user()
    return html.Div(
        className="page buildings",
        children=[
            page_head("Bâtiments", "Le carnet de santé de chaque bâtiment."),
            html.Div(
                dcc.Input(
                    id="buildings-search",
                    type="search",
                    placeholder="Rechercher un bâtiment…",
                    debounce=False,
                    className="input",
                ),
                className="filters",
            ),
            html.Div(_downloadable(user), className="table-wrap", id="buildings-table-wrap"),
        ],
    )


@callback(
    Output("buildings-table-wrap", "children"),
    Input("buildings-search", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def search_buildings(search):
    return _downloadable(current_user(), search)
