"""Équipements communicants (`/equipements`): each Modbus device's last contact and the open
alarms the poller raised, so a silent boiler controller is noticed before the cold is.
A contractor sees only its contract's buildings."""

from __future__ import annotations

import datetime as dt

import dash
from dash import dcc, html
from sqlalchemy import select

from carnet.models import Building, DeviceStatus, Equipment, LogbookEntry
from dashboards import db
from dashboards.auth import building_scope
from dashboards.fmt import fr_datetime
from ingest.modbus.health import FAILING, PARTIAL, stored_state

CAPABILITY = "devices.view"
OPEN = ("open", "in_progress")
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


def _state(status: DeviceStatus, now: dt.datetime) -> tuple[str, str]:
    """(label, css class) of a device's health; a device answering only Modbus exceptions is
    « en échec », never « en ligne » (see ingest.modbus.health)."""
    state = stored_state(
        status.consecutive_failures, status.last_contact_at, status.last_error,
        status.last_error_at,
    )  # fmt: skip
    n = status.consecutive_failures
    if state == FAILING:
        return f"en échec ({n} échec(s) de suite)", "state-bad"
    if n:
        return f"muet ({n} échec(s) de suite)", "state-bad"
    if status.last_contact_at is None:
        return "jamais joint", "state-bad"
    if now - status.last_contact_at > STALE_AFTER:
        return "pas de nouvelles", "state-warn"
    if state == PARTIAL:
        return "partiel (des points refusés)", "state-warn"
    return "en ligne", "state-ok"


def _load(scope: list[int] | None):
    with db.session() as s:
        q = (
            select(DeviceStatus, Building, Equipment)
            .outerjoin(Building, Building.id == DeviceStatus.building_id)
            .outerjoin(Equipment, Equipment.id == DeviceStatus.equipment_id)
            .order_by(DeviceStatus.gateway_code, DeviceStatus.unit)
        )
        alarms_q = (
            select(LogbookEntry, Building, Equipment)
            .join(Building, Building.id == LogbookEntry.building_id)
            .outerjoin(Equipment, Equipment.id == LogbookEntry.equipment_id)
            .where(LogbookEntry.kind == "alarm", LogbookEntry.status.in_(OPEN))
            .order_by(LogbookEntry.occurred_at.desc())
        )
        if scope is not None:  # a contractor: its contract's buildings only
            q = q.where(DeviceStatus.building_id.in_(scope or [-1]))
            alarms_q = alarms_q.where(LogbookEntry.building_id.in_(scope or [-1]))
        devices = [
            {
                "status": st,
                "building": (b.code, b.name) if b else None,
                "equipment": e.name or e.code if e else None,
            }
            for st, b, e in s.execute(q)
        ]
        alarms = [
            {
                "entry": entry,
                "building": (b.code, b.name),
                "equipment": e.name or e.code if e else None,
            }
            for entry, b, e in s.execute(alarms_q)
        ]
        s.expunge_all()
    return devices, alarms


def _building_link(building):
    if building is None:
        return "—"
    code, name = building
    return dcc.Link(name, href=f"/batiments/{code}")


def _devices_table(devices, alarm_keys: set[str]) -> html.Table:
    now = dt.datetime.now(dt.UTC)
    head = ["Passerelle", "Esclave", "Modèle", "Bâtiment", "Équipement", "Dernier contact",
            "État", "Alarme", "Dernière erreur"]  # fmt: skip
    rows = []
    for d in devices:
        st = d["status"]
        label, css = _state(st, now)
        prefix = f"{st.gateway_code}/{st.unit}/"
        open_alarms = sum(1 for k in alarm_keys if k.startswith(prefix))
        error = st.last_error or ""
        if error and st.last_error_at:
            error = f"{fr_datetime(st.last_error_at)} : {error}"
        rows.append(
            html.Tr(
                [
                    html.Td(st.gateway_code, className="code"),
                    html.Td(str(st.unit), className="num"),
                    html.Td(st.model or "—"),
                    html.Td(_building_link(d["building"])),
                    html.Td(d["equipment"] or "—"),
                    html.Td(fr_datetime(st.last_contact_at), className="date"),
                    html.Td(label, className=css),
                    html.Td(str(open_alarms) if open_alarms else "—", className="num"),
                    html.Td(error, className="muted"),
                ],
                className="device-row",
            )
        )
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
        className="data-table",
        id="devices-table",
    )


def _alarms_table(alarms) -> html.Table:
    head = ["Depuis le", "Bâtiment", "Équipement", "Alarme", "Statut"]
    rows = [
        html.Tr(
            [
                html.Td(fr_datetime(a["entry"].occurred_at), className="date"),
                html.Td(_building_link(a["building"])),
                html.Td(a["equipment"] or "—"),
                html.Td(a["entry"].title or a["entry"].text),
                html.Td("ouverte" if a["entry"].status == "open" else "en cours"),
            ],
            className="alarm-row",
        )
        for a in alarms
    ]
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
        className="data-table",
        id="alarms-table",
    )


def layout(**_query):
    with db.session() as s:
        scope = building_scope(s)
    devices, alarms = _load(scope)
    alarm_keys = {a["entry"].alarm_key for a in alarms if a["entry"].alarm_key}
    now = dt.datetime.now(dt.UTC)
    states = [_state(d["status"], now) for d in devices]
    partial = sum(1 for label, _ in states if label.startswith("partiel"))
    silent = sum(1 for _, css in states if css != "state-ok") - partial
    return html.Div(
        className="page devices",
        children=[
            html.Div(
                className="page-head",
                children=[
                    html.H1("Équipements communicants"),
                    html.P(
                        f"{len(devices)} équipement(s) relevé(s), {silent} en échec ou sans"
                        f" nouvelles récentes, {partial} lu(s) partiellement,"
                        f" {len(alarms)} alarme(s) ouverte(s).",
                        className="lead",
                        id="devices-summary",
                    ),
                ],
            ),
            html.H2("Alarmes ouvertes"),
            html.Div(
                _alarms_table(alarms)
                if alarms
                else html.P("Aucune alarme ouverte.", className="muted"),
                className="table-wrap",
            ),
            html.H2("Dernier contact"),
            html.Div(
                _devices_table(devices, alarm_keys)
                if devices
                else html.P(
                    "Aucun équipement relevé pour l'instant (voir « carnet poll »).",
                    className="muted",
                ),
                className="table-wrap",
            ),
        ],
    )
