"""Programme de travaux (`/programme-travaux`): the works the town pilots on its buildings,
what they cost (subsidies deducted), what they were expected to save and what they measurably
save (IPMVP option C), ranked by euros per MWh saved a year; the manager adds works here.

`/travaux` is the contractor's work orders; this is the town's investment programme.
"""

from __future__ import annotations

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate
from flask import abort

from carnet.access import CarnetPermissionError
from dashboards import db
from dashboards.auth import current_user, guarded
from dashboards.components import downloadable_table, graph
from dashboards.downloads import register_graph, register_table
from dashboards.fmt import fr_number
from dashboards.programme_travaux_data import STATUS_LABELS_FR, add_one, programme_page

CAPABILITY = "works.view"

dash.register_page(
    __name__,
    path="/programme-travaux",
    name="Programme de travaux",
    title="Programme de travaux · Carnet",
    description="Les travaux de la commune : coûts, aides, économies attendues et mesurées.",
    order=27,
    capability=CAPABILITY,
)


def _n(value, digits: int = 1, unit: str = "") -> str:
    if value is None or value != value:
        return "—"
    return f"{fr_number(value, digits)}{unit}"


def _ranking(data: dict):
    frame = data["ranking"]
    if frame.empty:
        return html.P("Aucuns travaux au programme.", className="muted")
    head = html.Tr([html.Th(h) for h in ("Rang", "Bâtiment", "Travaux", "Coût net",
                                         "Économie par an", "Base", "€ par MWh/an")])  # fmt: skip
    body = []
    for rank, r in enumerate(frame.to_dict("records"), start=1):
        mwh = r["measured_mwh_per_year"] if r["basis"] == "mesuré" else r["expected_mwh_per_year"]
        body.append(
            html.Tr(
                [
                    html.Td(str(rank)),
                    html.Td(r["building"]),
                    html.Td(r["title"]),
                    html.Td(_n(r["net_cost_eur"], 0, " €"), className="num"),
                    html.Td(_n(mwh, 1, " MWh"), className="num"),
                    html.Td(r["basis"] or "—"),
                    html.Td(_n(r["eur_per_mwh_year"], 0, " €"), className="num"),
                ],
                **{"data-works": str(r["works_id"])},
            )
        )
    return html.Table([html.Thead(head), html.Tbody(body)], className="table", id="works-ranking")


def _figure(m, works_id: int | None = None) -> html.Div | None:
    monthly = m.monthly
    if monthly is None or monthly.empty:
        return None
    fig = go.Figure()
    fig.add_bar(x=monthly["month"], y=monthly["savings_mwh_pci"], name="Économie du mois (MWh PCI)")
    if "cumulative_eur" in monthly:
        fig.add_scatter(
            x=monthly["month"], y=monthly["cumulative_eur"], name="Cumul (€)", yaxis="y2"
        )
    fig.update_layout(
        height=260,
        margin={"l": 40, "r": 40, "t": 10, "b": 30},
        yaxis={"title": "MWh PCI"},
        yaxis2={"title": "€", "overlaying": "y", "side": "right"},
        legend={"orientation": "h"},
        separators=", ",
    )
    return (
        fig if works_id is None else graph("works-fig", fig, {"travaux": works_id}, str(works_id))
    )


def _trajectory(code: str, t: dict, figure_only: bool = False) -> html.Div:
    """The Décret tertiaire trajectory with each work as a step."""
    f = t["frame"][t["frame"]["year"] <= 2035]
    fig = go.Figure()
    fig.add_scatter(x=f["year"], y=f["target_kwh"], name="Objectif (kWh)", mode="lines",
                    line={"dash": "dash"})  # fmt: skip
    fig.add_scatter(x=f["year"], y=f["adjusted_kwh"], name="Consommation corrigée (kWh)",
                    mode="markers+lines")  # fmt: skip
    fig.add_scatter(x=f["year"], y=f["with_works_kwh"], name="Avec les travaux (kWh)",
                    mode="lines", line={"shape": "hv"})  # fmt: skip
    for r in t["works"]:
        fig.add_vline(x=r["starts_on"].year + 0.5, line={"dash": "dot", "width": 1})
        fig.add_annotation(x=r["starts_on"].year + 0.5, y=1, yref="paper", text=r["title"],
                           showarrow=False, textangle=-90, xanchor="left", yanchor="top")  # fmt: skip
    fig.update_layout(height=300, margin={"l": 60, "r": 20, "t": 10, "b": 30},
                      legend={"orientation": "h"}, separators=", ")  # fmt: skip
    if figure_only:
        return fig
    return html.Div(
        [html.H3(f"{code} : trajectoire du décret tertiaire"),
         graph("works-trajectory", fig, {"batiment": code}, code)],
        className="works-trajectory", **{"data-building": code},
    )  # fmt: skip


def _works_article(r: dict) -> html.Article:
    m = r["measure"]
    subsidies = ", ".join(f"{s['scheme']} {_n(s['amount_eur'], 0, ' €')}" for s in r["subsidies"])
    dates = r["starts_on"].strftime("%d/%m/%Y") + (
        f" au {r['ends_on']:%d/%m/%Y}" if r["ends_on"] else ""
    )
    facts = [
        ("Dates", dates),
        ("Coût", _n(r["cost_eur"], 0, " €")),
        ("Aides", subsidies or "aucune"),
        ("Économie attendue", _n(r["plan"]["expected_mwh_per_year"], 1, " MWh PCI/an")
         + (f" ({r['expected_source']})" if r["expected_source"] else "")),
        ("Économie mesurée", _n(m.measured_mwh_per_year, 1, " MWh PCI/an")),
        ("Économies cumulées", _n(m.savings_eur, 0, " €")),
        ("Temps de retour", _n(m.payback_years, 1, " ans")),
        ("CV(RMSE)", _n(m.cvrmse * 100 if m.cvrmse is not None else None, 1, " %")),
        ("Incertitude (FSU 90 %)", _n(m.fsu * 100 if m.fsu is not None else None, 0, " %")),
        ("Guideline 14", "—" if m.accepted is None else ("conforme" if m.accepted else "hors seuils")),
        ("Ajustement du contrat", f"n° {r['adjustment_id']}" if r["adjustment_id"] else "aucun"),
    ]  # fmt: skip
    return html.Article(
        className=f"works works-{m.status}",
        **{"data-works": str(r["id"])},
        children=[
            html.H2(f"n° {r['id']} · {r['title']}"),
            html.Div(
                [
                    html.Span(f"{r['building']} · {r['building_name']}", className="author"),
                    html.Span(STATUS_LABELS_FR.get(m.status, m.status), className="status"),
                ],
                className="entry-meta",
            ),
            html.P(m.note, className="works-note") if m.note else None,
            html.Dl([c for k, v in facts for c in (html.Dt(k), html.Dd(v))], className="facts"),
            _figure(m, r["id"]),
        ],
    )


def _body(data: dict) -> list:
    t = data["totals"]
    return [
        html.P(
            f"{t['count']} travaux · coût {_n(t['cost_eur'], 0, ' €')} dont "
            f"{_n(t['subsidy_eur'], 0, ' €')} d'aides · économie attendue "
            f"{_n(t['expected_mwh'], 0, ' MWh PCI/an')}, mesurée {_n(t['measured_mwh'], 0, ' MWh PCI/an')}"
            f" · {_n(t['savings_eur'], 0, ' €')} économisés à ce jour",
            className="lead",
            id="works-totals",
        ),
        html.H2("Classement : euros par MWh économisé par an"),
        downloadable_table("works-ranking", _ranking(data)),
        html.Div(
            [_trajectory(code, t) for code, t in data["trajectories"].items()],
            id="works-trajectories",
        ),  # fmt: skip
        html.H2("Chaque opération"),
        html.Div([_works_article(r) for r in data["works"]], className="timeline"),
    ]


def _works_figure(params: dict):
    works = params.get("travaux")
    for r in programme_page(db.engine(), current_user())["works"]:
        if r["id"] == works:  # only the user's own works (`programme_page` is scoped)
            fig = _figure(r["measure"])
            if fig is not None:
                return fig
    abort(404)


def _trajectory_figure(params: dict):
    code = params.get("batiment")
    t = programme_page(db.engine(), current_user())["trajectories"].get(code)
    if not isinstance(code, str) or t is None:
        abort(404)
    return _trajectory(code, t, figure_only=True)


register_table(
    "works-ranking",
    CAPABILITY,
    lambda _params: _ranking(programme_page(db.engine(), current_user())),
    filename="programme-travaux",
)
register_graph("works-fig", CAPABILITY, _works_figure, filename="travaux-economies")
register_graph("works-trajectory", CAPABILITY, _trajectory_figure, filename="trajectoire")


def _field(label: str, child) -> html.Label:
    return html.Label([label, child])


def _form(user, data: dict) -> html.Details:
    return html.Details(
        id="works-form",
        className="form",
        hidden=not user.can("works.edit"),
        children=[
            html.Summary("Inscrire des travaux"),
            _field("Bâtiment", dcc.Dropdown(
                id="works-building", clearable=False,
                value=data["buildings"][0][0] if data["buildings"] else None,
                options=[{"label": f"{c} · {n}", "value": c} for c, n in data["buildings"]],
            )),
            _field("Intitulé", dcc.Input(id="works-title", type="text", className="input")),
            _field("Début", dcc.Input(id="works-from", type="text", placeholder="JJ/MM/AAAA",
                                        className="input")),
            _field("Fin", dcc.Input(id="works-to", type="text", placeholder="JJ/MM/AAAA",
                                    className="input")),
            _field("Coût (€)", dcc.Input(id="works-cost", type="text", className="input")),
            _field("Économie attendue (MWh PCI/an)",
                   dcc.Input(id="works-expected", type="text", className="input")),
            _field("Source (audit, étude)",
                   dcc.Input(id="works-source", type="text", className="input")),
            _field("Aide (€)", dcc.Input(id="works-subsidy", type="text", className="input")),
            _field("Dispositif", dcc.Dropdown(
                id="works-scheme", value="CEE",
                options=[{"label": label, "value": code} for code, label in data["schemes"].items()],
            )),
            html.Button("Inscrire", id="works-add", className="btn btn-primary"),
        ],
    )  # fmt: skip


def layout(**_query):
    user = current_user()
    data = programme_page(db.engine(), user)
    return html.Div(
        className="page programme-travaux",
        children=[
            html.Div(
                className="page-head",
                children=[
                    html.H1("Programme de travaux"),
                    html.P(
                        "Ce que la commune a fait ou prévoit sur ses bâtiments, et ce que chaque "
                        "opération économise vraiment : référence sur les 12 mois avant les "
                        "travaux, économies mesurées chaque mois après (IPMVP option C).",
                        className="lead",
                    ),
                ],
            ),
            _form(user, data),
            html.Div(id="works-msg"),
            html.Div(_body(data), id="works-body"),
        ],
    )


FIELDS = ("works-building", "works-title", "works-from", "works-cost", "works-to",
          "works-expected", "works-source", "works-subsidy", "works-scheme")  # fmt: skip


@callback(
    Output("works-msg", "children"),
    Output("works-body", "children"),
    Input("works-add", "n_clicks"),
    *[State(f, "value") for f in FIELDS],
    prevent_initial_call=True,
)
@guarded("works.edit")
def add(n_clicks, *values):
    if ctx.triggered_id != "works-add" or not n_clicks:
        raise PreventUpdate
    if any(v in (None, "") for v in values[:4]):
        return html.Div(
            "Bâtiment, intitulé, début et coût sont obligatoires.", className="alert alert-error"
        ), dash.no_update
    user = current_user()
    try:
        made = add_one(db.engine(), user, *values)
    except CarnetPermissionError as exc:
        return html.Div(str(exc), className="alert alert-error"), dash.no_update
    except (LookupError, ValueError) as exc:
        return html.Div(str(exc).strip("'\""), className="alert alert-error"), dash.no_update
    message = html.Div(f"Travaux n° {made} inscrits au programme.", className="alert alert-ok")
    return message, _body(programme_page(db.engine(), user))
