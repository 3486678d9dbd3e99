"""Real headless Chromium: signing in, the portfolio page, refusals."""

from __future__ import annotations

import datetime as dt
import os
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.helpers.browser import password_of, sign_in, wait_for
from tests.helpers.seed import LAST, TOWN, seed_town

pytestmark = pytest.mark.browser

NNBSP, NBSP = "\u202f", "\u00a0"


def local_text(local: dt.datetime) -> str:
    # the stored instant, shown back in Paris time: the wall time we wrote
    aware = local.replace(tzinfo=ZoneInfo("Europe/Paris"))
    return f"{aware.day:02d}/{aware.month:02d}/{aware.year} {aware.hour:02d}:{aware.minute:02d}"


def grouped(n: int) -> str:
    return f"{n:,}".replace(",", NNBSP)


def screenshot(browser, name: str) -> None:
    folder = os.environ.get("CARNET_SCREENSHOT_DIR")
    if folder:
        browser.save_screenshot(os.path.join(folder, name))


def test_manager_signs_in_and_sees_the_portfolio(live_app, browser):
    seed_town(live_app.engine)
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    assert wait_for(browser, "#user-role").text == "Gestionnaire des bâtiments"
    # the home page links to the portfolio; the navigation is client side
    wait_for(browser, "#main-nav")
    browser.find_element(By.LINK_TEXT, "Portefeuille").click()
    table = wait_for(browser, "#portfolio-table", timeout=15)
    assert browser.current_url.endswith("/portefeuille")
    text = table.text
    for building in TOWN["buildings"]:
        assert building["name"] in text and building["code"] in text
    gas_when, gas_value = LAST["MAIRIE-GAZ"]
    row = browser.find_element(By.XPATH, "//tr[td[normalize-space()='MAIRIE-GAZ']]")
    assert local_text(gas_when) in row.text
    # a meter's index is no consumption: the cell counts the period (no reading in it), the
    # index stays in the tooltip
    index = f"{grouped(int(gas_value))}{NBSP}m³"
    cell = row.find_element(By.CSS_SELECTOR, "td.period-value")
    assert index not in cell.get_attribute("textContent")
    assert cell.get_attribute("textContent") == "—"
    assert cell.get_attribute("title").endswith(f"index au dernier relevé : {index}")
    ecole_when, _ = LAST["PASTEUR-GAZ"]  # a summer reading: UTC+2
    assert local_text(ecole_when) in text
    area = browser.find_element(By.XPATH, "//tr[@data-building='MAIRIE']/td[4]")
    area_m2 = TOWN["buildings"][0]["heated_area_m2"]  # 1234.5: rounded half-up to the m²
    rounded = int(Decimal(str(area_m2)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert area.get_attribute("textContent") == f"{grouped(rounded)}{NBSP}m²"
    screenshot(browser, "portefeuille.png")

    # the search filter goes through the (guarded) callback
    search = browser.find_element(By.ID, "portfolio-search")
    search.send_keys("pasteur", Keys.ENTER)
    WebDriverWait(browser, 10).until(
        lambda b: "Hôtel de ville" not in b.find_element(By.ID, "portfolio-table-wrap").text
    )
    assert "École Pasteur" in browser.find_element(By.ID, "portfolio-table-wrap").text
    assert wait_for(browser, "#summary-buildings").text.endswith("1")


def test_wrong_password_and_anonymous_page_are_refused(live_app, browser):
    browser.delete_all_cookies()
    browser.get(live_app.page("/portefeuille"))
    wait_for(browser, "#login")
    assert "/connexion" in browser.current_url
    sign_in(browser, live_app.url, "gestionnaire", "mauvais-mot-de-passe", expect_shell=False)
    error = wait_for(browser, "#sign-in-error")
    assert error.text == "Identifiant ou mot de passe incorrect."
    assert "/connexion" in browser.current_url
    assert not browser.find_elements(By.ID, "user-name")


def test_programmer_has_no_portfolio(live_app, browser):
    seed_town(live_app.engine)
    sign_in(browser, live_app.url, "programmation", password_of("programmation"))
    wait_for(browser, "#user-name")
    nav = browser.find_element(By.ID, "main-nav")
    assert "Portefeuille" not in nav.get_attribute("textContent")
    browser.get(live_app.page("/portefeuille"))
    refusal = wait_for(browser, "#acces-refuse")
    assert "Accès refusé" in refusal.text
    assert "Hôtel de ville" not in browser.page_source


def test_an_ended_session_sends_the_open_page_back_to_sign_in(live_app, browser):
    seed_town(live_app.engine)
    sign_in(browser, live_app.url, "finances", password_of("finances"))
    browser.get(live_app.page("/portefeuille"))
    wait_for(browser, "#portfolio-table")
    browser.delete_cookie("carnet_session")  # as if signed out in another tab
    browser.find_element(By.ID, "portfolio-search").send_keys("gymnase", Keys.ENTER)
    wait_for(browser, "#login")
    assert "/connexion?suivant=%2Fportefeuille" in browser.current_url
