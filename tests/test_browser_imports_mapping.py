"""Real browser, as the manager: a file whose header is not recognised (`Capteur;Quand;Mesure`)
gets the column mapping; the preview shows the values as they will be read; « Importer »
lands the readings; « Enregistrer comme profil » stores it, and the next file of that header is
imported with the profile at once."""

from __future__ import annotations

import datetime as dt

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import select

from carnet.models import Channel, ImportBatch, ImportProfile, Reading
from tests.helpers.browser import password_of, sign_in, wait_for
from tests.helpers.seed import epoch, seed_town
from tests.helpers.wait import until

pytestmark = pytest.mark.browser


def _value(engine, code: str, ts: int):
    with engine.connect() as conn:
        cid = conn.execute(select(Channel.id).where(Channel.code == code)).scalar_one()
        return conn.execute(
            select(Reading.value).where(Reading.channel_id == cid, Reading.ts == ts)
        ).scalar_one_or_none()


def test_manager_maps_imports_and_saves_a_profile(live_app, browser, tmp_path):
    engine = live_app.engine
    seed_town(engine)
    first = tmp_path / "capteurs.csv"
    first.write_text(
        "Capteur;Quand;Mesure\nMAIRIE-T;16/01/2025 08:00;19,5\nMAIRIE-T;16/01/2025 09:00;20,25\n",
        encoding="utf-8",
    )
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/imports"))
    wait_for(browser, "#imp-upload", timeout=30)
    browser.find_element(By.CSS_SELECTOR, "#imp-upload input[type=file]").send_keys(str(first))
    wait_for(browser, "#imp-map-panel", timeout=30)
    assert "Capteur · Quand · Mesure" in wait_for(browser, "#imp-map-columns").text
    table = wait_for(browser, "#imp-map-preview-table", timeout=30, text="20,25")
    assert "MAIRIE-T" in table.text and "16/01/2025 08:00" in table.text
    with engine.connect() as conn:
        assert not conn.execute(select(ImportBatch.id)).all()  # nothing before « Importer »
    browser.find_element(By.ID, "imp-map-import").click()
    wait_for(browser, "#imp-result .alert-ok", timeout=30)
    until(lambda: _value(engine, "MAIRIE-T", epoch(dt.datetime(2025, 1, 16, 9, 0))) == 20.25)

    browser.find_element(By.ID, "imp-map-profile-name").send_keys("capteurs")
    browser.find_element(By.ID, "imp-map-save").click()
    wait_for(browser, "#imp-map-save-ok", timeout=30)
    with engine.connect() as conn:
        saved = conn.execute(select(ImportProfile).where(ImportProfile.code == "capteurs")).one()
    assert saved.columns == {"channel": "Capteur", "timestamp": "Quand", "value": "Mesure"}

    second = tmp_path / "capteurs-2.csv"
    second.write_text("Capteur;Quand;Mesure\nMAIRIE-T;17/01/2025 10:00;21,5\n", encoding="utf-8")
    browser.get(live_app.page("/imports"))
    wait_for(browser, "#imp-upload", timeout=30)
    browser.find_element(By.CSS_SELECTOR, "#imp-upload input[type=file]").send_keys(str(second))
    wait_for(browser, "#imp-result .alert-ok", timeout=30)
    assert not browser.find_elements(By.ID, "imp-map-panel")
    with engine.connect() as conn:
        batch = conn.execute(
            select(ImportBatch).where(ImportBatch.source == "capteurs-2.csv")
        ).one()
    assert batch.format == "profile"
    assert _value(engine, "MAIRIE-T", epoch(dt.datetime(2025, 1, 17, 10, 0))) == 21.5
