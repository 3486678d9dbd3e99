"""Économies: is the heating contract delivering? Per building of a contract and season, the
net consumption against the climate-corrected target N'B, the gap, the euros of the sharing
clause, the baseline model's quality and the alerts; then, for one building, the monthly bars,
the energy signature, the CUSUM, the hourly carpet and the non-routine adjustments.

Every contract and building code coming from the browser is checked against the user's
scope on the server (a contractor sees its own contract only); adding an adjustment needs
`adjustment.edit`, checked in the callback.
"""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html
from werkzeug.exceptions import abort

from carnet.access import CarnetPermissionError
from carnet.adjustments import ADJUSTMENT_KINDS, KIND_LABELS_FR, AdjustmentError
from carnet.closing import ClosingError
from carnet.timeutil import parse_local_date
from contract import ALERT_LABELS_FR, METHOD_LABELS_FR, season_bounds
from dashboards import db
from dashboards import savings_figures as figs
from dashboards.auth import current_scope, current_user, guarded, require
from dashboards.cache import cached, rendered
from dashboards.components import alert, field, page_head
from dashboards.fmt import fr_date, fr_datetime, fr_eur, fr_number, fr_pct
from dashboards.report_routes import monthly_report_link
from dashboards.savings_data import (
    BuildingDetail,
    SavingsPortfolio,
    allowed_building,
    allowed_contract,
    building_detail,
    contract_choices,
    contracts_of_building,
    last_complete_day,
    record_adjustment,
    savings_portfolio,
    seasons,
    sign_season,
)

CAPABILITY = "savings.view"
EDIT = "adjustment.edit"
CLOSE = "period.close"  # « Arrêter la saison »: the manager signs the season's figures
PATH = "/economies"

dash.register_page(
    __name__,
    path=PATH,
    name="Économies",
    title="Économies · Carnet",
    description="Consommation réelle contre objectif corrigé du climat, intéressement et "
    "pénalités du contrat de chauffage, bâtiment par bâtiment.",
    order=20,
    capability=CAPABILITY,
)

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
NNBSP = "\u202f"
NBSP = "\u00a0"
UNITS = (" %", " °C", " €", " MWh", " kWh", " m²")


def _glued(text: str) -> str:
    """No line break between a number and its unit ("2,0 %" never splits)."""
    for unit in UNITS:
        text = text.replace(unit, NBSP + unit[1:])
    return text


# --- scope ------------------------------------------------------------------------------------


def _allowed_contract(code: str | None) -> str:
    """The contract code if the user may see it; 403 otherwise (a contractor: its own only)."""
    if not code:
        abort(400)
    try:
        return allowed_contract(db.engine(), current_scope(), code)
    except LookupError:
        abort(404)
    except CarnetPermissionError:
        abort(403)


def _allowed_building(contract_code: str, building_code: str) -> bool:
    """403 unless the building is in the user's scope (404 if unknown); then whether it is one
    of the contract's buildings."""
    try:
        return allowed_building(db.engine(), current_scope(), contract_code, building_code)
    except LookupError:
        abort(404)
    except CarnetPermissionError:
        abort(403)


# --- layout -----------------------------------------------------------------------------------


def layout(contrat=None, saison=None, batiment=None, **_query):
    user = current_user()
    scope = current_scope()
    choices = contract_choices(db.engine(), scope)
    head = page_head(
        "Économies d'énergie",
        "Consommation nette de chauffage comparée à l'objectif corrigé du climat "
        "(N'B), intéressement et pénalités du contrat, bâtiment par bâtiment.",
    )
    if not choices:
        return html.Div(
            [head, html.P("Aucun contrat de chauffage n'est enregistré.", className="muted")],
            className="page savings",
        )
    codes = [c["code"] for c in choices]
    notice = None
    selected = None
    if batiment:
        in_contracts = contracts_of_building(db.engine(), scope, str(batiment))
        if not in_contracts:
            notice = alert(
                f"Le bâtiment « {batiment} » ne fait partie d'aucun contrat que vous pouvez "
                "consulter.",
                "error",
                "savings-notice",
            )
        else:
            selected = str(batiment)
            if contrat not in in_contracts:
                contrat = in_contracts[0]
    contract = contrat if contrat in codes else codes[0]
    season_list, default = seasons(db.engine(), contract)
    season = saison if saison in season_list else default
    can_edit = user is not None and user.can(EDIT)
    return html.Div(
        className="page savings",
        children=[
            head,
            notice,
            html.Div(
                className="filters",
                children=[
                    html.Label(
                        [
                            html.Span("Contrat", className="filter-label"),
                            dcc.Dropdown(
                                id="savings-contract",
                                options=[
                                    {"label": c["label"], "value": c["code"]} for c in choices
                                ],
                                value=contract,
                                clearable=False,
                                searchable=False,
                                disabled=not scope.sees_all,
                                className="dropdown savings-contract",
                            ),
                        ],
                        className="filter",
                    ),
                    html.Label(
                        [
                            html.Span("Saison de chauffe", className="filter-label"),
                            dcc.Dropdown(
                                id="savings-season",
                                options=_season_options(season_list),
                                value=season,
                                clearable=False,
                                searchable=False,
                                className="dropdown savings-season",
                            ),
                        ],
                        className="filter",
                    ),
                ],
            ),
            html.P(id="savings-terms", className="terms-line muted"),
            dcc.Loading(html.Div(id="savings-portfolio"), type="dot", color="#1d5c7a"),
            dcc.Store(id="savings-building", data=selected),
            dcc.Store(id="savings-refresh", data={"n": 0}),
            dcc.Store(id="savings-url", data=None),
            dcc.Store(id="savings-can-edit", data=can_edit),
            dcc.Loading(
                html.Div(id="savings-detail", className="savings-detail"),
                type="dot",
                color="#1d5c7a",
            ),
        ],
    )


def _season_options(season_list: list[str]) -> list[dict]:
    return [{"label": f"Saison {s.replace('-', '–')}", "value": s} for s in season_list]


# --- portfolio --------------------------------------------------------------------------------


def _terms_line(p: SavingsPortfolio) -> str:
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
    return _glued(
        f"Contrat {r.contract_code} ({r.kind}, {t.contractor}) · du {fr_date(r.period_from)} au "
        f"{fr_date(r.period_to)}{ongoing} · DJU {method}, base {fr_number(r.dju_base_c, 0)} °C, "
        f"{station} · prix P1 {fr_number(r.price_eur_per_mwh_pci, 2)} €/MWh PCI · franchise "
        f"{fr_number(t.franchise_pct, 1)} %, part de l'exploitant "
        f"{fr_number(t.savings_share_contractor * 100, 0)} % des économies{cap}, "
        f"{fr_number(t.overrun_share_contractor * 100, 0)} % des dépassements{cpe}."
    )


def _signed_pct(value) -> str:
    text = fr_pct(value, 1)
    if text != "—" and value is not None and value > 0:
        text = "+" + text
    return text.replace("-", "−")


def _gap_class(value) -> str:
    if value is None or value != value:
        return "num"
    return "num gain" if value > 0 else ("num loss" if value < 0 else "num")


def _shown_alerts(alerts) -> list[str]:
    """The one-season NB-revision alert says it all when both are raised."""
    alerts = list(alerts or [])
    if "nb_revision_1_season" in alerts and "nb_revision_2_seasons" in alerts:
        alerts.remove("nb_revision_2_seasons")
    return alerts


def _badges(alerts) -> list:
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


def _tile(label: str, value: str, key: str, tone: str = "", note: str | None = None):
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


def _portfolio_view(p: SavingsPortfolio):
    frame = p.buildings
    total = p.total
    gap = total.get("gap_pct")
    tiles = html.Div(
        [
            _tile("Consommation réelle", f"{fr_number(total['actual_mwh_pci'], 1)} MWh PCI",
                  "savings-total-actual"),
            _tile("Objectif corrigé N'B", f"{fr_number(total['target_mwh_pci'], 1)} MWh PCI",
                  "savings-total-target"),
            _tile("Écart (N'B − réel)", _signed_pct(gap), "savings-total-gap",
                  "good" if (gap or 0) > 0 else ("bad" if (gap or 0) < 0 else ""),
                  f"{fr_number(total['gap_mwh'], 1)} MWh PCI".replace("-", "−")),
            _tile("Intéressement exploitant", fr_eur(total["bonus_eur"]), "savings-total-bonus"),
            _tile("Pénalités exploitant", fr_eur(total["penalty_eur"]), "savings-total-penalty"),
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
                        html.Button(
                            [
                                html.Span(rec["building_name"], className="building-name"),
                                html.Span(code, className="code"),
                            ],
                            id={"type": "savings-open", "code": code},
                            className="link-button",
                            title="Afficher le détail du bâtiment",
                            n_clicks=0,
                        )
                    ),
                    html.Td(fr_number(rec["actual_mwh_pci"], 2), className="num"),
                    html.Td(fr_number(rec["target_mwh_pci"], 2), className="num"),
                    html.Td(_signed_pct(rec["gap_pct"]), className=_gap_class(rec["gap_pct"])),
                    html.Td(fr_eur(rec["bonus_eur"]), className="num"),
                    html.Td(fr_eur(rec["penalty_eur"]), className="num"),
                    html.Td(
                        fr_number(rec["days_missing"], 0),
                        className="num" + (" warn-text" if rec["days_missing"] else ""),
                    ),
                    _quality_cell(p.quality.get(code)),
                    html.Td(
                        html.Div(_badges(_shown_alerts(rec["alerts"])), className="badges"),
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
                html.Td(_signed_pct(gap), className=_gap_class(gap)),
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
    return [tiles, html.Div(table, className="table-wrap"), note]


@callback(
    Output("savings-season", "options"),
    Output("savings-season", "value"),
    Input("savings-contract", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def update_seasons(contract_code):
    code = _allowed_contract(contract_code)
    season_list, default = seasons(db.engine(), code)
    return _season_options(season_list), default


@callback(
    Output("savings-portfolio", "children"),
    Output("savings-terms", "children"),
    Input("savings-contract", "value"),
    Input("savings-season", "value"),
    Input("savings-refresh", "data"),
)
@guarded(CAPABILITY)
def update_portfolio(contract_code, season, _refresh):
    code = _allowed_contract(contract_code)
    engine = db.engine()
    try:
        p = savings_portfolio(engine, code, season)
    except (LookupError, ValueError) as exc:
        return alert(str(exc), "error"), ""
    table = cached(
        engine, "table-view", (code, season, last_complete_day()),
        lambda: rendered(_portfolio_view(p)),
    )  # fmt: skip
    return [_closing_bar(p), monthly_report_link(p), *table], _terms_line(p)


def _closing_bar(p: SavingsPortfolio):
    """« arrêtée le JJ/MM/AAAA par … » on a closed season (and on its closed months); the
    manager's « Arrêter la saison » on a complete open one (`period.close` is checked again
    by the callback)."""
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
    user = current_user()
    if p.season_complete and user is not None and user.can(CLOSE):
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
    from carnet.closing import period_label

    return period_label("month", month)


@callback(
    Output("savings-close-msg", "children"),
    Output("savings-refresh", "data", allow_duplicate=True),
    Input("savings-close-season", "n_clicks"),
    State("savings-contract", "value"),
    State("savings-season", "value"),
    State("savings-refresh", "data"),
    prevent_initial_call=True,
)
@guarded(CLOSE)
def close_season(clicks, contract_code, season, refresh):
    if not clicks:
        return dash.no_update, dash.no_update
    code = _allowed_contract(contract_code)
    user = current_user()
    try:
        ref = sign_season(db.engine(), code, str(season), user.login)
    except (ClosingError, LookupError, ValueError) as exc:
        return alert(str(exc), "error", "savings-close-error"), dash.no_update
    n = int((refresh or {}).get("n", 0)) + 1
    return None, {"n": n, "closed_period_id": ref.id}


@callback(
    Output("savings-building", "data"),
    Input({"type": "savings-open", "code": ALL}, "n_clicks"),
    Input("savings-contract", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def open_building(clicks, _contract):
    trigger = ctx.triggered_id
    if trigger == "savings-contract":  # another contract: its buildings are others
        return None
    if not trigger or not any(clicks or []):
        return dash.no_update
    fired = [t for t in ctx.triggered if t.get("value")]
    if not fired:
        return dash.no_update
    return trigger["code"]


clientside_callback(
    """function(code, contract, season, _table) {
        var q = new URLSearchParams();
        if (contract) { q.set("contrat", contract); }
        if (season) { q.set("saison", season); }
        if (code) { q.set("batiment", code); }
        var url = window.location.pathname + "?" + q.toString();
        if (window.location.pathname.indexOf("/economies") === 0) {
            window.history.replaceState(window.history.state, "", url);
        }
        document.querySelectorAll("#savings-table tbody tr").forEach(function(tr) {
            tr.classList.toggle("selected", tr.getAttribute("data-building") === code);
        });
        if (code && dash_clientside.callback_context.triggered.some(function(t) {
                return t.prop_id === "savings-building.data"; })) {
            var target = document.getElementById("savings-detail");
            if (target) { target.scrollIntoView({behavior: "smooth", block: "start"}); }
        }
        return url;
    }""",
    Output("savings-url", "data"),
    Input("savings-building", "data"),
    Input("savings-contract", "value"),
    Input("savings-season", "value"),
    Input("savings-portfolio", "children"),
)


# --- detail -----------------------------------------------------------------------------------


@callback(
    Output("savings-detail", "children"),
    Input("savings-building", "data"),
    Input("savings-contract", "value"),
    Input("savings-season", "value"),
    Input("savings-refresh", "data"),
)
@guarded(CAPABILITY)
def update_detail(building_code, contract_code, season, refresh):
    if not building_code:
        return html.P(
            "Choisissez un bâtiment dans le tableau pour voir ses courbes.",
            className="muted detail-hint",
        )
    code = _allowed_contract(contract_code)
    if not _allowed_building(code, str(building_code)):
        return html.P(
            f"Le bâtiment {building_code} ne fait pas partie du contrat {code}.",
            className="muted detail-hint",
        )
    engine = db.engine()
    try:
        p = savings_portfolio(engine, code, season, with_models=False)
        d = building_detail(engine, code, season, str(building_code))
    except (LookupError, ValueError) as exc:
        return alert(str(exc), "error")
    user = current_user()
    can_edit = user is not None and user.can(EDIT)
    if ctx.triggered_id == "savings-refresh" and (refresh or {}).get("message"):
        message = alert(refresh["message"], "ok", "savings-adj-ok")
        return _detail_view(p, d, code, can_edit, message)
    return cached(
        engine, "detail-view", (code, season, str(building_code), last_complete_day(), can_edit),
        lambda: rendered(_detail_view(p, d, code, can_edit, None)),
    )  # fmt: skip


def _figure_card(graph_id: str, figure, caption: str):
    return html.Div(
        [
            dcc.Graph(
                id=graph_id,
                figure=figure,
                config={"displayModeBar": False, "locale": "fr"},
                className="savings-graph",
            ),
            html.P(_glued(caption), className="figure-caption"),
        ],
        className="card figure-card",
    )  # fmt: skip


def _period(a, b) -> str:
    return f"du {fr_date(a)} au {fr_date(b)}"


def _detail_view(p: SavingsPortfolio, d: BuildingDetail, contract_code, can_edit, message):
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
        _tile("Réel", f"{fr_number(row['actual_mwh_pci'], 1)} MWh PCI", "detail-actual"),
        _tile("Objectif N'B", f"{fr_number(row['target_mwh_pci'], 1)} MWh PCI", "detail-target",
              note=f"NB {fr_number(row['nb_mwh_pci'], 1)} MWh PCI pour "
              f"{fr_number(row['dju_ref'], 0)} DJU ; DJU réels {fr_number(row['dju'], 0)}"),
        _tile("Écart", _signed_pct(row["gap_pct"]), "detail-gap",
              "good" if (row["gap_pct"] or 0) > 0 else "bad" if (row["gap_pct"] or 0) < 0 else ""),
        _tile("Intéressement / pénalité",
              fr_eur(row["bonus_eur"]) if row["bonus_eur"] else
              ("−" + fr_eur(row["penalty_eur"]) if row["penalty_eur"] else fr_eur(0)),
              "detail-euros"),
    ]  # fmt: skip
    model_text = f"aucun ({d.model_note})" if d.model_note else "aucun"
    if base is not None:
        s, m = base.savings, base.model
        tiles.append(
            _tile(
                "Économies mesurées (IPMVP C)",
                _signed_pct(s.savings_pct),
                "detail-ipmvp",
                "good" if s.savings_pct > 0 else "bad",
                f"{fr_number(s.savings_kwh / 1000, 1)} MWh PCS, incertitude "
                f"± {fr_number(abs(s.fsu) * 100, 0)} % (90 %)".replace("-", "−"),
            )
        )
        tb = m.balance_temp_c
        model_text = (
            f"E = {fr_number(m.b0_kwh_per_day, 0)} kWh/j"
            + (f" + {fr_number(m.b1_kwh_per_dd, 1)} kWh/DJ × DJ base {fr_number(tb, 1)} °C"
               if tb is not None else "")
            + f" ; R² {fr_number(m.r2, 3)}, CV(RMSE) {fr_number(m.cvrmse * 100, 1)} %, "
            f"NMBE {fr_number(m.nmbe * 100, 2)} %"
        ).replace("-", "−")  # fmt: skip
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
    graphs = html.Div(
        [
            _figure_card("savings-fig-monthly", figs.monthly_figure(d.months), captions["monthly"]),
            _figure_card("savings-fig-signature", figs.signature_figure(d.signature, d.model_note),
                         captions["signature"]),
            _figure_card("savings-fig-cusum", figs.cusum_figure(d.cusum, d.model_note), captions["cusum"]),
            _figure_card("savings-fig-carpet", figs.carpet_figure(d.carpet), captions["carpet"]),
        ],
        className="figure-grid",
    )  # fmt: skip
    return html.Section(
        [
            html.Div(
                [
                    html.H2([d.name, html.Span(d.code, className="code heading-code")]),
                    html.P(
                        f"Contrat {contract_code}, saison {r.season.replace('-', '–')} "
                        f"({season_period}) · compteur {d.channel_code or '—'} · {station_text}",
                        className="muted",
                    ),
                    html.Div(_badges(_shown_alerts(row.get("alerts"))), className="badges"),
                ],
                className="detail-head",
            ),
            html.Div(tiles, className="tiles"),
            graphs,
            _adjustments_card(d, can_edit, message),
        ],
        id="savings-building-detail",
        **{"data-building": d.code},
    )


def _effect(adj: dict) -> str:
    if adj["nb_factor"] is not None:
        return f"NB × {fr_number(adj['nb_factor'], 3).rstrip('0').rstrip(',')}"
    delta = adj["delta_mwh_pci"] or 0.0
    sign = "+" if delta >= 0 else "−"
    return f"NB {sign} {fr_number(abs(delta), 1)} MWh PCI/saison"


def _adjustments_card(d: BuildingDetail, can_edit: bool, message):
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
        html.Div(body, className="table-wrap"),
    ]
    if can_edit:
        children.append(_adjustment_form())
    return html.Div(children, className="card adjustments-card", id="savings-adjustments")


def _adjustment_form():
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
                          hint="facteur : 0 = bâtiment fermé, 1,15 = 15 % de surface en plus"),
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


def _number(text) -> float | None:
    if text is None or not str(text).strip():
        return None
    cleaned = str(text).strip().replace("\u2212", "-").replace(NNBSP, "").replace(" ", "")
    return float(cleaned.replace(",", "."))


@callback(
    Output("savings-adj-message", "children"),
    Output("savings-refresh", "data"),
    Input("savings-adj-submit", "n_clicks"),
    State("savings-building", "data"),
    State("savings-contract", "value"),
    State("savings-adj-from", "value"),
    State("savings-adj-to", "value"),
    State("savings-adj-kind", "value"),
    State("savings-adj-mode", "value"),
    State("savings-adj-value", "value"),
    State("savings-adj-why", "value"),
    State("savings-refresh", "data"),
    prevent_initial_call=True,
)
@guarded(EDIT)
def add_adjustment_cb(clicks, building_code, contract_code, date_from, date_to, kind, mode,
                      value, why, refresh):  # fmt: skip
    user = require(EDIT)
    if not clicks:
        return dash.no_update, dash.no_update
    code = _allowed_contract(contract_code)
    if not building_code:
        abort(400)
    if not _allowed_building(code, str(building_code)):
        abort(404)

    def error(text):
        return alert(text, "error", "savings-adj-error"), dash.no_update

    try:
        start = parse_local_date(str(date_from or "").strip())
    except ValueError:
        return error("Date d'effet illisible (attendu jj/mm/aaaa).")
    end = None
    if date_to and str(date_to).strip():
        try:
            end = parse_local_date(str(date_to).strip())
        except ValueError:
            return error("Date de fin illisible (attendu jj/mm/aaaa).")
    if kind not in ADJUSTMENT_KINDS:
        return error("Choisissez la nature de l'ajustement.")
    try:
        number = _number(value)
    except ValueError:
        return error("Valeur illisible : un nombre, avec une virgule décimale.")
    if number is None:
        return error("Indiquez la valeur du facteur ou de l'écart.")
    try:
        adj_id, closed = record_adjustment(
            db.engine(), code, str(building_code), start, kind, why or "", user.login,
            effective_to=end,
            nb_factor=number if mode == "factor" else None,
            delta_mwh_pci=number if mode != "factor" else None,
        )  # fmt: skip
    except AdjustmentError as exc:
        return error(f"Ajustement refusé : {exc}.")
    n = int((refresh or {}).get("n", 0)) + 1
    text = (
        f"Ajustement n° {adj_id} enregistré à partir du {fr_date(start)} et inscrit au carnet "
        "de santé du bâtiment."
    )
    if closed:
        names = ", ".join(f"{r.label} ({r.marker})" for r in closed)
        text += (
            f" Il change une période arrêtée ({names}) : il attend, non appliqué, qu'elle soit"
            " rouverte ou que la différence soit comptée en régularisation."
        )
    return None, {"n": n, "message": text}
