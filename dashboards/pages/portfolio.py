"""Portefeuille: the buildings (code, name, usage, heated area) and, per channel, the last
reading. A contractor sees only its contract's buildings."""

from __future__ import annotations

import time
from urllib.parse import quote

import dash
import pandas as pd
from dash import Input, Output, callback, dcc, html

from dashboards import db
from dashboards.auth import current_scope, guarded
from dashboards.components import data_table, downloadable_table, fr_sort_key, page_head
from dashboards.downloads import register_table
from dashboards.fmt import fr_datetime, fr_number, fr_quantity, fr_unit
from dashboards.portfolio_data import portfolio_frame
from dashboards.shell import allowed_href

CAPABILITY = "portfolio.view"

dash.register_page(
    __name__,
    path="/portefeuille",
    name="Portefeuille",
    title="Portefeuille · Carnet",
    description="Les bâtiments, leur surface, leur usage et les derniers relevés.",
    order=10,
    capability=CAPABILITY,
)

STALE_AFTER_S = 48 * 3600
COUNT_QUANTITIES = {"fault_code", "burner_starts"}


def _frame() -> pd.DataFrame:
    frame = portfolio_frame(db.engine(), current_scope())
    # French alphabetical order: "École" between "Crèche" and "Gymnase", not after "Z"
    key = frame["building_name"].astype(str).map(fr_sort_key)
    return (
        frame.assign(_key=key)
        .sort_values(["_key", "channel_code"], kind="stable")
        .drop(columns="_key")
    )


def _filter(frame: pd.DataFrame, search: str | None, usage: str | None) -> pd.DataFrame:
    if usage:
        frame = frame[frame["usage"] == usage]
    if search:
        needle = search.strip().casefold()
        hay = (
            frame["building_code"].astype(str)
            + " "
            + frame["building_name"].astype(str)
            + " "
            + frame["channel_code"].fillna("").astype(str)
        ).str.casefold()
        frame = frame[hay.str.contains(needle, regex=False)]
    return frame


def _summary(frame: pd.DataFrame) -> list:
    buildings = frame.drop_duplicates("building_id")
    channels = frame.dropna(subset=["channel_id"])
    now = time.time()
    stale = channels["last_ts"].isna() | (channels["last_ts"] < now - STALE_AFTER_S)
    tiles = [
        ("Bâtiments", fr_number(len(buildings)), "summary-buildings"),
        (
            "Surface chauffée",
            f"{fr_number(buildings['heated_area_m2'].sum(min_count=1))}\u00a0m²",
            "summary-area",
        ),
        ("Points de mesure", fr_number(len(channels)), "summary-channels"),
        ("Sans relevé depuis 48 h", fr_number(int(stale.sum())), "summary-stale"),
    ]
    return [
        html.Div(
            [html.Span(label, className="tile-label"), html.Span(value, className="tile-value")],
            className="tile" + (" tile-warn" if key == "summary-stale" and stale.any() else ""),
            id=key,
        )
        for label, value, key in tiles
    ]


def _table(frame: pd.DataFrame):
    if frame.empty:
        return html.P("Aucun bâtiment ne correspond.", className="muted", id="portfolio-empty")
    now = time.time()
    head = [
        "Code",
        "Bâtiment",
        "Usage",
        "Surface chauffée",
        "Point de mesure",
        "Grandeur",
        "Dernier relevé",
        "Valeur",
    ]
    rows = []
    for _building_id, group in frame.groupby("building_id", sort=False):
        first = group.iloc[0]
        span = len(group)
        for i, ch in enumerate(group.itertuples(index=False)):
            cells = []
            if i == 0:
                area = first["heated_area_m2"]
                cells += [
                    html.Td(first["building_code"], rowSpan=span, className="code"),
                    html.Td(
                        _building_link(first["building_code"], first["building_name"]),
                        rowSpan=span,
                        className="building-name",
                    ),
                    html.Td(_usage_label(first["usage"]), rowSpan=span),
                    html.Td(
                        f"{fr_number(area)}\u00a0m²" if pd.notna(area) else "—",
                        rowSpan=span,
                        className="num",
                    ),
                ]
            if pd.isna(ch.channel_id):
                cells += [html.Td("Aucun point de mesure", colSpan=4, className="muted")]
            else:
                stale = pd.isna(ch.last_ts) or ch.last_ts < now - STALE_AFTER_S
                decimals = 0 if ch.kind == "index" else 1
                cells += [
                    html.Td(ch.channel_code, className="code"),
                    html.Td(ch.quantity_label),
                    html.Td(
                        fr_datetime(None if pd.isna(ch.last_ts) else int(ch.last_ts)),
                        className="date" + (" stale" if stale else ""),
                        title="Aucun relevé depuis plus de 48 h" if stale else None,
                    ),
                    html.Td(
                        _value_text(ch.last_value, ch.quantity, ch.unit, decimals),
                        className="num",
                        title=f"unité : {fr_unit(ch.unit)}",
                    ),
                ]
            rows.append(
                html.Tr(
                    cells,
                    className="group-start" if i == 0 else None,
                    **{"data-building": str(first["building_code"])},
                )
            )
    return data_table(head, rows, numeric=(3, 7), id_="portfolio-table")


def _rebuilt(params: dict):
    """The table as the page shows it with these filters (for its download)."""
    search, usage = params.get("recherche"), params.get("usage")
    return _table(
        _filter(
            _frame(),
            search if isinstance(search, str) else None,
            usage if isinstance(usage, str) else None,
        )
    )


register_table("portfolio-table", CAPABILITY, _rebuilt, filename="portefeuille")


def _downloadable(frame: pd.DataFrame, search=None, usage=None):
    return downloadable_table(
        "portfolio-table", _table(frame), {"recherche": search or "", "usage": usage or ""}
    )


def _value_text(value, quantity: str, unit: str | None, decimals: int) -> str:
    if quantity in COUNT_QUANTITIES:  # a code or a count: no decimals, no unit
        return fr_number(value)
    return fr_quantity(value, unit, decimals)


def _building_link(code: str, name: str):
    href = allowed_href(f"/batiments/{quote(str(code), safe='')}")
    return dcc.Link(name, href=href) if href else name


def _usage_label(usage) -> str:
    if usage is None or pd.isna(usage) or not str(usage):
        return "—"
    text = str(usage).replace("_", " ")
    return text[:1].upper() + text[1:]


def layout(**_query):
    frame = _frame()
    usages = sorted({u for u in frame["usage"].dropna().astype(str) if u})
    return html.Div(
        className="page portfolio",
        children=[
            page_head(
                "Portefeuille",
                "Bâtiments, surfaces et derniers relevés par point de mesure (heure de Paris).",
            ),
            html.Div(_summary(frame), className="tiles", id="portfolio-summary"),
            html.Div(
                className="filters",
                children=[
                    dcc.Input(
                        id="portfolio-search",
                        type="search",
                        placeholder="Rechercher un bâtiment ou un point de mesure…",
                        debounce=True,
                        className="input",
                    ),
                    dcc.Dropdown(
                        id="portfolio-usage",
                        options=[{"label": _usage_label(u), "value": u} for u in usages],
                        placeholder="Tous les usages",
                        clearable=True,
                        className="dropdown",
                    ),
                ],
            ),
            html.Div(_downloadable(frame), id="portfolio-table-wrap", className="table-wrap"),
        ],
    )


@callback(
    Output("portfolio-table-wrap", "children"),
    Output("portfolio-summary", "children"),
    Input("portfolio-search", "value"),
    Input("portfolio-usage", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def update_portfolio(search, usage):
    frame = _filter(_frame(), search, usage)
    return _downloadable(frame, search, usage), _summary(frame)
