"""Real browser (issue 15): the date pickers speak French whatever the browser's language
(month « décembre », days « lu ma me … »), a date and an hour picked land in the record as that
local time, a chart's month ticks read « janv. 2025 », not « Jan 2025 », and on the demo town
no page shows a code or a decimal point once its callbacks have drawn it."""

from __future__ import annotations

import datetime as dt
import json
import re

import dash
import numpy as np
import pandas as pd
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import select

from carnet.closing import MONTHS_FR
from carnet.db import session_scope
from carnet.models import Channel, LogbookEntry
from carnet.store import write_readings
from carnet.timeutil import TZ
from dashboards.app import create_app
from dashboards.plotly_fr import SHORT_MONTHS_FR
from dashboards.server import BackgroundServer
from tests.helpers.browser import password_of, sign_in, wait_for
from tests.helpers.carnet_web_seed import seed_carnet
from tests.helpers.demo_copy import demo_copy
from tests.helpers.french_text import english_in
from tests.helpers.seed import seed_town
from tests.helpers.wait import held, until

pytestmark = pytest.mark.browser

ENGLISH_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                  "Dec", "January", "December")  # fmt: skip


def _calendar(browser):
    return wait_for(browser, ".dash-datepicker-calendar-wrapper", timeout=10)


def test_the_logbook_date_and_hour_are_picked_in_french(live_app, browser):
    seed_carnet(live_app.engine)
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/batiments/MAIRIE"))
    wait_for(browser, "#bp-open-add", timeout=20).click()  # the « Ajouter » dialog
    wait_for(browser, "#bp-add-date", timeout=10).click()
    calendar = _calendar(browser)
    today = dt.datetime.now(TZ).date()
    header = calendar.find_element(By.CSS_SELECTOR, ".dash-dropdown-value").text
    assert header == MONTHS_FR[today.month - 1]  # « décembre », not « December »
    days = [th.text for th in calendar.find_elements(By.CSS_SELECTOR, "th")]
    assert days == ["lu", "ma", "me", "je", "ve", "sa", "di"]  # Monday first, in French
    assert not any(re.search(rf"\b{m}\b", calendar.text) for m in ENGLISH_MONTHS)
    cell = next(
        td
        for td in calendar.find_elements(By.CSS_SELECTOR, "td.dash-datepicker-calendar-date-inside")
        if td.text == "15"
    )
    cell.click()
    shown = browser.find_element(By.CSS_SELECTOR, "#bp-add-date").get_attribute("value")
    picked = today.replace(day=15)
    assert shown == picked.strftime("%d/%m/%Y")
    # the hour: 24-hour « hh:mm », typed into the list and chosen
    browser.find_element(By.CSS_SELECTOR, "#bp-add-date-time").click()
    search = until(  # the list opens with the focus in its search box
        lambda: (
            (e := browser.switch_to.active_element).tag_name == "input"
            and e.get_attribute("id") != "bp-add-date"
            and e
        ),
        what="the hour list's search box",
    )
    assert search.get_attribute("placeholder") == "Rechercher"  # not « Search »
    search.send_keys("14:30")
    search.send_keys(Keys.ENTER)
    until(lambda: "14:30" in browser.find_element(By.CSS_SELECTOR, "#bp-add-date-time").text)
    browser.find_element(By.CSS_SELECTOR, "#bp-add-text").send_keys("Purge des radiateurs")
    browser.find_element(By.CSS_SELECTOR, "#bp-add-submit").click()
    wait_for(browser, "#bp-add-ok", timeout=15)
    with session_scope(live_app.engine) as s:
        entry = s.scalar(select(LogbookEntry).where(LogbookEntry.text == "Purge des radiateurs"))
        occurred = entry.occurred_at.astimezone(TZ)
    assert (occurred.date(), occurred.hour, occurred.minute) == (picked, 14, 30)


def test_a_chart_writes_its_months_in_french(live_app, browser):
    ids = seed_town(live_app.engine)
    # a gas index over the last eight months: the users' screen charts it month by month
    today = dt.datetime.now(TZ).date()
    days = pd.date_range(today - dt.timedelta(days=240), today - dt.timedelta(days=1), tz=TZ)
    write_readings(
        live_app.engine,
        pd.DataFrame(
            {
                "channel_id": ids["MAIRIE-GAZ"],
                "ts": days.as_unit("s").asi8.astype(np.int64),
                "value": 200_000.0 + 30.0 * np.arange(len(days)),
                "quality": 0,
            }
        ),
        None,
    )
    with session_scope(live_app.engine) as s:
        assert s.scalar(select(Channel.code).where(Channel.id == ids["MAIRIE-GAZ"]))
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/ecrans-usagers?batiment=MAIRIE"))
    wait_for(browser, "#eu-figure .xtick text", timeout=20)
    ticks = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#eu-figure .xtick text")]
    words = {w for t in ticks for w in re.findall(r"[^\W\d]+\.?", t)}
    assert words and words <= set(SHORT_MONTHS_FR), ticks  # « janv. », « févr. », « mars »…
    assert not words & set(ENGLISH_MONTHS), ticks


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    with demo_copy(tmp_path_factory.mktemp("demo-fr-browser")) as url:
        server = BackgroundServer(create_app(url).server)
        try:
            yield server.url
        finally:
            server.stop()


def _drawn_text(browser) -> str:
    """The page's text once Dash has drawn it: unchanged for 0.6 s with nothing loading (or
    for 2 s: a part some pages leave loading until the user acts), looked at every 0.1 s."""

    def look():
        loading, text = browser.execute_script(
            "return [!!document.querySelector('[data-dash-is-loading]'), document.body.innerText]"
        )
        return (loading, text) if text else None

    drawn = held(look, lambda seen: 2.0 if seen[0] else 0.6)
    return until(drawn, timeout_s=20, interval_s=0.1, what="the page drawn")[1]


@pytest.mark.parametrize("login", ["gestionnaire", "exploitant"])
def test_no_drawn_page_shows_a_code_or_a_decimal_point(demo_server, browser, login):
    sign_in(browser, demo_server, login, f"demo-{login}")
    paths = [p["path"] for p in dash.page_registry.values()
             if not p.get("path_template") and p["path"] != "/404"]  # fmt: skip
    found = {}
    for path in [*paths, "/batiments/MAIRIE", "/batiments/SALLE-POLY"]:
        browser.get(demo_server.rstrip("/") + path)
        text = _drawn_text(browser)
        hints = browser.execute_script(
            "return Array.from(document.querySelectorAll('[title], [placeholder]'))"
            ".map(e => (e.title || '') + ' ' + (e.getAttribute('placeholder') || ''))"
        )
        codes, points, where = english_in([*text.splitlines(), *hints])
        if codes or points:
            found[path] = (sorted(codes), sorted(points), where)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)
