"""Driving the administration page (`/administration`) in the browser: its tabs, the forms'
fields (pattern-matching ids), Dash 4 dropdowns, and the audit entries the writes leave."""

from __future__ import annotations

import json

from sqlalchemy import Engine, select

from tests.helpers.browser import wait_for

KIND_OF_TAB = {
    "Utilisateurs": "user",
    "Bâtiments": "building",
    "Salles": "room",
    "Équipements": "equipment",
    "Points de mesure": "channel",
    "Stations météo": "station",
    "Contrats": "contract",
    "Contrats : bâtiments (NB)": "contract_building",
    "Passerelles Modbus": "gateway",
    "Équipements Modbus": "modbus_device",
}


def _by_id(kind: str, field: str) -> tuple[str, str]:
    from selenium.webdriver.common.by import By

    id_ = json.dumps({"field": field, "type": kind}, separators=(",", ":"))
    return By.XPATH, f"//*[@id='{id_}']"


def click(browser, el) -> None:
    """Click after centring the element: the sticky top bar would take a click at the edge."""
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
    el.click()


def control(browser, field: str):
    return browser.find_element(*_by_id("adm-in", field))


def fill(browser, field: str, text: str) -> None:
    """Replace a text field's content as a person types it (React sees every key)."""
    from selenium.webdriver.common.keys import Keys

    el = control(browser, field)
    el.send_keys(Keys.CONTROL, "a")
    el.send_keys(Keys.BACKSPACE)
    if text:
        el.send_keys(text)


def choose(browser, field: str, label: str) -> None:
    """Open a Dash 4 dropdown and click the option showing `label`."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    click(browser, control(browser, field))
    xpath = f"//*[@role='option'][normalize-space()='{label}']"
    WebDriverWait(browser, 10).until(ec.element_to_be_clickable((By.XPATH, xpath))).click()
    WebDriverWait(browser, 10).until(lambda b: label in control(b, field).text)


def error_of(browser, field: str, becomes: str | None = None) -> str:
    """The problem shown next to a field; with `becomes`, once it shows that text (a second
    refused save redraws the same message block: only the field's text tells it answered)."""
    from selenium.webdriver.support.ui import WebDriverWait

    def text(b) -> str:
        return b.find_element(*_by_id("adm-err", field)).text

    if becomes is not None:
        WebDriverWait(browser, 15).until(lambda b: becomes in text(b))
    return text(browser)


def open_tab(browser, base_url: str, label: str) -> None:
    """The administration page on the tab `label`, once its table (or its empty notice) is
    drawn and the previous tab's form closed."""
    from selenium.webdriver.common.by import By

    if "/administration" not in browser.current_url:
        browser.get(base_url.rstrip("/") + "/administration")
        wait_for(browser, "#adm-table", timeout=20)
    tab = f"//*[@id='adm-kind']//*[normalize-space(text())='{label}']"
    click(browser, browser.find_element(By.XPATH, tab))
    wait_for(browser, f"#adm-kind-{KIND_OF_TAB[label]}", timeout=15)


def add(browser) -> None:
    click(browser, browser.find_element("id", "adm-add"))
    wait_for(browser, "#adm-form-card h2", timeout=10, text="Ajouter")


def edit(browser, key: str) -> None:
    from selenium.webdriver.common.by import By

    wait_for(browser, f"#adm-row-{key}", timeout=10)
    click(browser, browser.find_element(By.CSS_SELECTOR, f"#adm-row-{key} button"))
    wait_for(browser, "#adm-form-card h2", timeout=10, text=f"« {key} »")


def row_button(browser, key: str, label: str) -> None:
    """Click the button `label` of the table's row `key` (« Désactiver », « Lien de mot de
    passe »)."""
    from selenium.webdriver.common.by import By

    xpath = f"//*[@id='adm-row-{key}']//button[normalize-space()='{label}']"
    click(browser, wait_for(browser, f"#adm-row-{key}") and browser.find_element(By.XPATH, xpath))


def save(browser, expect_ok: bool = True):
    """Click « Enregistrer » and wait for its message; returns the message element."""
    click(browser, browser.find_element("id", "adm-save"))
    return wait_for(browser, "#adm-saved" if expect_ok else "#adm-problems", timeout=15)


def audits(engine: Engine, entity: str, entity_id: str) -> list:
    """The audit events of one item, oldest first."""
    from carnet.db import session_scope
    from carnet.models import AuditEvent

    with session_scope(engine) as s:
        rows = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
            .order_by(AuditEvent.id)
        ).all()
        s.expunge_all()
        return rows
