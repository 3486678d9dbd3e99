"""Real browser: the manager closes a month on the finance page and the season on the savings
page, and sees « arrêté le JJ/MM/AAAA par gestionnaire »; the figures stored are those the page
and `carnet export finance` showed. The contractor has no button on the savings page, the
finance officer none on the finance page, and a forged close callback is refused."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest
import requests
from selenium.webdriver.common.by import By
from sqlalchemy import func, select

from carnet.db import session_scope
from carnet.frcsv import to_french_csv
from carnet.models import AuditEvent, ClosedPeriod
from carnet.timeutil import TZ_NAME
from contract.finance_table import french
from dashboards.finances_data import finance_month
from dashboards.fmt import fr_eur
from tests.helpers.browser import (
    CONTRACT_CODE,
    dash_callback_payload,
    http_session,
    password_of,
    sign_in,
    wait_for,
)
from tests.helpers.closing_town import seed

pytestmark = pytest.mark.browser


def closed_rows(engine) -> list[ClosedPeriod]:
    with session_scope(engine) as s:
        rows = s.scalars(select(ClosedPeriod).order_by(ClosedPeriod.id)).all()
        s.expunge_all()
        return rows


def finance_csv(engine, month: str) -> bytes:
    return to_french_csv(french(finance_month(engine, CONTRACT_CODE, month).frame))


def test_manager_closes_a_month_and_the_season(live_app, browser):
    month, season = seed(live_app.engine)
    csv_live = finance_csv(live_app.engine, month)
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page(f"/finances?contrat={CONTRACT_CODE}&mois={month}"))
    button = wait_for(browser, "#fin-close", timeout=20)
    assert button.text == "Arrêter le mois"
    button.click()
    today = pd.Timestamp.now(tz=TZ_NAME).strftime("%d/%m/%Y")
    marker = f"arrêté le {today} par gestionnaire"
    wait_for(browser, "#fin-closed", timeout=20, text=marker)
    assert not browser.find_elements(By.ID, "fin-close")
    (row,) = closed_rows(live_app.engine)
    assert (row.period_kind, row.period, row.closed_by) == ("month", month, "gestionnaire")
    # what was signed is what was shown: the same lines, now marked
    csv_closed = finance_csv(live_app.engine, month)
    live, closed = (b.decode("utf-8-sig").splitlines() for b in (csv_live, csv_closed))
    header = live[0].split(";")
    keep = [i for i, h in enumerate(header) if h not in ("Arrêté", "Statut")]
    assert [[r.split(";")[i] for i in keep] for r in live] == [
        [r.split(";")[i] for i in keep] for r in closed
    ]
    signed = header.index("Arrêté")
    assert all(r.split(";")[signed] == marker for r in closed[1:])
    download = http_session(live_app.url, "gestionnaire", password_of("gestionnaire")).get(
        live_app.url + f"export/finances/{CONTRACT_CODE}/{month}.csv", timeout=20
    )
    assert download.status_code == 200 and download.content == csv_closed

    # the savings page names the closed month, and closes the season
    browser.get(live_app.page(f"/economies?contrat={CONTRACT_CODE}&saison={season}"))
    wait_for(browser, "#savings-closed-months", timeout=30, text=marker)
    wait_for(browser, "#savings-close-season", timeout=10).click()
    wait_for(browser, "#savings-closed", timeout=30, text=f"arrêtée le {today} par gestionnaire")
    rows = closed_rows(live_app.engine)
    assert [(r.period_kind, r.period) for r in rows] == [("month", month), ("season", season)]
    with session_scope(live_app.engine) as s:
        audit = s.scalars(select(AuditEvent).where(AuditEvent.entity == "closed_period")).all()
        assert [(a.action, a.actor) for a in audit] == [("close", "gestionnaire")] * 2
    # the tiles show the signed season totals
    signed = rows[1].figures["settle"]["total"]
    for tile, key in (
        ("savings-total-bonus", "bonus_eur"),
        ("savings-total-penalty", "penalty_eur"),
    ):
        shown = browser.find_element(By.ID, tile).text  # selenium turns no-break spaces
        expected = fr_eur(Decimal(signed[key])).replace("\u00a0", " ").replace("\u202f", " ")
        assert expected in shown.replace("\u202f", " "), (tile, shown, signed[key])
    assert Decimal(signed["penalty_eur"]) > 0
    # a building's detail reads the signed months too
    browser.find_element(By.CSS_SELECTOR, '[data-building="ECOLE-A"] button').click()
    wait_for(browser, "#savings-building-detail", timeout=30)
    assert browser.find_elements(By.CSS_SELECTOR, "#savings-fig-monthly")


def test_contractor_and_finance_have_no_button_and_forged_close_is_refused(live_app, browser):
    month, season = seed(live_app.engine)
    sign_in(browser, live_app.url, "exploitant", password_of("exploitant"))
    browser.get(live_app.page(f"/economies?contrat={CONTRACT_CODE}&saison={season}"))
    wait_for(browser, "#savings-table", timeout=30)
    assert not browser.find_elements(By.ID, "savings-close-season")

    sign_in(browser, live_app.url, "finances", password_of("finances"))
    browser.get(live_app.page(f"/finances?contrat={CONTRACT_CODE}&mois={month}"))
    wait_for(browser, "#fin-download", timeout=20)
    assert not browser.find_elements(By.ID, "fin-close")

    base = live_app.url
    forged = {
        "exploitant": ("savings-close-msg", {"savings-close-season.n_clicks": 1,
                       "savings-contract.value": CONTRACT_CODE, "savings-season.value": season}),
        "finances": ("fin-close-msg", {"fin-close.n_clicks": 1,
                     "fin-contract.value": CONTRACT_CODE, "fin-month.value": month}),
    }  # fmt: skip
    for login, (output, values) in forged.items():
        http = http_session(base, login, password_of(login))
        deps = http.get(base + "_dash-dependencies", timeout=10).json()
        payload = dash_callback_payload(deps, output, values)
        refused = http.post(base + "_dash-update-component", json=payload, timeout=20)
        assert refused.status_code == 403, (login, refused.text[:200])
        assert "Accès refusé" in json.dumps(refused.json(), ensure_ascii=False)
        assert requests.post(base + "_dash-update-component", json=payload).status_code == 401
    with session_scope(live_app.engine) as s:
        assert s.scalar(select(func.count()).select_from(ClosedPeriod)) == 0
