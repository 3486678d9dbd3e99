"""The building record: equipment tree, last readings, obligations, alarms, scope by role."""

from __future__ import annotations

import datetime as dt

import pytest

from carnet.access import CarnetPermissionError
from carnet.attachments import add_attachment
from carnet.buildings import building_by_qr_token, building_record
from carnet.db import session_scope
from carnet.logbook import add_entry
from carnet.models import Channel, Reading
from carnet.obligations import apply_templates
from tests.helpers.carnet_town import make_town

TODAY = dt.date(2025, 11, 15)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def test_building_record(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        u = town["users"]
        gas = Channel(
            code="MAIRIE-GAZ",
            building_id=town["mairie"].id,
            quantity="gas_volume_m3",
            kind="index",
            unit="m3",
            equipment_id=None,
        )
        temp = Channel(
            code="MAIRIE-CONSEIL-T",
            building_id=town["mairie"].id,
            quantity="temp_indoor_c",
            kind="instant",
            unit="degC",
            room_id=town["room"].id,
        )
        s.add_all([gas, temp])
        s.flush()
        t0 = 1_763_200_800  # 15/11/2025 11:00 Paris
        s.add_all(
            [
                Reading(channel_id=gas.id, ts=t0 - 3600, value=100.0),
                Reading(channel_id=gas.id, ts=t0, value=112.5),
                Reading(channel_id=temp.id, ts=t0 - 7200, value=19.5),
            ]
        )
        apply_templates(s, town["mairie"], today=TODAY)
        alarm = add_entry(
            s, u["gestionnaire"], "MAIRIE", "alarm", "Défaut brûleur 12", source="poller"
        )
        add_entry(s, u["gestionnaire"], "MAIRIE", "alarm", "Défaut ancien", status="done")
        obs = add_entry(s, u["agent"], "MAIRIE", "observation", "Fuite au plafond")
        add_attachment(s, u["agent"], obs, "plafond.png", PNG)

        rec = building_record(s, u["gestionnaire"], "MAIRIE", today=TODAY)
        assert rec["identity"]["name"] == "Hôtel de ville" and not rec["rooms_only"]
        assert [r["code"] for r in rec["rooms"]] == ["MAIRIE-CONSEIL"]
        # boiler room > boiler > burner
        (root,) = rec["equipment"]
        assert root["code"] == "MAIRIE-CHAUFFERIE"
        (boiler,) = root["children"]
        assert boiler["code"] == "MAIRIE-CHAUD-1" and boiler["installed_on"] == "01/09/2012"
        assert [c["code"] for c in boiler["children"]] == ["MAIRIE-BRULEUR-1"]
        chans = {c["code"]: c for c in rec["channels"]}
        assert chans["MAIRIE-GAZ"]["last_value"] == 112.5
        assert chans["MAIRIE-GAZ"]["last_at"] == "15/11/2025 11:00"
        assert chans["MAIRIE-CONSEIL-T"]["last_value"] == 19.5
        assert chans["MAIRIE-CONSEIL-T"]["room_code"] == "MAIRIE-CONSEIL"
        # never recorded done: « à renseigner », not overdue since the 2012 installation
        assert not any(o["overdue"] for o in rec["obligations"])
        to_fill = {o["template"] for o in rec["obligations"] if o["to_fill"]}
        assert to_fill >= {"boiler_maintenance", "chimney_sweeping"}
        assert [a["id"] for a in rec["open_alarms"]] == [alarm.id]
        top = rec["timeline"][0]
        assert top["id"] == obs.id and top["files"][0]["filename"] == "plafond.png"
        assert [d["filename"] for d in rec["documents"]] == ["plafond.png"]

        # the programmer: rooms only; another contract's contractor and finance: refused
        prog = building_record(s, u["programmation"], "MAIRIE", today=TODAY)
        assert prog["rooms_only"] and prog["rooms"] and not prog["timeline"]
        assert not prog["equipment"] and not prog["channels"] and not prog["obligations"]
        for login in ("exploitant2", "finances"):
            with pytest.raises(CarnetPermissionError):
                building_record(s, u[login], "MAIRIE", today=TODAY)
        assert building_record(s, u["exploitant"], "MAIRIE", today=TODAY)["timeline"]

        token = town["mairie"].qr_token  # drawn when the building was created
        assert len(token) >= 16 and token != town["ecole"].qr_token
        assert building_by_qr_token(s, token).code == "MAIRIE"
        assert building_by_qr_token(s, "faux") is None


def test_visible_buildings_by_role(engine):
    from carnet.buildings import visible_buildings

    with session_scope(engine) as s:
        town = make_town(s)
        u = town["users"]
        assert [b.code for b in visible_buildings(s, u["agent"])] == ["ECOLE", "MAIRIE"]
        assert [b.code for b in visible_buildings(s, u["exploitant"])] == ["MAIRIE"]
        assert [b.code for b in visible_buildings(s, u["exploitant2"])] == ["ECOLE"]
        assert visible_buildings(s, u["finances"]) == []
