"""Ordres de travail (`/travaux`): one list per contract (the contractor's own; the manager
picks one or sees all), with filters; a form to create one (by hand, or from the alarm,
signalement or obligation named in the address: `?alarme=N`, `?signalement=N`,
`?obligation=N`), and one to close one with its report, which writes the intervention in the
carnet de santé. `?ordre=N` (the logbook's link) shows that order, ready to be closed."""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from dashboards import work_orders_data as data
from dashboards.auth import current_user, guarded, require
from dashboards.carnet_views import DROPDOWN_LABELS_FR
from dashboards.components import alert, data_table, downloadable_table, field
from dashboards.downloads import register_table

CAPABILITY = "work_orders.view"
EDIT = "work_orders.edit"

dash.register_page(
    __name__,
    path="/travaux",
    name="Ordres de travail",
    title="Ordres de travail · Carnet",
    description="Travaux à faire sur les bâtiments du contrat : échéances, priorités, clôture.",
    order=23,
    capability=CAPABILITY,
)

PRIORITY_BADGE = {
    "urgent": "badge badge-late",
    "high": "badge badge-soon",
    "normal": "badge badge-muted",
    "low": "badge badge-muted",
}


def _origin_cell(r: dict):
    if r.get("alarm_id"):
        return dcc.Link(f"Alarme n° {r['alarm_id']}", href=f"/alarmes?alarme={r['alarm_id']}")
    if r.get("source_entry_id"):
        return dcc.Link(
            f"Signalement n° {r['source_entry_id']}", href=f"/batiments/{r['building_code']}"
        )
    return r["origin_label"]


def orders_table(rows: list[dict], highlight: int | None = None):
    if not rows:
        return html.P("Aucun ordre de travail ne correspond.", className="muted", id="wo-empty")
    head = [
        "N°",
        "Contrat",
        "Bâtiment",
        "Intitulé",
        "Origine",
        "Attribué à",
        "Échéance",
        "Priorité",
        "État",
        "Coût",
        "Intervention",
    ]
    body = []
    for r in rows:
        due = r["due"] or "—"
        if r["overdue"]:
            due = html.Span(f"{r['due']} (en retard)", className="badge badge-late")
        intervention = (
            dcc.Link(
                f"{r['intervention_kind']} n° {r['intervention_entry_id']}",
                href=f"/batiments/{r['building_code']}",
            )
            if r.get("intervention_entry_id")
            else "—"
        )
        body.append(
            html.Tr(
                [
                    html.Td(str(r["id"])),
                    html.Td(r.get("contract_code") or "hors contrat", className="code"),
                    html.Td(dcc.Link(r["building_name"], href=f"/batiments/{r['building_code']}")),
                    html.Td(r["title"], title=r.get("description") or None),
                    html.Td(_origin_cell(r)),
                    html.Td(r.get("assignee") or "—"),
                    html.Td(due, className="date"),
                    html.Td(
                        html.Span(r["priority_label"], className=PRIORITY_BADGE[r["priority"]])
                    ),
                    html.Td(r["status_label"], className="wo-status"),
                    html.Td(r["cost"] or "—", className="num"),
                    html.Td(intervention),
                ],
                className="late"
                if r["overdue"]
                else ("highlight" if r["id"] == highlight else None),
                **{"data-work-order": str(r["id"])},
            )
        )
    return data_table(head, body, id_="wo-table")


def _rebuilt(p: dict):
    """The table for these filters, read again for the signed-in user (its download)."""

    def texts(key):
        value = p.get(key)
        return [str(v) for v in value] if isinstance(value, list) else None

    def text(key):
        return p.get(key) if isinstance(p.get(key), str) else None

    status = texts("status")
    rows = data.rows(
        current_user(),
        data.OPEN if status is None else status,
        texts("priority"),
        text("building"),
        text("contract"),
        bool(p.get("late")),
    )
    return orders_table(rows)


register_table("wo-table", CAPABILITY, _rebuilt, filename="ordres-de-travail")


def _downloadable(rows, highlight, status, priority=None, building=None, contract=None, late=False):
    params = {
        "status": list(status or []),
        "priority": list(priority or []),
        "building": building,
        "contract": contract,
        "late": bool(late),
    }
    return downloadable_table("wo-table", orders_table(rows, highlight), params)


def _create_form(user, origin: dict | None):
    if origin:
        where = html.P(
            [
                f"{origin['origin_label']} n° {origin['id']} — {origin['building_name']} : ",
                html.Strong(origin["title"]),
            ],
            id="wo-origin",
            className="lead",
        )
        building = dcc.Dropdown(
            labels=DROPDOWN_LABELS_FR,
            id="wo-building",
            options=[{"label": origin["building_name"], "value": origin["building_code"]}],
            value=origin["building_code"],
            disabled=True,
            style={"display": "none"},
        )
        title = origin["title"]
    else:
        where = None
        building = field(
            "Bâtiment",
            dcc.Dropdown(
                labels=DROPDOWN_LABELS_FR, id="wo-building", options=data.building_options(user)
            ),
        )
        title = ""
    fields = [
        building,
        field("Intitulé", dcc.Input(id="wo-title", type="text", value=title)),
        field("Attribué à", dcc.Input(id="wo-assignee", type="text")),
        field(
            "Échéance",
            dcc.DatePickerSingle(
                placeholder="JJ/MM/AAAA",
                id="wo-due",
                display_format="DD/MM/YYYY",
                first_day_of_week=1,
                clearable=True,
            ),
        ),
        field(
            "Priorité",
            dcc.Dropdown(
                labels=DROPDOWN_LABELS_FR,
                id="wo-priority",
                options=data.PRIORITY_OPTIONS,
                value="normal",
                clearable=False,
            ),
        ),
        field("Coût prévu (€)", dcc.Input(id="wo-cost", type="text", placeholder="1 234,56")),
        field("Description", dcc.Textarea(id="wo-description"), wide=True),
        html.Button("Créer l'ordre de travail", id="wo-create", className="btn btn-primary"),
        html.Div(id="wo-create-msg"),
    ]
    return html.Section(
        [html.H2("Créer un ordre de travail"), where, html.Div(fields, className="form-grid")],
        className="bp-section",
        id="wo-create-form",
    )


def _close_form(user, selected: int | None):
    options = data.open_options(user)
    if selected not in {o["value"] for o in options}:
        selected = None
    fields = [
        field(
            "Ordre de travail",
            dcc.Dropdown(
                labels=DROPDOWN_LABELS_FR, id="wo-close-id", options=options, value=selected
            ),
        ),
        field(
            "Nature de l'intervention",
            dcc.Dropdown(
                labels=DROPDOWN_LABELS_FR,
                id="wo-close-kind",
                options=data.KIND_OPTIONS,
                placeholder="selon l'origine",
            ),
        ),
        field("Compte rendu", dcc.Textarea(id="wo-close-report"), wide=True),
        field("Coût réel (€)", dcc.Input(id="wo-close-cost", type="text")),
        dcc.Upload(
            id="wo-close-file",
            children=html.Div(["Rapport (PDF ou photo) : ", html.A("choisir un fichier")]),
            className="upload",
            multiple=False,
        ),
        html.Div(id="wo-close-file-name", className="muted"),
        html.Button(
            "Clore et consigner l'intervention", id="wo-close-submit", className="btn btn-primary"
        ),
        html.Div(id="wo-close-msg"),
    ]
    return html.Section(
        [html.H2("Clore un ordre de travail"), html.Div(fields, className="form-grid")],
        className="bp-section",
        id="wo-close-form",
    )


def layout(ordre: str | None = None, **query):
    user = current_user()
    selected = int(ordre) if ordre and str(ordre).isdigit() else None
    status = [] if selected else data.OPEN
    rows = data.rows(user, status=status)
    filters = [
        dcc.Dropdown(
            labels=DROPDOWN_LABELS_FR,
            id="wo-f-status",
            options=data.STATUS_OPTIONS,
            value=status,
            multi=True,
            placeholder="Tous les états",
            className="filter",
        ),
        dcc.Dropdown(
            labels=DROPDOWN_LABELS_FR,
            id="wo-f-priority",
            options=data.PRIORITY_OPTIONS,
            multi=True,
            placeholder="Toutes les priorités",
            className="filter",
        ),
        dcc.Dropdown(
            labels=DROPDOWN_LABELS_FR,
            id="wo-f-building",
            options=data.building_options(user),
            placeholder="Tous les bâtiments",
            className="filter",
        ),
        dcc.Dropdown(
            labels=DROPDOWN_LABELS_FR,
            id="wo-f-contract",
            options=data.contract_options(user),
            placeholder="Tous les contrats",
            className="filter",
        ),
        dcc.Checklist(
            id="wo-f-overdue",
            options=[{"label": " En retard seulement", "value": "late"}],
            value=[],
        ),
    ]
    children = [
        dcc.Store(id="wo-rev-create", data=None),  # the id of the order just created
        dcc.Store(id="wo-rev-close", data=0),
        dcc.Store(id="wo-highlight", data=selected),
        html.Div(
            [
                html.H1("Ordres de travail"),
                html.P(
                    f"{sum(r['status'] in data.OPEN for r in rows)} ordre(s) de travail à faire.",
                    className="lead",
                    id="wo-summary",
                ),
            ],
            className="page-head",
        ),
        html.Div(filters, className="filters"),
        html.Div(_downloadable(rows, selected, status), id="wo-table-wrap", className="table-wrap"),
    ]
    if user.can(EDIT):
        origin = data.origin_of(user, query)
        children.append(dcc.Store(id="wo-origin-ref", data=origin))
        forms = [_close_form(user, selected), _create_form(user, origin)]
        children += forms[::-1] if origin else forms  # the form the user came for first
    return html.Div(children, className="page work-orders")


@callback(
    Output("wo-table-wrap", "children"),
    Input("wo-rev-create", "data"),
    Input("wo-rev-close", "data"),
    Input("wo-f-status", "value"),
    Input("wo-f-priority", "value"),
    Input("wo-f-building", "value"),
    Input("wo-f-contract", "value"),
    Input("wo-f-overdue", "value"),
    State("wo-highlight", "data"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def refresh(_created, _closed, status, priority, building, contract, overdue, highlight):
    late = "late" in (overdue or [])
    rows = data.rows(current_user(), status, priority, building, contract, late)
    return _downloadable(rows, highlight, status, priority, building, contract, late)


@callback(
    Output("wo-create-msg", "children"),
    Output("wo-rev-create", "data"),
    Input("wo-create", "n_clicks"),
    State("wo-origin-ref", "data"),
    State("wo-building", "value"),
    State("wo-title", "value"),
    State("wo-assignee", "value"),
    State("wo-due", "date"),
    State("wo-priority", "value"),
    State("wo-cost", "value"),
    State("wo-description", "value"),
    prevent_initial_call=True,
)
@guarded(EDIT)
def create(n, origin, building, title, assignee, due, priority, cost, description):
    if not n:
        raise PreventUpdate
    user = require(EDIT)
    wo_id, message = data.create(
        user, origin, building, title, assignee, due, priority, cost, description
    )
    if wo_id is None:
        error = alert(message, "error", "wo-create-error")
        return error, dash.no_update
    ok = alert(
        [message, " ", dcc.Link("Le clore", href=f"/travaux?ordre={wo_id}", id="wo-created-link")],
        "ok",
        "wo-create-ok",
    )
    return ok, wo_id


@callback(
    Output("wo-close-id", "options"),
    Output("wo-close-id", "value"),
    Input("wo-rev-create", "data"),
    Input("wo-rev-close", "data"),
    prevent_initial_call=True,
)
@guarded(EDIT)
def close_options(created_id, _closed):
    """The orders still open; the one just created is selected, ready to be closed."""
    selected = created_id if ctx.triggered_id == "wo-rev-create" else None
    return data.open_options(current_user()), selected


@callback(
    Output("wo-close-file-name", "children"),
    Input("wo-close-file", "filename"),
    prevent_initial_call=True,
)
@guarded(EDIT)
def show_file_name(filename):
    return f"Fichier joint : {filename}" if filename else ""


@callback(
    Output("wo-close-msg", "children"),
    Output("wo-rev-close", "data"),
    Input("wo-close-submit", "n_clicks"),
    State("wo-close-id", "value"),
    State("wo-close-report", "value"),
    State("wo-close-kind", "value"),
    State("wo-close-cost", "value"),
    State("wo-close-file", "contents"),
    State("wo-close-file", "filename"),
    State("wo-rev-close", "data"),
    prevent_initial_call=True,
)
@guarded(EDIT)
def close(n, wo_id, report, kind, cost, contents, filename, rev):
    if not n:
        raise PreventUpdate
    user = require(EDIT)
    if not wo_id:
        error = alert("Choisissez l'ordre de travail à clore.", "error", "wo-close-error")
        return error, dash.no_update
    entry_id, message = data.close(user, wo_id, report, kind, cost, contents, filename)
    if entry_id is None:
        error = alert(message, "error", "wo-close-error")
        return error, dash.no_update
    return alert(message, "ok", "wo-close-ok"), (rev or 0) + 1
