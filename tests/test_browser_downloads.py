"""Real browser: a chart has plotly's modebar with « Télécharger en PNG » and a « Données
(CSV) » button whose file lands on disk; a table's « Excel (XLSX) » button downloads the rows
the page shows."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import openpyxl
import pytest
from selenium.webdriver.common.by import By

from dashboards.components import PNG_TITLE_FR
from tests.helpers.browser import password_of, sign_in, wait_for
from tests.helpers.seed import seed_town

pytestmark = pytest.mark.browser


def _downloaded(folder: Path, prefix: str, ext: str, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.glob(f"{prefix}*.{ext}")]
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        time.sleep(0.2)
    raise AssertionError(
        f"{prefix}*.{ext} not downloaded: {sorted(p.name for p in folder.iterdir())}"
    )


def test_chart_png_button_and_data_csv_and_table_xlsx(live_app, browser, tmp_path):
    seed_town(live_app.engine)
    folder = tmp_path / "telechargements"
    folder.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
    )
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/ecrans-usagers"))
    wait_for(browser, "#eu-figure .main-svg", timeout=30)
    png = browser.find_elements(
        By.CSS_SELECTOR, f'#eu-figure .modebar-btn[data-title="{PNG_TITLE_FR}"]'
    )
    assert len(png) == 1
    data_button = wait_for(
        browser, '[data-download="eu-figure"] .download-btn', text="Données (CSV)"
    )
    data_button.click()
    path = _downloaded(folder, "contributions-usagers", "csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Série"

    browser.get(live_app.page("/portefeuille"))
    wait_for(browser, "#portfolio-table", timeout=30)
    shown = {
        td.text
        for td in browser.find_elements(By.CSS_SELECTOR, "#portfolio-table td.code")
        if td.get_attribute("rowspan")
    }
    buttons = browser.find_elements(
        By.CSS_SELECTOR, '[data-download="portfolio-table"] .download-btn'
    )
    (xlsx,) = [b for b in buttons if "XLSX" in b.text]
    xlsx.click()
    path = _downloaded(folder, "portefeuille", "xlsx")
    sheet = openpyxl.load_workbook(path).active
    codes = {r[0] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert codes == shown and "MAIRIE" in codes
