"""Contrat: the terms of the heating contract as every service reads them (DESIGN.md, roles:
the manager, the finance service, and the contractor for its own contract only). The terms are
changed through the portfolio file (`carnet portfolio load`), which validates and audits them."""

from __future__ import annotations

import unicodedata

import dash
from dash import Input, Output, callback, dcc, html
from sqlalchemy import select
from werkzeug.exceptions import abort

from carnet.models import Contract, ContractBuilding
from contract import METHOD_LABELS_FR
from dashboards import db
from dashboards.auth import contract_scope, guarded
from dashboards.fmt import fr_date, fr_eur, fr_number, fr_pct

CAPABILITY = "contract.view"

dash.register_page(
    __name__,
    path="/contrat",
    name="Contrat",
    title="Contrat · Carnet",
    description="Les termes du contrat de chauffage : saison, DJU de référence, NB par "
    "bâtiment, prix P1, franchise et partage des économies.",
    order=25,
    capability=CAPABILITY,
)

KIND_LABELS_FR = {
    "MT": "marché forfaitaire (MT)",
    "MTI": "marché forfaitaire avec intéressement (MTI)",
    "MC": "marché comptage (MC)",
    "MCI": "marché comptage avec intéressement (MCI)",
    "CP": "marché prestation (CP)",
    "CPI": "marché prestation avec intéressement (CPI)",
    "CPE": "contrat de performance énergétique (CPE)",
}


def _visible_contracts() -> list[tuple[str, str]]:
    scope = contract_scope()
    with db.session() as s:
        stmt = select(Contract.code, Contract.contractor).order_by(Contract.code)
        if scope is not None:
            stmt = stmt.where(Contract.id == scope)
        return [(code, contractor) for code, contractor in s.execute(stmt)]


def layout(contrat=None, **_query):
    contracts = _visible_contracts()
    if not contracts:
        return html.Div(className="page", children=[html.H1("Contrat"), html.P("Aucun contrat.")])
    codes = [c for c, _ in contracts]
    value = contrat if contrat in codes else codes[0]
    return html.Div(
        className="page",
        children=[
            html.Div(
                className="page-head",
                children=[
                    html.H1("Termes du contrat"),
                    html.P(
                        "Ce que le contrat engage : la référence de consommation de chaque "
                        "bâtiment pour un hiver de référence, sa correction par les degrés-jours,"
                        " et le partage des écarts. Modification par le fichier de patrimoine "
                        "(validée et tracée).",
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
                                id="contract-terms-code",
                                options=[{"label": f"{c} · {n}", "value": c} for c, n in contracts],
                                value=value,
                                clearable=False,
                            ),
                        ]
                    )
                ],
            ),
            html.Div(id="contract-terms-body"),
        ],
    )


def _fold(text: str) -> str:
    """Sort key that puts « École » among the E, as a French reader expects."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _row(label: str, value) -> html.Tr:
    return html.Tr([html.Th(label), html.Td(value)])


@callback(Output("contract-terms-body", "children"), Input("contract-terms-code", "value"))
@guarded(CAPABILITY)
def show_terms(code):
    scope = contract_scope()
    with db.session() as s:
        contract = s.scalar(select(Contract).where(Contract.code == code))
        if contract is None:
            abort(404)
        if scope is not None and contract.id != scope:
            abort(403)
        station = contract.station
        rows = [
            _row("Exploitant", contract.contractor),
            _row("Type", KIND_LABELS_FR.get(contract.kind, contract.kind)),
            _row(
                "Durée",
                f"du {fr_date(contract.starts_on)}"
                + (f" au {fr_date(contract.ends_on)}" if contract.ends_on else ""),
            ),
            _row(
                "Saison de chauffe",
                "du {} au {} (chaque année)".format(
                    *(
                        "/".join(reversed(d.split("-")))
                        for d in (contract.season_start, contract.season_end)
                    )
                ),
            ),
            _row(
                "Degrés-jours",
                f"{METHOD_LABELS_FR.get(contract.dju_method, contract.dju_method)}, base "
                f"{fr_number(contract.dju_base_c, 1)} °C, station "
                f"{station.name + ' (' + station.code + ')' if station else 'du bâtiment'}",
            ),
            _row("Prix P1", f"{fr_eur(contract.price_eur_per_mwh_pci)} par MWh PCI"),
            _row("Rapport PCS/PCI", fr_number(contract.pcs_pci_ratio, 2)),
            _row(
                "Franchise", f"{fr_pct(contract.franchise_pct)} de N'B : rien n'est partagé en deçà"
            ),
            _row(
                "Économies",
                f"{fr_pct(100 * contract.savings_share_contractor, 0)} pour l'exploitant, "
                + (
                    f"plafonnées à {fr_pct(contract.savings_cap_pct)} de N'B"
                    if contract.savings_cap_pct is not None
                    else "sans plafond"
                ),
            ),
            _row(
                "Dépassements",
                f"{fr_pct(100 * contract.overrun_share_contractor, 0)} à la charge de l'exploitant",
            ),
            _row(
                "Alerte de révision du NB",
                f"écart de plus de {fr_pct(contract.nb_revision_pct_one_season)} sur une saison "
                f"ou de {fr_pct(contract.nb_revision_pct_two_seasons)} sur deux saisons",
            ),
        ]
        if contract.guaranteed_savings_pct is not None:
            rows.append(_row("Économie garantie (CPE)", fr_pct(contract.guaranteed_savings_pct)))
        buildings = s.scalars(
            select(ContractBuilding).where(ContractBuilding.contract_id == contract.id)
        ).all()
        lines = sorted(
            [
                (
                    cb.building.name,
                    cb.building.code,
                    cb.channel.code if cb.channel else "—",
                    cb.nb_mwh_pci,
                    cb.dju_ref,
                    cb.q_ecs_mwh_per_m3,
                )
                for cb in buildings
            ],
            key=lambda line: _fold(line[0]),
        )
    body = [
        html.Tr(
            [
                html.Td([html.Div(name), html.Div(bcode, className="code muted")]),
                html.Td(channel, className="code"),
                html.Td(fr_number(nb, 1), className="num"),
                html.Td(fr_number(dju, 0), className="num"),
                html.Td(fr_number(q, 3) if q is not None else "—", className="num"),
            ]
        )
        for name, bcode, channel, nb, dju, q in lines
    ]
    total_nb = sum(line[3] for line in lines)
    body.append(
        html.Tr(
            [
                html.Td(f"Total ({len(lines)} bâtiments)"),
                html.Td(""),
                html.Td(fr_number(total_nb, 1), className="num"),
                html.Td(""),
                html.Td(""),
            ],
            className="total",
        )
    )
    return html.Div(
        [
            html.Div(
                className="card",
                children=html.Table(className="data-table", children=html.Tbody(rows)),
            ),
            html.H2("Référence par bâtiment"),
            html.P(
                "NB : consommation de chauffage contractuelle (MWh PCI) pour les DJU de "
                "référence ; l'objectif de chaque période est N'B = NB × DJU réels / DJU de "
                "référence.",
                className="muted",
            ),
            html.Div(
                className="table-wrap",
                children=html.Table(
                    className="data-table",
                    children=[
                        html.Thead(
                            html.Tr(
                                [
                                    html.Th("Bâtiment"),
                                    html.Th("Compteur"),
                                    html.Th("NB MWh PCI"),
                                    html.Th("DJU de référence"),
                                    html.Th("ECS MWh/m³"),
                                ]
                            )
                        ),
                        html.Tbody(body),
                    ],
                ),
            ),
        ]
    )
