"""Real browser: the manager adds a work to the programme and finds it ranked; the users'
screen of the building, without sign-in, on a 390 px phone: readable (no sideways scrolling,
large type), the manager's list on it, and refused in French once revoked."""

from __future__ import annotations

import datetime as dt

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import select

from carnet.db import session_scope
from carnet.display import set_tips, set_token
from carnet.models import User, WorksProject
from carnet.works import add_works
from tests.helpers.browser import password_of, sign_in, wait_for
from tests.helpers.carnet_web_seed import seed_carnet

pytestmark = pytest.mark.browser


def test_the_manager_adds_a_work_and_finds_it_ranked(live_app, browser):
    seed_carnet(live_app.engine)
    with session_scope(live_app.engine) as s:
        manager = s.scalar(select(User).where(User.login == "gestionnaire"))
        add_works(s, manager, "MAIRIE", "Robinets thermostatiques", dt.date(2025, 9, 1), 9000,
                  expected_mwh=10.0)  # fmt: skip
    browser.set_window_size(1400, 1000)
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/programme-travaux"))
    assert "Robinets thermostatiques" in wait_for(browser, "#works-ranking", timeout=15).text
    browser.find_element(By.CSS_SELECTOR, "#works-form summary").click()
    for field, value in (("works-title", "Isolation des combles"), ("works-from", "01/10/2025"),
                         ("works-to", "15/10/2025"), ("works-cost", "24 000"),
                         ("works-expected", "30"), ("works-source", "audit 2024"),
                         ("works-subsidy", "4000")):  # fmt: skip
        # a date typed in a date picker is taken on Tab, as a person leaves the field
        browser.find_element(By.ID, field).send_keys(value + Keys.TAB)
    browser.find_element(By.ID, "works-add").click()
    wait_for(browser, "#works-msg .alert-ok", timeout=15, text="inscrits au programme")
    ranking = wait_for(browser, "#works-ranking", text="Isolation des combles")
    rows = ranking.find_elements(By.CSS_SELECTOR, "tbody tr")
    # 20 000 € net for 30 MWh/an (667 €) ranks before 9 000 € for 10 MWh/an (900 €)
    assert [r.find_elements(By.TAG_NAME, "td")[2].text for r in rows] == [
        "Isolation des combles", "Robinets thermostatiques"]  # fmt: skip
    with session_scope(live_app.engine) as s:
        made = s.scalar(select(WorksProject).where(WorksProject.title == "Isolation des combles"))
        assert (made.cost_cents, made.starts_on, made.author_login) == (
            2_400_000, dt.date(2025, 10, 1), "gestionnaire")  # fmt: skip


def test_the_users_screen_on_a_390_px_phone(live_app, browser):
    seed_carnet(live_app.engine)
    with session_scope(live_app.engine) as s:
        manager = s.scalar(select(User).where(User.login == "gestionnaire"))
        token = set_token(s, manager, "MAIRIE")
        set_tips(s, manager, "MAIRIE", "Fermez les portes coupe-feu en partant\nConsigne 19 °C")
    browser.delete_all_cookies()
    browser.set_window_size(390, 844)
    try:
        browser.get(live_app.page(f"/affichage/{token}"))
        title = wait_for(browser, "h1", timeout=15, text="Hôtel de ville")
        assert (
            "Fermez les portes coupe-feu en partant"
            in browser.find_element(By.TAG_NAME, "main").text
        )
        inner = browser.execute_script("return window.innerWidth")
        assert browser.execute_script("return document.documentElement.scrollWidth") <= inner
        size = float(title.value_of_css_property("font-size").removesuffix("px"))
        body = float(browser.find_element(By.TAG_NAME, "body").value_of_css_property(
            "font-size").removesuffix("px"))  # fmt: skip
        assert body >= 18 and size >= 2 * body - 0.5
        assert "connexion" not in browser.current_url
        with session_scope(live_app.engine) as s:
            manager = s.scalar(select(User).where(User.login == "gestionnaire"))
            set_token(s, manager, "MAIRIE", revoke=True)
        browser.get(live_app.page(f"/affichage/{token}"))
        wait_for(browser, "h1", text="Affichage indisponible")
        assert "retiré par la commune" in browser.find_element(By.TAG_NAME, "body").text
    finally:
        browser.set_window_size(1400, 1000)
