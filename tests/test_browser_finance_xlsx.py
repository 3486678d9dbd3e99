"""Real browser: the finance officer opens the finance page of a month with revised prices and
downloads the workbook through Chromium; the file on disk is the engine's lines (numbers,
dates, the revised P1, P2, P3). The contractor reaches neither the page nor the files."""

from __future__ import annotations

import time
from pathlib import Path

import openpyxl
import pytest
import requests
from selenium.webdriver.common.by import By
from sqlalchemy import select

from carnet.db import session_scope
from carnet.models import Contract
from dashboards.finances_data import finance_month
from ingest.importer import import_file
from tests.helpers.browser import CONTRACT_CODE, http_session, password_of, sign_in, wait_for
from tests.helpers.closing_town import seed

pytestmark = pytest.mark.browser

TERMS = {
    "p1_revision": {"fixed": 0.15, "terms": [{"index": "PEG", "weight": 0.85, "base": 30.0}]},
    "p2_eur_per_month": 900,
    "p2_revision": {"fixed": 0.2, "terms": [{"index": "ICHT-IME", "weight": 0.8, "base": 125.0}]},
    "p3_eur_per_month": 300,
}


def revised_town(engine, tmp_path: Path) -> str:
    month, _season = seed(engine)
    with session_scope(engine) as s:
        s.scalars(select(Contract).where(Contract.code == CONTRACT_CODE)).one().terms = TERMS
    year = int(month[:4])
    path = tmp_path / "indices.csv"
    path.write_text(
        f"indice;mois;valeur\nPEG;{year}-09;31,2\nPEG;{month};33,6\nICHT-IME;09/{year};127,5\n",
        encoding="utf-8",
    )
    assert import_file(engine, path).status == "ok"
    return month


def _downloaded(folder: Path, name: str, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        target = folder / name
        if target.exists() and not list(folder.glob("*.crdownload")):
            return target
        time.sleep(0.2)
    raise AssertionError(f"{name} not downloaded: {sorted(p.name for p in folder.iterdir())}")


def test_finance_officer_downloads_the_workbook(live_app, browser, tmp_path):
    month = revised_town(live_app.engine, tmp_path)
    folder = tmp_path / "telechargements"
    folder.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
    )
    sign_in(browser, live_app.url, "finances", password_of("finances"))
    browser.get(live_app.page(f"/finances?contrat={CONTRACT_CODE}&mois={month}"))
    link = wait_for(browser, "#fin-download-xlsx", timeout=30)
    # the labour index of the month is not published yet: the page says so before any euro
    wait_for(browser, "#fin-provisional", timeout=10, text="ICHT-IME (valeur de septembre")
    assert link.text == "Télécharger le classeur Excel"
    assert browser.find_elements(By.ID, "fin-download-season")
    link.click()
    path = _downloaded(folder, f"carnet-finances-{CONTRACT_CODE}-{month}.xlsx")

    engine_lines = finance_month(live_app.engine, CONTRACT_CODE, month).frame
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Synthèse", CONTRACT_CODE, "Notes"]
    ws = wb[CONTRACT_CODE]
    header = [c.value for c in ws[1]]
    rows = {r[header.index("Code bâtiment")]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == set(engine_lines["building_code"])
    for rec in engine_lines.to_dict("records"):
        row = rows[rec["building_code"]]
        for key, fr in (
            ("p1_price_eur_per_mwh_pci", "Prix P1 révisé (€/MWh PCI)"),
            ("p1_value_eur", "Valeur P1 de la consommation (€)"),
            ("actual_mwh_pci", "Consommation réelle (MWh PCI)"),
            ("total_eur", "Total du mois : P1 + P2 + P3 + solde (€)"),
        ):
            assert row[header.index(fr)] == pytest.approx(float(rec[key]), abs=1e-9), fr
        assert row[header.index("Du")].date() == rec["period_from"]
    total = rows["TOTAL"]
    assert total[header.index("P2 conduite et entretien (€)")] == pytest.approx(
        900 * (0.2 + 0.8 * 127.5 / 125.0), abs=0.005
    )
    assert total[header.index("P3 gros entretien et renouvellement (€)")] == 300
    assert total[header.index("Prix P1 révisé (€/MWh PCI)")] == pytest.approx(
        92.5 * (0.15 + 0.85 * 33.6 / 30.0), abs=5e-5
    )  # tests.savings_town: 92,5 €/MWh PCI


def test_contractor_reaches_neither_the_finance_page_nor_its_files(live_app, browser, tmp_path):
    month = revised_town(live_app.engine, tmp_path)
    sign_in(browser, live_app.url, "exploitant", password_of("exploitant"))
    browser.get(live_app.page(f"/finances?contrat={CONTRACT_CODE}&mois={month}"))
    time.sleep(2)
    assert not browser.find_elements(By.ID, "fin-download-xlsx")
    assert not browser.find_elements(By.ID, "fin-body")
    http = http_session(live_app.url, "exploitant", password_of("exploitant"))
    for url in (
        f"export/finances/{CONTRACT_CODE}/{month}.xlsx",
        f"export/finances/{CONTRACT_CODE}/{month}.csv",
        f"export/finances/{CONTRACT_CODE}/saison/{month[:4]}-{int(month[:4]) + 1}.xlsx",
    ):
        assert http.get(live_app.url + url, timeout=20).status_code == 403, url
        assert requests.get(live_app.url + url, allow_redirects=False, timeout=20).status_code in (
            302,
            401,
        )
