"""Real browser: the poller (real Modbus server on loopback) raises an alarm on the contractor's
building; the contractor acknowledges it, opens a work order from it, closes the order with its
report, finds the intervention linked in the building's logbook, and closes the alarm; another
contract's contractor sees none of it."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import select

from carnet.db import session_scope
from carnet.models import Alarm, Attachment, Channel, Equipment, LogbookEntry, WorkOrder
from tests.helpers.alarm_site import PDF, Site
from tests.helpers.browser import password_of, sign_in, wait_for
from tests.helpers.carnet_web_seed import OTHER_PASSWORD, seed_carnet
from tests.helpers.modbus_sim import ThreadedServer

pytestmark = pytest.mark.browser


def test_contractor_acknowledges_and_answers_an_alarm_through_a_work_order(
    live_app, browser, tmp_path
):
    seed_carnet(live_app.engine)
    with session_scope(live_app.engine) as s:
        boiler = s.scalar(select(Equipment).where(Equipment.code == "MAIRIE-CHAUD-1"))
        s.add(
            Channel(
                code="DEF",
                building_id=boiler.building_id,
                equipment_id=boiler.id,
                quantity="fault_code",
                kind="instant",
                unit="code",
            )
        )
    site = Site()
    with ThreadedServer([site.boiler]) as server:
        site.poll(12, server)
    with session_scope(live_app.engine) as s:
        alarm_id = s.scalars(select(Alarm.id)).one()
    report = tmp_path / "rapport-depannage.pdf"
    report.write_bytes(PDF)

    # 1. the contractor acknowledges the alarm
    sign_in(browser, live_app.url, "exploitant", password_of("exploitant"))
    browser.get(live_app.page("/alarmes"))
    row = f'#al-table tr[data-alarm="{alarm_id}"]'
    assert "ignition failure" in wait_for(browser, row, timeout=15).text
    browser.find_element(By.CSS_SELECTOR, f"{row} button.al-ack").click()
    wait_for(browser, "#al-ok", text=f"n° {alarm_id} prise en compte")
    wait_for(browser, f"{row} .al-status", text="Prise en compte")

    # 2. a work order from it, then closed with the report
    browser.find_element(By.CSS_SELECTOR, f"{row} a.al-order").click()
    wait_for(browser, "#wo-origin", timeout=15, text=f"Alarme n° {alarm_id}")
    browser.find_element(By.ID, "wo-assignee").send_keys("J. Martin")
    browser.find_element(By.ID, "wo-create").click()
    wait_for(browser, "#wo-create-ok", timeout=15)
    with session_scope(live_app.engine) as s:
        wo = s.scalars(select(WorkOrder)).one()
        wo_id = wo.id
        assert (wo.alarm_id, wo.assignee, wo.created_by) == (alarm_id, "J. Martin", "exploitant")
    wait_for(browser, f'#wo-table tr[data-work-order="{wo_id}"]', text="J. Martin")
    wait_for(browser, "#wo-close-id", text=f"n° {wo_id}")  # the new order, ready to close
    browser.find_element(By.ID, "wo-close-report").send_keys("Électrode d'allumage remplacée.")
    browser.find_element(By.ID, "wo-close-cost").send_keys("312,40")
    browser.find_element(By.CSS_SELECTOR, "#wo-close-file input[type=file]").send_keys(str(report))
    wait_for(browser, "#wo-close-file-name", text="rapport-depannage.pdf")
    browser.find_element(By.ID, "wo-close-submit").click()
    wait_for(browser, "#wo-close-ok", timeout=15, text=f"n° {wo_id} clos")
    with session_scope(live_app.engine) as s:
        wo = s.get(WorkOrder, wo_id)
        entry = s.get(LogbookEntry, wo.intervention_entry_id)
        assert (wo.status, entry.kind, entry.cost_cents, entry.author_login) == (
            "done",
            "corrective",
            31240,
            "exploitant",
        )
        att = s.scalars(select(Attachment).where(Attachment.entry_id == entry.id)).one()
        assert att.filename == "rapport-depannage.pdf"
        alarm = s.get(Alarm, alarm_id)
        assert (alarm.status, alarm.intervention_entry_id) == ("answered", entry.id)
        entry_id = entry.id

    # 3. the building's logbook links the intervention to the alarm and to the order
    browser.get(live_app.page("/batiments/MAIRIE"))
    card = f'#bp-timeline article[data-entry="{entry_id}"]'
    wait_for(browser, f"{card} a.entry-alarm-id", timeout=15, text=f"Alarme n° {alarm_id}")
    link = browser.find_element(By.CSS_SELECTOR, f"{card} a.entry-work-order-id")
    assert link.get_attribute("href").endswith(f"/travaux?ordre={wo_id}")

    # 4. the contractor closes the alarm it fixed
    browser.find_element(By.CSS_SELECTOR, f"{card} a.entry-alarm-id").click()
    wait_for(browser, f"{row} .al-status", timeout=15, text="Intervention faite")
    browser.find_element(By.CSS_SELECTOR, f"{row} button.al-close").click()
    wait_for(browser, "#al-ok", text=f"n° {alarm_id} close")
    wait_for(browser, f"{row} .al-status", text="Close")
    with session_scope(live_app.engine) as s:
        alarm = s.get(Alarm, alarm_id)
        assert (alarm.status, alarm.closed_by) == ("closed", "exploitant")
        assert s.get(LogbookEntry, alarm.entry_id).status == "done"

    # 5. another contract's contractor sees none of it
    sign_in(browser, live_app.url, "exploitant2", OTHER_PASSWORD)
    browser.get(live_app.page(f"/alarmes?alarme={alarm_id}"))
    wait_for(browser, "#al-empty", timeout=15)
    browser.get(live_app.page(f"/travaux?ordre={wo_id}"))
    wait_for(browser, "#wo-empty", timeout=15)
