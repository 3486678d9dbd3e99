"""Real headless Chromium, as the culture programmer: the bookings page on a phone (390x844: the
week as a day list, the list view, nothing wider than the screen, touch-sized controls) and on a
wide screen (the grid), the form's rooms following the calendar's building, cancellations shown
only when they apply, outlined and confirmed, and an empty form after a save."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.color import Color
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import func, select

from carnet import bookings as bk
from carnet.db import session_scope
from carnet.models import Booking
from tests.helpers.booking_town import PROGRAMMER, make_town
from tests.helpers.browser import password_of, sign_in, wait_for

pytestmark = pytest.mark.browser
PARIS = ZoneInfo("Europe/Paris")
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
LONG_TITLE = "Assemblée générale de l'association des parents d'élèves de l'école Pasteur"
LONG_NOTE = "portes ouvertes à 17:30, chauffer la grande salle et le hall d'entrée dès 16:00"
SAVE_BLUE = Color.from_string("rgb(29, 92, 122)")  # --brand
ERROR_RED = Color.from_string("rgb(180, 35, 24)")  # --error


def _seed(engine) -> dict:
    """The booking town; today (always in the week shown first): a long booking in the great
    hall, a weekly series in the small one, a fair in the school's hall."""
    today = dt.datetime.now(PARIS).date()

    def at(day: dt.date, hour: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour), tzinfo=PARIS)

    with session_scope(engine) as s:
        make_town(s)
        gala = bk.create_booking(s, PROGRAMMER, "SDF-GRANDE", LONG_TITLE, at(today, 18),
                                 at(today, 21), setpoint_c=19, preheat_min=90,
                                 heating_note=LONG_NOTE)  # fmt: skip
        series = bk.create_series(s, PROGRAMMER, "SDF-PETITE", "Chorale", at(today, 20),
                                  at(today, 22), today + dt.timedelta(days=14))  # fmt: skip
        bk.create_booking(s, PROGRAMMER, "ECOLE-PREAU", "Kermesse", at(today, 14), at(today, 17))
        return {"today": today, "gala": gala.id, "chorale": series.created[0].id}


def click(browser, css: str) -> None:
    """Scroll the element clear of the sticky top bar, then click it."""
    element = wait_for(browser, css, timeout=15)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def choose(browser, dropdown: str, value: str) -> None:
    """Open a dropdown and click the option of `value`, as a person does."""
    click(browser, f"#{dropdown}")
    option = wait_for(browser, ".dash-dropdown-options", timeout=10).find_element(
        By.XPATH, f".//input[@value='{value}']/ancestor::label"
    )
    option.click()
    close_dropdown(browser)


def close_dropdown(browser) -> None:
    """Close an open dropdown with Escape (a click on the option already chosen leaves it
    open) and wait until its list is gone."""
    if browser.find_elements(By.CSS_SELECTOR, ".dash-dropdown-options"):
        ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    WebDriverWait(browser, 10).until_not(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".dash-dropdown-options"))
    )


def offered_rooms(browser) -> set[str]:
    """The rooms the form's dropdown offers (opened, read, closed)."""
    click(browser, "#res-f-room")
    listbox = wait_for(browser, ".dash-dropdown-options", timeout=10)
    values = {i.get_attribute("value") for i in listbox.find_elements(By.TAG_NAME, "input")}
    close_dropdown(browser)
    return values


def color(element, prop: str) -> Color:
    return Color.from_string(element.value_of_css_property(prop))


def overflow(browser) -> dict:
    """How wide the page is against the screen, and every visible element reaching past its
    right edge or scrolling sideways inside itself."""
    return browser.execute_script(
        """
        const width = window.innerWidth;
        const out = [];
        for (const e of document.querySelectorAll('body *')) {
          const r = e.getBoundingClientRect();
          if (!r.width || !r.height) continue;
          const name = e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className;
          if (r.right > width + 1 || r.left < -1) out.push(name + ' ' + Math.round(r.right));
          const style = getComputedStyle(e);
          if (['auto', 'scroll'].includes(style.overflowX) && e.scrollWidth > e.clientWidth + 1)
            out.push(name + ' scrolls ' + e.scrollWidth + '>' + e.clientWidth);
        }
        return {width: width, scroll: document.documentElement.scrollWidth,
                offenders: out.slice(0, 20)};
        """
    )


def small_targets(browser, css: str) -> list[str]:
    """The visible controls matching `css` smaller than a 44x44 px touch target."""
    return browser.execute_script(
        """
        return [...document.querySelectorAll(arguments[0])].filter(e => {
          const r = e.getBoundingClientRect();
          return r.width && r.height && (r.width < 44 || r.height < 44);
        }).map(e => e.outerHTML.slice(0, 80) + ' ' + Math.round(e.getBoundingClientRect().width)
              + 'x' + Math.round(e.getBoundingClientRect().height));
        """,
        css,
    )


def assert_fits(browser) -> None:
    seen = overflow(browser)
    assert seen["width"] == 390
    assert seen["scroll"] <= seen["width"] + 1, seen
    assert seen["offenders"] == [], seen


TOUCH = (
    "#res-view label, .res-filters .btn, #res-days .cal-booking, #res-days .cal-slot, "
    "#res-form .form-actions .btn, #res-list .res-list-open"
)


def test_phone_day_list_and_list_view_fit_the_screen(live_app, browser):
    seeded = _seed(live_app.engine)
    today = seeded["today"]
    sign_in(browser, live_app.url, "programmation", password_of("programmation"))
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        browser.get(live_app.page("/reservations"))
        choose(browser, "res-building", "SDF")
        wait_for(browser, "#res-days", timeout=15)
        day = wait_for(browser, f"#res-days [data-day='{today.isoformat()}'] .cal-booking")
        # the week as one block per day; the grid is not drawn on a phone
        assert not browser.find_element(By.ID, "res-week").is_displayed()
        blocks = browser.find_elements(By.CSS_SELECTOR, "#res-days .cal-daylist-day")
        assert len(blocks) == 7
        today_block = browser.find_element(
            By.CSS_SELECTOR, f"#res-days [data-day='{today.isoformat()}']"
        )
        assert f"{today:%d/%m/%Y}" in today_block.text
        gala = today_block.find_element(By.CSS_SELECTOR, f"[data-booking='{seeded['gala']}']")
        text = gala.text.replace("\u00a0", " ")
        assert "18:00–21:00" in text and "Grande salle · " + LONG_TITLE in text
        assert "19 °C · préchauffage 90 min" in text and LONG_NOTE in text
        chorale = today_block.find_element(By.CSS_SELECTOR, f"[data-booking='{seeded['chorale']}']")
        assert "20:00–22:00" in chorale.text and "Petite salle · Chorale" in chorale.text
        assert day.is_displayed()
        assert_fits(browser)
        assert small_targets(browser, TOUCH) == []

        # the list view: every booking to come, its cells labelled, still within the screen
        click(browser, "#res-view input[value='list']")
        row = wait_for(browser, f"#res-list tr[data-booking='{seeded['gala']}']", timeout=15)
        cells = {
            c.get_attribute("data-label"): c.text for c in row.find_elements(By.TAG_NAME, "td")
        }
        assert cells["Date"].endswith(f"{today:%d/%m/%Y}")
        assert cells["Heure"].endswith("18:00–21:00")
        assert cells["Bâtiment"].endswith("Salle des fêtes")
        assert cells["Salle"].endswith("Grande salle")
        assert LONG_TITLE in cells["Titre"] and LONG_NOTE in cells["Note de chauffage"]
        assert cells["Statut"].endswith("confirmée")
        chorales = browser.find_elements(
            By.XPATH, "//*[@id='res-list']//tr[contains(., 'Chorale')]"
        )
        assert len(chorales) == 3  # the series, weekly, over the four weeks listed
        assert_fits(browser)
        assert small_targets(browser, TOUCH) == []

        # the month, on a phone: the days that have bookings, as a list too
        click(browser, "#res-view input[value='month']")
        month_day = wait_for(browser, f"#res-days [data-day='{today.isoformat()}']", timeout=15)
        assert not browser.find_element(By.ID, "res-month").is_displayed()
        assert "Chorale" in month_day.text and LONG_TITLE in month_day.text
        assert_fits(browser)
        click(browser, "#res-view input[value='list']")
        wait_for(browser, f"#res-list tr[data-booking='{seeded['gala']}']", timeout=15)

        # a booking opened from the list on the phone fills the form, which fits too
        click(browser, f"#res-list tr[data-booking='{seeded['gala']}'] .res-list-open")
        wait_for(browser, "#res-form-title", text=f"Réservation n° {seeded['gala']}")
        assert browser.find_element(By.ID, "res-f-title").get_attribute("value") == LONG_TITLE
        wait_for(browser, "#res-cancel")
        assert_fits(browser)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    # a wide screen: the grid, no day list; the list view has its table head
    browser.get(live_app.page("/reservations"))
    choose(browser, "res-building", "SDF")
    wait_for(browser, "#res-week tr[data-room='SDF-GRANDE']", timeout=15)
    wait_for(browser, f"#res-week [data-booking='{seeded['gala']}']", timeout=15)
    assert not browser.find_element(By.ID, "res-days").is_displayed()
    click(browser, "#res-view input[value='list']")
    head = wait_for(browser, "#res-list thead", timeout=15)
    assert [th.text for th in head.find_elements(By.TAG_NAME, "th")] == [
        "Date", "Heure", "Bâtiment", "Salle", "Titre", "Note de chauffage", "Statut",
    ]  # fmt: skip


def test_form_follows_the_calendar_and_cancels_only_when_confirmed(live_app, browser):
    seeded = _seed(live_app.engine)
    today = seeded["today"]
    sign_in(browser, live_app.url, "programmation", password_of("programmation"))
    browser.get(live_app.page("/reservations"))
    choose(browser, "res-building", "SDF")
    wait_for(browser, "#res-week tr[data-room='SDF-PETITE']", timeout=15)
    wait_for(browser, "#res-f-room-value", text="Choisissez une salle")

    # the form offers the rooms of the calendar's building only
    assert offered_rooms(browser) == {"SDF-GRANDE", "SDF-PETITE"}
    # a free slot of the grid preselects its room and day
    click(browser, f"#res-week button.cal-slot[title='Réserver Grande salle le {today:%d/%m/%Y}']")
    wait_for(browser, "#res-f-room-value", text="Salle des fêtes – Grande salle", timeout=15)
    start = browser.find_element(By.ID, "res-f-start").get_attribute("value")
    assert start.strip() == f"{today:%d/%m/%Y}"
    # a room chosen in the calendar's filter is preselected in the form
    choose(browser, "res-room", "SDF-PETITE")
    wait_for(browser, "#res-f-room-value", text="Salle des fêtes – Petite salle", timeout=15)
    # another building: its rooms only (the school has one: preselected)
    choose(browser, "res-building", "ECOLE")
    wait_for(browser, "#res-f-room-value", text="École – Préau", timeout=15)
    assert offered_rooms(browser) == {"ECOLE-PREAU"}
    # back to the hall: the school's room is not in it, so it is cleared
    choose(browser, "res-building", "SDF")
    wait_for(browser, "#res-f-room-value", text="Choisissez une salle", timeout=15)
    # a room picked in the grid's first column is preselected
    click(browser, "#res-week tr[data-room='SDF-PETITE'] .cal-pick")
    wait_for(browser, "#res-f-room-value", text="Salle des fêtes – Petite salle", timeout=15)

    # a new booking shows no cancellation
    assert browser.find_element(By.ID, "res-form-title").text == "Nouvelle réservation"
    assert not browser.find_element(By.ID, "res-cancel").is_displayed()
    assert not browser.find_element(By.ID, "res-cancel-series").is_displayed()

    # a single booking: cancel it, but not the series it is not in; outlined, not filled
    click(browser, f"#res-week [data-booking='{seeded['gala']}']")
    wait_for(browser, "#res-form-title", text=f"Réservation n° {seeded['gala']}", timeout=15)
    cancel = wait_for(browser, "#res-cancel", timeout=15)
    assert not browser.find_element(By.ID, "res-cancel-series").is_displayed()
    save = browser.find_element(By.ID, "res-save")
    assert color(save, "background-color") == SAVE_BLUE
    assert color(cancel, "background-color").alpha == "0"  # outlined: no fill
    assert color(cancel, "color") == ERROR_RED
    assert color(cancel, "border-top-color") == ERROR_RED

    # a booking of a series: both, the series asks first and does nothing when refused
    click(browser, f"#res-week [data-booking='{seeded['chorale']}']")
    wait_for(browser, "#res-form-title", text="(série n°", timeout=15)
    click(browser, "#res-cancel-series")
    question = WebDriverWait(browser, 10).until(ec.alert_is_present())
    assert "Chorale" in question.text and f"{today:%d/%m/%Y}" in question.text
    assert "toutes les suivantes" in question.text
    question.dismiss()
    assert browser.find_element(By.ID, "res-cancel").is_displayed()

    # cancelling the single booking: asked, accepted, done
    click(browser, f"#res-week [data-booking='{seeded['gala']}']")
    wait_for(browser, "#res-form-title", text=f"Réservation n° {seeded['gala']}", timeout=15)
    click(browser, "#res-cancel")
    question = WebDriverWait(browser, 10).until(ec.alert_is_present())
    assert LONG_TITLE in question.text
    question.accept()
    wait_for(browser, "#res-ok", text="annulée", timeout=15)
    with session_scope(live_app.engine) as s:
        assert s.get(Booking, seeded["gala"]).status == "cancelled"
        chorale = s.scalars(select(Booking.status).where(Booking.title == "Chorale")).all()
        assert chorale == ["confirmed"] * 3  # the refused question cancelled nothing
    # the form is empty again, without cancellations
    wait_for(browser, "#res-form-title", text="Nouvelle réservation")
    assert not browser.find_element(By.ID, "res-cancel").is_displayed()

    # the series, confirmed this time
    click(browser, f"#res-week [data-booking='{seeded['chorale']}']")
    wait_for(browser, "#res-cancel-series", timeout=15)
    click(browser, "#res-cancel-series")
    WebDriverWait(browser, 10).until(ec.alert_is_present()).accept()
    wait_for(browser, "#res-ok", text="3 occurrence(s) annulée(s)", timeout=15)
    with session_scope(live_app.engine) as s:
        chorale = s.scalars(select(Booking.status).where(Booking.title == "Chorale")).all()
        assert chorale == ["cancelled"] * 3


def test_the_form_is_empty_after_a_save_and_a_second_click_books_nothing(live_app, browser):
    seeded = _seed(live_app.engine)
    day = seeded["today"] + dt.timedelta(days=1)
    sign_in(browser, live_app.url, "programmation", password_of("programmation"))
    browser.get(live_app.page("/reservations"))
    choose(browser, "res-building", "ECOLE")
    wait_for(browser, "#res-f-room-value", text="École – Préau", timeout=15)
    title = browser.find_element(By.ID, "res-f-title")
    title.send_keys("Loto")
    browser.find_element(By.ID, "res-f-start").send_keys(f"{day:%d/%m/%Y}")
    browser.find_element(By.ID, "res-f-end").send_keys(f"{day:%d/%m/%Y} 23:00")
    click(browser, "#res-save")
    # a day without its hour would silently mean midnight: refused, the form kept as typed
    error = wait_for(browser, "#res-error", timeout=15)
    assert "avec l'heure" in error.text
    assert title.get_attribute("value") == "Loto"
    browser.find_element(By.ID, "res-f-start").send_keys(" 19:00")
    browser.find_element(By.ID, "res-f-setpoint").send_keys("18")
    browser.find_element(By.ID, "res-f-note").send_keys("tables dans le préau")
    click(browser, "#res-save")
    ok = wait_for(browser, "#res-ok", timeout=15)
    assert "Loto" in ok.text and f"{day:%d/%m/%Y} 19:00" in ok.text
    for field in ("res-f-title", "res-f-start", "res-f-end", "res-f-setpoint", "res-f-note"):
        assert browser.find_element(By.ID, field).get_attribute("value") == "", field
    assert browser.find_element(By.ID, "res-form-title").text == "Nouvelle réservation"
    # a second click creates no duplicate: the empty form is refused
    click(browser, "#res-save")
    wait_for(browser, "#res-error", timeout=15)
    with session_scope(live_app.engine) as s:
        assert s.scalar(select(func.count(Booking.id)).where(Booking.title == "Loto")) == 1

    # editing then saving empties the form too
    with session_scope(live_app.engine) as s:
        loto_id = s.scalar(select(Booking.id).where(Booking.title == "Loto"))
    if day.isocalendar()[:2] != seeded["today"].isocalendar()[:2]:
        click(browser, "#res-next")
    click(browser, f"#res-week [data-booking='{loto_id}']")
    wait_for(browser, "#res-form-title", text=f"Réservation n° {loto_id}", timeout=15)
    browser.find_element(By.ID, "res-f-title").send_keys(" de Noël")
    click(browser, "#res-save")
    wait_for(browser, "#res-ok", text="Loto de Noël", timeout=15)
    wait_for(browser, "#res-form-title", text="Nouvelle réservation")
    assert browser.find_element(By.ID, "res-f-title").get_attribute("value") == ""
    assert not browser.find_element(By.ID, "res-cancel").is_displayed()
