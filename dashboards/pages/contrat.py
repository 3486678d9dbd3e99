"""Contrat: the terms of the heating contract as every service reads them (DESIGN.md, roles:
the manager, the finance service, and the contractor for its own contract only). The terms are
changed through the portfolio file (`carnet portfolio load`), which validates and audits them."""

from __future__ import annotations

import dash
from dash import Input, Output, callback, dcc, html
from werkzeug.exceptions import abort

from carnet.access import CarnetPermissionError
from contract import METHOD_LABELS_FR
from dashboards import db
from dashboards.auth import current_scope, guarded
from dashboards.components import downloadable_table, fr_sort_key, page_head
from dashboards.contrat_data import contract_terms, visible_contracts
from dashboards.downloads import register_table
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


def layout(contrat=None, **_query):
    contracts = visible_contracts(db.engine(), current_scope())
    if not contracts:
        return html.Div(className="page", children=[html.H1("Contrat"), html.P("Aucun contrat.")])
    codes = [c for c, _ in contracts]
    value = contrat if contrat in codes else codes[0]
    return html.Div(
        className="page",
        children=[
            page_head(
                "Termes du contrat",
                "Ce que le contrat engage : la référence de consommation de chaque "
                "bâtiment pour un hiver de référence, sa correction par les degrés-jours,"
                " et le partage des écarts. Modification par le fichier de patrimoine "
                "(validée et tracée).",
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


def _row(label: str, value) -> html.Tr:
    return html.Tr([html.Th(label), html.Td(value)])


@callback(Output("contract-terms-body", "children"), Input("contract-terms-code", "value"))
@guarded(CAPABILITY)
def show_terms(code):
    try:
        t = contract_terms(db.engine(), current_scope(), code)
    except LookupError:
        abort(404)
    except CarnetPermissionError:
        abort(403)
    station = t["station"]
    rows = [
        _row("Exploitant", t["contractor"]),
        _row("Type", KIND_LABELS_FR.get(t["kind"], t["kind"])),
        _row(
            "Durée",
            f"du {fr_date(t['starts_on'])}"
            + (f" au {fr_date(t['ends_on'])}" if t["ends_on"] else ""),
        ),
        _row(
            "Saison de chauffe",
            "du {} au {} (chaque année)".format(
                *("/".join(reversed(d.split("-"))) for d in (t["season_start"], t["season_end"]))
            ),
        ),
        _row(
            "Degrés-jours",
            f"{METHOD_LABELS_FR.get(t['dju_method'], t['dju_method'])}, base "
            f"{fr_number(t['dju_base_c'], 1)} °C, station "
            f"{station[0] + ' (' + station[1] + ')' if station else 'du bâtiment'}",
        ),
        _row("Prix P1", f"{fr_eur(t['price_eur_per_mwh_pci'])} par MWh PCI"),
        _row("Rapport PCS/PCI", fr_number(t["pcs_pci_ratio"], 2)),
        _row("Franchise", f"{fr_pct(t['franchise_pct'])} de N'B : rien n'est partagé en deçà"),
        _row(
            "Économies",
            f"{fr_pct(100 * t['savings_share_contractor'], 0)} pour l'exploitant, "
            + (
                f"plafonnées à {fr_pct(t['savings_cap_pct'])} de N'B"
                if t["savings_cap_pct"] is not None
                else "sans plafond"
            ),
        ),
        _row(
            "Dépassements",
            f"{fr_pct(100 * t['overrun_share_contractor'], 0)} à la charge de l'exploitant",
        ),
        _row(
            "Alerte de révision du NB",
            f"écart de plus de {fr_pct(t['nb_revision_pct_one_season'])} sur une saison "
            f"ou de {fr_pct(t['nb_revision_pct_two_seasons'])} sur deux saisons",
        ),
    ]
    if t["guaranteed_savings_pct"] is not None:
        rows.append(_row("Économie garantie (CPE)", fr_pct(t["guaranteed_savings_pct"])))
    lines = sorted(
        t["buildings"],
        key=lambda line: fr_sort_key(line[0]),
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
                children=downloadable_table(
                    "contract-terms",
                    html.Table(className="data-table", children=html.Tbody(rows)),
                    {"contrat": code},
                ),
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
                children=downloadable_table(
                    "contract-buildings",
                    html.Table(
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
                    {"contrat": code},
                ),
            ),
        ]
    )


def _terms_again(params: dict):
    code = params.get("contrat")
    return show_terms(code if isinstance(code, str) else None)


register_table("contract-terms", CAPABILITY, _terms_again, filename="contrat")
register_table("contract-buildings", CAPABILITY, _terms_again, filename="contrat-batiments")
