"""Finances: the month's figures of the heating contract for the finance service, and the
CSV file it files (same numbers as `carnet export finance` and `carnet settle --month`)."""

from __future__ import annotations

import dash
import pandas as pd
from dash import Input, Output, callback, dcc, html

from carnet.models import Contract
from contract.finance import COLUMNS_FR, monthly_finance, season_of_month
from contract.terms import season_months
from dashboards import db
from dashboards.auth import guarded
from dashboards.fmt import fr_eur, fr_number, fr_pct

CAPABILITY = "finance.export"

dash.register_page(
    __name__,
    path="/finances",
    name="Finances",
    title="Finances · Carnet",
    description="Export mensuel du contrat de chauffage : consommation, valeur P1, "
    "intéressement et pénalités, par bâtiment.",
    order=60,
    capability=CAPABILITY,
)


def _month_options(season_start: str, season_end: str) -> list[dict]:
    """Months of the current and previous heating seasons, up to the current month."""
    today = pd.Timestamp.now(tz="Europe/Paris")
    this_month = pd.Period(today.strftime("%Y-%m"), "M")
    current = season_of_month(str(this_month), season_start)
    year = int(current[:4])
    months: list[pd.Period] = []
    for start_year in (year, year - 1):
        months += [
            m
            for m in season_months(f"{start_year}-{start_year + 1}", season_start, season_end)
            if m <= this_month
        ]
    labels = _month_labels()
    return [
        {"label": f"{labels[m.month]} {m.year}", "value": str(m)}
        for m in sorted(set(months), reverse=True)
    ]


def _default_month(months: list[dict]) -> str | None:
    """The last complete month: the finance service files closed months."""
    this_month = pd.Timestamp.now(tz="Europe/Paris").strftime("%Y-%m")
    closed = [m["value"] for m in months if m["value"] < this_month]
    return closed[0] if closed else (months[0]["value"] if months else None)


SHORT_HEADERS = {
    "building_name": "Bâtiment",
    "actual_mwh_pci": "Réel MWh PCI",
    "target_mwh_pci": "Objectif N'B MWh PCI",
    "gap_pct": "Écart",
    "p1_value_eur": "Valeur P1",
    "bonus_eur": "Intéressement",
    "penalty_eur": "Pénalité",
    "net_to_contractor_eur": "Solde exploitant",
    "days_missing": "Jours manquants",
}


def _month_labels() -> dict[int, str]:
    names = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
    return {i + 1: n for i, n in enumerate(names.split())}


def layout(**_query):
    with db.session() as s:
        contracts = s.query(Contract).order_by(Contract.code).all()
        choices = [
            {"label": f"{c.code} · {c.contractor}", "value": c.code, "start": c.season_start,
             "end": c.season_end}
            for c in contracts
        ]  # fmt: skip
    if not choices:
        return html.Div(
            className="page",
            children=[html.H1("Finances"), html.P("Aucun contrat.", className="muted")],
        )
    months = _month_options(choices[0]["start"], choices[0]["end"])
    return html.Div(
        className="page",
        children=[
            html.Div(
                className="page-head",
                children=[
                    html.H1("Export financier mensuel"),
                    html.P(
                        "Consommation du mois, valeur de l'énergie au prix P1 du contrat, "
                        "intéressement et pénalités de l'exploitant, bâtiment par bâtiment. "
                        "Le fichier CSV s'ouvre dans un tableur (séparateur « ; », virgule "
                        "décimale).",
                        className="lead",
                    ),
                ],
            ),
            html.Div(
                className="filters",
                children=[
                    html.Label(
                        [
                            "Contrat",
                            dcc.Dropdown(
                                id="fin-contract",
                                options=[
                                    {"label": c["label"], "value": c["value"]} for c in choices
                                ],
                                value=choices[0]["value"],
                                clearable=False,
                            ),
                        ]
                    ),
                    html.Label(
                        [
                            "Mois",
                            dcc.Dropdown(
                                id="fin-month",
                                options=months,
                                value=_default_month(months),
                                clearable=False,
                            ),
                        ]
                    ),
                ],
            ),  # fmt: skip
            html.Div(id="fin-body"),
        ],
    )


@callback(
    Output("fin-body", "children"),
    Input("fin-contract", "value"),
    Input("fin-month", "value"),
)
@guarded(CAPABILITY)
def show_month(contract_code, month):
    if not contract_code or not month:
        return html.P("Choisissez un contrat et un mois.", className="muted")
    try:
        frame = monthly_finance(db.engine(), contract_code, month)
    except LookupError:
        return html.Div("Contrat inconnu.", className="alert alert-error")
    except ValueError as exc:
        return html.Div(str(exc), className="alert alert-error")
    href = f"/export/finances/{contract_code}/{month}.csv"
    head = [
        "building_name",
        "actual_mwh_pci",
        "target_mwh_pci",
        "gap_pct",
        "p1_value_eur",
        "bonus_eur",
        "penalty_eur",
        "net_to_contractor_eur",
        "days_missing",
    ]
    numeric = {
        "actual_mwh_pci": lambda v: fr_number(v, 2),
        "target_mwh_pci": lambda v: fr_number(v, 2),
        "gap_pct": lambda v: fr_pct(v),
        "p1_value_eur": fr_eur,
        "bonus_eur": fr_eur,
        "penalty_eur": fr_eur,
        "net_to_contractor_eur": fr_eur,
        "days_missing": lambda v: fr_number(v, 0),
    }
    rows = []
    for record in frame.to_dict("records"):
        cells = [html.Td(record["building_name"])]
        cells += [
            html.Td(numeric[col](record[col]) if record[col] is not None else "—", className="num")
            for col in head[1:]
        ]
        is_total = record["building_code"] == "TOTAL"
        rows.append(html.Tr(cells, className="total" if is_total else None))
    return html.Div(
        [
            html.A(
                "Télécharger le fichier CSV",
                href=href,
                id="fin-download",
                className="button",
                style={"display": "inline-block", "marginBottom": "1rem"},
                download=f"carnet-finances-{contract_code}-{month}.csv",
            ),
            html.Div(
                className="table-wrap",
                children=html.Table(
                    className="data-table",
                    children=[
                        html.Thead(
                            html.Tr([html.Th(SHORT_HEADERS[c], title=COLUMNS_FR[c]) for c in head])
                        ),
                        html.Tbody(rows),
                    ],
                ),
            ),
        ]
    )
