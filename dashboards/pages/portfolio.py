"""Portefeuille: the buildings (code, name, usage, heated area), their final-energy consumption
over a period (the current heating season by default), kWh/m² and kWh/m²/DJU with a rank, their
Décret tertiaire standing, and per channel the last reading and what it counted over the
period (a consumption, never a meter index). A contractor sees only its contract's buildings;
the manager downloads the OPERAT file."""

from __future__ import annotations

import time
from urllib.parse import quote

import dash
import pandas as pd
from dash import Input, Output, callback, dcc, html

from contract.calendar import today as local_today
from dashboards import db
from dashboards.auth import current_scope, current_user, guarded
from dashboards.components import data_table, downloadable_table, fr_sort_key, page_head
from dashboards.downloads import register_table
from dashboards.energy_data import DJU_NOTE
from dashboards.fmt import fr_datetime, fr_number, fr_pct, fr_quantity, fr_unit
from dashboards.operat_routes import CAPABILITY as OPERAT
from dashboards.operat_routes import operat_href
from dashboards.period_views import provisional_badge, provisional_banner
from dashboards.portfolio_data import period_choices, portfolio_energy, portfolio_frame
from dashboards.shell import allowed_href
from dashboards.tertiaire_data import tertiaire_of

CAPABILITY = "portfolio.view"

dash.register_page(
    __name__,
    path="/portefeuille",
    name="Portefeuille",
    title="Portefeuille · Carnet",
    description="Les bâtiments, leur consommation par m² et par DJU, leur classement, "
    "le décret tertiaire et les derniers relevés.",
    order=10,
    capability=CAPABILITY,
)

STALE_AFTER_S = 48 * 3600
COUNT_QUANTITIES = {"fault_code", "burner_starts"}
SORTS = [
    {"label": "Nom", "value": "name"},
    {"label": "Rang (kWh/m²/DJU)", "value": "rank"},
    {"label": "kWh/m²", "value": "kwh_m2"},
    {"label": "Consommation", "value": "kwh"},
]
NUMERIC = (3, 4, 5, 6, 7, 12)


def _frame(period: str) -> tuple[pd.DataFrame, object]:
    """One row per channel (buildings without any once), with its building's figures over
    `period` and its own consumption over it."""
    scope = current_scope()
    engine = db.engine()
    frame = portfolio_frame(engine, scope)
    energy = portfolio_energy(engine, scope, period)
    per_building = energy.buildings.drop(
        columns=["building_code", "building_name", "usage", "heated_area_m2"]
    )
    per_channel = energy.channels[["channel_id", "value", "energy_kwh", "days_with_data"]]
    per_channel = per_channel.rename(
        columns={"value": "period_value", "energy_kwh": "period_kwh", "days_with_data": "days"}
    )
    frame = frame.merge(per_building, on="building_id", how="left").merge(
        per_channel, on="channel_id", how="left"
    )
    return frame, energy


def _fold(values: pd.Series) -> pd.Series:
    """Lower case without accents (« École » -> « ecole »), the search's both sides."""
    return (
        values.str.normalize("NFKD").str.replace(r"[\u0300-\u036f]", "", regex=True).str.casefold()
    )


def _filter(frame: pd.DataFrame, search: str | None, usage: str | None) -> pd.DataFrame:
    if usage:
        frame = frame[frame["usage"] == usage]
    if search and search.strip():
        needle = fr_sort_key(search.strip())
        hay = _fold(
            frame["building_code"].astype(str)
            + " "
            + frame["building_name"].astype(str)
            + " "
            + frame["usage"].fillna("").astype(str)
            + " "
            + frame["channel_code"].fillna("").astype(str)
        )
        frame = frame[hay.str.contains(needle, regex=False)]
    return frame


def _sorted(frame: pd.DataFrame, sort: str | None) -> pd.DataFrame:
    # French alphabetical order: "École" between "Crèche" and "Gymnase", not after "Z"
    frame = frame.assign(_key=frame["building_name"].astype(str).map(fr_sort_key))
    keys, ascending = ["_key", "channel_code"], [True, True]
    if sort == "rank":
        frame = frame.assign(_v=frame["rank"].astype("float64"))
        keys, ascending = ["_v", *keys], [True, True, True]
    elif sort in ("kwh_m2", "kwh"):
        col = "energy_kwh_m2" if sort == "kwh_m2" else "energy_kwh"
        frame = frame.assign(_v=frame[col])
        keys, ascending = ["_v", *keys], [False, True, True]
    out = frame.sort_values(keys, ascending=ascending, kind="stable", na_position="last")
    return out.drop(columns=[c for c in ("_key", "_v") if c in out.columns])


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
        (
            "Énergie finale sur la période",
            fr_quantity(buildings["energy_kwh"].sum(min_count=1), "kWh", 0),
            "summary-energy",
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


def _tertiaire_cell(t, span: int) -> html.Td:
    if t is None or t.trajectory is None or not t.latest:
        why = t.why if t is not None else ""
        return html.Td("—", title=why or None, className="tertiaire", rowSpan=span)
    row = t.latest
    gap = row["gap_pct"]
    ok = bool(row["on_track"])
    signed = fr_pct(gap, 1).replace("-", "−")
    text = f"{'En bonne voie' if ok else 'En retard'} {'+' if gap > 0 else ''}{signed}"
    note = f"{int(row['year'])}, réf. {t.reference_year}" + ("" if t.assujetti else ", < 1 000 m²")
    title = (
        f"Écart de l'année {int(row['year'])} ajustée au climat à l'objectif de la trajectoire "
        f"(référence {t.reference_year}, {t.reference_source})"
        + ("" if t.assujetti else " ; moins de 1 000 m² : non assujetti")
    )
    return html.Td(
        [text, html.Br(), html.Small(note, className="muted")],
        className="tertiaire " + ("good" if ok else "bad"),
        rowSpan=span,
        title=title,
        **{"data-gap": f"{gap:.1f}"},
    )


def _own_badge(energy, building_id: int):
    """« provisoire : relevés manquants après le 28/11 » on a building whose data stop before
    the others'; what the banner says for all is not repeated on every row."""
    status = energy.building_status.get(building_id)
    if status is None or not set(status.reasons) - set(energy.status.reasons):
        return None
    return provisional_badge(status, energy.status)


def _period_text(ch) -> tuple[str, str | None]:
    """What a channel's cell says: a counter's consumption over the period (gas m³ and its kWh
    PCS), an instant's last value; the tooltip keeps the meter's index."""
    if ch.kind in ("index", "interval"):
        index = None
        if ch.kind == "index" and pd.notna(ch.last_value):
            index = f"index au dernier relevé : {fr_quantity(ch.last_value, ch.unit, 0)}"
        if pd.isna(ch.period_value) and pd.isna(ch.period_kwh):
            return "—", "; ".join(t for t in ("aucun relevé sur la période", index) if t)
        parts = [fr_quantity(ch.period_value, ch.unit, 0)]
        if pd.notna(ch.period_kwh) and ch.unit != "kWh":
            parts.append(f"{fr_number(ch.period_kwh)}\u00a0kWh")
        return " · ".join(parts), index
    if ch.quantity in COUNT_QUANTITIES:  # a code or a count: no decimals, no unit
        return fr_number(ch.last_value), None
    return fr_quantity(ch.last_value, ch.unit, 1), f"unité : {fr_unit(ch.unit)}"


def _table(frame: pd.DataFrame, tertiaire: dict, energy):
    if frame.empty:
        return html.P("Aucun bâtiment ne correspond.", className="muted", id="portfolio-empty")
    now = time.time()
    head = [
        "Code",
        "Bâtiment",
        "Usage",
        "Surface chauffée",
        "Énergie finale (kWh)",
        "kWh/m²",
        html.Th("kWh/m²/DJU", className="num", title=DJU_NOTE),
        html.Th("Rang", className="num", title="1 = le plus consommateur par m² et par DJU"),
        "Décret tertiaire",
        "Point de mesure",
        "Grandeur",
        "Dernier relevé",
        "Sur la période",
    ]
    rows = []
    for _building_id, group in frame.groupby("building_id", sort=False):
        first = group.iloc[0]
        span = len(group)
        code = str(first["building_code"])
        for i, ch in enumerate(group.itertuples(index=False)):
            cells = []
            if i == 0:
                area = first["heated_area_m2"]
                rank = first["rank"]
                cells += [
                    html.Td(code, rowSpan=span, className="code"),
                    html.Td(
                        _building_link(code, first["building_name"]),
                        rowSpan=span,
                        className="building-name",
                    ),
                    html.Td(_usage_label(first["usage"]), rowSpan=span),
                    html.Td(
                        f"{fr_number(area)}\u00a0m²" if pd.notna(area) else "—",
                        rowSpan=span,
                        className="num",
                    ),
                    html.Td(
                        [
                            fr_number(first["energy_kwh"]),
                            _own_badge(energy, int(first["building_id"])),
                        ],
                        rowSpan=span,
                        className="num kwh",
                    ),
                    html.Td(fr_number(first["energy_kwh_m2"], 1), rowSpan=span, className="num"),
                    html.Td(
                        fr_number(first["energy_kwh_m2_dju"], 4), rowSpan=span, className="num"
                    ),
                    html.Td(
                        "—" if pd.isna(rank) else str(int(rank)),
                        rowSpan=span,
                        className="num rank",
                    ),
                    _tertiaire_cell(tertiaire.get(code), span),
                ]
            if pd.isna(ch.channel_id):
                cells += [html.Td("Aucun point de mesure", colSpan=4, className="muted")]
            else:
                stale = pd.isna(ch.last_ts) or ch.last_ts < now - STALE_AFTER_S
                text, title = _period_text(ch)
                cells += [
                    html.Td(ch.channel_code, className="code"),
                    html.Td(ch.quantity_label),
                    html.Td(
                        fr_datetime(None if pd.isna(ch.last_ts) else int(ch.last_ts)),
                        className="date" + (" stale" if stale else ""),
                        title="Aucun relevé depuis plus de 48 h" if stale else None,
                    ),
                    html.Td(text, className="num period-value", title=title),
                ]
            rows.append(
                html.Tr(
                    cells,
                    className="group-start" if i == 0 else None,
                    **{"data-building": code, "data-channel": str(ch.channel_code or "")},
                )
            )
    return data_table(head, rows, numeric=NUMERIC, id_="portfolio-table")


def _building_link(code: str, name: str):
    href = allowed_href(f"/batiments/{quote(str(code), safe='')}")
    return dcc.Link(name, href=href) if href else name


def _usage_label(usage) -> str:
    if usage is None or pd.isna(usage) or not str(usage):
        return "—"
    text = str(usage).replace("_", " ")
    return text[:1].upper() + text[1:]


def _operat_links():
    user = current_user()
    if user is None or not user.can(OPERAT):
        return None
    year = local_today().year - 1  # this year's declaration covers the year before
    return html.Div(
        [
            html.Span(f"Déclaration OPERAT {year} (décret tertiaire) : ", className="muted"),
            html.A("CSV", href=operat_href(year), id="portfolio-operat-csv", download=""),
            " · ",
            html.A("XLSX", href=operat_href(year, "xlsx"), id="portfolio-operat-xlsx", download=""),
        ],
        className="downloads",
        id="portfolio-operat",
    )


def _shown_table(search, usage, period, sort, frame=None, energy=None):
    if frame is None:
        frame, energy = _frame(period)
    tertiaire = tertiaire_of(db.engine(), current_scope())
    shown = _sorted(_filter(frame, search, usage), sort)
    return _table(shown, tertiaire, energy), shown, energy


def _rebuilt(params: dict):
    """The table as the page shows it with these choices (for its download); only the periods
    offered reach the query."""
    periods, default = period_choices()
    period = params.get("periode")
    if period not in {p["value"] for p in periods}:
        period = default

    def text(key):
        value = params.get(key)
        return value if isinstance(value, str) and value else None

    return _shown_table(text("recherche"), text("usage"), period, text("tri") or "name")[0]


register_table("portfolio-table", CAPABILITY, _rebuilt, filename="portefeuille")


def _view(search, usage, period, sort, frame=None, energy=None):
    table, shown, energy = _shown_table(search, usage, period, sort, frame, energy)
    params = {"recherche": search or "", "usage": usage or "", "periode": period, "tri": sort}
    return (
        downloadable_table("portfolio-table", table, params),
        _summary(shown),
        provisional_banner(energy.status, "portfolio-provisional"),
        f"Du {energy.day_from:%d/%m/%Y} au {energy.day_to:%d/%m/%Y} ; {DJU_NOTE} de la "
        "station de chaque bâtiment ; gaz en kWh PCS (coefficient du compteur).",
    )


def layout(**_query):
    periods, default = period_choices()
    frame, energy = _frame(default)
    table, summary, banner, note = _view(None, None, default, "name", frame, energy)
    usages = sorted({u for u in frame["usage"].dropna().astype(str) if u})
    return html.Div(
        className="page portfolio",
        children=[
            page_head(
                "Portefeuille",
                "Bâtiments, énergie finale sur la période, kWh/m² et kWh/m²/DJU, décret "
                "tertiaire et derniers relevés par point de mesure (heure de Paris).",
            ),
            html.Div(summary, className="tiles", id="portfolio-summary"),
            html.Div(
                className="filters",
                children=[
                    dcc.Input(
                        id="portfolio-search",
                        type="search",
                        placeholder="Rechercher un bâtiment ou un point de mesure…",
                        debounce=False,
                        className="input",
                    ),
                    dcc.Dropdown(
                        id="portfolio-usage",
                        options=[{"label": _usage_label(u), "value": u} for u in usages],
                        placeholder="Tous les usages",
                        clearable=True,
                        className="dropdown",
                    ),
                    dcc.Dropdown(
                        id="portfolio-period",
                        options=periods,
                        value=default,
                        clearable=False,
                        searchable=False,
                        className="dropdown",
                    ),
                    dcc.Dropdown(
                        id="portfolio-sort",
                        options=SORTS,
                        value="name",
                        clearable=False,
                        searchable=False,
                        className="dropdown",
                    ),
                ],
            ),
            _operat_links(),
            html.Div(banner, id="portfolio-provisional-wrap"),
            html.P(note, id="portfolio-period-note", className="muted"),
            html.Div(table, id="portfolio-table-wrap", className="table-wrap"),
        ],
    )


@callback(
    Output("portfolio-table-wrap", "children"),
    Output("portfolio-summary", "children"),
    Output("portfolio-provisional-wrap", "children"),
    Output("portfolio-period-note", "children"),
    Input("portfolio-search", "value"),
    Input("portfolio-usage", "value"),
    Input("portfolio-period", "value"),
    Input("portfolio-sort", "value"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def update_portfolio(search, usage, period, sort):
    periods, default = period_choices()
    if period not in {p["value"] for p in periods}:
        period = default  # only the periods offered: nothing else reaches the query
    return _view(search, usage, period, sort)
