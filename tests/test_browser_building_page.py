"""Real browser, the building page (issue 15): the record and the logbook come before any form
(the forms are dialogs), the page stays short, the logbook is paged and filtered by the
server, an entry is edited from its « Modifier » (prefilled, audited), the add form empties
once saved, and nothing is wider than a 390 px phone."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import func, select

from carnet.db import session_scope
from carnet.logbook import edit_entry
from carnet.models import AuditEvent, LogbookEntry, User
from tests.helpers.browser import password_of, sign_in, wait_for
from tests.helpers.carnet_web_seed import LOGBOOK_KINDS_CYCLE, seed_carnet, seed_logbook

pytestmark = pytest.mark.browser

ENTRIES = 45  # three pages of 20
DESKTOP, PHONE = (1400, 1000), (390, 844)
MAX_HEIGHT_PX = 4500  # the page before paging and dialogs: 9 000 px and more


@pytest.fixture
def town(live_app):
    seed_carnet(live_app.engine)
    return seed_logbook(live_app.engine, ENTRIES)


@pytest.fixture
def sized(browser):
    """The browser at the size a test asks for, back to 1400×1000 afterwards (module scope)."""

    def resize(size):
        browser.set_window_size(*size)
        WebDriverWait(browser, 5).until(
            lambda d: d.execute_script("return window.innerWidth") == size[0]
        )

    yield resize
    resize(DESKTOP)


def _open_building(browser, live_app, login: str) -> None:
    sign_in(browser, live_app.url, login, password_of(login))
    browser.get(live_app.page("/batiments/MAIRIE"))
    wait_for(browser, "#bp-timeline article", timeout=15)


def _shown_ids(browser) -> list[int]:
    """The entries the logbook shows, in order (read at once: the page redraws it)."""
    return browser.execute_script(
        """return Array.from(document.querySelectorAll("#bp-timeline article.log-entry"))
               .map(function(a) { return parseInt(a.getAttribute("data-entry"), 10); });"""
    )


def _choose(browser, dropdown_id: str, label: str) -> None:
    """Pick `label` in a dcc.Dropdown as a person does: open it, click the option."""
    control = browser.find_element(By.ID, dropdown_id)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", control)
    control.click()
    option = WebDriverWait(browser, 5).until(
        lambda d: next(
            (
                o
                for o in d.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")
                if o.is_displayed() and o.text.strip() == label
            ),
            None,
        )
    )
    option.click()


def _overflow_px(browser) -> int:
    return browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


@pytest.mark.parametrize("login", ["gestionnaire", "agent"])
def test_record_and_logbook_come_first_and_the_page_stays_short(
    live_app, browser, town, sized, login
):
    sized(DESKTOP)
    _open_building(browser, live_app, login)
    wait_for(browser, "#bp-record #bp-equipment")
    facts = browser.execute_script(
        """
        var record = document.getElementById("bp-record");
        var logbook = document.getElementById("bp-logbook");
        var forms = Array.from(document.querySelectorAll(".form-card"));
        var before = function(a, b) {
            return Boolean(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
        };
        return {
            forms: forms.length,
            formsAfter: forms.every(function(f) { return before(record, f) && before(logbook, f); }),
            formsInHiddenDialogs: forms.every(function(f) {
                var d = f.closest("[role=dialog]"); return Boolean(d) && d.hidden;
            }),
            visibleForms: forms.filter(function(f) { return f.offsetParent !== null; }).length,
            logbookTop: logbook.getBoundingClientRect().top,
            recordTop: record.getBoundingClientRect().top,
            height: document.documentElement.scrollHeight,
        };
        """
    )
    assert facts["forms"] >= 1  # the manager and the agent both may add to the carnet
    assert facts["formsAfter"] and facts["formsInHiddenDialogs"], facts
    assert facts["visibleForms"] == 0, facts
    # both on the first screen, side by side
    assert facts["logbookTop"] < DESKTOP[1] and facts["recordTop"] < DESKTOP[1], facts
    assert len(_shown_ids(browser)) == 20
    assert facts["height"] < MAX_HEIGHT_PX, facts
    # the add form is one click away, in a dialog
    browser.find_element(By.ID, "bp-open-add").click()
    dialog = wait_for(browser, "#bp-dlg-add[role=dialog] #bp-add-text")
    assert dialog.is_displayed()
    browser.find_element(By.ID, "bp-dlg-add-close").click()
    WebDriverWait(browser, 5).until(
        lambda d: not d.find_element(By.ID, "bp-dlg-add").is_displayed()
    )
    # opened again, the focus is in its text; Échap closes it
    browser.find_element(By.ID, "bp-open-add").click()
    WebDriverWait(browser, 5).until(
        lambda d: d.switch_to.active_element.get_attribute("id") == "bp-add-text"
    )
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    WebDriverWait(browser, 5).until(
        lambda d: not d.find_element(By.ID, "bp-dlg-add").is_displayed()
    )


def test_logbook_is_paged_newest_first_and_filtered_by_kind(live_app, browser, town, sized):
    sized(DESKTOP)
    _open_building(browser, live_app, "gestionnaire")
    assert _shown_ids(browser) == town[:20]  # the 20 most recent, newest first
    assert browser.find_element(By.ID, "bp-page-label").text == "Page 1 sur 3"
    assert f"{ENTRIES} entrées · 1 à 20" in browser.find_element(By.ID, "bp-page-count").text
    assert not browser.find_element(By.ID, "bp-page-prev").is_enabled()

    browser.find_element(By.ID, "bp-page-next").click()
    wait_for(browser, "#bp-page-label", text="Page 2 sur 3")
    WebDriverWait(browser, 10).until(lambda d: _shown_ids(d) == town[20:40])  # the older ones
    assert "21 à 40" in browser.find_element(By.ID, "bp-page-count").text
    browser.find_element(By.ID, "bp-page-next").click()
    WebDriverWait(browser, 10).until(lambda d: _shown_ids(d) == town[40:])
    assert not browser.find_element(By.ID, "bp-page-next").is_enabled()

    # a filter goes back to the first page, and the database does the filtering
    _choose(browser, "bp-f-kind", "Travaux")
    works = [i for n, i in enumerate(town) if LOGBOOK_KINDS_CYCLE[n % 5] == "works"]
    WebDriverWait(browser, 10).until(lambda d: _shown_ids(d) == works)
    assert browser.find_element(By.ID, "bp-page-label").text == "Page 1 sur 1"
    assert f"{len(works)} entrées" in browser.find_element(By.ID, "bp-page-count").text
    kinds = {c.text for c in browser.find_elements(By.CSS_SELECTOR, "#bp-timeline .kind")}
    assert kinds == {"Travaux"}
    # words of the text, with the kind still chosen
    search = browser.find_element(By.ID, "bp-f-text")
    search.send_keys(f"Entrée de test {town.index(works[1]) + 1:02d}\n")
    WebDriverWait(browser, 10).until(lambda d: _shown_ids(d) == [works[1]])


def test_modifier_opens_the_entry_prefilled_and_saves_an_audited_update(
    live_app, browser, town, sized
):
    entry_id = town[1]
    with session_scope(live_app.engine) as s:
        manager = s.scalar(select(User).where(User.login == "gestionnaire"))
        edit_entry(s, manager, entry_id, cost="1 234,56", status="in_progress")
        before_text = s.get(LogbookEntry, entry_id).text
        last_audit = s.scalar(select(func.max(AuditEvent.id)))
    sized(DESKTOP)
    _open_building(browser, live_app, "gestionnaire")
    card = f'#bp-timeline article[data-entry="{entry_id}"]'
    wait_for(browser, f"{card} button.entry-edit").click()
    wait_for(browser, "#bp-edit-title", text=f"n° {entry_id}")
    text = browser.find_element(By.ID, "bp-edit-text")
    WebDriverWait(browser, 5).until(lambda d: text.get_attribute("value") == before_text)
    cost = browser.find_element(By.ID, "bp-edit-cost")
    assert cost.get_attribute("value") == "1234,56"
    assert "En cours" in browser.find_element(By.ID, "bp-edit-status").text
    assert "Travaux" in browser.find_element(By.ID, "bp-edit-kind").text
    day = browser.execute_script(
        """var d = document.getElementById("bp-edit-date");
           return (d.tagName === "INPUT" ? d : d.querySelector("input")).value;"""
    )
    assert day == "31/10/2025"  # seeded one day before 01/11/2025

    cost.send_keys(Keys.CONTROL, "a")  # as a person replaces it (clear() bypasses React)
    cost.send_keys("99,90")
    text.send_keys(" (devis signé)")
    _choose(browser, "bp-edit-status", "Terminé")
    browser.find_element(By.ID, "bp-edit-submit").click()
    wait_for(browser, "#bp-edit-ok", timeout=15, text=f"n° {entry_id}")
    WebDriverWait(browser, 5).until(
        lambda d: not d.find_element(By.ID, "bp-dlg-edit").is_displayed()
    )
    wait_for(browser, card, text="(devis signé)")
    assert "99,90 €" in browser.find_element(By.CSS_SELECTOR, card).text
    with session_scope(live_app.engine) as s:
        entry = s.get(LogbookEntry, entry_id)
        assert (entry.cost_cents, entry.status, entry.text) == (
            9990,
            "done",
            before_text + " (devis signé)",
        )
        assert s.scalar(select(func.count()).select_from(LogbookEntry)) == ENTRIES  # no new one
        (event,) = s.scalars(
            select(AuditEvent).where(
                AuditEvent.id > last_audit, AuditEvent.entity == "logbook_entry"
            )
        ).all()
        assert (event.actor, event.action, event.entity, event.entity_id) == (
            "gestionnaire",
            "update",
            "logbook_entry",
            str(entry_id),
        )
        assert (event.before["cost_cents"], event.before["status"]) == (123456, "in_progress")
        assert (event.after["cost_cents"], event.after["status"]) == (9990, "done")
        assert event.after["text"] == before_text + " (devis signé)"

    # the agent may edit nothing: no « Modifier » at all
    _open_building(browser, live_app, "agent")
    assert browser.find_elements(By.CSS_SELECTOR, "#bp-timeline button.entry-edit") == []


def test_add_form_is_empty_after_saving_and_a_second_click_writes_nothing(
    live_app, browser, town, sized
):
    sized(DESKTOP)
    _open_building(browser, live_app, "gestionnaire")
    browser.find_element(By.ID, "bp-open-add").click()
    text = wait_for(browser, "#bp-add-text")
    text.send_keys("Purge des radiateurs du premier étage")
    browser.find_element(By.ID, "bp-add-cost").send_keys("150")
    _choose(browser, "bp-add-status", "En cours")
    browser.find_element(By.ID, "bp-add-submit").click()
    wait_for(browser, "#bp-add-ok", timeout=15)
    WebDriverWait(browser, 5).until(
        lambda d: not d.find_element(By.ID, "bp-dlg-add").is_displayed()
    )
    with session_scope(live_app.engine) as s:
        new = s.scalars(select(LogbookEntry).where(LogbookEntry.id.not_in(town))).one()
        assert (new.text, new.cost_cents, new.status) == (
            "Purge des radiateurs du premier étage",
            15000,
            "in_progress",
        )
    wait_for(browser, f'#bp-timeline article[data-entry="{new.id}"]')  # on top of the logbook

    browser.find_element(By.ID, "bp-open-add").click()
    wait_for(browser, "#bp-add-text")
    assert browser.find_element(By.ID, "bp-add-text").get_attribute("value") == ""
    assert browser.find_element(By.ID, "bp-add-cost").get_attribute("value") == ""
    assert "En cours" not in browser.find_element(By.ID, "bp-add-status").text
    browser.find_element(By.ID, "bp-add-submit").click()
    wait_for(browser, "#bp-add-error", timeout=15, text="vide")
    with session_scope(live_app.engine) as s:
        assert s.scalar(select(func.count()).select_from(LogbookEntry)) == ENTRIES + 1


@pytest.mark.parametrize("login", ["gestionnaire", "agent"])
def test_nothing_is_wider_than_a_phone(live_app, browser, town, sized, login):
    sized(PHONE)
    _open_building(browser, live_app, login)
    wait_for(browser, "#bp-channels, #bp-rooms")
    assert _overflow_px(browser) == 0
    # the wide tables scroll inside their container
    wide = browser.execute_script(
        """return Array.from(document.querySelectorAll('.table-scroll, #bp-record table')).some(
               function(w) {
               return w.scrollWidth > w.clientWidth; });"""
    )
    assert wide  # the measuring points do not fit in 390 px: they scroll, the page does not
    browser.find_element(By.ID, "bp-open-add").click()
    wait_for(browser, "#bp-add-text")
    assert _overflow_px(browser) == 0
