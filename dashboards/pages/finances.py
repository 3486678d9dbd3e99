"""Finances: the month's figures of the heating contract for the finance service, and the
files it files, CSV or workbook, for the month or the season (same numbers as `carnet export
finance`; consumption and intéressement those of `carnet settle --month`)."""

from __future__ import annotations

import dash
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from carnet.closing import ClosingError
from contract.finance_table import TABLE_COLUMNS_FR
from contract.terms import season_months, season_of_month
from dashboards import db
from dashboards.auth import current_scope, current_user, guarded
from dashboards.components import alert, downloadable_table, page_head
from dashboards.downloads import register_table
from dashboards.finances_data import finance_contracts, finance_month, sign_month
from dashboards.fmt import TZ, fr_eur, fr_number, fr_pct

CAPABILITY = "finance.export"
CLOSE = "period.close"  # « Arrêter le mois »: the manager signs the month's figures

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
    today = pd.Timestamp.now(tz=TZ)
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
    this_month = pd.Timestamp.now(tz=TZ).strftime("%Y-%m")
    closed = [m["value"] for m in months if m["value"] < this_month]
    return closed[0] if closed else (months[0]["value"] if months else None)


SHORT_HEADERS = {
    "building_name": "Bâtiment",
    "actual_mwh_pci": "Réel MWh PCI",
    "target_mwh_pci": "Objectif N'B MWh PCI",
    "gap_pct": "Écart",
    "p1_price_eur_per_mwh_pci": "Prix P1 révisé",
    "p1_value_eur": "Valeur P1",
    "p2_eur": "P2",
    "p3_eur": "P3",
    "bonus_eur": "Intéressement",
    "penalty_eur": "Pénalité",
    "net_to_contractor_eur": "Solde exploitant",
    "days_missing": "Jours manquants",
    "total_eur": "Total du mois",
}


def _month_labels() -> dict[int, str]:
    names = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
    return {i + 1: n for i, n in enumerate(names.split())}


def layout(contrat=None, mois=None, **_query):
    choices = finance_contracts(db.engine(), current_scope())
    if not choices:
        return html.Div(
            className="page",
            children=[html.H1("Finances"), html.P("Aucun contrat.", className="muted")],
        )
    chosen = next((c for c in choices if c["value"] == contrat), choices[0])
    months = _month_options(chosen["start"], chosen["end"])
    month = mois if mois in {m["value"] for m in months} else _default_month(months)
    return html.Div(
        className="page",
        children=[
            page_head(
                "Export financier mensuel",
                "Consommation du mois, valeur de l'énergie au prix P1 révisé du mois, "
                "P2 et P3, intéressement et pénalités de l'exploitant, bâtiment par "
                "bâtiment. Le classeur Excel garde nombres et dates ; le fichier CSV "
                "s'ouvre dans un tableur (séparateur « ; », virgule décimale).",
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
                                value=chosen["value"],
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
                                value=month,
                                clearable=False,
                            ),
                        ]
                    ),
                ],
            ),  # fmt: skip
            dcc.Store(id="fin-refresh"),
            html.Div(id="fin-close-msg"),
            html.Div(id="fin-body"),
        ],
    )


@callback(
    Output("fin-body", "children"),
    Input("fin-contract", "value"),
    Input("fin-month", "value"),
    Input("fin-refresh", "data"),
)
@guarded(CAPABILITY)
def show_month(contract_code, month, _refresh=None):
    if not contract_code or not month:
        return html.P("Choisissez un contrat et un mois.", className="muted")
    try:
        fm = finance_month(db.engine(), contract_code, month, scope=current_scope())
    except LookupError:
        return alert("Contrat inconnu.", "error")
    except ValueError as exc:
        return alert(str(exc), "error")
    frame = fm.frame
    href = f"/export/finances/{contract_code}/{month}"
    head = [
        "building_name",
        "actual_mwh_pci",
        "target_mwh_pci",
        "gap_pct",
        "p1_price_eur_per_mwh_pci",
        "p1_value_eur",
        "p2_eur",
        "p3_eur",
        "bonus_eur",
        "penalty_eur",
        "net_to_contractor_eur",
        "total_eur",
        "days_missing",
    ]
    numeric = {
        "actual_mwh_pci": lambda v: fr_number(v, 2),
        "target_mwh_pci": lambda v: fr_number(v, 2),
        "gap_pct": lambda v: fr_pct(v),
        "p1_price_eur_per_mwh_pci": lambda v: fr_eur(v, 4),
        "p1_value_eur": fr_eur,
        "p2_eur": fr_eur,
        "p3_eur": fr_eur,
        "total_eur": fr_eur,
        "bonus_eur": fr_eur,
        "penalty_eur": fr_eur,
        "net_to_contractor_eur": fr_eur,
        "days_missing": lambda v: fr_number(v, 0),
    }
    rows = []
    for record in frame.to_dict("records"):
        origin = record.get("origin") or ""
        name = record["building_name"]
        cells = [html.Td([name, html.Br(), html.Small(origin)] if origin else name)]
        cells += [
            html.Td(
                numeric[col](record[col]) if record[col] is not None and not pd.isna(record[col])
                else "—",
                className="num",
            )
            for col in head[1:]
        ]  # fmt: skip
        is_total = record["building_code"] == "TOTAL"
        kind = "total" if is_total else ("regularisation" if origin else None)
        rows.append(html.Tr(cells, className=kind))
    return html.Div(
        [
            _closing_bar(frame, month),
            _status(fm),
            _downloads(contract_code, month, href),
            html.Div(
                className="table-wrap",
                children=downloadable_table(
                    "fin-table",
                    html.Table(
                        className="data-table",
                        children=[
                            html.Thead(
                                html.Tr(
                                    [
                                        html.Th(SHORT_HEADERS[c], title=TABLE_COLUMNS_FR[c])
                                        for c in head
                                    ]
                                )
                            ),
                            html.Tbody(rows),
                        ],
                    ),
                    {"contrat": contract_code, "mois": month},
                ),
            ),
        ]
    )


register_table(
    "fin-table",
    CAPABILITY,
    lambda p: show_month(str(p.get("contrat") or ""), str(p.get("mois") or "")),
    filename="finances",
)


def _status(fm):
    """« provisoire : mois en cours… » before anyone reads the month's euros as final."""
    total = fm.frame[fm.frame["building_code"] == "TOTAL"]
    status = str(total["status"].iloc[0]) if len(total) else ""
    if not fm.provisional:
        return html.Div()
    return alert(
        f"Chiffres provisoires : {status.removeprefix('provisoire : ')}.", "warn", "fin-provisional"
    )


def _downloads(contract_code: str, month: str, href: str):
    season = season_of_month(month)
    link = {"display": "inline-block", "marginBottom": "1rem", "marginRight": "0.5rem"}
    return html.Div(
        [
            html.A(
                "Télécharger le fichier CSV",
                href=f"{href}.csv",
                id="fin-download",
                className="button",
                style=link,
                download=f"carnet-finances-{contract_code}-{month}.csv",
            ),
            html.A(
                "Télécharger le classeur Excel",
                href=f"{href}.xlsx",
                id="fin-download-xlsx",
                className="button",
                style=link,
                download=f"carnet-finances-{contract_code}-{month}.xlsx",
            ),
            html.A(
                f"Synthèse de la saison {season} (Excel)",
                href=f"/export/finances/{contract_code}/saison/{season}.xlsx",
                id="fin-download-season",
                className="button",
                style=link,
                download=f"carnet-finances-{contract_code}-saison-{season}.xlsx",
            ),
        ]
    )


def _closing_bar(frame: pd.DataFrame, month: str):
    """« arrêté le JJ/MM/AAAA par … » on a closed month; the manager's « Arrêter le mois »
    button on a complete open one (the callback checks `period.close` again)."""
    marker = frame["closed"].iloc[0] if "closed" in frame and len(frame) else ""
    if marker:
        return html.Div(
            f"Chiffres du mois {marker} : ils ne changent plus ; les données reçues ensuite "
            "attendent une régularisation, comptée dans un mois ouvert.",
            id="fin-closed",
            className="alert alert-info closed-marker",
        )
    user = current_user()
    complete = pd.Period(month, "M").end_time.date() < pd.Timestamp.now(tz=TZ).date()
    if user is None or not user.can(CLOSE) or not complete:
        return html.Div()
    return html.Div(
        [
            html.Button("Arrêter le mois", id="fin-close", className="button", n_clicks=0),
            html.Span(
                " fige les chiffres du mois, signés à votre nom ; les données reçues ensuite "
                "attendront une régularisation.",
                className="muted",
            ),
        ],
        className="closing-bar",
        style={"marginBottom": "1rem"},
    )


@callback(
    Output("fin-close-msg", "children"),
    Output("fin-refresh", "data"),
    Input("fin-close", "n_clicks"),
    State("fin-contract", "value"),
    State("fin-month", "value"),
    prevent_initial_call=True,
)
@guarded(CLOSE)
def close_month(clicks, contract_code, month):
    if not clicks or not contract_code or not month:
        return dash.no_update, dash.no_update
    user = current_user()
    try:
        ref = sign_month(db.engine(), str(contract_code), str(month), user.login)
    except (ClosingError, LookupError, ValueError) as exc:
        return alert(str(exc), "error", "fin-close-error"), None
    return (
        alert(f"{ref.label} {ref.marker}.", "ok", "fin-close-ok"),
        {"closed_period_id": ref.id},
    )
