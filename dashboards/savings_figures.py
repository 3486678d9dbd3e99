"""The savings page's four figures (plotly), French throughout: decimal commas and spaced
thousands (`separators=", "`), dd/mm/yyyy dates in hover texts, units on every axis.

Each function takes the frames of `dashboards.savings_data` and returns a `go.Figure`; hover
labels are built with vectorised string operations, never a loop per point. `figure_card`
frames one of them with its caption for the building detail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import html

from dashboards.components import graph
from dashboards.savings_views import glued

MONTHS_FR = (
    "janv.", "févr.", "mars", "avr.", "mai", "juin",
    "juil.", "août", "sept.", "oct.", "nov.", "déc.",
)  # fmt: skip

INK = "#1f2933"
GRID = "#e6ebef"
ACTUAL = "#1d5c7a"  # measured: the brand blue
TARGET = "#e0a15a"  # target N'B: warm sand
BASELINE = "#8fa7b8"  # reference period points: grey-blue
REPORTING = "#d9822b"  # reporting period points: orange
SAVING = "#2f7d4f"
LOSS = "#b42318"
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif'
CARPET_SCALE = [
    [0.0, "#f7fbff"],
    [0.15, "#deebf7"],
    [0.35, "#fdd49e"],
    [0.6, "#fc8d59"],
    [0.85, "#d7301f"],
    [1.0, "#7f0000"],
]


def month_label(period: str) -> str:
    """'2025-10' -> 'oct. 2025'."""
    p = pd.Period(period, "M")
    return f"{MONTHS_FR[p.month - 1]} {p.year}"


def fr_dates(days) -> np.ndarray:
    """dd/mm/yyyy of many days at once."""
    return np.asarray(pd.DatetimeIndex(days).strftime("%d/%m/%Y"), dtype=object)


def _style(fig: go.Figure, title: str, x_title: str | None, y_title: str, height=360):
    fig.update_layout(
        template="none",
        separators=", ",
        height=height,
        margin={"l": 64, "r": 16, "t": 72, "b": 48},
        title={
            "text": title,
            "x": 0.01,
            "xanchor": "left",
            "y": 0.98,
            "yanchor": "top",
            "font": {"size": 15, "color": INK},
        },
        font={"family": FONT, "size": 12, "color": INK},
        # under the title, above the plot: never over either
        legend={"orientation": "h", "x": 0.0, "xanchor": "left", "y": 1.01, "yanchor": "bottom"},
        hoverlabel={"font": {"family": FONT}},
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
    )
    axis = {"gridcolor": GRID, "zeroline": False, "linecolor": "#c7d0d8", "ticks": "",
            "automargin": True, "title": {"standoff": 8}}  # fmt: skip
    fig.update_xaxes(title_text=x_title, showgrid=True, **axis)
    fig.update_yaxes(title_text=y_title, showgrid=True, **axis)
    return fig


def no_model_text(note: str | None) -> str:
    """The figure's short message; the caption under it says why in full."""
    text = "Pas de modèle de référence pour ce bâtiment"
    if note and note.startswith("données insuffisantes"):
        return text + " :<br>données insuffisantes (voir la légende)."
    return text + "."


def empty_figure(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
        font={"color": "#616e7c", "size": 13},
    )  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _style(fig, title, None, "")


def monthly_figure(months: pd.DataFrame) -> go.Figure:
    """Bars of the net heating consumption against the corrected target N'B, per month."""
    title = "Consommation mensuelle et objectif corrigé N'B"
    if months is None or months.empty:
        return empty_figure(title, "Aucun mois à afficher pour cette saison.")
    labels = [month_label(m) for m in months["month"]]  # eight months at most
    extra = np.column_stack(
        [
            months["dju"].to_numpy(dtype=float),
            months["days_missing"].to_numpy(dtype=int),
            months["days"].to_numpy(dtype=int),
        ]
    )
    fig = go.Figure()
    fig.add_bar(
        x=labels, y=months["actual_mwh_pci"], name="Réel (MWh PCI)", marker_color=ACTUAL,
        customdata=extra,
        hovertemplate="%{x}<br>Réel : %{y:,.2f} MWh PCI<br>DJU du mois : %{customdata[0]:,.1f}"
        "<br>Jours manquants : %{customdata[1]} sur %{customdata[2]}<extra></extra>",
    )  # fmt: skip
    fig.add_bar(
        x=labels, y=months["target_mwh_pci"], name="Objectif N'B (MWh PCI)",
        marker_color=TARGET, customdata=extra,
        hovertemplate="%{x}<br>Objectif N'B : %{y:,.2f} MWh PCI"
        "<br>DJU du mois : %{customdata[0]:,.1f}<extra></extra>",
    )  # fmt: skip
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.08)
    return _style(fig, title, None, "MWh PCI")


def signature_figure(signature: pd.DataFrame | None, note: str | None = None) -> go.Figure:
    """Each month's consumption per day against its degree days per day (at the model's
    balance temperature), reference and reporting months in two colours, and the fitted
    change-point line E/day = b0 + b1 x DJ/day (exact for a model linear in days)."""
    title = "Signature énergétique"
    if signature is None or signature.empty:
        return empty_figure(title, no_model_text(note))
    tb = signature.attrs.get("balance_temp_c")
    b0 = float(signature.attrs.get("b0_kwh_per_day") or 0.0)
    b1 = float(signature.attrs.get("b1_kwh_per_dd") or 0.0)
    days = signature["days"].to_numpy(dtype=float)
    per_day = signature.assign(
        x=(signature["temp_mean_c"] if tb is None else signature["hdd"] / days),
        y=signature["energy_kwh"] / days,
    )
    fig = go.Figure()
    for segment, name, colour in (
        ("baseline", "Période de référence", BASELINE),
        ("reporting", "Période de suivi", REPORTING),
    ):
        part = per_day[per_day["segment"] == segment]
        if part.empty:
            continue
        labels = np.asarray([month_label(p) for p in part["period"]], dtype=object)  # months
        custom = np.column_stack(
            [
                labels,
                part["days"].to_numpy(dtype=int),
                part["hdd"].to_numpy(dtype=float),
                part["energy_kwh"].to_numpy(dtype=float) / 1000.0,
                part["temp_mean_c"].to_numpy(dtype=float),
            ]
        )
        fig.add_scatter(
            x=part["x"], y=part["y"], mode="markers", name=name,
            marker={"color": colour, "size": 10, "opacity": 0.9,
                    "line": {"width": 1, "color": "#ffffff"}},
            customdata=custom,
            hovertemplate="%{customdata[0]} (%{customdata[1]} j)<br>"
            "DJ du mois : %{customdata[2]:,.0f} ; T moyenne : %{customdata[4]:,.1f} °C<br>"
            "Consommation : %{customdata[3]:,.1f} MWh PCS, soit %{y:,.0f} kWh PCS/j"
            "<extra>" + name + "</extra>",
        )  # fmt: skip
    if tb is None:  # a flat model: consumption does not follow the weather
        xs = np.array([per_day["x"].min(), per_day["x"].max()])
        ys = np.full(2, b0)
    else:
        xs = np.array([0.0, float(np.nanmax(per_day["x"].to_numpy(dtype=float)))])
        ys = b0 + b1 * xs
    fig.add_scatter(
        x=xs, y=ys, mode="lines", name="Modèle ajusté", line={"color": INK, "width": 2},
        hovertemplate="Modèle : %{y:,.0f} kWh PCS/j<extra></extra>",
    )  # fmt: skip
    x_title = (
        "Température moyenne du mois (°C)"
        if tb is None
        else f"Degrés-jours par jour (moyenne du mois), base {_fr(tb, 1)} °C"
    )
    return _style(fig, title, x_title, "kWh PCS par jour (moyenne du mois)")


def cusum_figure(cusum: pd.DataFrame | None, note: str | None = None) -> go.Figure:
    """Running sum of (model - measured) over the reporting period, in MWh PCS."""
    title = "CUSUM des économies (modèle − mesuré)"
    if cusum is None or cusum.empty:
        return empty_figure(title, no_model_text(note))
    days = pd.to_datetime(cusum["day"])
    mwh = cusum["cusum"].to_numpy(dtype=float) / 1000.0
    diff = cusum["difference"].to_numpy(dtype=float) / 1000.0
    # green while the building saves (the curve ends above zero), red when it drifts
    saving = not len(mwh) or mwh[-1] >= 0
    colour, fill = (
        (SAVING, "rgba(47, 125, 79, 0.12)") if saving else (LOSS, "rgba(180, 35, 24, 0.1)")
    )
    fig = go.Figure()
    fig.add_scatter(
        x=days, y=mwh, mode="lines", name="CUSUM", line={"color": colour, "width": 2},
        fill="tozeroy", fillcolor=fill,
        customdata=np.column_stack([fr_dates(days), diff]),
        hovertemplate="%{customdata[0]}<br>Cumul : %{y:,.2f} MWh PCS"
        "<br>Écart du jour : %{customdata[1]:,.3f} MWh PCS<extra></extra>",
    )  # fmt: skip
    fig.add_hline(y=0, line={"color": "#9aa5b1", "width": 1})
    fig.update_xaxes(tickformat="%d/%m/%Y")
    fig.update_layout(showlegend=False)
    return _style(fig, title, None, "MWh PCS cumulés")


def carpet_figure(carpet: pd.DataFrame | None) -> go.Figure:
    """Hour of day (rows, 0 h at the top) by local date (columns) of the hourly consumption."""
    title = "Carte horaire de la consommation"
    if carpet is None or carpet.empty or not np.isfinite(carpet.to_numpy(dtype=float)).any():
        return empty_figure(title, "Pas de relevés horaires sur la période.")
    z = carpet.to_numpy(dtype=float).T.astype("float32")  # 24 x days, compact in JSON
    days = pd.DatetimeIndex(carpet.index)
    zmax = float(np.nanpercentile(z, 99)) if np.isfinite(z).any() else None
    fig = go.Figure(
        go.Heatmap(
            z=z, x=days, y=list(range(24)), colorscale=CARPET_SCALE, zmin=0, zmax=zmax,
            colorbar={"title": {"text": "kWh PCS/h", "side": "right"}, "thickness": 12},
            hovertemplate="%{x|%d/%m/%Y}, %{y} h<br>%{z:,.1f} kWh PCS<extra></extra>",
            xgap=0, ygap=0,
        )
    )  # fmt: skip
    fig.update_yaxes(
        autorange="reversed", tickvals=[0, 3, 6, 9, 12, 15, 18, 21],
        ticktext=["0 h", "3 h", "6 h", "9 h", "12 h", "15 h", "18 h", "21 h"],
    )  # fmt: skip
    fig.update_xaxes(tickformat="%d/%m/%Y", showgrid=False)
    return _style(fig, title, None, "Heure locale")


def _fr(value, decimals: int) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value:.{decimals}f}".replace(".", ",")


def figure_card(graph_id: str, figure, caption: str, params: dict | None = None):
    """A figure of the building detail in its card, with the caption that says what it shows
    (PNG and data downloads: `params` draw it again, `dashboards.downloads`)."""
    return html.Div(
        [
            graph(graph_id, figure, params, id=graph_id, className="savings-graph"),
            html.P(glued(caption), className="figure-caption"),
        ],
        className="card figure-card",
    )  # fmt: skip
