"""The savings page's portfolio: the totals tiles, the table of the contract's buildings
(gap, euros, missing days, baseline quality, alert badges), the contract terms line under the
filters and the closing bar of a season.

Pure builders of Dash components from `dashboards.savings_data` results: no request, no
database, so that `dashboards.cache.rendered` can keep what they return across requests. The
small pieces (tiles, badges, signed percentages) are shared with `savings_detail_views`.
"""

from __future__ import annotations

from dash import html

from carnet.closing import period_label
from contract import ALERT_LABELS_FR, METHOD_LABELS_FR, season_bounds
from dashboards.components import downloadable_table
from dashboards.fmt import fr_date, fr_eur, fr_number, fr_pct
from dashboards.period_views import provisional_badge
from dashboards.savings_data import SavingsPortfolio

# short badge text; the full French label of the engine goes in the tooltip
ALERT_BADGES = {
    "nb_revision_1_season": ("Révision du NB", "error"),
    "nb_revision_2_seasons": ("Révision du NB (2 saisons)", "error"),
    "days_missing": ("Jours manquants", "warn"),
    "days_estimated": ("Jours estimés", "warn"),
    "dju_missing": ("DJU incomplets", "warn"),
    "ecs_missing": ("ECS manquante", "warn"),
    "no_channel": ("Sans compteur", "error"),
    "nb_adjusted": ("Référence ajustée", "info"),
}
NBSP = "\u00a0"
UNITS = (" %", " °C", " €", " MWh", " kWh", " m²")


def glued(text: str) -> str:
    """No line break between a number and its unit ("2,0 %" never splits)."""
    for unit in UNITS:
        text = text.replace(unit, NBSP + unit[1:])
    return text


def terms_line(p: SavingsPortfolio) -> str:
    """The contract's terms as the figures use them, so that a reader can check them."""
    r, t = p.report, p.terms
    method = METHOD_LABELS_FR.get(r.dju_method, r.dju_method)
    station = "station de chaque bâtiment"
    if p.station_name or r.station_code:
        station = "station " + (p.station_name or r.station_code)
    if p.station_name and r.station_code:
        station = f"station {p.station_name} ({r.station_code})"
    cap = f", plafond {fr_number(t.savings_cap_pct, 0)} % de N'B" if t.savings_cap_pct else ""
    cpe = f" · économies garanties {fr_number(t.guaranteed_savings_pct, 1)} %" if t.is_cpe else ""
    _, season_end = season_bounds(r.season, t.season_start, t.season_end)
    ongoing = " (saison en cours, jours complets)" if r.period_to < season_end else ""
    return glued(
        f"Contrat {r.contract_code} ({r.kind}, {t.contractor}) · du {fr_date(r.period_from)} au "
        f"{fr_date(r.period_to)}{ongoing} · DJU {method}, base {fr_number(r.dju_base_c, 0)} °C, "
        f"{station} · prix P1 {fr_number(r.price_eur_per_mwh_pci, 2)} €/MWh PCI · franchise "
        f"{fr_number(t.franchise_pct, 1)} %, part de l'exploitant "
        f"{fr_number(t.savings_share_contractor * 100, 0)} % des économies{cap}, "
        f"{fr_number(t.overrun_share_contractor * 100, 0)} % des dépassements{cpe}."
    )


def signed_pct(value) -> str:
    """A gap with its sign (+ for a saving) and a true minus."""
    text = fr_pct(value, 1)
    if text != "—" and value is not None and value > 0:
        text = "+" + text
    return text.replace("-", "−")


def _gap_class(value) -> str:
    if value is None or value != value:
        return "num"
    return "num gain" if value > 0 else ("num loss" if value < 0 else "num")


def shown_alerts(alerts) -> list[str]:
    """The one-season NB-revision alert says it all when both are raised."""
    alerts = list(alerts or [])
    if "nb_revision_1_season" in alerts and "nb_revision_2_seasons" in alerts:
        alerts.remove("nb_revision_2_seasons")
    return alerts


def badges(alerts) -> list:
    out = []
    for key in alerts or []:
        text, tone = ALERT_BADGES.get(key, (ALERT_LABELS_FR.get(key, key), "warn"))
        out.append(
            html.Span(
                text,
                className=f"badge badge-{tone}",
                title=ALERT_LABELS_FR.get(key, key),
                **{"data-alert": key},
            )
        )
    return out


def _quality_cell(q) -> html.Td:
    if q is None:
        return html.Td("—", className="quality muted", title="pas de modèle de référence")
    if not q.sufficient:  # fitted on too few days: its statistics mean nothing
        return html.Td(
            ["—", html.Span("données insuffisantes", className="quality-note")],
            className="quality muted",
            title="Période de référence : " + " ; ".join(q.warnings),
        )
    tone = "ok" if q.ok else "warn"
    verdict = (
        "conforme" if q.ok else ("données insuffisantes" if not q.sufficient else "hors seuils")
    )
    title = (
        f"Modèle {q.model} ajusté sur la période de référence : R² {fr_number(q.r2, 3)}, "
        f"CV(RMSE) {fr_number(q.cvrmse * 100, 1)} %, NMBE {fr_number(q.nmbe * 100, 2)} % "
        f"({verdict}, seuils ASHRAE Guideline 14)"
    )
    if q.warnings:
        title += " ; " + " ; ".join(q.warnings)
    return html.Td(
        [
            html.Span(
                f"R² {fr_number(q.r2, 2)} · CV {fr_number(q.cvrmse * 100, 0)} %",
                className="quality-figures",
            ),
            html.Span("✓" if q.ok else "!", className=f"badge badge-{tone} badge-mini"),
        ],
        className="quality",
        title=title,
    )


def _unit(text: str) -> html.Span:
    return html.Span(text, className="th-unit")


def tile(label: str, value: str, key: str, tone: str = "", note: str | None = None):
    # the unit in a smaller type, so that "1 953,4 MWh PCI" fits on one line
    number, _, unit = value.partition(" MWh")
    shown = [number, html.Span(" MWh" + unit, className="tile-unit")] if unit else value
    return html.Div(
        [
            html.Span(label, className="tile-label"),
            html.Span(shown, className="tile-value"),
            html.Span(note, className="tile-note") if note else None,
        ],
        className="tile" + (f" tile-{tone}" if tone else ""),
        id=key,
    )


def portfolio_view(p: SavingsPortfolio):
    """The totals tiles, the buildings table and its note (cached, rendered, by the page)."""
    frame = p.buildings
    total = p.total
    gap = total.get("gap_pct")
    tiles = html.Div(
        [
            tile("Consommation réelle", f"{fr_number(total['actual_mwh_pci'], 1)} MWh PCI",
                 "savings-total-actual"),
            tile("Objectif corrigé N'B", f"{fr_number(total['target_mwh_pci'], 1)} MWh PCI",
                 "savings-total-target"),
            tile("Écart (N'B − réel)", signed_pct(gap), "savings-total-gap",
                 "good" if (gap or 0) > 0 else ("bad" if (gap or 0) < 0 else ""),
                 f"{fr_number(total['gap_mwh'], 1)} MWh PCI".replace("-", "−")),
            tile("Intéressement exploitant", fr_eur(total["bonus_eur"]), "savings-total-bonus"),
            tile("Pénalités exploitant", fr_eur(total["penalty_eur"]), "savings-total-penalty"),
        ],
        className="tiles",
    )  # fmt: skip
    if frame.empty:
        return [tiles, html.P("Ce contrat ne couvre aucun bâtiment.", className="muted")]
    head = html.Thead(
        html.Tr(
            [
                html.Th("Bâtiment"),
                html.Th(["Réel", html.Br(), _unit("MWh PCI")], className="num"),
                html.Th(["Objectif N'B", html.Br(), _unit("MWh PCI")], className="num"),
                html.Th(
                    ["Écart", html.Br(), _unit("% de N'B")],
                    className="num",
                    title="(N'B − réel) / N'B : positif = économie",
                ),
                html.Th(["Intéressement", html.Br(), _unit("exploitant")], className="num"),
                html.Th(["Pénalité", html.Br(), _unit("exploitant")], className="num"),
                html.Th(["Jours", html.Br(), _unit("manquants")], className="num"),
                html.Th(["Modèle de", html.Br(), "référence"]),
                html.Th("Alertes"),
            ]
        )
    )
    rows = []
    for rec in frame.to_dict("records"):  # one row per building (a dozen)
        code = rec["building_code"]
        rows.append(
            html.Tr(
                [
                    html.Td(
                        [
                            html.Button(
                                [
                                    html.Span(rec["building_name"], className="building-name"),
                                    html.Span(code, className="code"),
                                ],
                                id={"type": "savings-open", "code": code},
                                className="link-button",
                                title="Afficher le détail du bâtiment",
                                n_clicks=0,
                            ),
                            provisional_badge(p.building_status.get(code), p.status),
                        ]
                    ),
                    html.Td(fr_number(rec["actual_mwh_pci"], 2), className="num"),
                    html.Td(fr_number(rec["target_mwh_pci"], 2), className="num"),
                    html.Td(signed_pct(rec["gap_pct"]), className=_gap_class(rec["gap_pct"])),
                    html.Td(fr_eur(rec["bonus_eur"]), className="num"),
                    html.Td(fr_eur(rec["penalty_eur"]), className="num"),
                    html.Td(
                        fr_number(rec["days_missing"], 0),
                        className="num" + (" warn-text" if rec["days_missing"] else ""),
                    ),
                    _quality_cell(p.quality.get(code)),
                    html.Td(
                        html.Div(badges(shown_alerts(rec["alerts"])), className="badges"),
                        className="badges-cell",
                    ),
                ],
                **{"data-building": code},
            )
        )
    foot = html.Tfoot(
        html.Tr(
            [
                html.Td(f"Total ({len(frame)} bâtiments)"),
                html.Td(fr_number(total["actual_mwh_pci"], 2), className="num"),
                html.Td(fr_number(total["target_mwh_pci"], 2), className="num"),
                html.Td(signed_pct(gap), className=_gap_class(gap)),
                html.Td(fr_eur(total["bonus_eur"]), className="num"),
                html.Td(fr_eur(total["penalty_eur"]), className="num"),
                html.Td(fr_number(total["days_missing"], 0), className="num"),
                html.Td(""),
                html.Td(""),
            ],
            className="total-row",
        )
    )
    table = html.Table([head, html.Tbody(rows), foot], className="data-table savings-table",
                       id="savings-table")  # fmt: skip
    note = html.P(
        "Écart = (N'B − réel) / N'B : positif, le bâtiment consomme moins que l'objectif. "
        "Cliquez sur un bâtiment pour ses courbes.",
        className="muted table-note",
    )
    params = {"contrat": p.terms.code, "saison": p.report.season}
    table = downloadable_table("savings-table", table, params)
    return [tiles, html.Div(table, className="table-wrap"), note]


def closing_bar(p: SavingsPortfolio, can_close: bool):
    """« arrêtée le JJ/MM/AAAA par … » on a closed season (and on its closed months); the
    manager's « Arrêter la saison » on a complete open one, when `can_close` (`period.close`,
    checked again by the callback)."""
    if p.closed_marker:
        return html.Div(
            f"Saison {p.report.season.replace('-', '–')} {p.closed_marker} : chiffres tels "
            "qu'ils ont été signés ; ils ne changent plus.",
            id="savings-closed",
            className="alert alert-info closed-marker",
        )
    months = [
        html.Li(f"{_month_label(m)} : {marker}", **{"data-month": m})
        for m, marker in p.closed_months.items()
    ]
    children = []
    if months:
        children.append(
            html.Div(
                [html.Span("Mois arrêtés (chiffres signés) :"), html.Ul(months)],
                id="savings-closed-months",
                className="muted closed-months",
            )
        )
    if p.season_complete and can_close:
        children.append(
            html.Div(
                [
                    html.Button("Arrêter la saison", id="savings-close-season",
                                className="button", n_clicks=0),
                    html.Span(
                        " fige les chiffres de la saison et de ses mois, signés à votre nom ;"
                        " les données reçues ensuite attendront une régularisation.",
                        className="muted",
                    ),
                    html.Div(id="savings-close-msg"),
                ],
                className="closing-bar",
            )
        )  # fmt: skip
    return html.Div(children, className="closing")


def _month_label(month: str) -> str:
    return period_label("month", month)
