"""Confort: was the room warm while booked, and was heat spent when nobody was there? Monthly
per room and per building (`contract.comfort`); a contractor sees its contract's buildings."""

from __future__ import annotations

import dash
from dash import Input, Output, callback, dcc, html
from flask import abort

from contract.terms import month_label
from dashboards import db
from dashboards.auth import current_scope, guarded
from dashboards.components import data_table, downloadable_table, page_head
from dashboards.confort_data import comfort_status, month_choices, month_comfort
from dashboards.downloads import register_table
from dashboards.fmt import fr_number, fr_pct
from dashboards.period_views import provisional_banner

CAPABILITY = "comfort.view"

dash.register_page(
    __name__,
    path="/confort",
    name="Confort",
    title="Confort · Carnet",
    description="Température pendant les réservations et chauffage hors occupation, par mois.",
    order=48,
    capability=CAPABILITY,
)


def _months() -> tuple[list[dict], str]:
    months, default = month_choices()
    return [
        {"label": month_label(m)[:1].upper() + month_label(m)[1:], "value": m} for m in months
    ], default


def _pct(share) -> str:
    return fr_pct(None if share is None or share != share else 100 * share, 0)


def _rooms_table(frame) -> html.Div:
    if not len(frame):
        return html.P(
            "Aucune réservation passée avec consigne et sonde ce mois-ci.", className="muted"
        )
    head = [
        "Salle",
        "Réservations",
        "Heures réservées",
        "Temps dans la tolérance",
        "En retard",
        "Retard moyen",
        "Écart max.",
    ]
    rows = [
        html.Tr(
            [
                html.Td([r.room_name, " ", html.Span(r.room, className="code")]),
                html.Td(fr_number(r.bookings), className="num"),
                html.Td(fr_number(r.booked_h, 1), className="num"),
                html.Td(_pct(r.share_ok), className="num"),
                html.Td(fr_number(r.late_bookings), className="num"),
                html.Td(f"{fr_number(r.mean_minutes_late)}\u00a0min", className="num"),
                html.Td(f"{fr_number(r.max_shortfall_c, 1)}\u00a0°C", className="num"),
            ],
            **{"data-room": r.room},
        )
        for r in frame.itertuples(index=False)
    ]
    return html.Div(
        data_table(head, rows, numeric=(1, 2, 3, 4, 5, 6), id_="comfort-rooms"),
        className="table-wrap",
    )


def _buildings_table(frame) -> html.Div:
    if not len(frame):
        return html.P("Aucune donnée ce mois-ci.", className="muted")
    head = [
        "Bâtiment",
        "Réservations",
        "Temps dans la tolérance",
        "Chauffage",
        "Hors occupation",
        "Part hors occupation",
    ]
    rows = [
        html.Tr(
            [
                html.Td(r.building_name),
                html.Td(fr_number(r.bookings), className="num"),
                html.Td(_pct(r.share_ok), className="num"),
                html.Td(f"{fr_number(r.energy_kwh)}\u00a0kWh", className="num"),
                html.Td(f"{fr_number(r.energy_outside_kwh)}\u00a0kWh", className="num"),
                html.Td(_pct(r.share_outside), className="num"),
            ],
            **{"data-building": r.building},
        )
        for r in frame.itertuples(index=False)
    ]
    return html.Div(
        data_table(head, rows, numeric=(1, 2, 3, 4, 5), id_="comfort-buildings"),
        className="table-wrap",
    )


def layout(**_query):
    months, default = _months()
    return html.Div(
        className="page confort",
        children=[
            page_head(
                "Confort délivré",
                "Pour chaque réservation passée avec une consigne et une sonde de la "
                "salle : part du temps à la consigne (à 1 °C près), retard pour "
                "l'atteindre, écart maximal ; et chauffage consommé hors réservations "
                "et hors horaires habituels du bâtiment.",
            ),
            html.Div(
                dcc.Dropdown(months, default, id="comfort-month", clearable=False),
                className="filters",
            ),
            html.Div(id="comfort-body"),
        ],
    )


@callback(Output("comfort-body", "children"), Input("comfort-month", "value"))
@guarded(CAPABILITY)
def render(month):
    report = month_comfort(db.engine(), current_scope(), month)
    params = {"mois": month}
    status = comfort_status(db.engine(), current_scope(), month)
    return [
        provisional_banner(status, "comfort-provisional"),
        html.H2("Par salle"),
        downloadable_table("comfort-rooms", _rooms_table(report.rooms), params),
        html.H2("Par bâtiment"),
        downloadable_table("comfort-buildings", _buildings_table(report.buildings), params),
    ]


def _report(params: dict):
    month = params.get("mois")
    if month not in {m["value"] for m in _months()[0]}:
        abort(400)
    return month_comfort(db.engine(), current_scope(), month)


register_table(
    "comfort-rooms", CAPABILITY, lambda p: _rooms_table(_report(p).rooms), "confort-salles"
)
register_table(
    "comfort-buildings",
    CAPABILITY,
    lambda p: _buildings_table(_report(p).buildings),
    "confort-batiments",
)
