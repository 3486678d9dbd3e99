"""The alarms and work-orders pages over HTTP: each role sees what its scope allows, and a raw
callback from another contract's contractor or from the agent changes nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from carnet.alarms import open_episode
from carnet.db import get_engine, session_scope
from carnet.models import Alarm, Equipment
from dashboards.app import create_app
from tests.helpers.carnet_web_seed import OTHER_PASSWORD, seed_carnet
from tests.helpers.web_client import body, callback, sign_in, signed_in_client

T0 = 1_764_000_000


@pytest.fixture
def site(db_url):
    engine = get_engine(db_url)
    seed_carnet(engine)
    ids = {}
    with session_scope(engine) as s:
        for code, key, label in (
            ("MAIRIE-CHAUD-1", "GW/1/fault", "allumage"),
            ("ECOLE-CHAUD-1", "GW/2/fault", "surchauffe"),
        ):
            eq = s.scalar(select(Equipment).where(Equipment.code == code))
            ids[code] = open_episode(s, key, T0, 12, label, eq.building_id, eq.id).id
    return create_app(db_url), engine, ids


def page(client, path: str, search: str = "") -> str:
    values = {"_pages_location.pathname": path, "_pages_location.search": search}
    response = callback(client, "_pages_content", values)
    assert response.status_code == 200
    return body(response)


def act(client, button: str, alarm_id: int):
    """The acknowledge/close callback as the browser sends it after a click."""
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if d["output"].startswith("..al-msg.children"))
    pressed = {"id": {"id": alarm_id, "type": button}, "property": "n_clicks", "value": 1}
    inputs = [
        [pressed] if i["id"].startswith(f'{{"id":["ALL"],"type":"{button}"') else []
        for i in dep["inputs"]
    ]
    payload = {
        "output": dep["output"],
        "outputs": [{"id": "al-msg", "property": "children"}, {"id": "al-rev", "property": "data"}],
        "inputs": inputs,
        "state": [{**st, "value": None} for st in dep["state"]],
        "changedPropIds": [json.dumps(pressed["id"], separators=(",", ":")) + ".n_clicks"],
    }
    return client.post("/_dash-update-component", json=payload)


def status(engine, alarm_id: int) -> str:
    with session_scope(engine) as s:
        return s.get(Alarm, alarm_id).status


def test_each_role_sees_and_does_what_its_scope_allows(site):
    app, engine, ids = site
    mine, theirs = ids["MAIRIE-CHAUD-1"], ids["ECOLE-CHAUD-1"]
    other = app.server.test_client()
    assert sign_in(other, "exploitant2", OTHER_PASSWORD).status_code == 302
    listed = page(other, "/alarmes")
    assert "surchauffe" in listed and "allumage" not in listed
    refused = act(other, "al-ack", mine)
    assert refused.status_code == 200 and "accès refusé" in body(refused)
    assert status(engine, mine) == "open"
    # an alarm of another contract does not become an order's origin
    form = page(other, "/travaux", f"?alarme={mine}")
    assert '"id": "wo-origin"' not in form and "allumage" not in form

    contractor = signed_in_client(app, "exploitant")
    listed = page(contractor, "/alarmes")
    assert "allumage" in listed and "surchauffe" not in listed and "al-ack" in listed
    done = act(contractor, "al-ack", mine)
    assert "prise en compte" in body(done) and status(engine, mine) == "acknowledged"
    form = page(contractor, "/travaux", f"?alarme={mine}")
    assert '"id": "wo-origin"' in form and f"Alarme n° {mine}" in form

    agent = signed_in_client(app, "agent")
    listed = page(agent, "/alarmes")
    assert "allumage" in listed and "surchauffe" in listed and "al-ack" not in listed
    assert act(agent, "al-close", theirs).status_code == 403
    assert status(engine, theirs) == "open"
    assert agent.get("/travaux").status_code == 403
    assert signed_in_client(app, "finances").get("/alarmes").status_code == 403

    manager = signed_in_client(app, "gestionnaire")
    assert "close" in body(act(manager, "al-close", theirs))
    assert status(engine, theirs) == "closed"
