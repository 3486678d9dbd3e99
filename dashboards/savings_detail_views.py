"""The savings page's building detail: its head and tiles (actual, target N'B, gap, euros,
IPMVP savings), the four figures with captions that name their units, periods and station,
and the non-routine adjustments block with the manager's form.

Pure builders from `dashboards.savings_data.BuildingDetail` (no request, no database), cached
as rendered components by the page; the form's values are read back by the page's callback.
"""

from __future__ import annotations

from dash import dcc, html

from carnet.adjustments import ADJUSTMENT_KINDS, KIND_LABELS_FR
from contract import METHOD_LABELS_FR
from dashboards import savings_figures as figs
from dashboards.components import downloadable_table
from dashboards.fmt import fr_date, fr_datetime, fr_eur, fr_number
from dashboards.savings_data import BuildingDetail, SavingsPortfolio
from dashboards.savings_figures import figure_card
from dashboards.savings_views import badges, shown_alerts, signed_pct, tile


def _period(a, b) -> str:
    return f"du {fr_date(a)} au {fr_date(b)}"


def detail_view(p: SavingsPortfolio, d: BuildingDetail, contract_code, can_edit, message):
    """One building of the table, in full; `message` (an adjustment just recorded) shows above
    its adjustments, and the form only when `can_edit`."""
    r = p.report
    method = METHOD_LABELS_FR.get(r.dju_method, r.dju_method)
    station = d.station_code or "—"
    station_text = (
        f"station {p.station_name} ({station})" if p.station_name else f"station {station}"
    )
    season_period = _period(r.period_from, r.period_to)
    base_period = _period(*p.periods.baseline)
    rep_period = _period(*p.periods.reporting)
    row = d.row
    base = d.baseline
    tiles = [
        tile("Réel", f"{fr_number(row['actual_mwh_pci'], 1)} MWh PCI", "detail-actual"),
        tile("Objectif N'B", f"{fr_number(row['target_mwh_pci'], 1)} MWh PCI", "detail-target",
             note=f"NB {fr_number(row['nb_mwh_pci'], 1)} MWh PCI pour "
             f"{fr_number(row['dju_ref'], 0)} DJU ; DJU réels {fr_number(row['dju'], 0)}"),
        tile("Écart", signed_pct(row["gap_pct"]), "detail-gap",
             "good" if (row["gap_pct"] or 0) > 0 else "bad" if (row["gap_pct"] or 0) < 0 else ""),
        tile("Intéressement / pénalité",
             fr_eur(row["bonus_eur"]) if row["bonus_eur"] else
             ("−" + fr_eur(row["penalty_eur"]) if row["penalty_eur"] else fr_eur(0)),
             "detail-euros"),
    ]  # fmt: skip
    model_text = f"aucun ({d.model_note})" if d.model_note else "aucun"
    if base is not None:
        s, m = base.savings, base.model
        tiles.append(
            tile(
                "Économies mesurées (IPMVP C)",
                signed_pct(s.savings_pct),
                "detail-ipmvp",
                "good" if s.savings_pct > 0 else "bad",
                f"{fr_number(s.savings_kwh / 1000, 1)} MWh PCS, incertitude "
                f"± {fr_number(abs(s.fsu) * 100, 0)} % (90 %)",
            )
        )
        tb = m.balance_temp_c
        model_text = (
            f"E = {fr_number(m.b0_kwh_per_day, 0)} kWh/j"
            + (f" + {fr_number(m.b1_kwh_per_dd, 1)} kWh/DJ × DJ base {fr_number(tb, 1)} °C"
               if tb is not None else "")
            + f" ; R² {fr_number(m.r2, 3)}, CV(RMSE) {fr_number(m.cvrmse * 100, 1)} %, "
            f"NMBE {fr_number(m.nmbe * 100, 2)} %"
        )  # fmt: skip
    tb_text = (
        f"base Tb = {fr_number(base.model.balance_temp_c, 1)} °C (température de non-chauffage "
        "du modèle)"
        if base is not None and base.model.balance_temp_c is not None
        else "sans point d'inflexion"
    )
    captions = {
        "monthly": (
            f"Consommation nette de chauffage (MWh PCI, compteur {d.channel_code or '—'}) et "
            f"objectif N'B = NB × DJU du mois / DJU réf. ; DJU {method}, base "
            f"{fr_number(r.dju_base_c, 0)} °C, {station_text} ; {season_period}."
        ),
        "signature": (
            f"Consommation moyenne par jour de chaque mois (kWh PCS) en fonction des "
            f"degrés-jours par jour, {tb_text}, calculés sur la température moyenne "
            f"journalière, {station_text}. Référence {base_period} (gris-bleu), suivi "
            f"{rep_period} (orange). Modèle mensuel : {model_text}."
        ),
        "cusum": (
            f"Somme cumulée de (modèle − mesuré), MWh PCS, {rep_period} ; modèle ajusté "
            f"{base_period}, degrés-jours {tb_text}, {station_text}. Une courbe qui monte = "
            "des économies ; qui descend = une dérive."
        ),
        "carpet": (
            f"Consommation horaire (kWh PCS, compteur {d.channel_code or '—'}) par heure locale "
            f"et par jour, {rep_period}, sans correction climatique. Des nuits et des week-ends "
            "clairs montrent un réduit de chauffage ; foncés, un chauffage continu."
        ),
    }
    if base is None:  # no model: say why, and on which periods it was looked for
        why = (
            f"Pas de modèle de référence : {d.model_note}. Recherché sur la référence "
            f"{base_period} (température moyenne journalière, {station_text}) pour le suivi "
            f"{rep_period}."
        )
        captions["signature"] = captions["cusum"] = why
    params = {"contrat": contract_code, "saison": r.season, "batiment": d.code}
    graphs = html.Div(
        [
            figure_card(graph_id, DETAIL_FIGURES[graph_id](d), captions[key], params)
            for key, graph_id in (("monthly", "savings-fig-monthly"),
                                  ("signature", "savings-fig-signature"),
                                  ("cusum", "savings-fig-cusum"), ("carpet", "savings-fig-carpet"))
        ],
        className="figure-grid",
    )  # fmt: skip
    return html.Section(
        [
            html.Div(
                [
                    html.H2(
                        [d.name, html.Span(d.code, className="code heading-code")],
                        className="print-subject",  # named in the print header
                    ),
                    html.P(
                        f"Contrat {contract_code}, saison {r.season.replace('-', '–')} "
                        f"({season_period}) · compteur {d.channel_code or '—'} · {station_text}",
                        className="muted",
                    ),
                    html.Div(badges(shown_alerts(row.get("alerts"))), className="badges"),
                ],
                className="detail-head",
            ),
            html.Div(tiles, className="tiles"),
            graphs,
            adjustments_card(d, can_edit, message, params),
        ],
        id="savings-building-detail",
        **{"data-building": d.code},
    )


# the building detail's figures, by graph id (the page draws them, and again for a download)
DETAIL_FIGURES = {
    "savings-fig-monthly": lambda d: figs.monthly_figure(d.months),
    "savings-fig-signature": lambda d: figs.signature_figure(d.signature, d.model_note),
    "savings-fig-cusum": lambda d: figs.cusum_figure(d.cusum, d.model_note),
    "savings-fig-carpet": lambda d: figs.carpet_figure(d.carpet),
}


def _effect(adj: dict) -> str:
    if adj["nb_factor"] is not None:
        return f"NB × {fr_number(adj['nb_factor'], 3).rstrip('0').rstrip(',')}"
    delta = adj["delta_mwh_pci"] or 0.0
    sign = "+" if delta >= 0 else "−"
    return f"NB {sign} {fr_number(abs(delta), 1)} MWh PCI/saison"


def adjustments_card(d: BuildingDetail, can_edit: bool, message, params=None):
    if d.adjustments:
        body = html.Table(
            [
                html.Thead(
                    html.Tr(
                        [
                            html.Th("Du"),
                            html.Th("Au"),
                            html.Th("Nature"),
                            html.Th("Effet"),
                            html.Th("Justification"),
                            html.Th("Auteur"),
                            html.Th("Saisi le"),
                        ]
                    )
                ),
                html.Tbody(
                    [
                        html.Tr(
                            [
                                html.Td(fr_date(a["effective_from"]), className="date"),
                                html.Td(fr_date(a["effective_to"]), className="date"),
                                html.Td(a["kind_label"][:1].upper() + a["kind_label"][1:]),
                                html.Td(
                                    [_effect(a)]
                                    + (
                                        [html.Br(), html.Small("en attente (période arrêtée)")]
                                        if a.get("status") == "pending"
                                        else []
                                    ),
                                    className="num",
                                ),  # fmt: skip
                                html.Td(a["justification"]),
                                html.Td(a["author_login"], className="code"),
                                html.Td(fr_datetime(a["created_at"]), className="date"),
                            ]
                        )
                        for a in d.adjustments  # a few per building
                    ]
                ),
            ],
            className="data-table",
            id="savings-adj-table",
        )
    else:
        body = html.P(
            "Aucun ajustement non périodique pour ce bâtiment.",
            className="muted",
            id="savings-adj-none",
        )
    children = [
        html.H3("Ajustements non périodiques"),
        html.P(
            "Changements de la référence (surface ajoutée, fermeture, nouvel usage) : datés, "
            "justifiés, signés et inscrits au carnet de santé du bâtiment.",
            className="muted",
        ),
        message,
        html.Div(downloadable_table("savings-adj-table", body, params), className="table-wrap"),
    ]
    if can_edit:
        children.append(_adjustment_form())
    return html.Div(children, className="card adjustments-card", id="savings-adjustments")


def _adjustment_form():
    def field(label, control, hint=None):
        return html.Label(
            [html.Span(label, className="field-label"), control]
            + ([html.Span(hint, className="field-hint")] if hint else []),
            className="field",
        )

    return html.Div(
        [
            html.H3("Ajouter un ajustement"),
            html.Div(
                [
                    field("Date d'effet", dcc.Input(id="savings-adj-from", type="text",
                                                    placeholder="jj/mm/aaaa", className="input")),
                    field("Date de fin (incluse)", dcc.Input(id="savings-adj-to", type="text",
                                                             placeholder="facultative",
                                                             className="input")),
                    field("Nature", dcc.Dropdown(
                        id="savings-adj-kind",
                        options=[{"label": KIND_LABELS_FR[k].capitalize(), "value": k}
                                 for k in ADJUSTMENT_KINDS],
                        placeholder="Choisir…", clearable=False, searchable=False,
                        className="dropdown")),
                    field("Effet sur le NB", dcc.RadioItems(
                        id="savings-adj-mode",
                        options=[{"label": " facteur (× NB)", "value": "factor"},
                                 {"label": " écart (MWh PCI/saison)", "value": "delta"}],
                        value="factor", inline=True, className="radio")),
                    field("Valeur", dcc.Input(id="savings-adj-value", type="text",
                                              placeholder="ex. 1,15 ou −20", className="input"),
                          "facteur : 0 = bâtiment fermé, 1,15 = 15 % de surface en plus"),
                ],
                className="form-grid",
            ),
            field("Justification", dcc.Textarea(id="savings-adj-why", className="textarea",
                                                placeholder="Motif, référence du document…")),
            html.Div(id="savings-adj-message"),
            html.Button("Enregistrer l'ajustement", id="savings-adj-submit", n_clicks=0,
                        className="button"),
        ],
        className="adjustment-form",
        id="savings-adj-form",
    )  # fmt: skip
