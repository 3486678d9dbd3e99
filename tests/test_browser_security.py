"""The real app in headless Chromium with its Content-Security-Policy on: Dash's inline scripts
(config, renderer, clientside callbacks) run with the nonce, Plotly draws, the QR sheet's
print button works, nothing is reported as a violation; an injected inline script is blocked;
the shell's sign-out button signs out, an `<img src=/deconnexion>` does not."""

from __future__ import annotations

import datetime as dt

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.helpers.browser import CONTRACT_CODE, browser_session, password_of, sign_in, wait_for
from tests.helpers.savings_town import TownBuilding, make_town

pytestmark = pytest.mark.browser

# Installed by Chromium before any script of every page (DevTools, outside the page's CSP):
# each CSP violation the page meets is kept in `window.__csp`.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});
"""


@pytest.fixture(scope="module")
def watched_browser():
    with browser_session("carnet-chromium-csp-") as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_CSP})
        yield driver


def violations(browser) -> list[str]:
    return browser.execute_script("return window.__csp || null;")


def console_csp_errors(browser) -> list[str]:
    return [
        e["message"]
        for e in browser.get_log("browser")
        if "Content Security Policy" in e["message"] or "Content-Security-Policy" in e["message"]
    ]


def active_nav(browser) -> list[str]:
    links = browser.find_elements(By.CSS_SELECTOR, "#main-nav a.nav-link.active")
    return [a.get_attribute("href") for a in links]


def test_the_app_runs_under_its_csp_without_a_violation(live_app, watched_browser):
    browser = watched_browser
    make_town(
        live_app.engine,
        [TownBuilding("ECOLE-A", "École Anatole-France", 2.0, CONTRACT_CODE, 80.0, 0, 0.88)],
        dt.date(2024, 7, 1),
        dt.date(2026, 5, 20),
        starts_on=dt.date(2025, 7, 1),
        savings_from=dt.date(2025, 10, 1),
    )
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get_log("browser")  # start the console log from here
    assert violations(browser) == []

    # server callbacks, the app's clientside callback (the navigation's active link)
    browser.get(live_app.page("/portefeuille"))
    table = wait_for(browser, "#portfolio-table", timeout=20)
    assert "École Anatole-France" in table.text
    WebDriverWait(browser, 10).until(lambda b: active_nav(b))
    assert active_nav(browser) == [live_app.page("/portefeuille")]
    assert violations(browser) == []

    # Plotly figures and a page's clientside callback (it writes the building into the URL)
    browser.get(live_app.page(f"/economies?contrat={CONTRACT_CODE}"))
    row = wait_for(browser, "tr[data-building='ECOLE-A']", timeout=30)
    button = row.find_element(By.CSS_SELECTOR, ".link-button")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    WebDriverWait(browser, 30).until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#savings-building-detail .main-svg")) >= 4
    )
    WebDriverWait(browser, 10).until(lambda b: "batiment=ECOLE-A" in b.current_url)
    assert violations(browser) == []

    # the printable QR sheet: its inline "Imprimer" handler is allowed by its hash
    browser.get(live_app.page("/batiments/ECOLE-A/qr"))
    wait_for(browser, "#qr-code svg")
    browser.execute_script("window.print = function () { window.__printed = true; };")
    browser.find_element(By.CSS_SELECTOR, ".no-print button").click()
    WebDriverWait(browser, 5).until(lambda b: b.execute_script("return window.__printed === true"))
    assert violations(browser) == []

    assert console_csp_errors(browser) == []

    # and the policy is enforced: a script injected without the nonce does not run, and the
    # watcher above does see violations (so its empty lists mean something)
    browser.get(live_app.page("/"))
    wait_for(browser, "#user-name")
    browser.execute_script(
        "var s = document.createElement('script');"
        "s.textContent = 'window.__injected = true;';"
        "document.body.appendChild(s);"
    )
    WebDriverWait(browser, 5).until(lambda b: violations(b))
    assert browser.execute_script("return window.__injected === undefined")
    assert any("script-src" in v for v in violations(browser)), violations(browser)
    assert console_csp_errors(browser), "Chromium reports violations in its console log"


def test_the_shell_button_signs_out_and_an_image_does_not(live_app, watched_browser):
    browser = watched_browser
    sign_in(browser, live_app.url, "agent", password_of("agent"))
    # what another page's <img src=https://carnet/deconnexion> does: a plain GET
    browser.execute_async_script(
        "var done = arguments[arguments.length - 1], img = new Image();"
        "img.onload = img.onerror = function () { done(); };"
        "img.src = '/deconnexion?' + Date.now();"
    )
    browser.get(live_app.page("/mes-signalements"))
    assert wait_for(browser, "#user-name").text == "Agent d'accueil"
    # the shell's button: a POST with the session's token, back to the sign-in page
    browser.find_element(By.ID, "sign-out").click()
    wait_for(browser, "#sign-in-submit")
    browser.get(live_app.page("/mes-signalements"))
    wait_for(browser, "#sign-in-submit")
    assert "/connexion" in browser.current_url
    assert violations(browser) == []
