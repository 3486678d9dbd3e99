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
from carnet.adjustments import ADJUSTMENT_KINDS, AdjustmentError
from carnet.closing import ClosingError
from carnet.timeutil import parse_local_date
from dashboards import db
from dashboards.auth import current_scope, current_user, guarded, require
from dashboards.cache import cached, rendered
from dashboards.components import alert, page_head
from dashboards.downloads import register_graph, register_table
from dashboards.fmt import fr_date
from dashboards.period_views import provisional_banner
from dashboards.report_routes import monthly_report_link
from dashboards.savings_data import (
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
from dashboards.savings_detail_views import DETAIL_FIGURES, adjustments_card, detail_view
from dashboards.savings_views import closing_bar, portfolio_view, terms_line

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

NNBSP = "\u202f"


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


# --- downloads: the same table and figures, drawn again for the signed-in user ----------------


def _season_of(params: dict) -> tuple[str, str]:
    code = _allowed_contract(
        params.get("contrat") if isinstance(params.get("contrat"), str) else None
    )
    season = params.get("saison")
    if not isinstance(season, str) or season not in seasons(db.engine(), code)[0]:
        abort(400)
    return code, season


def _table_download(params: dict):
    code, season = _season_of(params)
    return portfolio_view(savings_portfolio(db.engine(), code, season))


def _detail_of(params: dict):
    code, season = _season_of(params)
    building = params.get("batiment")
    if not isinstance(building, str) or not _allowed_building(code, building):
        abort(404)
    return building_detail(db.engine(), code, season, building)


register_table("savings-table", CAPABILITY, _table_download, filename="economies")
register_table(
    "savings-adj-table",
    CAPABILITY,
    lambda params: adjustments_card(_detail_of(params), False, None),
    filename="ajustements",
)
for _graph_id, _figure in DETAIL_FIGURES.items():
    register_graph(
        _graph_id,
        CAPABILITY,
        lambda params, figure=_figure: figure(_detail_of(params)),
        filename=_graph_id.replace("savings-fig-", "economies-"),
    )


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
        lambda: rendered(portfolio_view(p)),
    )  # fmt: skip
    user = current_user()
    can_close = user is not None and user.can(CLOSE)
    banner = provisional_banner(p.status, "savings-provisional")  # « saison en cours : … »
    return [closing_bar(p, can_close), monthly_report_link(p), banner, *table], terms_line(p)


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
        message = html.Div(refresh["message"], className="alert alert-ok", id="savings-adj-ok")
        return detail_view(p, d, code, can_edit, message)
    return cached(
        engine, "detail-view", (code, season, str(building_code), last_complete_day(), can_edit),
        lambda: rendered(detail_view(p, d, code, can_edit, None)),
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
