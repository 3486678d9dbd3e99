"""Every table and chart of the pages, downloadable: one registry and one server callback.

A page registers each of its tables (`register_table`) and charts (`register_graph`) with the
capability of the page and a builder `build(params) -> component | figure`: the very function
the page renders it with, which reads its data through the page's data module with the
signed-in user's scope. The page draws it with `components.downloadable_table` /
`components.graph`, which put the builder's `params` (filters, season...) in a store next to
the buttons. On a click, the one callback here checks the capability again, REBUILDS the table
or figure on the server from those params (a forged store can only ask for what the user's own
scope shows, the builder checks its params as the page does) and serialises it:

- a table: the header and cells as the page shows them (row and column spans repeated), in CSV
  for humans (`;`, decimal comma, UTF-8 with BOM, dates dd/mm/yyyy) or XLSX (numbers and
  dates as such);
- a chart: its traces' points (series, x, y) in CSV; the picture itself is plotly's own PNG
  button (the modebar), drawn in the browser.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dash import ALL, MATCH, Input, Output, State, ctx, dcc
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from flask import abort

from carnet.timeutil import TZ
from dashboards.auth import guarded, require

CAPABILITY = "downloads.own"  # every role; each table's own capability is checked too
FORMATS = ("csv", "xlsx")
CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BTN, STORE, FILE = "dl-btn", "dl-params", "dl-file"


@dataclass(frozen=True)
class Download:
    kind: str  # "table" or "graph"
    capability: str
    build: Callable[[dict], Any]
    filename: str


REGISTRY: dict[str, Download] = {}


def _register(kind: str, item_id: str, capability: str, build, filename: str | None) -> None:
    from carnet.roles import CAPABILITIES

    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")
    known = REGISTRY.get(item_id)
    if known is not None and (known.kind, known.capability) != (kind, capability):
        raise ValueError(f"download id {item_id!r} registered twice")
    REGISTRY[item_id] = Download(kind, capability, build, filename or item_id)


def register_table(table_id: str, capability: str, build, filename: str | None = None) -> None:
    """`build(params) -> component` holding the html table (the page's own builder)."""
    _register("table", table_id, capability, build, filename)


def register_graph(graph_id: str, capability: str, build, filename: str | None = None) -> None:
    """`build(params) -> plotly figure` (the page's own builder)."""
    _register("graph", graph_id, capability, build, filename)


def entry(item_id: str) -> Download:
    try:
        return REGISTRY[item_id]
    except KeyError:
        raise KeyError(f"download id {item_id!r} is not registered") from None


# ---------------------------------------------------------------- from the page to rows

_SPACES = re.compile(r"[ \t\r\n]+")


def text_of(node) -> str:
    """The text a reader sees in a component (its children's, joined), spaces collapsed."""
    if node is None or isinstance(node, bool):
        return ""
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list | tuple):
        return _SPACES.sub(" ", " ".join(text_of(n) for n in node)).strip()
    if isinstance(node, Component):
        return _SPACES.sub(" ", text_of(getattr(node, "children", None))).strip()
    return ""


def _walk(node):
    if isinstance(node, Component):
        yield node
        yield from _walk(getattr(node, "children", None))
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _walk(item)


def _rows_of(section) -> list[list[Component]]:
    return [
        [c for c in _walk(tr.children) if type(c).__name__ in ("Td", "Th")]
        for tr in _walk(section)
        if type(tr).__name__ == "Tr"
    ]


def _grid(rows: list[list[Component]]) -> list[list[str]]:
    """Cells placed in a grid: a `rowSpan` cell repeated below, a `colSpan` one followed by
    empty cells, as a spreadsheet reader expects one value per row."""
    pending: dict[int, tuple[int, str]] = {}  # column -> (rows left, text)
    grid = []
    for cells in rows:
        out: list[str] = []
        col = 0
        queue = list(cells)
        while queue or any(c >= col for c in pending):
            if col in pending:
                left, text = pending[col]
                out.append(text)
                pending[col] = (left - 1, text)
                if left - 1 <= 0:
                    del pending[col]
                col += 1
                continue
            if not queue:
                break
            cell = queue.pop(0)
            text = text_of(cell.children)
            span = int(getattr(cell, "colSpan", None) or 1)
            down = int(getattr(cell, "rowSpan", None) or 1)
            for k in range(span):
                out.append(text if k == 0 else "")
                if down > 1:
                    pending[col + k] = (down - 1, text if k == 0 else "")
            col += span
        grid.append(out)
    return grid


def narrowed(component, item_id: str):
    """The part of a rebuilt view drawn for `item_id` (a builder may return the whole view
    its page draws, with several tables)."""
    for c in _walk(component):
        if getattr(c, "data-download", None) == item_id:
            return c
    return component


def table_rows(component) -> tuple[list[str], list[list[str]]]:
    """The header and body rows of the first html table in `component`, as shown; columns
    without a header (action buttons) are left out."""
    table = next((c for c in _walk(component) if type(c).__name__ == "Table"), None)
    if table is None:  # the page's sentence instead (« Aucun bâtiment ne correspond. »)
        text = text_of(component)
        return [], [[text]] if text else []
    sections = {
        type(c).__name__: c
        for c in _walk(table.children)
        if type(c).__name__ in ("Thead", "Tbody", "Tfoot")
    }
    if sections:
        head = _grid(_rows_of(sections.get("Thead")))
        body = _grid(_rows_of(sections.get("Tbody"))) + _grid(_rows_of(sections.get("Tfoot")))
    else:  # a key/value table without a head
        head, body = [], _grid(_rows_of(table.children))
    header = head[-1] if head else []
    width = max([len(header), *map(len, body)])

    def pad(row: list[str]) -> list[str]:
        return row + [""] * (width - len(row))

    keep = [i for i in range(width) if not header or i >= len(header) or header[i]]
    return [pad(header)[i] for i in keep] if header else [], [
        [pad(r)[i] for i in keep] for r in body
    ]


def _axis_title(fig, axis: str) -> str:
    title = getattr(getattr(fig.layout, axis, None), "title", None)
    return (getattr(title, "text", None) or "") if title is not None else ""


def figure_rows(fig) -> tuple[list[str], list[list]]:
    """A chart's points, one row per point: series, x, y (axis titles as headers)."""
    import numpy as np

    header = ["Série", _axis_title(fig, "xaxis") or "x", _axis_title(fig, "yaxis") or "y"]
    rows: list[list] = []
    for i, trace in enumerate(fig.data):
        name = getattr(trace, "name", None) or f"Série {i + 1}"
        xs = getattr(trace, "x", None)
        ys = getattr(trace, "y", None)
        if getattr(trace, "orientation", None) == "h":
            xs, ys = ys, xs
        if ys is None:
            continue
        ys = list(np.asarray(ys, dtype=object))
        xs = list(np.asarray(xs, dtype=object)) if xs is not None else list(range(len(ys)))
        rows.extend([name, x, y] for x, y in zip(xs, ys, strict=False))
    return header, rows


# ---------------------------------------------------------------- cells to files

_FR_NUMBER = re.compile(
    r"^(?P<num>[-+\u2212]?(?:\d{1,3}(?:[\u202f\u00a0 ]\d{3})+|\d+)(?:,\d+)?)"
    r"(?:[\u00a0\u202f ](?P<unit>%|€|[^\d\s]{1,12}))?$"
)
_FR_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})(?: (\d{2}):(\d{2}))?$")
MISSING = {"—", "-", ""}


def number_and_unit(text: str) -> tuple[float | int, str] | None:
    """`1 234,5 m²` -> (1234.5, "m²"), `+12,5 %` -> (12.5, "%"), `42` -> (42, ""); else None."""
    m = _FR_NUMBER.match(text.strip())
    if not m:
        return None
    plain = re.sub(r"[\u202f\u00a0 +]", "", m["num"]).replace("\u2212", "-").replace(",", ".")
    return (float(plain) if "." in plain else int(plain)), m["unit"] or ""


def as_number(text: str) -> float | int | None:
    """`1 234,5` -> 1234.5 (a French number without unit), else None."""
    found = number_and_unit(text)
    return found[0] if found is not None and not found[1] else None


def typed_columns(header: list[str], rows: list[list]) -> tuple[list[str], list[list]]:
    """Columns whose every shown cell is a number with the same unit become numbers, the unit
    moved to the header (« Surface chauffée (m²) »): a spreadsheet can then add them up."""
    if not rows:
        return header, rows
    width = max(len(header), *map(len, rows))
    header = header + [""] * (width - len(header)) if header else []
    rows = [r + [""] * (width - len(r)) for r in rows]
    for j in range(width):
        cells = [r[j] for r in rows]
        if not all(isinstance(c, str) for c in cells):
            continue
        shown = [c for c in cells if c.strip() not in MISSING]
        parsed = [number_and_unit(c) for c in shown]
        if not shown or any(p is None for p in parsed) or len({p[1] for p in parsed}) != 1:
            continue
        unit = parsed[0][1]
        for r in rows:
            found = number_and_unit(r[j]) if r[j].strip() not in MISSING else None
            r[j] = found[0] if found is not None else None
        if unit and header and header[j] and unit not in header[j]:
            header[j] = f"{header[j]} ({unit})"
    return header, rows


def as_date(text: str) -> dt.date | dt.datetime | None:
    m = _FR_DATE.match(text.strip())
    if not m:
        return None
    d, mo, y, hh, mm = m.groups()
    try:
        if hh is None:
            return dt.date(int(y), int(mo), int(d))
        return dt.datetime(int(y), int(mo), int(d), int(hh), int(mm))
    except ValueError:
        return None


def _csv_cell(value) -> str:
    """A CSV cell for a French spreadsheet: numbers with a decimal comma and no thousands
    separator, dates dd/mm/yyyy (local time), text as shown."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int | float):
        if value != value:  # NaN
            return ""
        text = repr(float(value)) if isinstance(value, float) else str(value)
        if isinstance(value, float) and float(value).is_integer():
            text = str(int(value))
        return text.replace(".", ",")
    if isinstance(value, dt.datetime):
        local = value.astimezone(TZ) if value.tzinfo else value
        return local.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if hasattr(value, "to_pydatetime"):
        return _csv_cell(value.to_pydatetime())
    text = str(value)
    number = as_number(text)
    return _csv_cell(number) if number is not None else text


def to_csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    if header:
        writer.writerow(header)
    writer.writerows([_csv_cell(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx_cell(value):
    if isinstance(value, str):
        number = as_number(value)
        if number is not None:
            return number, None
        date = as_date(value)
        if date is not None:
            return date, "dd/mm/yyyy hh:mm" if isinstance(date, dt.datetime) else "dd/mm/yyyy"
        return value, None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        local = value.astimezone(TZ).replace(tzinfo=None) if value.tzinfo else value
        return local, "dd/mm/yyyy hh:mm"
    if isinstance(value, float) and value != value:
        return None, None
    return value, None


def to_xlsx(header: list[str], rows: list[list], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = re.sub(r"[\[\]:*?/\\]", "-", title)[:31] or "Tableau"
    if header:
        ws.append(header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
    for row in rows:
        values = [_xlsx_cell(v) for v in row]
        ws.append([v for v, _ in values])
        for cell, (_, fmt) in zip(ws[ws.max_row], values, strict=False):
            if fmt:
                cell.number_format = fmt
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _slug(text) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-")[:40]


def filename(item: Download, params: dict, ext: str) -> str:
    parts = [item.filename, *(_slug(v) for v in params.values() if v not in (None, "", []))]
    day = dt.datetime.now(TZ).strftime("%Y-%m-%d")
    return "_".join(p for p in [*parts, day] if p) + "." + ext


def build_file(item_id: str, params: dict | None, fmt: str) -> dict:
    """The `dcc.Download` data of one table or chart, rebuilt now for the signed-in user."""
    try:
        item = entry(item_id)
    except KeyError:
        abort(404)
    require(item.capability)
    if fmt not in FORMATS:
        abort(400)
    params = {str(k): v for k, v in params.items()} if isinstance(params, dict) else {}
    try:
        built = item.build(params)
    except (TypeError, ValueError, LookupError):  # a forged store: refused, not a crash
        abort(400)
    if item.kind == "table":
        header, rows = table_rows(narrowed(built, item_id))
    else:
        header, rows = figure_rows(built)
    header, rows = typed_columns(header, rows)
    name = filename(item, params, fmt)
    if fmt == "csv":
        return dcc.send_bytes(to_csv(header, rows), name, type=CSV_MIME)
    return dcc.send_bytes(to_xlsx(header, rows, item.filename), name, type=XLSX_MIME)


def download(_clicks, params):
    """A click on a download button: the file of that table or chart, for this user."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0].get("value")):
        raise PreventUpdate
    return build_file(str(trigger.get("id")), params, str(trigger.get("fmt")))


def register(app) -> None:
    """The one download callback, on this app (`create_app`: not a page module, so Dash does
    not collect it again for each app built in the process)."""
    app.callback(
        Output({"type": FILE, "id": MATCH, "key": MATCH}, "data"),
        Input({"type": BTN, "id": MATCH, "key": MATCH, "fmt": ALL}, "n_clicks"),
        State({"type": STORE, "id": MATCH, "key": MATCH}, "data"),
        prevent_initial_call=True,
    )(guarded(CAPABILITY)(download))
