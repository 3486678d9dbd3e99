"""The booking pages over HTTP (Flask test client): who may open them, and the callbacks checked
on the server whatever the layout shows."""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from carnet import bookings as bk
from carnet.db import get_engine, session_scope
from carnet.models import Booking, Building, Channel, Contract, ContractBuilding, Room
from carnet.store import write_readings
from dashboards.app import create_app
from tests.helpers.browser import CONTRACT_CODE, dash_callback_payload, password_of, seed_users

PARIS = ZoneInfo("Europe/Paris")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PAGES = {
    "/reservations": {"manager", "programmer", "contractor"},
    "/planning-chauffage": {"manager", "contractor"},
    "/confort": {"manager", "contractor"},
}
LOGINS = {
    "manager": "gestionnaire",
    "contractor": "exploitant",
    "finance": "finances",
    "programmer": "programmation",
    "agent": "agent",
}


@pytest.fixture
def app(db_url):
    engine = get_engine(db_url)
    seed_users(engine)
    with session_scope(engine) as s:
        contract = s.scalar(select(Contract).where(Contract.code == CONTRACT_CODE))
        mine = Building(code="SDF", name="Salle des fêtes")
        other = Building(code="ECOLE", name="École")
        s.add_all([mine, other])
        s.flush()
        s.add(ContractBuilding(contract_id=contract.id, building_id=mine.id, nb_mwh_pci=1,
                               dju_ref=1))  # fmt: skip
        s.add_all(
            [
                Room(building_id=mine.id, code="SDF-GRANDE", name="Grande salle", bookable=True),
                Room(building_id=other.id, code="ECOLE-PREAU", name="Préau", bookable=True),
            ]
        )
    return create_app(db_url)


def client_of(app, role):
    client = app.server.test_client()
    login = LOGINS[role]
    token = CSRF.search(client.get("/connexion").text).group(1)
    resp = client.post(
        "/connexion", data={"login": login, "password": password_of(login), "csrf": token}
    )
    assert resp.status_code == 302
    return client


def callback(client, output_id, values, changed: str | None = None):
    deps = client.get("/_dash-dependencies").get_json()
    payload = dash_callback_payload(deps, output_id, values)
    if changed:
        payload["changedPropIds"] = [changed]
    return client.post("/_dash-update-component", json=payload)


def text(response) -> str:
    return json.dumps(response.get_json(), ensure_ascii=False)


def test_pages_open_to_their_roles_only(app):
    for role in LOGINS:
        client = client_of(app, role)
        for path, roles in PAGES.items():
            status = client.get(path).status_code
            assert status == (200 if role in roles else 403), (role, path, status)


def _form(start: str, end: str, title: str = "Concert") -> dict:
    return {
        "res-save.n_clicks": 1,
        "res-f-room.value": "SDF-GRANDE",
        "res-f-title.value": title,
        "res-f-start.value": start,
        "res-f-end.value": end,
        "res-f-status.value": "confirmed",
        "res-f-setpoint.value": 19,
        "res-f-preheat.value": 60,
        "res-f-note.value": "portes à 19:30",
        "res-f-weekly.value": [],
    }


def test_save_callback_checked_on_the_server(app):
    values = _form("05/12/2026 19:00", "05/12/2026 23:00")
    for role in ("contractor", "finance", "agent"):
        assert callback(client_of(app, role), "res-message", values).status_code == 403
    programmer = client_of(app, "programmer")
    ok = callback(programmer, "res-message", values)
    assert ok.status_code == 200 and "créée" in text(ok)
    clash = callback(
        programmer, "res-message", _form("05/12/2026 22:00", "06/12/2026 00:30", "Bal")
    )
    assert "Réservation refusée" in text(clash) and "05/12/2026 19:00" in text(clash)
    # a weekly series reports its conflicting occurrence and creates the others
    series = _form("28/11/2026 20:00", "28/11/2026 22:00", "Chorale")
    series |= {"res-f-weekly.value": ["weekly"], "res-f-until.value": "12/12/2026"}
    report = text(callback(programmer, "res-message", series))
    assert "2 occurrence(s) créée(s)" in report and "1 refusée(s)" in report
    assert "05/12/2026 20:00" in report and "Concert" in report
    with session_scope(app.server.config["CARNET_ENGINE"]) as s:
        titles = sorted(s.scalars(select(Booking.title)).all())
        assert titles == ["Chorale", "Chorale", "Concert"]
        assert s.scalar(select(Booking.created_by).where(Booking.title == "Concert")) == (
            "programmation"
        )
        first_chorale = s.scalar(
            select(Booking.id).where(Booking.title == "Chorale").order_by(Booking.starts_at)
        )
    # cancel the series from its first occurrence on
    cancel = {"res-confirm-series.submit_n_clicks": 1, "res-selected.data": first_chorale}
    for role in ("contractor", "agent"):
        refused = callback(
            client_of(app, role), "res-message", cancel, "res-confirm-series.submit_n_clicks"
        )
        assert refused.status_code == 403
    done = text(callback(programmer, "res-message", cancel, "res-confirm-series.submit_n_clicks"))
    assert "2 occurrence(s) annulée(s) à partir du 28/11/2026" in done
    with session_scope(app.server.config["CARNET_ENGINE"]) as s:
        statuses = s.scalars(select(Booking.status).where(Booking.title == "Chorale")).all()
        assert statuses == ["cancelled", "cancelled"]


def _outputs(response) -> dict:
    """`{"id.property": value}` of a multi-output callback response."""
    body = response.get_json()["response"]
    return {f"{cid}.{prop}": value for cid, props in body.items() for prop, value in props.items()}


def test_cancel_asks_first_and_a_save_empties_the_form(app):
    programmer = client_of(app, "programmer")
    created = _outputs(callback(programmer, "res-message", _form("05/12/2026 19:00",
                                                                  "05/12/2026 23:00")))  # fmt: skip
    assert "créée" in json.dumps(created["res-message.children"], ensure_ascii=False)
    # the form comes back empty (the room kept), no booking selected: a second click books nothing
    assert created["res-f-title.value"] == "" and created["res-f-start.value"] == ""
    assert created["res-f-setpoint.value"] is None and created["res-f-note.value"] == ""
    assert created["res-selected.data"] is None and "res-f-room.value" not in created
    with session_scope(app.server.config["CARNET_ENGINE"]) as s:
        concert = s.scalar(select(Booking.id).where(Booking.title == "Concert"))
    # « Annuler la réservation » only asks, naming the booking; nothing is cancelled yet
    asked = _outputs(callback(programmer, "res-confirm-cancel",
                              {"res-cancel.n_clicks": 1, "res-selected.data": concert}))  # fmt: skip
    assert asked["res-confirm-cancel.displayed"] is True
    assert "« Concert » du 05/12/2026 19:00" in asked["res-confirm-cancel.message"]
    with session_scope(app.server.config["CARNET_ENGINE"]) as s:
        assert s.get(Booking, concert).status == "confirmed"
    # the cancellation buttons: neither for a new booking, only the single one here
    shown = callback(programmer, "res-cancel", {"res-selected.data": None})
    assert _outputs(shown) == {"res-cancel.hidden": True, "res-cancel-series.hidden": True}
    shown = callback(programmer, "res-cancel", {"res-selected.data": concert})
    assert _outputs(shown) == {"res-cancel.hidden": False, "res-cancel-series.hidden": True}
    # a date without its hour is refused rather than read as midnight
    refused = text(callback(programmer, "res-message", _form("06/12/2026", "06/12/2026 23:00")))
    assert "avec l'heure" in refused


def test_contractor_calendar_is_scoped_to_its_contract(app):
    engine = app.server.config["CARNET_ENGINE"]
    with session_scope(engine) as s:
        programmer = bk.Actor("programmation", "programmer")
        day = dt.datetime.now(PARIS).date()
        at = lambda hh: dt.datetime.combine(day, dt.time(hh), tzinfo=PARIS)  # noqa: E731
        bk.create_booking(s, programmer, "SDF-GRANDE", "Gala", at(20), at(23), setpoint_c=19)
        bk.create_booking(s, programmer, "ECOLE-PREAU", "Kermesse", at(14), at(18))
    values = {
        "res-building.value": "ECOLE",
        "res-room.value": None,
        "res-view.value": "week",
        "res-ref.data": dt.datetime.now(PARIS).date().isoformat(),
        "res-refresh.data": 0,
    }
    contractor = client_of(app, "contractor")
    seen = text(callback(contractor, "res-calendar", values))
    assert "Kermesse" not in seen
    values["res-building.value"] = "SDF"
    assert "Gala" in text(callback(contractor, "res-calendar", values))
    assert "Kermesse" in text(callback(client_of(app, "manager"), "res-calendar", values | {
        "res-building.value": "ECOLE"}))  # fmt: skip


def test_comfort_page_callback(app):
    engine = app.server.config["CARNET_ENGINE"]
    with session_scope(engine) as s:
        room = s.scalar(select(Room).where(Room.code == "SDF-GRANDE"))
        ch = Channel(code="SDF-T", building_id=room.building_id, room_id=room.id,
                     quantity="temp_indoor_c", kind="instant", unit="degC")  # fmt: skip
        s.add(ch)
        s.flush()
        start = dt.datetime(2026, 11, 7, 19, tzinfo=PARIS)
        bk.create_booking(s, bk.Actor("p", "programmer"), room, "Concert", start,
                          start + dt.timedelta(hours=2), setpoint_c=19)  # fmt: skip
        cid = ch.id
    import pandas as pd

    ts = [int((start + dt.timedelta(minutes=30 * i)).timestamp()) for i in range(4)]
    write_readings(engine, pd.DataFrame({"channel_id": cid, "ts": ts, "value": [17, 18.5, 19, 19]}))
    values = {"comfort-month.value": "2026-11"}
    resp = callback(client_of(app, "contractor"), "comfort-body", values)
    assert resp.status_code == 200
    body = text(resp)
    assert "Grande salle" in body
    assert "75\u00a0%" in body  # 3 half-hours of 4 at 18 °C or more
    assert callback(client_of(app, "programmer"), "comfort-body", values).status_code == 403


def _feed_click(client, button: str, kind: str, code: str):
    """The raw request the page sends when a feed button (pattern-matching id) is clicked."""
    deps = client.get("/_dash-dependencies").get_json()
    payload = dash_callback_payload(deps, "ical-feeds")
    ident = {"code": code, "kind": kind, "type": button}
    clicked = [{"id": ident, "property": "n_clicks", "value": 1}]
    payload["inputs"] = [clicked if button == "feed-renew" else [],
                         clicked if button == "feed-revoke" else []]  # fmt: skip
    payload["changedPropIds"] = [json.dumps(ident, separators=(",", ":")) + ".n_clicks"]
    return client.post("/_dash-update-component", json=payload)


def test_manager_issues_and_revokes_feed_addresses_from_the_schedule_page(app):
    manager = client_of(app, "manager")
    contractor = client_of(app, "contractor")
    assert _feed_click(contractor, "feed-renew", "contract", CONTRACT_CODE).status_code == 403
    resp = _feed_click(manager, "feed-renew", "contract", CONTRACT_CODE)
    assert resp.status_code == 200
    with session_scope(app.server.config["CARNET_ENGINE"]) as s:
        token = s.scalar(select(Contract.ical_token).where(Contract.code == CONTRACT_CODE))
    assert token and f"/ical/{token}.ics" in text(resp)
    anonymous = app.server.test_client()
    assert anonymous.get(f"/ical/{token}.ics").status_code == 200
    # the contractor's schedule page now shows the address
    page = callback(
        contractor, "_pages_content", {"_pages_location.pathname": "/planning-chauffage"}
    )
    assert f"/ical/{token}.ics" in text(page)
    assert "Renouveler" not in text(page)  # the contractor reads the address, no buttons
    resp = _feed_click(manager, "feed-revoke", "contract", CONTRACT_CODE)
    assert "révoqué" in text(resp)
    assert anonymous.get(f"/ical/{token}.ics").status_code == 404
    # a room feed too
    resp = _feed_click(manager, "feed-renew", "room", "SDF-GRANDE")
    with session_scope(app.server.config["CARNET_ENGINE"]) as s:
        room_token = s.scalar(select(Room.ical_token).where(Room.code == "SDF-GRANDE"))
    assert anonymous.get(f"/ical/{room_token}.ics").status_code == 200
