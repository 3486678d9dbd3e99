"""Real browser: the manager reviews the readings an import held in quarantine on the imports
page (a motif, a confirmation, the record and the audit trail checked in the database); the
contractor has no such section, and its forged callback is refused by the served app."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from carnet.db import session_scope
from carnet.models import ImportBatch, QuarantinedReading
from ingest.importer import import_file
from tests.helpers.browser import (
    dash_callback_payload,
    http_session,
    password_of,
    sign_in,
    wait_for,
)
from tests.helpers.held_readings import audit_of, hold_readings, quarantine_row, stored
from tests.helpers.seed import epoch, seed_town

pytestmark = pytest.mark.browser

# records the status of every callback request the page makes (Dash posts them with fetch)
RECORD_FETCHES = """
window.__carnetStatuses = [];
const realFetch = window.fetch;
window.fetch = function(url, options) {
    return realFetch.apply(this, arguments).then(function(response) {
        window.__carnetStatuses.push([String(url), response.status]);
        return response;
    });
};
"""


def confirm_dialog(browser, expected: str) -> None:
    """Accept the browser's native confirmation (dcc.ConfirmDialog), checking its text."""
    alert = WebDriverWait(browser, 10).until(ec.alert_is_present())
    assert expected in alert.text, alert.text
    alert.accept()


def review(browser, qid: int, why: str | None) -> None:
    browser.find_element(By.CSS_SELECTOR, f'tr[data-quarantine="{qid}"] button').click()
    wait_for(browser, "#imp-q-panel", text=f"Relevé n° {qid}")
    box = browser.find_element(By.ID, "imp-q-why")
    assert box.get_attribute("value") == ""  # a motif is given for one reading
    if why:
        box.send_keys(why)


def test_manager_accepts_and_rejects_held_readings(live_app, browser):
    ids = seed_town(live_app.engine)
    held = hold_readings(live_app.engine, ids)
    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/imports"))
    wait_for(browser, "#imp-q-badge", timeout=15, text="3 relevés en quarantaine")
    row = wait_for(browser, f'tr[data-quarantine="{held["jump"]}"]')
    # (selenium gives the no-break space before the unit as a plain space)
    for shown in ("MAIRIE-GAZ", "MAIRIE", "15/01/2025 15:00", "173\u202f464 m³"):
        assert shown in row.text, shown
    assert "releves-janvier.csv" in row.text and "560 090 kW" in row.text

    # no motif: the page says so and asks nothing
    review(browser, held["jump"], None)
    browser.find_element(By.ID, "imp-q-accept").click()
    wait_for(browser, "#imp-q-error", text="Indiquez le motif de la décision")
    assert quarantine_row(live_app.engine, held["jump"]).status == "held"

    # accept with a motif, confirmed
    why = "Index relevé sur place par l'agent le 16/01"
    review(browser, held["jump"], why)
    browser.find_element(By.ID, "imp-q-accept").click()
    confirm_dialog(browser, f"Accepter le relevé n° {held['jump']}")
    wait_for(browser, "#imp-q-ok", timeout=15, text="accepté")
    wait_for(browser, "#imp-q-badge", text="2 relevés en quarantaine")
    assert not browser.find_elements(By.CSS_SELECTOR, f'tr[data-quarantine="{held["jump"]}"]')
    accepted = quarantine_row(live_app.engine, held["jump"])
    assert (accepted.status, accepted.decided_by, accepted.decision_note) == (
        "accepted",
        "gestionnaire",
        why,
    )
    ts = epoch(dt.datetime(2025, 1, 15, 15, 0))
    assert stored(live_app.engine, ids["MAIRIE-GAZ"], ts)[0] == 173464.0
    assert audit_of(live_app.engine, held["jump"]) == [("gestionnaire", "accept")]

    # reject another; cancelling the confirmation first changes nothing
    why = "Doublon d'un index estimé par le distributeur"
    review(browser, held["pasteur"], why)
    browser.find_element(By.ID, "imp-q-reject").click()
    WebDriverWait(browser, 10).until(ec.alert_is_present()).dismiss()
    assert quarantine_row(live_app.engine, held["pasteur"]).status == "held"
    browser.find_element(By.ID, "imp-q-reject").click()
    confirm_dialog(browser, f"Rejeter le relevé n° {held['pasteur']}")
    wait_for(browser, "#imp-q-ok", timeout=15, text="rejeté")
    wait_for(browser, "#imp-q-badge", text="1 relevé en quarantaine")
    rejected = quarantine_row(live_app.engine, held["pasteur"])
    assert (rejected.status, rejected.decided_by) == ("rejected", "gestionnaire")
    pasteur_ts = epoch(dt.datetime(2024, 7, 14, 10, 0))
    assert stored(live_app.engine, ids["PASTEUR-GAZ"], pasteur_ts) is None
    assert audit_of(live_app.engine, held["pasteur"]) == [("gestionnaire", "reject")]
    # the one left is still held, in the table
    assert quarantine_row(live_app.engine, held["drop"]).status == "held"
    wait_for(browser, f'tr[data-quarantine="{held["drop"]}"]')


def test_contractor_has_no_review_and_its_forged_callback_is_refused(live_app, browser, tmp_path):
    ids = seed_town(live_app.engine)
    held = hold_readings(live_app.engine, ids)
    sign_in(browser, live_app.url, "exploitant", password_of("exploitant"))
    browser.get(live_app.page("/imports"))
    wait_for(browser, "#imp-history", timeout=15)
    browser.execute_script(RECORD_FETCHES)
    page = browser.find_element(By.CSS_SELECTOR, ".page.imports").text
    assert "Imports de relevés" in page and "quarantaine" not in page
    assert not browser.find_elements(By.CSS_SELECTOR, "#imp-q-section, #imp-q-badge")
    # an upload refreshes the history: the page asks for nothing the contractor may not have
    csv = tmp_path / "releves-exploitant.csv"
    csv.write_text("point;horodate;valeur\nMAIRIE-T;16/01/2025 08:00;19,5\n", encoding="utf-8")
    browser.find_element(By.CSS_SELECTOR, "#imp-upload input[type=file]").send_keys(str(csv))
    wait_for(browser, "#imp-history", timeout=15, text="releves-exploitant.csv")
    statuses = browser.execute_script("return window.__carnetStatuses")
    assert statuses and all(status == 200 for _url, status in statuses), statuses

    # the same decision, forged over HTTP with the contractor's session: refused, no data
    base = live_app.url
    http = http_session(base, "exploitant", password_of("exploitant"))
    deps = http.get(base + "_dash-dependencies", timeout=10).json()
    values = {
        "imp-q-confirm.submit_n_clicks": 1,
        "imp-q-pending.data": {"action": "accept", "id": held["jump"]},
        "imp-q-why.value": "forcé",
    }
    dep = next(d for d in deps if any(i["id"] == "imp-q-confirm" for i in d["inputs"]))
    payload = dash_callback_payload(deps, dep["output"], values)
    refused = http.post(base + "_dash-update-component", json=payload, timeout=10)
    assert refused.status_code == 403
    body = json.dumps(refused.json(), ensure_ascii=False)
    assert "Accès refusé" in body and "MAIRIE-GAZ" not in body
    assert requests.post(base + "_dash-update-component", json=payload).status_code == 401
    with session_scope(live_app.engine) as s:
        assert {q.status for q in s.query(QuarantinedReading)} == {"held"}
    assert audit_of(live_app.engine, held["jump"]) == []


def test_manager_reverts_a_batch_and_sees_a_refusal_first(live_app, browser, tmp_path):
    ids = seed_town(live_app.engine)
    held = hold_readings(live_app.engine, ids)
    files = {
        "premier.csv": "point;horodate;valeur\nMAIRIE-T;16/01/2025 08:00;19,5\n",
        "second.csv": "point;horodate;valeur\nMAIRIE-T;16/01/2025 08:00;20,5\n"
        "MAIRIE-T;16/01/2025 09:00;21\n",
    }
    batch = {}
    for name, content in files.items():
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        batch[name] = import_file(live_app.engine, path, user="gestionnaire").batch_id
    eight = epoch(dt.datetime(2025, 1, 16, 8, 0))
    assert stored(live_app.engine, ids["MAIRIE-T"], eight)[0] == 20.5

    sign_in(browser, live_app.url, "gestionnaire", password_of("gestionnaire"))
    browser.get(live_app.page("/imports"))

    def revert(batch_id: int, why: str) -> None:
        row = wait_for(browser, f'#imp-history tr[data-batch="{batch_id}"]', timeout=15)
        row.find_element(By.XPATH, ".//button[normalize-space()='Annuler ce lot']").click()
        wait_for(browser, "#imp-rv-panel", text=f"Annuler le lot n° {batch_id}")
        box = browser.find_element(By.ID, "imp-rv-why")
        assert box.get_attribute("value") == ""  # a motif is given for one batch
        box.send_keys(why)
        browser.find_element(By.ID, "imp-rv-submit").click()
        confirm_dialog(browser, f"Annuler le lot n° {batch_id}")

    # the older batch: refused, with the reason naming the later one
    first, second = batch["premier.csv"], batch["second.csv"]
    revert(first, "Mauvais fichier")
    wait_for(browser, "#imp-rv-error", timeout=15, text=f"le lot n° {second} a remplacé")
    assert "Annulation refusée" in browser.find_element(By.ID, "imp-rv-error").text
    assert stored(live_app.engine, ids["MAIRIE-T"], eight)[0] == 20.5

    # the later one: reverted, the old value back, the history says « annulé » and why
    why = "Relevés du mauvais thermomètre"
    revert(second, why)
    wait_for(browser, "#imp-rv-ok", timeout=15, text=f"lot n° {second} (second.csv) annulé")
    row = wait_for(browser, f'#imp-history tr[data-batch="{second}"]', text="annulé")
    assert why in row.text and "gestionnaire" in row.text
    assert not row.find_elements(By.TAG_NAME, "button")
    assert stored(live_app.engine, ids["MAIRIE-T"], eight) == (19.5, 0, first)
    with session_scope(live_app.engine) as s:
        done = s.get(ImportBatch, second)
        assert (done.status, done.reverted_by, done.revert_reason) == (
            "reverted",
            "gestionnaire",
            why,
        )

    # the batch that held readings: reverting it sets them aside, and the review follows
    wait_for(browser, "#imp-q-badge", text="3 relevés en quarantaine")
    revert(1, "Fichier de test envoyé par erreur")
    wait_for(browser, "#imp-rv-ok", timeout=15, text="3 relevé(s) en quarantaine écarté(s)")
    wait_for(browser, "#imp-q-badge", timeout=15, text="Aucun relevé en quarantaine")
    assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-quarantine]")
    assert {quarantine_row(live_app.engine, q).status for q in held.values()} == {"rejected"}
