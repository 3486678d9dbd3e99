"""Real headless Chromium: the programmer books a room with a heating note, the contractor sees
it in its heating schedule, highlighted as new since its previous look."""

from __future__ import annotations

import datetime as dt
import os
import re
from zoneinfo import ZoneInfo

import pytest
import requests
from selenium.webdriver.common.by import By
from sqlalchemy import select

from carnet import bookings as bk
from carnet.db import session_scope
from carnet.models import Booking, Building, Contract, ContractBuilding, Room
from tests.helpers.browser import CONTRACT_CODE, password_of, sign_in, wait_for

pytestmark = pytest.mark.browser
PARIS = ZoneInfo("Europe/Paris")


def screenshot(browser, name: str) -> None:
    folder = os.environ.get("CARNET_SCREENSHOT_DIR")
    if folder:
        browser.save_screenshot(os.path.join(folder, name))


def click(browser, css: str) -> None:
    """Scroll the element clear of the sticky top bar, then click it."""
    element = browser.find_element(By.CSS_SELECTOR, css)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def _seed(engine) -> dict:
    today = dt.datetime.now(PARIS).date()
    with session_scope(engine) as s:
        contract = s.scalar(select(Contract).where(Contract.code == CONTRACT_CODE))
        salle = Building(code="SDF", name="Salle des fêtes")
        s.add(salle)
        s.flush()
        s.add(ContractBuilding(contract_id=contract.id, building_id=salle.id, nb_mwh_pci=100,
                               dju_ref=2500))  # fmt: skip
        s.add(Room(building_id=salle.id, code="SDF-GRANDE", name="Grande salle", bookable=True,
                   heating_zone="Z-NORD"))  # fmt: skip
        s.flush()
        old = bk.create_booking(
            s,
            bk.Actor("programmation", "programmer"),
            "SDF-GRANDE",
            "Répétition ancienne",
            dt.datetime.combine(today + dt.timedelta(days=2), dt.time(9), tzinfo=PARIS),
            dt.datetime.combine(today + dt.timedelta(days=2), dt.time(11), tzinfo=PARIS),
            setpoint_c=17,
        )
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        old.created_at = old.updated_at = long_ago
        return {"old": old.id, "today": today}


def test_programmer_books_contractor_sees_it_as_new(live_app, browser):
    seeded = _seed(live_app.engine)
    day = seeded["today"] + dt.timedelta(days=2)

    # the contractor looks at its schedule once: the old booking is there
    sign_in(browser, live_app.url, "exploitant", password_of("exploitant"))
    browser.get(live_app.page("/planning-chauffage"))
    wait_for(browser, "#schedule-table", timeout=15)
    assert "Répétition ancienne" in browser.find_element(By.ID, "schedule-table").text

    # the programmer books the room with a heating note
    sign_in(browser, live_app.url, "programmation", password_of("programmation"))
    browser.get(live_app.page("/reservations"))
    wait_for(browser, "#res-week", timeout=15)
    browser.find_element(By.ID, "res-f-title").send_keys("Concert de Noël")
    browser.find_element(By.ID, "res-f-start").send_keys(f"{day:%d/%m/%Y} 20:00")
    browser.find_element(By.ID, "res-f-end").send_keys(f"{day:%d/%m/%Y} 23:00")
    browser.find_element(By.ID, "res-f-setpoint").send_keys("19")
    browser.find_element(By.ID, "res-f-preheat").send_keys("90")
    browser.find_element(By.ID, "res-f-note").send_keys("portes à 19:30, salle à 19 °C")
    click(browser, "#res-save")
    ok = wait_for(browser, "#res-ok", timeout=15)
    assert "Concert de Noël" in ok.text and f"{day:%d/%m/%Y} 20:00" in ok.text
    with session_scope(live_app.engine) as s:
        new = s.scalar(select(Booking).where(Booking.title == "Concert de Noël"))
        assert new.setpoint_c == 19 and new.preheat_min == 90
        assert new.heating_note == "portes à 19:30, salle à 19 °C"
        assert new.created_by == "programmation"
        new_id = new.id

    # the calendar shows it in its week, with the heating note
    def monday(d):
        return d - dt.timedelta(days=d.weekday())

    if monday(day) != monday(seeded["today"]):
        click(browser, "#res-next")
    chip = wait_for(browser, f"[data-booking='{new_id}']", timeout=15)
    assert "20:00–23:00" in chip.text and "19 °C" in chip.text and "90 min" in chip.text
    screenshot(browser, "reservations.png")
    # the month view of the building shows it on its day, with the room's code
    click(browser, "#res-view input[value='month']")
    cell = wait_for(browser, f"#res-month td[data-day='{day.isoformat()}']", timeout=15)
    wait_for(browser, f"#res-month [data-booking='{new_id}']", timeout=15)
    assert "SDF-GRANDE · Concert de Noël" in cell.text
    screenshot(browser, "reservations-mois.png")
    click(browser, "#res-view input[value='week']")
    wait_for(browser, "#res-week", timeout=15)

    # an overlapping booking is refused, naming the concert
    click(browser, "#res-new")
    title = browser.find_element(By.ID, "res-f-title")
    wait_for(browser, "#res-form-title", text="Nouvelle réservation")
    title.send_keys("Bal")
    browser.find_element(By.ID, "res-f-start").send_keys(f"{day:%d/%m/%Y} 22:00")
    browser.find_element(By.ID, "res-f-end").send_keys(f"{day:%d/%m/%Y} 23:30")
    click(browser, "#res-save")
    conflict = wait_for(browser, "#res-conflict", timeout=15)
    assert "Concert de Noël" in conflict.text and f"{day:%d/%m/%Y} 20:00" in conflict.text

    # the contractor comes back: the concert is highlighted as new, the old booking is not
    sign_in(browser, live_app.url, "exploitant", password_of("exploitant"))
    browser.get(live_app.page("/planning-chauffage"))
    row = wait_for(browser, f"#schedule-table tr[data-booking='{new_id}']", timeout=15)
    assert "change-new" in row.get_attribute("class")
    assert "nouveau" in row.text
    heat_from = dt.datetime.combine(day, dt.time(18, 30))  # 20:00 - 90 min
    assert f"{heat_from:%d/%m/%Y %H:%M}" in row.text
    assert "19 °C" in row.get_attribute("textContent").replace("\u00a0", " ")
    assert "portes à 19:30" in row.text
    old_row = browser.find_element(By.CSS_SELECTOR, f"tr[data-booking='{seeded['old']}']")
    assert "change-" not in (old_row.get_attribute("class") or "")
    assert "1 changement(s)" in browser.find_element(By.ID, "schedule-since").text
    screenshot(browser, "planning-chauffage.png")

    # the contractor cannot book: the page is read-only and the save callback refuses
    browser.get(live_app.page("/reservations"))
    wait_for(browser, "#res-week", timeout=15)
    assert not browser.find_element(By.ID, "res-form").is_displayed()

    # the manager opens a feed for the contract from the same page, and sees the comfort page
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/planning-chauffage"))
    wait_for(browser, "#schedule-table", timeout=15)
    click(browser, "#ical-feeds button")
    wait_for(browser, "#feed-ok", timeout=15)
    url = wait_for(browser, f"#feed-contract-{CONTRACT_CODE}", timeout=15).text
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/ical/[A-Za-z0-9_-]+\.ics", url)
    feed = requests.get(url, timeout=10)  # no sign-in: the token is the access right
    assert feed.status_code == 200 and "Concert de Noël" in feed.text
    screenshot(browser, "planning-chauffage-gestionnaire.png")
    browser.get(live_app.page("/confort"))
    wait_for(browser, "#comfort-body h2", timeout=15)
    screenshot(browser, "confort.png")
