"""Écrans et contributions des usagers (`/ecrans-usagers`): for the manager, per building, the
consumption month by month beside what the agents and users did (signalements made and
answered, behaviour actions of kind `usage`), so the working group sees what followed what;
and the building's screen: its address (open, renew, revoke) and "what you can do here" list.
"""

from __future__ import annotations

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from carnet.access import CarnetPermissionError
from dashboards import db
from dashboards.auth import current_user, guarded
from dashboards.components import graph
from dashboards.downloads import register_graph
from dashboards.ecrans_usagers_data import renew, screens_page, write_tips

CAPABILITY = "display.manage"

dash.register_page(
    __name__,
    path="/ecrans-usagers",
    name="Écrans des usagers",
    title="Écrans et contributions des usagers · Carnet",
    description="Ce que font les agents et les usagers, à côté de la consommation ; les écrans.",
    order=28,
    capability=CAPABILITY,
)

MARKERS = {  # kind -> (label, symbol)
    "made": ("Signalement", "circle-open"),
    "answered": ("Signalement traité", "circle"),
    "usage": ("Action d'usage", "star"),
}


def _figure(data: dict) -> go.Figure:
    energy = data["energy"]
    fig = go.Figure()
    fig.add_scatter(
        x=energy["month"], y=energy["energy_kwh"], name="Consommation (kWh PCS)", mode="lines"
    )
    top = float(energy["energy_kwh"].max()) if len(energy) else 1.0
    series = {"made": [], "answered": [], "usage": []}
    for e in data["events"]:
        if e["kind"] == "usage":
            series["usage"].append((e["at"], e["title"]))
        else:
            series["made"].append((e["at"], e["title"]))
            if e["answered_at"] is not None:
                series["answered"].append((e["answered_at"], e["title"]))
    for key, points in series.items():
        if points:
            label, symbol = MARKERS[key]
            fig.add_scatter(
                x=[p[0] for p in points],
                y=[top * (1.05 if key != "usage" else 1.12)] * len(points),
                text=[p[1] for p in points],
                mode="markers",
                marker={"symbol": symbol, "size": 12},
                name=label,
                hovertemplate="%{x|%d/%m/%Y} : %{text}<extra></extra>",
            )
    fig.update_layout(height=340, margin={"l": 50, "r": 20, "t": 10, "b": 30},
                      legend={"orientation": "h"}, separators=", ")  # fmt: skip
    return fig


def _content(data: dict) -> list:
    if data["building"] is None:
        return [html.P("Aucun bâtiment.", className="muted")]
    c = data["counts"]
    events = [
        html.Li(
            f"{e['at']:%d/%m/%Y} · "
            + ("Action d'usage" if e["kind"] == "usage" else "Signalement")
            + f" : {e['title']}"
            + (" (traité)" if e["answered"] else ""),
            **{"data-entry": str(e["id"])},
        )
        for e in reversed(data["events"])
    ]
    return [
        html.P(
            f"{c['made']} signalement(s), dont {c['answered']} traité(s) · "
            f"{c['usage']} action(s) d'usage",
            id="eu-counts",
            className="lead",
        ),
        graph("eu-figure", _figure(data), {"batiment": data["building"]}, id="eu-figure"),
        html.Ul(events, id="eu-events")
        if events
        else html.P("Aucune contribution.", className="muted"),
        html.H2("L'écran du bâtiment"),
        html.P(
            [html.A(data["path"], href=data["path"], id="eu-path", target="_blank")]
            if data["path"]
            else "Aucun écran ouvert.",
            id="eu-screen",
        ),
        html.Button("Ouvrir / renouveler l'adresse", id="eu-renew", className="btn btn-primary"),
        html.Button("Retirer l'adresse", id="eu-revoke", className="btn btn-secondary"),
        html.Label(
            [
                "Ce que vous pouvez faire ici (une action par ligne)",
                dcc.Textarea(id="eu-tips", value=data["tips"], rows=4, className="textarea"),
            ]
        ),
        html.Button("Enregistrer la liste", id="eu-tips-save", className="btn btn-primary"),
    ]


def _figure_again(params: dict) -> go.Figure:
    building = params.get("batiment")
    data = screens_page(
        db.engine(), current_user(), building if isinstance(building, str) else None
    )
    return _figure(data)


register_graph("eu-figure", CAPABILITY, _figure_again, filename="contributions-usagers")


def layout(batiment: str | None = None, **_query):
    user = current_user()
    data = screens_page(db.engine(), user, batiment)
    return html.Div(
        className="page ecrans-usagers",
        children=[
            html.Div(
                className="page-head",
                children=[
                    html.H1("Écrans et contributions des usagers"),
                    html.P(
                        "Les signalements et les gestes des agents et des usagers, à côté de la "
                        "consommation du bâtiment ; l'écran qu'ils voient dans le hall.",
                        className="lead",
                    ),
                ],
            ),
            dcc.Dropdown(
                id="eu-building",
                clearable=False,
                value=data["building"],
                options=[{"label": f"{c} · {n}", "value": c} for c, n in data["buildings"]],
            ),
            html.Div(id="eu-msg"),
            html.Div(_content(data), id="eu-content"),
        ],
    )


@callback(
    Output("eu-msg", "children"),
    Output("eu-content", "children"),
    Input("eu-building", "value"),
    Input("eu-renew", "n_clicks"),
    Input("eu-revoke", "n_clicks"),
    Input("eu-tips-save", "n_clicks"),
    State("eu-tips", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def act(building, _renew, _revoke, _save, tips):
    if not building:
        raise PreventUpdate
    user, engine, message = current_user(), db.engine(), None
    try:
        if ctx.triggered_id in ("eu-renew", "eu-revoke"):
            path = renew(engine, user, building, revoke=ctx.triggered_id == "eu-revoke")
            message = (
                "Nouvelle adresse ouverte." if path else "Adresse retirée : elle ne répond plus."
            )
        elif ctx.triggered_id == "eu-tips-save":
            message = f"{write_tips(engine, user, building, tips or '')} action(s) affichée(s)."
    except CarnetPermissionError as exc:
        return html.Div(str(exc), className="alert alert-error"), dash.no_update
    except (LookupError, ValueError) as exc:
        return html.Div(str(exc).strip("'\""), className="alert alert-error"), dash.no_update
    msg = html.Div(message, className="alert alert-ok", id="eu-ok") if message else None
    return msg, _content(screens_page(engine, user, building))
