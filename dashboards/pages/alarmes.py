"""Alarmes (`/alarmes`): the fault episodes of the buildings the user may see, those still to
deal with first, with what was done (acknowledged by whom, the intervention that answered it,
closed by whom or by the device). The contractor and the manager acknowledge and close them and
open a work order from one; `?alarme=N` (the logbook's link) shows that alarm."""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from dashboards import alarms_data
from dashboards.auth import current_user, guarded, require
from dashboards.carnet_views import DROPDOWN_LABELS_FR
from dashboards.components import alert, data_table, downloadable_table, page_head
from dashboards.downloads import register_table

CAPABILITY = "alarms.view"

dash.register_page(
    __name__,
    path="/alarmes",
    name="Alarmes",
    title="Alarmes · Carnet",
    description="Défauts remontés par les équipements : prise en compte, intervention, clôture.",
    order=23,
    capability=CAPABILITY,
)

BADGE = {
    "open": "badge badge-late",
    "acknowledged": "badge badge-soon",
    "answered": "badge badge-soon",
    "closed": "badge badge-ok",
}


def _who_when(who, when) -> str:
    return f"{who}, {when}" if who else "—"


def _actions(r: dict) -> list:
    out = []
    if r["can_ack"]:
        out.append(
            html.Button(
                "Prendre en compte",
                id={"type": "al-ack", "id": r["id"]},
                className="btn btn-secondary al-ack",
            )
        )
    if r["can_order"]:
        out.append(
            dcc.Link(
                "Créer un ordre de travail",
                href=f"/travaux?alarme={r['id']}",
                className="btn btn-secondary al-order",
            )
        )
    if r["can_close"]:
        out.append(
            html.Button(
                "Clore",
                id={"type": "al-close", "id": r["id"]},
                className="btn btn-secondary al-close",
            )
        )
    return out


def _closed(r: dict) -> str:
    if r["status"] != "closed":
        return "—"
    who = "l'équipement (retour à la normale)" if r["closed_by"] == "poller" else r["closed_by"]
    return f"{who}, {r['closed']}"


def alarms_table(rows: list[dict], highlight: int | None = None):
    if not rows:
        return html.P("Aucune alarme ne correspond.", className="muted", id="al-empty")
    head = [
        "Bâtiment",
        "Équipement",
        "Alarme",
        "Ouverte le",
        "État",
        "Prise en compte",
        "Intervention",
        "Clôture",
        "",
    ]
    body = []
    for r in rows:
        intervention = (
            dcc.Link(f"n° {r['intervention_entry_id']}", href=f"/batiments/{r['building_code']}")
            if r.get("intervention_entry_id")
            else "—"
        )
        body.append(
            html.Tr(
                [
                    html.Td(dcc.Link(r["building_name"], href=f"/batiments/{r['building_code']}")),
                    html.Td(r.get("equipment_code") or "—", className="code"),
                    html.Td(r["label"], title=r.get("close_note") or None),
                    html.Td(r["opened"], className="date"),
                    html.Td(
                        html.Span(r["status_label"], className=BADGE[r["status"]]),
                        className="al-status",
                    ),
                    html.Td(_who_when(r.get("acknowledged_by"), r["acknowledged"])),
                    html.Td(intervention),
                    html.Td(_closed(r)),
                    html.Td(_actions(r), className="actions"),
                ],
                className="highlight" if r["id"] == highlight else None,
                **{"data-alarm": str(r["id"])},
            )
        )
    return data_table(head, body, id_="al-table")


def _rebuilt(params: dict):
    """The table for these filters, read again for the signed-in user (its download)."""
    status = params.get("status")
    status = [str(s) for s in status] if isinstance(status, list) else alarms_data.ACTIVE
    building, start, end = (
        params.get(k) if isinstance(params.get(k), str) else None
        for k in ("building", "start", "end")
    )
    return alarms_table(alarms_data.alarm_rows(current_user(), status, building, start, end))


register_table("al-table", CAPABILITY, _rebuilt, filename="alarmes")


def _downloadable(rows, highlight=None, status=None, building=None, start=None, end=None):
    params = {"status": list(status or []), "building": building, "start": start, "end": end}
    return downloadable_table("al-table", alarms_table(rows, highlight), params)


def layout(alarme: str | None = None, **_query):
    user = current_user()
    highlight = int(alarme) if alarme and str(alarme).isdigit() else None
    status = [] if highlight else alarms_data.ACTIVE
    rows = alarms_data.alarm_rows(user, status=status)
    n_open = sum(r["status"] == "open" for r in rows)
    controls = [
        dcc.Dropdown(
            labels=DROPDOWN_LABELS_FR,
            id="al-f-status",
            options=alarms_data.STATUS_OPTIONS,
            value=status,
            multi=True,
            placeholder="Tous les états",
            className="filter",
        ),
        dcc.Dropdown(
            labels=DROPDOWN_LABELS_FR,
            id="al-f-building",
            options=alarms_data.building_options(user),
            placeholder="Tous les bâtiments",
            className="filter",
        ),
        dcc.DatePickerRange(
            id="al-f-period",
            display_format="DD/MM/YYYY",
            first_day_of_week=1,
            start_date_placeholder_text="du",
            end_date_placeholder_text="au",
            clearable=True,
        ),
    ]
    if user.can("alarms.handle"):
        controls.append(
            dcc.Input(
                id="al-note",
                type="text",
                debounce=False,
                placeholder="Motif de clôture (facultatif)",
            )
        )
    return html.Div(
        className="page alarms",
        children=[
            dcc.Store(id="al-rev", data=0),
            dcc.Store(id="al-highlight", data=highlight),
            page_head(
                "Alarmes",
                f"{n_open} alarme(s) ouverte(s) à prendre en compte.",
                lead_id="al-summary",
            ),
            html.Div(controls, className="filters"),
            html.Div(id="al-msg"),
            html.Div(
                _downloadable(rows, highlight, status), id="al-table-wrap", className="table-wrap"
            ),
        ],
    )


@callback(
    Output("al-table-wrap", "children"),
    Input("al-rev", "data"),
    Input("al-f-status", "value"),
    Input("al-f-building", "value"),
    Input("al-f-period", "start_date"),
    Input("al-f-period", "end_date"),
    State("al-highlight", "data"),
    prevent_initial_call=True,
)
@guarded(CAPABILITY)
def refresh(_rev, status, building, start, end, highlight):
    rows = alarms_data.alarm_rows(current_user(), status, building, start, end)
    return _downloadable(rows, highlight, status, building, start, end)


@callback(
    Output("al-msg", "children"),
    Output("al-rev", "data"),
    Input({"type": "al-ack", "id": ALL}, "n_clicks"),
    Input({"type": "al-close", "id": ALL}, "n_clicks"),
    State("al-note", "value"),
    State("al-rev", "data"),
    prevent_initial_call=True,
)
@guarded("alarms.handle")
def act(_acks, _closes, note, rev):
    clicked = ctx.triggered_id
    if not clicked or not any(t["value"] for t in ctx.triggered):
        raise PreventUpdate  # the buttons were (re)drawn, not clicked
    user = require("alarms.handle")
    action = "ack" if clicked["type"] == "al-ack" else "close"
    done, message = alarms_data.act(user, action, int(clicked["id"]), note)
    if not done:
        return alert(message, "error", "al-error"), dash.no_update
    return alert(message, "ok", "al-ok"), (rev or 0) + 1
