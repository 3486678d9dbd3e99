"""Équipements communicants (`/equipements`): each Modbus device's last contact and the open
alarms the poller raised, so a silent boiler controller is noticed before the cold is.
A contractor sees only its contract's buildings."""

from __future__ import annotations

import datetime as dt

import dash
from dash import dcc, html

from dashboards import db
from dashboards.auth import current_scope
from dashboards.components import data_table, downloadable_table, page_head
from dashboards.downloads import register_table
from dashboards.equipements_data import devices_and_alarms
from dashboards.fmt import fr_datetime
from ingest.modbus.health import FAILING, PARTIAL, stored_state

CAPABILITY = "devices.view"
# a device whose last contact is older than this is shown as silent even without failures
STALE_AFTER = dt.timedelta(minutes=30)

dash.register_page(
    __name__,
    path="/equipements",
    name="Équipements",
    title="Équipements communicants · Carnet",
    description="Dernier contact des régulateurs et compteurs relevés en Modbus, alarmes ouvertes.",
    order=24,
    capability=CAPABILITY,
)


def _state(status: dict, now: dt.datetime) -> tuple[str, str]:
    """(label, css class) of a device's health; a device answering only Modbus exceptions is
    « en échec », never « en ligne » (see ingest.modbus.health)."""
    state = stored_state(
        status["consecutive_failures"], status["last_contact_at"], status["last_error"],
        status["last_error_at"],
    )  # fmt: skip
    n = status["consecutive_failures"]
    if state == FAILING:
        return f"en échec ({n} échec(s) de suite)", "state-bad"
    if n:
        return f"muet ({n} échec(s) de suite)", "state-bad"
    if status["last_contact_at"] is None:
        return "jamais joint", "state-bad"
    if now - status["last_contact_at"] > STALE_AFTER:
        return "pas de nouvelles", "state-warn"
    if state == PARTIAL:
        return "partiel (des points refusés)", "state-warn"
    return "en ligne", "state-ok"


def _building_link(building):
    if building is None:
        return "—"
    code, name = building
    return dcc.Link(name, href=f"/batiments/{code}")


def _alarm_cell(alarms: list[dict]) -> html.Td:
    """The device's latest open alarm (and how many more), « — » when it has none."""
    if not alarms:
        return html.Td("—", className="device-alarm")
    latest = alarms[0]
    text = latest["title"] or latest["text"]
    more = f" (+{len(alarms) - 1})" if len(alarms) > 1 else ""
    return html.Td(
        f"{text}{more}",
        className="device-alarm state-bad",
        title=f"depuis le {fr_datetime(latest['occurred_at'])}",
    )


def _devices_table(devices) -> html.Table:
    now = dt.datetime.now(dt.UTC)
    head = ["Passerelle", "Esclave", "Modèle", "Bâtiment", "Équipement", "Dernier contact",
            "État", "Alarme", "Dernière erreur"]  # fmt: skip
    rows = []
    for d in devices:
        label, css = _state(d, now)
        error = d["last_error"] or ""
        if error and d["last_error_at"]:
            error = f"{fr_datetime(d['last_error_at'])} : {error}"
        rows.append(
            html.Tr(
                [
                    html.Td(d["gateway_code"], className="code"),
                    html.Td(str(d["unit"]), className="num"),
                    html.Td(d["model_label"] or "—"),
                    html.Td(_building_link(d["building"])),
                    html.Td(d["equipment"] or "—"),
                    html.Td(fr_datetime(d["last_contact_at"]), className="date"),
                    html.Td(label, className=css),
                    _alarm_cell(d["open_alarms"]),
                    html.Td(error, className="muted"),
                ],
                className="device-row",
            )
        )
    return data_table(head, rows, id_="devices-table")


def _alarms_table(alarms) -> html.Table:
    head = ["Depuis le", "Bâtiment", "Équipement", "Alarme", "Statut"]
    rows = [
        html.Tr(
            [
                html.Td(fr_datetime(a["occurred_at"]), className="date"),
                html.Td(_building_link(a["building"])),
                html.Td(a["equipment"] or "—"),
                html.Td(a["title"] or a["text"]),
                html.Td(a["status_label"]),
            ],
            className="alarm-row",
        )
        for a in alarms
    ]
    return data_table(head, rows, id_="alarms-table")


def _alarms_view(_params=None):
    _devices, alarms = devices_and_alarms(db.engine(), current_scope())
    if not alarms:
        return html.P("Aucune alarme ouverte.", className="muted")
    return _alarms_table(alarms)


def _devices_view(_params=None):
    devices, _alarms = devices_and_alarms(db.engine(), current_scope())
    if not devices:
        return html.P(
            "Aucun équipement relevé pour l'instant (voir « carnet poll »).", className="muted"
        )
    return _devices_table(devices)


register_table("alarms-table", CAPABILITY, _alarms_view, filename="equipements-alarmes")
register_table("devices-table", CAPABILITY, _devices_view, filename="equipements")


def layout(**_query):
    devices, alarms = devices_and_alarms(db.engine(), current_scope())
    now = dt.datetime.now(dt.UTC)
    states = [_state(d, now) for d in devices]
    partial = sum(1 for label, _ in states if label.startswith("partiel"))
    silent = sum(1 for _, css in states if css != "state-ok") - partial
    return html.Div(
        className="page devices",
        children=[
            page_head(
                "Équipements communicants",
                f"{len(devices)} équipement(s) relevé(s), {silent} en échec ou sans"
                f" nouvelles récentes, {partial} lu(s) partiellement,"
                f" {len(alarms)} alarme(s) ouverte(s).",
                lead_id="devices-summary",
            ),
            html.H2("Alarmes ouvertes"),
            html.Div(downloadable_table("alarms-table", _alarms_view()), className="table-wrap"),
            html.H2("Dernier contact"),
            html.Div(downloadable_table("devices-table", _devices_view()), className="table-wrap"),
        ],
    )
