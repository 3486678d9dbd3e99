"""Obligations (`/obligations`): the portfolio's overdue regulatory duties first, those « à
renseigner » (never recorded done) next, then (on demand) every obligation with its next due date. The manager can derive missing obligations
from the equipment (idempotent templates of `carnet.obligations`)."""

from __future__ import annotations

import dash
from dash import Input, Output, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboards import db
from dashboards.auth import current_user, guarded, require
from dashboards.carnet_views import obligations_table
from dashboards.components import alert, downloadable_table, page_head
from dashboards.downloads import register_table
from dashboards.obligations_data import derive_obligations, obligation_rows

CAPABILITY = "obligations.view"

dash.register_page(
    __name__,
    path="/obligations",
    name="Obligations",
    title="Obligations · Carnet",
    description="Entretiens, contrôles et déclarations réglementaires : échéances et retards.",
    order=22,
    capability=CAPABILITY,
)


def _rows(show_all: bool) -> list[dict]:
    return obligation_rows(db.engine(), current_user(), show_all)


def _table(params: dict):
    rows = _rows(bool(params.get("tout")))
    return obligations_table(rows, show_building=True, table_id="ob-table")


register_table("ob-table", CAPABILITY, _table, filename="obligations")


def _downloadable(show_all: bool):
    params = {"tout": show_all}
    return downloadable_table("ob-table", _table(params), params)


def layout(**_query):
    user = current_user()
    rows = _rows(show_all=False)
    controls = [
        dcc.Checklist(
            id="ob-show-all",
            options=[{"label": " Afficher aussi les obligations à jour", "value": "all"}],
            value=[],
        )
    ]
    if user is not None and user.can("carnet.edit"):
        controls.append(
            html.Button(
                "Dériver les obligations des équipements",
                id="ob-apply",
                className="btn btn-secondary",
                title="Crée les obligations manquantes d'après les équipements et les bâtiments "
                "(les obligations existantes ne sont pas modifiées)",
            )
        )
    return html.Div(
        className="page obligations",
        children=[
            page_head(
                "Obligations",
                f"{sum(bool(r['overdue']) for r in rows)} obligation(s) en retard et "
                f"{sum(bool(r['to_fill']) for r in rows)} à renseigner (date de la "
                "dernière réalisation inconnue) dans le patrimoine. Les textes cités "
                "sont dans l'info-bulle de chaque ligne.",
                lead_id="ob-summary",
            ),
            html.Div(controls, className="filters"),
            html.Div(id="ob-msg"),
            html.Div(
                _downloadable(False),
                id="ob-table-wrap",
                className="table-wrap",
            ),
        ],
    )


@callback(
    Output("ob-table-wrap", "children"),
    Input("ob-show-all", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def toggle(show):
    return _downloadable("all" in (show or []))


@callback(
    Output("ob-msg", "children"),
    Input("ob-apply", "n_clicks"),
    prevent_initial_call=True,
)
@guarded("carnet.edit")
def apply_all(n):
    if not n:
        raise PreventUpdate
    user = require("carnet.edit")
    created = derive_obligations(db.engine(), user)
    return alert(f"{created} obligation(s) créée(s).", "ok")
