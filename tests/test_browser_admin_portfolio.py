"""Real browser, as the manager: each portfolio form of the administration (building, room,
equipment, channel, station, contract terms, a contract's building and its NB) refuses a wrong
value next to its field with the portfolio file's own words and writes nothing, then saves a
right one; the audit trail holds the before/after, and the obligations follow the equipment
(derived when a boiler is added, closed when it is removed)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import select

from carnet.db import session_scope
from carnet.models import (
    Building,
    Channel,
    Contract,
    ContractBuilding,
    Equipment,
    Obligation,
    Room,
    Station,
)
from tests.helpers import admin_forms as adm
from tests.helpers.browser import password_of, sign_in, wait_for
from tests.helpers.seed import seed_town

pytestmark = pytest.mark.browser


def _get(engine, model, code):
    with session_scope(engine) as s:
        obj = s.scalar(select(model).where(model.code == code))
        if obj is not None:
            s.expunge(obj)
        return obj


def _last(engine, entity, key):
    return adm.audits(engine, entity, key)[-1]


def test_buildings_rooms_and_equipment_with_their_obligations(live_app, browser):
    seed_town(live_app.engine)
    engine = live_app.engine
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))

    adm.open_tab(browser, live_app.url, "Bâtiments")
    adm.edit(browser, "MAIRIE")
    assert adm.control(browser, "code").get_attribute("disabled")  # the key stays
    adm.fill(browser, "heated_area_m2", "beaucoup")
    adm.fill(browser, "address", "")  # cleared: a form gives its item whole
    adm.save(browser, expect_ok=False)
    assert adm.error_of(browser, "heated_area_m2") == "nombre attendu, reçu 'beaucoup'"
    assert _get(engine, Building, "MAIRIE").heated_area_m2 == 1234.5
    adm.fill(browser, "heated_area_m2", "1 300,5")
    adm.fill(browser, "year_built", "1902")
    adm.save(browser)
    b = _get(engine, Building, "MAIRIE")
    assert (b.heated_area_m2, b.year_built, b.name) == (1300.5, 1902, "Hôtel de ville")
    event = _last(engine, "building", "MAIRIE")
    assert (event.action, event.actor) == ("update", "gestionnaire")
    assert event.before == {"heated_area_m2": 1234.5, "year_built": None}
    assert event.after == {"heated_area_m2": 1300.5, "year_built": 1902}

    adm.open_tab(browser, live_app.url, "Salles")
    adm.add(browser)
    adm.choose(browser, "_parent", "Bâtiment MAIRIE — Hôtel de ville")
    adm.fill(browser, "code", "MAIRIE-CONSEIL")
    adm.fill(browser, "name", "Salle du conseil")
    adm.fill(browser, "capacity", "40,5")
    adm.save(browser, expect_ok=False)
    assert adm.error_of(browser, "capacity") == "nombre entier attendu, reçu '40,5'"
    assert _get(engine, Room, "MAIRIE-CONSEIL") is None
    adm.fill(browser, "capacity", "40")
    adm.choose(browser, "bookable", "Oui")
    adm.save(browser)
    room = _get(engine, Room, "MAIRIE-CONSEIL")
    assert (room.capacity, room.bookable, room.building_id) == (40, True, b.id)
    event = _last(engine, "room", "MAIRIE-CONSEIL")
    assert (event.action, event.before) == ("create", None)
    assert event.after["capacity"] == 40 and event.after["name"] == "Salle du conseil"

    adm.open_tab(browser, live_app.url, "Équipements")
    adm.add(browser)
    adm.choose(browser, "_parent", "Bâtiment MAIRIE — Hôtel de ville")
    adm.fill(browser, "code", "MAIRIE-CHAUD-1")
    adm.choose(browser, "kind", "Chaudière")
    adm.fill(browser, "power_kw", "120")
    adm.fill(browser, "fuel", "gaz")
    adm.fill(browser, "installed_on", "31/02/2020")
    adm.save(browser, expect_ok=False)
    assert "date (AAAA-MM-JJ ou JJ/MM/AAAA) attendu" in adm.error_of(browser, "installed_on")
    adm.fill(browser, "installed_on", "01/09/2020")
    adm.save(browser)
    eq = _get(engine, Equipment, "MAIRIE-CHAUD-1")
    assert (eq.kind, eq.power_kw, eq.installed_on) == ("boiler", 120.0, dt.date(2020, 9, 1))
    with session_scope(engine) as s:
        derived = s.scalars(select(Obligation).where(Obligation.equipment_id == eq.id)).all()
        assert derived and all(ob.active for ob in derived)  # the boiler's duties, at once
        derived_ids = {ob.id for ob in derived}

    adm.edit(browser, "MAIRIE-CHAUD-1")
    adm.fill(browser, "removed_on", "01/10/2025")
    adm.save(browser)
    event = _last(engine, "equipment", "MAIRIE-CHAUD-1")
    assert (event.before, event.after) == ({"removed_on": None}, {"removed_on": "2025-10-01"})
    with session_scope(engine) as s:
        closed = s.scalars(select(Obligation).where(Obligation.id.in_(derived_ids))).all()
        assert not any(ob.active for ob in closed)
        assert all("retiré le 01/10/2025" in ob.notes for ob in closed)


def test_channels_and_stations(live_app, browser):
    seed_town(live_app.engine)
    engine = live_app.engine
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))

    adm.open_tab(browser, live_app.url, "Points de mesure")
    adm.add(browser)
    adm.choose(browser, "_parent", "Bâtiment MAIRIE — Hôtel de ville")
    adm.fill(browser, "code", "MAIRIE-ELEC")
    adm.choose(browser, "quantity", "Énergie")
    adm.choose(browser, "kind", "index")
    adm.choose(browser, "unit", "kWh")
    adm.fill(browser, "modulus", "dix")
    adm.save(browser, expect_ok=False)
    assert adm.error_of(browser, "modulus") == "nombre attendu, reçu 'dix'"
    adm.fill(browser, "modulus", "1000000")
    adm.fill(browser, "external_ref", "PRM 3000 1234 5678 90")
    adm.save(browser)
    ch = _get(engine, Channel, "MAIRIE-ELEC")
    assert (ch.quantity, ch.kind, ch.unit, ch.modulus) == ("energy_kwh", "index", "kWh", 1e6)
    event = _last(engine, "channel", "MAIRIE-ELEC")
    assert event.action == "create" and event.after["external_ref"] == "PRM 3000 1234 5678 90"

    adm.open_tab(browser, live_app.url, "Stations météo")
    adm.edit(browser, "LILLE-LESQUIN")
    adm.fill(browser, "latitude", "nord")
    adm.save(browser, expect_ok=False)
    assert adm.error_of(browser, "latitude") == "nombre attendu, reçu 'nord'"
    adm.fill(browser, "latitude", "50,57")
    adm.save(browser)
    assert _get(engine, Station, "LILLE-LESQUIN").latitude == 50.57
    event = _last(engine, "station", "LILLE-LESQUIN")
    assert (event.before, event.after) == ({"latitude": None}, {"latitude": 50.57})


def test_contract_terms_and_a_buildings_nb(live_app, browser):
    seed_town(live_app.engine)
    engine = live_app.engine
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))

    adm.open_tab(browser, live_app.url, "Contrats")
    adm.edit(browser, "TEST-CONTRAT")
    assert adm.control(browser, "price_eur_per_mwh_pci").get_attribute("value") == "92,5"
    adm.fill(browser, "price_eur_per_mwh_pci", "95,25")
    adm.fill(browser, "season.start", "13-40")
    adm.save(browser, expect_ok=False)
    assert "jour de l'année MM-JJ" in adm.error_of(browser, "season.start")
    assert _get(engine, Contract, "TEST-CONTRAT").price_eur_per_mwh_pci == Decimal("92.5")
    adm.fill(browser, "season.start", "10-15")
    adm.fill(browser, "sharing.savings_share_contractor", "0,6")
    adm.fill(browser, "sharing.franchise_pct", "2")
    adm.fill(
        browser,
        "terms",
        "p1_revision:\n  fixed: 0.1\n  terms: [{index: PEG, weight: 0.9, base: 33.3}]",
    )
    adm.save(browser)
    c = _get(engine, Contract, "TEST-CONTRAT")
    assert (c.price_eur_per_mwh_pci, c.season_start, c.season_end) == (
        Decimal("95.25"), "10-15", "05-20")  # fmt: skip
    assert (c.savings_share_contractor, c.franchise_pct) == (0.6, 2.0)
    assert c.terms["p1_revision"]["terms"] == [{"index": "PEG", "weight": 0.9, "base": 33.3}]
    event = _last(engine, "contract", "TEST-CONTRAT")
    assert Decimal(event.before["price_eur_per_mwh_pci"]) == Decimal("92.5")
    assert Decimal(event.after["price_eur_per_mwh_pci"]) == Decimal("95.25")
    assert (event.before["season_start"], event.after["season_start"]) == ("10-01", "10-15")

    adm.open_tab(browser, live_app.url, "Contrats : bâtiments (NB)")
    adm.edit(browser, "MAIRIE")
    adm.fill(browser, "nb_mwh_pci", "")
    adm.save(browser, expect_ok=False)
    assert adm.error_of(browser, "nb_mwh_pci") == "clé obligatoire absente"
    adm.fill(browser, "nb_mwh_pci", "295,5")
    adm.save(browser)
    with session_scope(engine) as s:
        link = s.scalar(select(ContractBuilding).where(ContractBuilding.contract_id == c.id))
        assert link.nb_mwh_pci == 295.5
    (event,) = [
        e for e in adm.audits(engine, "contract_building", f"{c.id},{b_id(engine)}")
        if e.action == "update"
    ]  # fmt: skip
    assert (event.before, event.after) == ({"nb_mwh_pci": 310.0}, {"nb_mwh_pci": 295.5})
    wait_for(browser, "#adm-row-MAIRIE")
    assert "295,5" in browser.find_element(By.ID, "adm-row-MAIRIE").text


def b_id(engine) -> int:
    return _get(engine, Building, "MAIRIE").id


def test_modbus_gateways_and_their_points(live_app, browser):
    from carnet.models import ModbusDevice, ModbusGateway

    seed_town(live_app.engine)
    engine = live_app.engine
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))

    adm.open_tab(browser, live_app.url, "Passerelles Modbus")
    adm.add(browser)
    adm.fill(browser, "code", "GW-MAIRIE")
    adm.fill(browser, "host", "10.0.12.7")
    adm.fill(browser, "port", "502")
    adm.fill(browser, "timeout_s", "une seconde")
    adm.save(browser, expect_ok=False)
    assert adm.error_of(browser, "timeout_s") == "nombre attendu, reçu 'une seconde'"
    adm.fill(browser, "timeout_s", "1,5")
    adm.choose(browser, "framer", "socket")
    adm.save(browser)
    gw = _get(engine, ModbusGateway, "GW-MAIRIE")
    assert (gw.host, gw.port, gw.timeout_s, gw.framer) == ("10.0.12.7", "502", 1.5, "socket")
    assert _last(engine, "gateway", "GW-MAIRIE").action == "create"

    adm.open_tab(browser, live_app.url, "Équipements Modbus")
    adm.add(browser)
    adm.choose(browser, "_parent", "Passerelle GW-MAIRIE")
    adm.fill(browser, "unit", "10")
    adm.fill(browser, "map", "generic-boiler")
    adm.fill(browser, "channels", "outdoor_tmp: MAIRIE-T")  # the poller's check: no such point
    adm.save(browser, expect_ok=False)
    assert "point inconnu de la table generic-boiler" in adm.error_of(browser, "channels")
    adm.fill(browser, "channels", "outdoor_temp: MAIRIE-TX")  # the file's check: no channel
    adm.save(browser, expect_ok=False)
    expected = "channels.outdoor_temp : point de mesure « MAIRIE-TX » inconnu(e)"
    assert adm.error_of(browser, "channels", becomes="MAIRIE-TX") == expected
    adm.fill(browser, "channels", "outdoor_temp: MAIRIE-T")
    adm.save(browser)
    with session_scope(engine) as s:
        (device,) = s.scalars(select(ModbusDevice)).all()
        assert (device.unit, device.map, device.channels) == (
            10, "generic-boiler", {"outdoor_temp": "MAIRIE-T"})  # fmt: skip
    event = _last(engine, "modbus_device", f"{gw.id},10")
    assert (event.action, event.after["channels"]) == ("create", {"outdoor_temp": "MAIRIE-T"})
    wait_for(browser, "#adm-row-10")


def test_removing_equipment_closes_its_obligations_and_a_building_in_use_stays(live_app, browser):
    seed_town(live_app.engine)
    engine = live_app.engine
    with session_scope(engine) as s:
        from carnet.portfolio import load_portfolio

        load_portfolio(s, {"buildings": [{"code": "GYMNASE", "name": "Gymnase Jean Jaurès",
                                          "equipment": [{"code": "GYM-CHAUD", "kind": "boiler",
                                                         "power_kw": 90, "fuel": "gaz"}]}]},
                       actor="test")  # fmt: skip
        eq_id = s.scalar(select(Equipment.id).where(Equipment.code == "GYM-CHAUD"))
        ob_ids = s.scalars(select(Obligation.id).where(Obligation.equipment_id == eq_id)).all()
    assert ob_ids
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    adm.open_tab(browser, live_app.url, "Équipements")
    adm.edit(browser, "GYM-CHAUD")
    adm.click(browser, browser.find_element(By.ID, "adm-remove"))
    wait_for(browser, "#adm-removed", timeout=15, text="« GYM-CHAUD » supprimé(e)")
    assert _get(engine, Equipment, "GYM-CHAUD") is None
    with session_scope(engine) as s:
        kept = s.scalars(select(Obligation).where(Obligation.id.in_(ob_ids))).all()
        assert len(kept) == len(ob_ids)  # their history stays, closed, without the equipment
        assert all(not ob.active and ob.equipment_id is None for ob in kept)
    event = _last(engine, "equipment", "GYM-CHAUD")
    assert (event.action, event.after, event.before["kind"]) == ("delete", None, "boiler")

    adm.open_tab(browser, live_app.url, "Bâtiments")
    adm.edit(browser, "MAIRIE")  # its channels hold readings
    adm.click(browser, browser.find_element(By.ID, "adm-remove"))
    assert "encore référencé" in wait_for(browser, "#adm-remove-problem", timeout=15).text
    assert _get(engine, Building, "MAIRIE") is not None
