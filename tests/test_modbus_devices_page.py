"""`/equipements`: last contact and open alarms written by a real poll, scoped per role."""

from __future__ import annotations

import asyncio

import pytest
from selenium.webdriver.common.by import By

from ingest.modbus.config import parse_config
from ingest.modbus.poller import Poller
from tests.helpers.browser import http_session, password_of, sign_in, wait_for
from tests.helpers.modbus_sim import TIMEOUTS, FakeDevice, ThreadedServer
from tests.helpers.seed import TOWN, seed_town

pytestmark = pytest.mark.browser


def _poll_town(port: int) -> None:
    """MAIRIE (in the contractor's contract): one boiler in fault 12, one silent controller;
    ECOLE-PASTEUR (outside it): one boiler in fault 20."""
    cfg = parse_config({"gateways": [{
        "code": "GW-TEST", "host": "127.0.0.1", "port": port, **TIMEOUTS,
        "devices": [
            {"unit": 10, "map": "generic-boiler", "channels": {"outdoor_temp": "MAIRIE-T"}},
            {"unit": 11, "map": "generic-boiler", "channels": {"burner_starts": "PASTEUR-GAZ"}},
            {"unit": 12, "map": "generic-boiler", "channels": {"burner_starts": "MAIRIE-GAZ"}},
        ],
    }]}, "test")  # fmt: skip
    poller = Poller(cfg)

    async def once():
        try:
            await poller.poll_once()
        finally:
            poller.close()

    asyncio.run(once())


def test_devices_page_shows_last_contact_and_alarms_per_scope(live_app, browser):
    seed_town(live_app.engine)
    mairie, pasteur, silent = FakeDevice(10), FakeDevice(11), FakeDevice(12)
    mairie.set("holding", 20, [12])
    pasteur.set("holding", 20, [20])
    silent.mode = "silent"
    with ThreadedServer([mairie, pasteur, silent]) as server:
        _poll_town(server.port)

    sign_in(browser, live_app.url, "exploitant", password_of("exploitant"))
    browser.get(live_app.page("/equipements"))
    devices = wait_for(browser, "#devices-table", timeout=15)
    rows = devices.find_elements(By.CSS_SELECTOR, "tr.device-row")
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == ["10", "12"]
    mairie_name = next(b["name"] for b in TOWN["buildings"] if b["code"] == "MAIRIE")
    assert "en ligne" in rows[0].text and mairie_name in rows[0].text
    assert "muet (1 échec(s) de suite)" in rows[1].text and "pas de réponse" in rows[1].text
    alarms = wait_for(browser, "#alarms-table").text
    assert "ignition failure" in alarms and "sonde extérieure" not in alarms

    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/equipements"))
    devices = wait_for(browser, "#devices-table", timeout=15)
    assert len(devices.find_elements(By.CSS_SELECTOR, "tr.device-row")) == 3
    alarms = wait_for(browser, "#alarms-table").text
    assert "ignition failure" in alarms and "sonde extérieure" in alarms
    summary = wait_for(browser, "#devices-summary").text
    assert "3 équipement(s)" in summary and "2 alarme(s) ouverte(s)" in summary

    agent = http_session(live_app.url, "agent", password_of("agent"))
    assert agent.get(live_app.page("/equipements"), timeout=10).status_code == 403
