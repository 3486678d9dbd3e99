"""The pieces every page draws the same way (page head, form field, alert, data table) and the
French sort order, so that a page's look and a list's order do not drift from one page to the
next. Classes are those of `assets/*.css`; the browser tests look for them."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from dash import html

ALERT_KINDS = ("error", "warn", "ok", "info")


def _ided(id_: str | None, **props) -> dict:
    """Props with `id` only when there is one (Dash sends an explicit None to the browser)."""
    return {**props, "id": id_} if id_ else props


def page_head(title, lead=None, *extra, lead_id: str | None = None) -> html.Div:
    """The page's title, its lead sentence (optional) and whatever follows them in the head."""
    children = [html.H1(title)]
    if lead is not None:
        children.append(html.P(lead, **_ided(lead_id, className="lead")))
    children.extend(extra)
    return html.Div(className="page-head", children=children)


def field(label, control, *, hint=None, wide: bool = False) -> html.Label:
    """A labelled form control (label above, optional hint below); `wide` spans the grid."""
    children = [html.Span(label, className="field-label"), control]
    if hint:
        children.append(html.Span(hint, className="field-hint"))
    return html.Label(children, className="form-field wide" if wide else "form-field")


def alert(text, kind: str = "error", id_: str | None = None, **props) -> html.Div:
    """A message after an action or about the figures: `error`, `warn`, `ok` or `info`."""
    if kind not in ALERT_KINDS:
        raise ValueError(f"unknown alert kind {kind!r}")
    return html.Div(text, **_ided(id_, className=f"alert alert-{kind}", **props))


def fr_sort_key(text) -> str:
    """Sort key that puts « École » among the E and ignores case, as a French reader expects
    (no locale: the server's may be anything)."""
    plain = unicodedata.normalize("NFKD", str(text))
    return "".join(c for c in plain if not unicodedata.combining(c)).casefold()


def data_table(
    head: Iterable,
    rows: Iterable,
    *,
    numeric: Iterable[int] = (),
    id_: str | None = None,
    extra_class: str = "",
) -> html.Table:
    """A `data-table`: `head` as labels (or ready `html.Th`), the columns numbered in
    `numeric` right-aligned (`num`), `rows` as ready `html.Tr`."""
    numeric = set(numeric)
    cells = [
        h
        if isinstance(h, html.Th)
        else (html.Th(h, className="num") if i in numeric else html.Th(h))
        for i, h in enumerate(head)
    ]
    return html.Table(
        [html.Thead(html.Tr(cells)), html.Tbody(list(rows))],
        **_ided(id_, className=f"data-table {extra_class}".strip()),
    )


# ---------------------------------------------------------------- downloadable tables and charts

PNG_TITLE_FR = "Télécharger en PNG"
# plotly's own modebar in French (config `locales`: no global script to load first)
PLOTLY_FR = {
    "dictionary": {
        "Download plot as a png": PNG_TITLE_FR,
        "Download plot as a PNG": PNG_TITLE_FR,
        "Download plot": PNG_TITLE_FR,
        "Zoom": "Zoom",
        "Pan": "Déplacer",
        "Zoom in": "Agrandir",
        "Zoom out": "Réduire",
        "Autoscale": "Échelle automatique",
        "Reset axes": "Réinitialiser les axes",
        "Box Select": "Sélection rectangulaire",
        "Lasso Select": "Sélection au lasso",
        "Toggle Spike Lines": "Lignes de repère",
        "Show closest data on hover": "Valeur la plus proche au survol",
        "Compare data on hover": "Comparer au survol",
    },
    "format": {"decimal": ",", "thousands": "\u202f"},
}


def _download_buttons(
    item_id: str, params, formats: tuple[tuple[str, str], ...], key: str = ""
) -> html.Div:
    from dash import dcc

    from dashboards import downloads

    downloads.entry(item_id)  # a table drawn downloadable must be registered (KeyError)
    return html.Div(
        className="download-bar",
        children=[
            *[
                html.Button(
                    label,
                    id={"type": downloads.BTN, "id": item_id, "key": key, "fmt": fmt},
                    className="btn btn-secondary btn-small download-btn",
                    n_clicks=0,
                    title=f"Télécharger ce que montre la page ({fmt.upper()})",
                )
                for fmt, label in formats
            ],
            dcc.Store(
                id={"type": downloads.STORE, "id": item_id, "key": key}, data=dict(params or {})
            ),
            dcc.Download(id={"type": downloads.FILE, "id": item_id, "key": key}),
        ],
    )


def downloadable_table(table_id: str, table, params: dict | None = None, key: str = "") -> html.Div:
    """`table` (as the page draws it) with « CSV » and « Excel » buttons. `table_id` is
    registered with `dashboards.downloads.register_table`; `params` are what the builder
    needs to draw the same table again on the server (filters), checked there again; `key`
    tells apart several tables of one kind on a page (one per building...)."""
    formats = (("csv", "CSV"), ("xlsx", "Excel (XLSX)"))
    buttons = _download_buttons(table_id, params, formats, key)
    return html.Div([table, buttons], className="downloadable", **{"data-download": table_id})


def graph(
    graph_id: str, figure, params: dict | None = None, key: str = "", **graph_props
) -> html.Div:
    """A chart with plotly's modebar (« Télécharger en PNG », file named after the chart) and a
    « Données (CSV) » button; `graph_id` is registered with `downloads.register_graph` (`key`
    tells apart several charts of one kind on a page)."""
    from dash import dcc

    from dashboards import downloads

    item = downloads.entry(graph_id)
    config = {
        "displayModeBar": True,
        "displaylogo": False,
        "locale": "fr",
        "locales": {"fr": PLOTLY_FR},
        # no selection tools (nothing reads them), no sharing to an outside cloud
        "modeBarButtonsToRemove": ["select2d", "lasso2d", "sendChartToCloud", "sendDataToCloud"],
        "toImageButtonOptions": {
            "format": "png",
            "filename": "_".join(p for p in (item.filename, key) if p),
            "scale": 2,
        },
        **graph_props.pop("config", {}),
    }
    config["displayModeBar"] = True
    buttons = _download_buttons(graph_id, params, (("csv", "Données (CSV)"),), key)
    return html.Div(
        [dcc.Graph(figure=figure, config=config, **graph_props), buttons],
        className="downloadable downloadable-graph",
        **{"data-download": graph_id},
    )
