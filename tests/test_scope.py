"""One scope rule (`carnet.access.scope_of`): a contractor of contract A sees none of contract
B's contracts, buildings or channels, through the service itself and through real routes (an
attachment download, the contract terms callback, the devices page). Real database (SQLite, or
PostgreSQL with `CARNET_TEST_DATABASE_URL`) and the real app through the Flask test client."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from carnet.access import Actor, scope_of
from carnet.attachments import add_attachment
from carnet.db import get_engine, session_scope
from carnet.logbook import add_entry
from carnet.models import Building, Channel, Contract, DeviceStatus, Room, User
from carnet.roles import CONTRACTOR, MANAGER
from dashboards.app import create_app
from tests.helpers.browser import CONTRACT_CODE, dash_callback_payload, password_of
from tests.helpers.carnet_web_seed import OTHER_PASSWORD, seed_carnet

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
OTHER_CODE = "AUTRE-CONTRAT"


@pytest.fixture
def town(db_url):
    """seed_carnet (MAIRIE in contract A = TEST-CONTRAT, ECOLE in contract B), with channels on
    each building and a room, and a Modbus device in each building."""
    engine = get_engine(db_url)
    seed_carnet(engine)
    with session_scope(engine) as s:
        ids = {b.code: b.id for b in s.scalars(select(Building))}
        conseil = s.scalar(select(Room.id).where(Room.code == "MAIRIE-CONSEIL"))
        preau = s.scalar(select(Room.id).where(Room.code == "ECOLE-PREAU"))
        for code, building, room in [
            ("MAIRIE-GAZ", "MAIRIE", None),
            ("MAIRIE-CONSEIL-T", "MAIRIE", conseil),
            ("ECOLE-GAZ", "ECOLE", None),
            ("ECOLE-PREAU-T", "ECOLE", preau),
        ]:
            s.add(
                Channel(
                    code=code, building_id=ids[building], room_id=room,
                    quantity="temp_indoor_c" if room else "gas_volume_m3",
                    kind="instant" if room else "index", unit="°C" if room else "m3",
                )
            )  # fmt: skip
        s.add_all(
            [
                DeviceStatus(gateway_code="GW-MAIRIE", unit=1, building_id=ids["MAIRIE"]),
                DeviceStatus(gateway_code="GW-ECOLE", unit=7, building_id=ids["ECOLE"]),
            ]
        )
    return engine


def _ids(engine, model, codes) -> set[int]:
    with session_scope(engine) as s:
        return set(s.scalars(select(model.id).where(model.code.in_(codes))))


def _user(engine, login) -> Actor:
    with session_scope(engine) as s:
        u = s.scalar(select(User).where(User.login == login))
        return Actor(u.login, u.role, u.contract_id)


def test_a_contractor_sees_its_contract_only_through_the_scope_service(town):
    a, b = (_user(town, login) for login in ("exploitant", "exploitant2"))
    for bind in ("engine", "session", "connection"):
        if bind == "engine":
            scope_a, scope_b = scope_of(town, a), scope_of(town, b)
        elif bind == "session":
            with session_scope(town) as s:
                scope_a, scope_b = scope_of(s, a), scope_of(s, b)
        else:
            with town.connect() as conn:
                scope_a, scope_b = scope_of(conn, a), scope_of(conn, b)
        assert not scope_a.sees_all, bind
        assert scope_a.contract_codes == {CONTRACT_CODE}
        assert scope_a.contract_ids == _ids(town, Contract, [CONTRACT_CODE])
        assert scope_a.building_ids == _ids(town, Building, ["MAIRIE"])
        assert scope_a.channel_ids == _ids(town, Channel, ["MAIRIE-GAZ", "MAIRIE-CONSEIL-T"])
        assert scope_b.building_ids == _ids(town, Building, ["ECOLE"])
        assert scope_b.channel_ids == _ids(town, Channel, ["ECOLE-GAZ", "ECOLE-PREAU-T"])
        # nothing of B in A's scope, whatever the question
        assert not scope_a.building_ids & scope_b.building_ids
        assert not scope_a.channel_ids & scope_b.channel_ids
        assert not scope_a.has_contract_code(OTHER_CODE)
        assert not any(scope_a.has_building(i) for i in scope_b.building_ids)
        assert not any(scope_a.has_contract(i) for i in scope_b.contract_ids)
        assert scope_a.building_filter == scope_a.building_ids
    manager = scope_of(town, Actor("gestionnaire", MANAGER))
    assert manager.sees_all and manager.building_filter is None and manager.channel_filter is None
    assert manager.has_contract_code(OTHER_CODE) and manager.has_building(min(scope_b.building_ids))
    for orphan in (Actor("x", CONTRACTOR, None), Actor("y", CONTRACTOR, 999_999)):
        nothing = scope_of(town, orphan)
        assert not nothing.sees_all and nothing.building_filter == frozenset()
        assert not (nothing.contract_ids or nothing.channel_ids)


@pytest.fixture
def app(town, db_url):
    return create_app(db_url)


def _client(app, login):
    client = app.server.test_client()
    token = CSRF.search(client.get("/connexion").text).group(1)
    password = OTHER_PASSWORD if login == "exploitant2" else password_of(login)
    r = client.post("/connexion", data={"login": login, "password": password, "csrf": token})
    assert r.status_code == 302, login
    return client


def _callback(client, output_id, values):
    deps = client.get("/_dash-dependencies").get_json()
    return client.post(
        "/_dash-update-component", json=dash_callback_payload(deps, output_id, values)
    )


def _text(response) -> str:
    return json.dumps(response.get_json(), ensure_ascii=False)


def test_another_contracts_attachment_is_refused_to_the_contractor(town, app):
    with session_scope(town) as s:
        manager = s.scalar(select(User).where(User.login == "gestionnaire"))
        ids = {}
        for code in ("MAIRIE", "ECOLE"):
            entry = add_entry(s, manager, code, "works", f"Rapport {code}")
            ids[code] = add_attachment(s, manager, entry, f"{code}.pdf", PDF).id
    a, b = _client(app, "exploitant"), _client(app, "exploitant2")
    assert a.get(f"/pieces-jointes/{ids['MAIRIE']}").status_code == 200
    assert a.get(f"/pieces-jointes/{ids['ECOLE']}").status_code == 403
    assert b.get(f"/pieces-jointes/{ids['ECOLE']}").status_code == 200
    assert b.get(f"/pieces-jointes/{ids['MAIRIE']}").status_code == 403


def test_another_contracts_terms_are_refused_to_the_contractor(app):
    a = _client(app, "exploitant")
    own = _callback(a, "contract-terms-body", {"contract-terms-code.value": CONTRACT_CODE})
    assert own.status_code == 200 and "Hôtel de ville" in _text(own)
    other = _callback(a, "contract-terms-body", {"contract-terms-code.value": OTHER_CODE})
    assert other.status_code == 403
    assert "École Jules Ferry" not in other.get_data(as_text=True)
    # the page's list offers its own contract only
    page = _text(_callback(a, "_pages_content", {"_pages_location.pathname": "/contrat"}))
    assert CONTRACT_CODE in page and OTHER_CODE not in page


def test_the_devices_page_shows_the_contractor_its_buildings_devices_only(app):
    pages = {
        login: _text(
            _callback(
                _client(app, login), "_pages_content", {"_pages_location.pathname": "/equipements"}
            )
        )
        for login in ("exploitant", "exploitant2", "gestionnaire")
    }
    assert "GW-MAIRIE" in pages["exploitant"] and "GW-ECOLE" not in pages["exploitant"]
    assert "GW-ECOLE" in pages["exploitant2"] and "GW-MAIRIE" not in pages["exploitant2"]
    assert "GW-MAIRIE" in pages["gestionnaire"] and "GW-ECOLE" in pages["gestionnaire"]
