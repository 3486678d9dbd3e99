"""Real browser: an agent reports an observation with a photo through the QR form, the manager
sees it in the building's timeline and answers it, the agent reads the answer."""

from __future__ import annotations

import struct
import zlib

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select

from carnet.db import session_scope
from carnet.models import Attachment, Building, LogbookEntry
from tests.helpers.browser import password_of, sign_in, wait_for
from tests.helpers.carnet_web_seed import seed_carnet

pytestmark = pytest.mark.browser


def tiny_png(size: int = 8) -> bytes:
    """A valid RGB PNG (a red square), so that the browser really decodes the thumbnail."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\xd0\x20\x20" * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_agent_reports_manager_answers_agent_reads(live_app, browser, tmp_path):
    seed_carnet(live_app.engine)
    with session_scope(live_app.engine) as s:
        token = s.scalar(select(Building.qr_token).where(Building.code == "MAIRIE"))
    photo = tmp_path / "radiateur.png"
    photo.write_bytes(tiny_png())
    text = "Le radiateur sous la fenêtre de la salle du conseil est froid"

    # 1. the agent, from the QR code: room, text, photo
    sign_in(browser, live_app.url, "agent", password_of("agent"))
    browser.get(live_app.page(f"/signaler/{token}"))
    wait_for(browser, "#signal-building", text="Hôtel de ville")
    Select(browser.find_element(By.ID, "room")).select_by_visible_text("Salle du conseil")
    browser.find_element(By.ID, "text").send_keys(text)
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    browser.find_element(By.ID, "signal-submit").click()
    wait_for(browser, "#report-sent", timeout=15)
    with session_scope(live_app.engine) as s:
        obs = s.scalars(select(LogbookEntry).where(LogbookEntry.kind == "observation")).one()
        entry_id = obs.id
        assert (obs.author_login, obs.text, obs.status) == ("agent", text, "open")
        att = s.scalars(select(Attachment).where(Attachment.entry_id == entry_id)).one()
        assert att.content_type == "image/png" and att.size_bytes == len(tiny_png())
    mine = f'#my-reports article[data-entry="{entry_id}"]'
    assert "Pas encore de réponse" in wait_for(browser, mine, text=text).text

    # 2. the manager sees it in the building's timeline, with its photo, and answers it
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/batiments/MAIRIE"))
    card = wait_for(
        browser, f'#bp-timeline article[data-entry="{entry_id}"]', timeout=15, text=text
    )
    assert "Agent d'accueil" in card.text and "MAIRIE-CONSEIL" in card.text
    thumb = card.find_element(By.CSS_SELECTOR, "img.thumb")
    assert thumb.get_attribute("src").endswith(f"/pieces-jointes/{att.id}")
    WebDriverWait(browser, 10).until(
        lambda d: (
            d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", thumb)
            == 8
        )
    )
    answer = "Merci : le chauffagiste passe demain matin purger le radiateur."
    browser.find_element(By.ID, "bp-open-triage").click()  # the triage is a dialog
    triage = f'.triage-card[data-entry="{entry_id}"]'
    wait_for(browser, f"{triage} textarea").send_keys(answer)
    browser.find_element(By.CSS_SELECTOR, f"{triage} button.tri-close").click()
    wait_for(browser, "#bp-triage-ok", text=f"n° {entry_id}")
    wait_for(browser, f'#bp-timeline article[data-entry="{entry_id}"] .entry-answer', text=answer)
    with session_scope(live_app.engine) as s:
        obs = s.get(LogbookEntry, entry_id)
        assert (obs.status, obs.answer) == ("done", answer)

    # 3. the agent reads the answer
    sign_in(browser, live_app.url, "agent", password_of("agent"))
    browser.get(live_app.page("/mes-signalements"))
    wait_for(browser, f"{mine} .entry-answer", timeout=15, text=answer)
    assert "Terminé" in browser.find_element(By.CSS_SELECTOR, mine).text


def test_contractor_records_an_intervention_with_a_report(live_app, browser, tmp_path):
    seed_carnet(live_app.engine)
    report = tmp_path / "rapport-intervention.pdf"
    report.write_bytes(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
    sign_in(browser, live_app.url, "exploitant", password_of("exploitant"))
    browser.get(live_app.page("/batiments/MAIRIE"))
    wait_for(browser, "#bp-open-add", timeout=15).click()  # the form is a dialog
    wait_for(browser, "#bp-add")
    text = "Remplacement du circulateur de la chaufferie"
    browser.find_element(By.ID, "bp-add-text").send_keys(text)
    browser.find_element(By.ID, "bp-add-cost").send_keys("1 234,56")
    browser.find_element(By.CSS_SELECTOR, "#bp-add-file input[type=file]").send_keys(str(report))
    wait_for(browser, "#bp-add-file-name", text="rapport-intervention.pdf")
    browser.find_element(By.ID, "bp-add-submit").click()
    wait_for(browser, "#bp-add-ok", timeout=15)
    with session_scope(live_app.engine) as s:
        entry = s.scalars(select(LogbookEntry).where(LogbookEntry.text == text)).one()
        # the contractor's form starts with its interventions: a preventive visit, done
        assert (entry.kind, entry.status, entry.author_login) == (
            "preventive",
            "done",
            "exploitant",
        )
        assert entry.cost_cents == 123456
        att = s.scalars(select(Attachment).where(Attachment.entry_id == entry.id)).one()
        assert att.content_type == "application/pdf" and att.filename == "rapport-intervention.pdf"
    card = wait_for(browser, f'#bp-timeline article[data-entry="{entry.id}"]', text=text)
    assert "1\u202f234,56 €" in card.text
    link = card.find_element(By.PARTIAL_LINK_TEXT, "rapport-intervention.pdf")
    assert link.get_attribute("href").endswith(f"/pieces-jointes/{att.id}")
