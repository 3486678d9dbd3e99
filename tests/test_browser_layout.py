"""Phones and desktops (issue 15): no page of any role is wider than the screen, at 390×844
(a phone, emulated as a mobile device: its viewport, touch, overlay scrollbars) and 1400×1000;
on the phone, controls are thumb-sized (44 px) and the navigation folds behind « Menu ».

The pages are those the page registry holds and the role may open (the shell's own rule), so a
new page is measured without touching this test; on the demo town, whose tables are the widest.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import select

from carnet.db import session_scope
from carnet.models import Building
from carnet.roles import can
from tests.helpers.browser import browser_session, sign_in, wait_for
from tests.helpers.demo_site import DEMO_LOGINS, served_demo
from tests.helpers.layout import (
    DESKTOP,
    PHONE,
    overflow,
    pages_of_role,
    small_controls,
    wait_rendered,
)

pytestmark = pytest.mark.browser

BUILDING = "MAIRIE"
# plain Flask pages opened on site, with the capability that opens them
FLASK_PAGES = {"/signaler/{qr}": "carnet.observation", "/signaler/perime": "carnet.observation"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with served_demo(tmp_path_factory.mktemp("demo-layout")) as site:
        yield site


def _qr_token(engine) -> str:
    with session_scope(engine) as s:
        return s.scalar(select(Building.qr_token).where(Building.code == BUILDING))


def _emulate_phone(browser) -> None:
    width, height = PHONE
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 3, "mobile": True},
    )
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})


def _emulate_desktop(browser) -> None:
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})
    browser.set_window_size(*DESKTOP)


def _paths(role: str, engine) -> list[str]:
    paths = pages_of_role(role, {"code": BUILDING})
    qr = _qr_token(engine)
    paths += [p.format(qr=qr) for p, capability in FLASK_PAGES.items() if can(role, capability)]
    return paths + ["/adresse-inconnue"]  # the 404 page in the frame


@pytest.fixture
def role_browser():
    with browser_session("carnet-layout-") as driver:
        yield driver


def _measure(browser, site, paths: list[str], phone: bool) -> list[str]:
    problems = []
    for path in paths:
        browser.get(site.page(path))
        wait_rendered(browser)
        got = overflow(browser)
        if got["scroll"] > got["inner"] + 1:
            problems.append(f"{path}: {got['scroll']} px > {got['inner']} px {got['culprits']}")
        if phone:
            small = small_controls(browser)
            if small:
                problems.append(f"{path}: commandes de moins de 44 px {small}")
    return problems


@pytest.mark.parametrize("role", list(DEMO_LOGINS))
def test_no_page_is_wider_than_the_screen(demo, role_browser, role):
    login = DEMO_LOGINS[role]
    paths = _paths(role, demo.engine)
    assert len(paths) >= 5, paths  # home, the role's pages, the 404 page
    sign_in(role_browser, demo.url, login, demo.passwords[login])
    _emulate_phone(role_browser)
    assert role_browser.execute_script("return window.innerWidth") == PHONE[0]
    phone = _measure(role_browser, demo, paths, phone=True)
    _emulate_desktop(role_browser)
    assert role_browser.execute_script("return window.innerWidth") == DESKTOP[0]
    desktop = _measure(role_browser, demo, paths, phone=False)
    assert not phone, "téléphone (390 px) :\n" + "\n".join(phone)
    assert not desktop, "écran (1400 px) :\n" + "\n".join(desktop)


def test_the_phone_menu_opens_and_folds_after_a_choice(demo, role_browser):
    sign_in(role_browser, demo.url, "gestionnaire", demo.passwords["gestionnaire"])
    _emulate_phone(role_browser)
    role_browser.get(demo.page("/"))
    wait_rendered(role_browser)
    nav = role_browser.find_element(By.ID, "main-nav")
    assert not nav.is_displayed()  # folded: the page starts right under the top bar
    menu = wait_for(role_browser, "#nav-menu")
    assert menu.size["height"] >= 44
    menu.click()
    link = wait_for(role_browser, "#main-nav .nav-link")
    links = nav.find_elements(By.CSS_SELECTOR, ".nav-link")
    assert len(links) > 5 and all(a.size["height"] >= 44 for a in links)
    target = link.get_attribute("href")
    link.click()
    wait_rendered(role_browser)
    assert role_browser.current_url == target
    assert not role_browser.find_element(By.ID, "main-nav").is_displayed()
    # on a desktop the navigation is always there and the button is not
    _emulate_desktop(role_browser)
    assert role_browser.find_element(By.ID, "main-nav").is_displayed()
    assert not role_browser.find_element(By.ID, "nav-menu").is_displayed()


def test_the_sign_in_page_fits_a_phone(demo, role_browser):
    _emulate_phone(role_browser)
    role_browser.get(demo.page("/connexion"))
    wait_for(role_browser, "#sign-in-submit")
    got = overflow(role_browser)
    assert got["scroll"] <= got["inner"] + 1, got
    assert small_controls(role_browser) == []
