"""Paper (issue 15): printing a page prints its content, not the navigation or the buttons, the
savings table whole (down to its last column, « Pénalité » and after it), with a header saying
what was printed and when, in a few A4 sheets; checked in Chromium's print media and its PDF."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
from pypdf import PdfReader

from carnet.timeutil import TZ
from tests.helpers.browser import browser_session, sign_in, wait_for
from tests.helpers.demo_site import served_demo
from tests.helpers.layout import wait_rendered

pytestmark = pytest.mark.browser

A4_CSS_PX = 718  # 190 mm of printable width (A4 less the 10 mm margins) at 96 px per inch
MAX_SHEETS = 3

VISIBLE_CONTROLS_JS = """
return [...document.querySelectorAll('button, input, select, textarea, .dash-dropdown')]
  .filter(e => e.getBoundingClientRect().width > 0 && !e.classList.contains('link-button'))
  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''));
"""

# is the element drawn whole: inside the sheet's width, and no ancestor clips it
CLIPPED_JS = """
const el = arguments[0], r = el.getBoundingClientRect();
if (r.width === 0 || r.right > window.innerWidth + 1) return 'hors de la page: ' + r.right;
for (let p = el.parentElement; p; p = p.parentElement) {
  const ox = getComputedStyle(p).overflowX;
  if (ox !== 'visible' && p.scrollWidth > p.clientWidth + 1) return 'coupé par ' + p.className;
}
return null;
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with served_demo(tmp_path_factory.mktemp("demo-print")) as site:
        yield site


@pytest.fixture(scope="module")
def browser_():
    with browser_session("carnet-print-") as driver:
        yield driver


def _on_paper(browser) -> None:
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": A4_CSS_PX, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
    )
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})


def _on_screen(browser) -> None:
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _pdf(browser) -> PdfReader:
    pdf = browser.execute_cdp_cmd(
        "Page.printToPDF", {"preferCSSPageSize": True, "printBackground": False}
    )
    return PdfReader(io.BytesIO(base64.b64decode(pdf["data"])))


def _display(browser, element_id: str) -> str:
    return browser.execute_script(
        "return getComputedStyle(document.getElementById(arguments[0])).display", element_id
    )


def test_the_savings_page_prints_whole_without_the_frame(demo, browser_):
    browser = browser_
    sign_in(browser, demo.url, "gestionnaire", demo.passwords["gestionnaire"])
    browser.get(demo.page("/economies"))
    table = wait_for(browser, "#savings-table", timeout=30)
    wait_rendered(browser)
    heads = [th.text.replace("\n", " ") for th in table.find_elements("css selector", "thead th")]
    assert any(h.startswith("Pénalité") for h in heads), heads
    assert _display(browser, "print-header") == "none"  # on screen: not shown
    assert VISIBLE_CONTROLS_JS and browser.execute_script(VISIBLE_CONTROLS_JS)  # selectors
    today = dt.datetime.now(TZ).strftime("%d/%m/%Y")
    try:
        _on_paper(browser)
        assert _display(browser, "main-nav") == "none"
        assert _display(browser, "print-header") != "none"
        assert browser.execute_script(VISIBLE_CONTROLS_JS) == []
        header = wait_for(browser, "#print-header", text=f"Imprimé le {today}").text
        assert "Économies d'énergie" in header
        season = browser.find_element("css selector", "#savings-season-value").get_attribute(
            "textContent"
        )
        assert season and season in header  # the period chosen, whose selector is not printed
        cells = table.find_elements("css selector", "thead th")
        for cell in (cells[-1], *[c for c in cells if c.text.startswith("Pénalité")]):
            assert browser.execute_script(CLIPPED_JS, cell) is None, cell.text
        last_row = table.find_elements("css selector", "tbody tr")[-1]
        assert (
            browser.execute_script(CLIPPED_JS, last_row.find_elements("css selector", "td")[-1])
            is None
        )

        reader = _pdf(browser)
        text = " ".join(page.extract_text() for page in reader.pages)
        assert 1 <= len(reader.pages) <= MAX_SHEETS, len(reader.pages)
        assert f"Imprimé le {today}" in text and "Pénalité" in text
        assert heads[-1].split()[0] in text  # the last column is on paper too
        assert "Se déconnecter" not in text and "Portefeuille" not in text  # no frame
    finally:
        _on_screen(browser)


def test_a_building_page_prints_with_the_building_in_its_header(demo, browser_):
    browser = browser_
    sign_in(browser, demo.url, "agent", demo.passwords["agent"])
    browser.get(demo.page("/batiments/MAIRIE"))
    wait_rendered(browser)
    name = wait_for(browser, "#_pages_content h1").text
    try:
        _on_paper(browser)
        header = wait_for(browser, "#print-header", text=name).text
        assert "Imprimé le " in header
        assert browser.execute_script(VISIBLE_CONTROLS_JS) == []
        assert _display(browser, "main-nav") == "none"
    finally:
        _on_screen(browser)


CHART_WIDTHS_JS = """
return [...document.querySelectorAll('.js-plotly-plot')].map(
  g => Math.round(g.querySelector('.main-svg').getBoundingClientRect().right));
"""


def test_a_chosen_building_and_its_charts_fit_the_sheet(demo, browser_):
    browser = browser_
    sign_in(browser, demo.url, "gestionnaire", demo.passwords["gestionnaire"])
    browser.execute_cdp_cmd(  # a wide screen: charts drawn wider than a sheet
        "Emulation.setDeviceMetricsOverride",
        {"width": 2400, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
    )
    browser.get(demo.page("/economies"))
    wait_for(browser, "#savings-table .link-button", timeout=30).click()
    subject = wait_for(browser, ".print-subject", timeout=30)
    name = subject.find_element("css selector", ".code").text  # the building's code
    wait_for(browser, ".js-plotly-plot .main-svg", timeout=30)
    wait_rendered(browser)
    assert max(browser.execute_script(CHART_WIDTHS_JS)) > A4_CSS_PX
    try:
        _on_paper(browser)
        header = wait_for(browser, "#print-header", text=name).text
        assert "Saison" in header and "Imprimé le " in header

        def fitted(driver):
            rights = driver.execute_script(CHART_WIDTHS_JS)
            return rights if rights and max(rights) <= A4_CSS_PX else False

        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(browser, 10).until(fitted)  # the charts redrawn at the sheet's width
    finally:
        _on_screen(browser)
