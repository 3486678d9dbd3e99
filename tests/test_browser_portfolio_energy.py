"""Issue 15 in a real headless Chromium: the portfolio's search filters as one types, without
accents or case (« ecole » finds « École »), the gas cell is the season's consumption (the
index difference), the season in progress says « provisoire »; Confort opens on the last
complete month."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from selenium.webdriver.common.by import By

from carnet.fr_format import fr_number
from contract.calendar import today as local_today
from tests.helpers.browser import password_of, sign_in, wait_for
from tests.helpers.energy_town import KWH_PER_M3, make_energy_town
from tests.helpers.wait import until

pytestmark = pytest.mark.browser

MONTHS = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"


def test_search_as_you_type_and_the_season_consumption(live_app, browser):
    town = make_energy_town(live_app.engine)
    today = local_today()
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/portefeuille"))
    wrap = wait_for(browser, "#portfolio-table", timeout=15)
    assert "Hôtel de ville" in wrap.text and "École Marie Curie" in wrap.text

    # the season in progress: from 1 October to yesterday, the data stopping on 30 November
    year = today.year if today.month >= 10 else today.year - 1
    first, last = pd.Timestamp(year, 10, 1), pd.Timestamp(today - dt.timedelta(days=1))
    days = town["days"]
    mask = np.asarray((days >= first) & (days <= min(last, pd.Timestamp(year + 1, 5, 20))))
    m3 = float(town["gas_m3"]["CURIE-GAZ"][mask].sum())
    cell = browser.find_element(By.CSS_SELECTOR, "tr[data-channel='CURIE-GAZ'] td.period-value")
    text = cell.get_attribute("textContent")
    if mask.any():
        assert text == f"{fr_number(m3)}\u00a0m³ · {fr_number(m3 * KWH_PER_M3)}\u00a0kWh"
    assert fr_number(town["index"]["CURIE-GAZ"][-1]) not in text
    banner = wait_for(browser, "#portfolio-provisional")
    assert "provisoire" in banner.text.lower() and "saison en cours" in banner.text

    # no Enter: the table follows the keys
    browser.find_element(By.ID, "portfolio-search").send_keys("ecole")
    until(
        lambda: "Hôtel de ville" not in browser.find_element(By.ID, "portfolio-table-wrap").text,
        10,
        "the search to filter as one types",
    )
    shown = browser.find_element(By.ID, "portfolio-table-wrap").text
    assert "École Marie Curie" in shown and "Gymnase" not in shown
    assert wait_for(browser, "#summary-buildings").text.endswith("1")


def test_comfort_opens_on_the_last_complete_month(live_app, browser):
    make_energy_town(live_app.engine)
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/confort"))
    wait_for(browser, "#comfort-body h2", timeout=15)
    previous = pd.Period(local_today(), "M") - 1
    label = f"{MONTHS.split()[previous.month - 1].capitalize()} {previous.year}"
    assert label in browser.find_element(By.ID, "comfort-month").text
    assert not browser.find_elements(By.ID, "comfort-provisional") or (
        "relevés manquants" in browser.find_element(By.ID, "comfort-provisional").text
    )
