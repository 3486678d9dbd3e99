"""The carnet's web routes over HTTP (Flask test client): attachment downloads guarded by
building, the QR code page, the agents' form, and page access by role."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from carnet.attachments import add_attachment
from carnet.db import get_engine, session_scope
from carnet.logbook import add_entry
from carnet.models import Attachment, Building, LogbookEntry, User
from dashboards.app import create_app
from tests.helpers.carnet_web_seed import client_for, seed_carnet
from tests.helpers.web_client import CSRF

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


@pytest.fixture
def app(db_url):
    engine = get_engine(db_url)
    seed_carnet(engine)
    return create_app(db_url)


def _attachment(engine, building_code: str) -> int:
    with session_scope(engine) as s:
        manager = s.scalar(select(User).where(User.login == "gestionnaire"))
        entry = add_entry(s, manager, building_code, "works", "Rapport de travaux")
        return add_attachment(s, manager, entry, "rapport.pdf", PDF).id


def test_attachment_download_is_guarded_by_building(app, db_url):
    engine = get_engine(db_url)
    att = _attachment(engine, "MAIRIE")
    for login in ("gestionnaire", "exploitant", "agent"):
        r = client_for(app, login).get(f"/pieces-jointes/{att}")
        assert r.status_code == 200, login
        assert r.data == PDF and r.mimetype == "application/pdf"
        assert "sandbox" in r.headers["Content-Security-Policy"]
        assert r.headers["Content-Disposition"].startswith("attachment;")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    # a contractor of another contract, finance and the programmer: 403
    for login in ("exploitant2", "finances", "programmation"):
        assert client_for(app, login).get(f"/pieces-jointes/{att}").status_code == 403, login
    assert client_for(app, "gestionnaire").get("/pieces-jointes/999999").status_code == 404
    # anonymous: sent to sign in, never the file
    anon = app.server.test_client().get(f"/pieces-jointes/{att}")
    assert anon.status_code in (302, 401) and anon.data != PDF
    # the other contractor does get its own building's files
    other = _attachment(engine, "ECOLE")
    assert client_for(app, "exploitant2").get(f"/pieces-jointes/{other}").status_code == 200
    assert client_for(app, "exploitant").get(f"/pieces-jointes/{other}").status_code == 403


def test_qr_page_and_agent_form(app, db_url):
    engine = get_engine(db_url)
    manager = client_for(app, "gestionnaire")
    r = manager.get("/batiments/MAIRIE/qr")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    with session_scope(engine) as s:
        token = s.scalar(select(Building.qr_token).where(Building.code == "MAIRIE"))
    assert token and f"/signaler/{token}" in html and "<svg" in html and "<path" in html
    assert client_for(app, "agent").get("/batiments/MAIRIE/qr").status_code == 403
    assert manager.get("/batiments/NOPE/qr").status_code == 404

    agent = client_for(app, "agent")
    form = agent.get(f"/signaler/{token}")
    assert form.status_code == 200 and "Salle du conseil" in form.get_data(as_text=True)
    csrf = CSRF.search(form.get_data(as_text=True)).group(1)
    # a file that is not a photo is refused, and no observation is left behind
    bad = agent.post(
        f"/signaler/{token}",
        data={
            "csrf": csrf,
            "room": "MAIRIE-CONSEIL",
            "text": "Radiateur froid",
            "photo": (io.BytesIO(b"<script>"), "photo.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400 and "type de fichier refusé" in bad.get_data(as_text=True)
    assert "Radiateur froid" in bad.get_data(as_text=True)  # the text is kept
    ok = agent.post(
        f"/signaler/{token}",
        data={
            "csrf": csrf,
            "room": "MAIRIE-CONSEIL",
            "text": "Radiateur froid",
            "photo": (io.BytesIO(PNG), "radiateur.png"),
        },
        content_type="multipart/form-data",
    )
    assert ok.status_code == 302 and ok.headers["Location"].startswith("/mes-signalements?envoye=")
    with session_scope(engine) as s:
        (obs,) = s.scalars(select(LogbookEntry).where(LogbookEntry.kind == "observation")).all()
        assert (obs.author_login, obs.source, obs.status) == ("agent", "qr", "open")
        assert obs.room.code == "MAIRIE-CONSEIL"
        (att,) = s.scalars(select(Attachment).where(Attachment.entry_id == obs.id)).all()
        assert att.content_type == "image/png" and att.uploaded_by == "agent"
    # without the form's token: refused
    forged = agent.post(f"/signaler/{token}", data={"csrf": "x", "text": "y"})
    assert forged.status_code == 400
    assert agent.get("/signaler/faux-jeton").status_code == 404
    # the contractor of another contract may not report on MAIRIE; finance may not report
    other = client_for(app, "exploitant2")
    page = other.get(f"/signaler/{token}").get_data(as_text=True)
    r = other.post(f"/signaler/{token}", data={"csrf": CSRF.search(page).group(1), "text": "x"})
    assert r.status_code == 403
    assert client_for(app, "finances").get(f"/signaler/{token}").status_code == 403


@pytest.mark.parametrize(
    ("login", "path", "status"),
    [
        ("finances", "/batiments/MAIRIE", 403),
        ("finances", "/batiments", 403),
        ("finances", "/obligations", 403),
        ("programmation", "/obligations", 403),
        ("programmation", "/batiments/MAIRIE", 200),  # rooms only, decided by the layout
        ("agent", "/mes-signalements", 200),
        ("agent", "/obligations", 200),
        ("programmation", "/mes-signalements", 403),
        ("exploitant", "/obligations", 200),
    ],
)
def test_pages_by_role(app, login, path, status):
    assert client_for(app, login).get(path).status_code == status


def _callback(client, output_id, values):
    from tests.helpers.browser import dash_callback_payload

    deps = client.get("/_dash-dependencies").get_json()
    return client.post(
        "/_dash-update-component", json=dash_callback_payload(deps, output_id, values)
    )


def _text(response) -> str:
    return json.dumps(response.get_json(), ensure_ascii=False)


def _page(client, path) -> str:
    r = _callback(client, "_pages_content", {"_pages_location.pathname": path})
    assert r.status_code == 200
    return json.dumps(r.get_json(), ensure_ascii=False)


def test_building_page_content_by_role(app, db_url):
    manager = _page(client_for(app, "gestionnaire"), "/batiments/MAIRIE")
    for piece in (
        "MAIRIE-CHAUD-1",
        "MAIRIE-BRULEUR-1",
        "Ramonage",
        "bp-add",
        "bp-edit",
        "Salle du conseil",
    ):
        assert piece in manager, piece
    # the programmer: rooms only (no equipment, no logbook, no obligations)
    prog = _page(client_for(app, "programmation"), "/batiments/MAIRIE")
    assert "Salle du conseil" in prog
    assert "MAIRIE-CHAUD-1" not in prog and "Ramonage" not in prog and "bp-timeline" not in prog
    # a contractor outside its contract, and finance: refused
    assert "acces-refuse" in _page(client_for(app, "exploitant2"), "/batiments/MAIRIE")
    assert "acces-refuse" in _page(client_for(app, "finances"), "/batiments/MAIRIE")
    # the agent reads, may report, may not triage nor record interventions
    agent = _page(client_for(app, "agent"), "/batiments/MAIRIE")
    assert "bp-timeline" in agent and "bp-signal-link" in agent
    assert "bp-edit" not in agent and "tri-btn" not in agent and "bp-qr-link" not in agent


def test_callbacks_enforce_roles_on_the_server(app, db_url):
    engine = get_engine(db_url)
    with session_scope(engine) as s:
        agent = s.scalar(select(User).where(User.login == "agent"))
        obs = add_entry(s, agent, "MAIRIE", "observation", "Fuite au plafond")
        obs_id = obs.id
        from carnet.models import Obligation

        ob = s.scalar(
            select(Obligation).where(
                Obligation.template == "boiler_maintenance",
                Obligation.building_id == obs.building_id,
            )
        )
        ob_id = ob.id
    add_values = {
        "bp-add-submit.n_clicks": 1,
        "bp-code.data": "MAIRIE",
        "bp-add-kind.value": "preventive",
        "bp-add-equipment.value": "MAIRIE-CHAUD-1",
        "bp-add-date.date": "2025-03-31",
        "bp-add-cost.value": "1 234,56",
        "bp-add-obligation.value": ob_id,
        "bp-add-text.value": "Entretien annuel",
    }
    # finance has no carnet at all: HTTP 403 before anything runs
    assert _callback(client_for(app, "finances"), "bp-add-msg", add_values).status_code == 403
    # the other contract's contractor: refused by the service
    r = _callback(client_for(app, "exploitant2"), "bp-add-msg", add_values)
    assert "accès refusé" in _text(r)
    # the agent may not record a preventive visit
    r = _callback(client_for(app, "agent"), "bp-add-msg", add_values)
    assert "accès refusé" in _text(r)
    # the contract's contractor may: the obligation moves one year after 31/03/2025
    r = _callback(client_for(app, "exploitant"), "bp-add-msg", add_values)
    assert "enregistrée" in _text(r)
    with session_scope(engine) as s:
        from carnet.models import Obligation

        ob = s.get(Obligation, ob_id)
        assert (ob.last_done_on.isoformat(), ob.next_due_on.isoformat()) == (
            "2025-03-31",
            "2026-03-31",
        )
        entry = s.scalars(select(LogbookEntry).where(LogbookEntry.kind == "preventive")).one()
        assert (entry.author_login, entry.cost_cents) == ("exploitant", 123456)
        work_id = entry.id

    triage_values = {
        f'{{"action":"close","id":{obs_id},"type":"tri-btn"}}.n_clicks': 1,
        "bp-code.data": "MAIRIE",
    }
    # the triage callback: manager only (HTTP 403 for the contractor and the agent)
    from tests.helpers.browser import dash_callback_payload

    for login in ("exploitant", "agent"):
        client = client_for(app, login)
        deps = client.get("/_dash-dependencies").get_json()
        payload = dash_callback_payload(deps, "bp-triage-msg", triage_values)
        assert client.post("/_dash-update-component", json=payload).status_code == 403, login

    # the edit callback (the form opened from the entry, prefilled): the contractor may cancel
    # its own entry (never deleted), not the agent's
    edit_values = {
        "bp-edit-submit.n_clicks": 1,
        "bp-code.data": "MAIRIE",
        "bp-edit-status.value": "cancelled",
        "bp-edit-note.value": "saisie en double",
    }
    contractor = client_for(app, "exploitant")
    r = _callback(
        contractor,
        "bp-rev-edit",
        edit_values | {"bp-edit-id.data": obs_id, "bp-edit-text.value": "Fuite au plafond"},
    )
    assert "accès refusé" in _text(r)
    work_values = edit_values | {
        "bp-edit-id.data": work_id,
        "bp-edit-text.value": "Entretien annuel",
    }
    r = _callback(contractor, "bp-rev-edit", work_values)
    assert "mise à jour" in _text(r)
    assert _callback(client_for(app, "agent"), "bp-rev-edit", work_values).status_code == 403
    with session_scope(engine) as s:
        entry = s.get(LogbookEntry, work_id)
        assert (entry.status, entry.answer) == ("cancelled", "saisie en double")


def test_obligation_edit_callback_is_for_the_manager(app, db_url):
    from carnet.models import Obligation

    engine = get_engine(db_url)
    with session_scope(engine) as s:
        ob_id = s.scalar(
            select(Obligation.id)
            .where(Obligation.template == "chimney_sweeping", Obligation.equipment_id.is_not(None))
            .order_by(Obligation.id)
        )
    values = {
        "bp-ob-submit.n_clicks": 1,
        "bp-code.data": "MAIRIE",
        "bp-ob-id.value": ob_id,
        "bp-ob-months.value": 12,
        "bp-ob-last.date": "2025-01-31",
    }
    assert _callback(client_for(app, "exploitant"), "bp-ob-msg", values).status_code == 403
    assert _callback(client_for(app, "agent"), "bp-ob-msg", values).status_code == 403
    r = _callback(client_for(app, "gestionnaire"), "bp-ob-msg", values)
    assert "Obligation mise à jour" in _text(r)
    with session_scope(engine) as s:
        ob = s.get(Obligation, ob_id)
        assert (ob.periodicity_months, str(ob.next_due_on)) == (12, "2026-01-31")
    # an obligation of another building cannot be edited from this page
    with session_scope(engine) as s:
        other = s.scalar(select(Obligation.id).join(Building).where(Building.code == "ECOLE"))
    r = _callback(client_for(app, "gestionnaire"), "bp-ob-msg", values | {"bp-ob-id.value": other})
    assert "ne concerne pas ce bâtiment" in _text(r)
