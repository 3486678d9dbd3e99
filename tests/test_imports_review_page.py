"""The manager's review on the imports page, through the Dash callback dispatch (Flask test
client): held readings shown in French, accept / reject / meter replacement with a required
motif and a confirmation step, every decision in the record and the audit trail; every other
role refused on the server (HTTP 403, no data), not only hidden from its layout."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from carnet.db import get_engine, session_scope
from carnet.kinds import Quality
from carnet.models import AuditEvent, Channel, ImportBatch, IndexReset, QuarantinedReading
from dashboards.app import create_app
from tests.helpers.browser import LOGIN_OF_ROLE, dash_callback_payload, password_of, seed_users
from tests.helpers.held_readings import audit_of, hold_readings, quarantine_row, stored
from tests.helpers.seed import epoch, seed_town
from tests.helpers.web_client import page_content, sign_in, upload

NNBSP, NBSP = "\u202f", "\u00a0"
OTHER_ROLES = ("contractor", "finance", "programmer", "agent")
# the page's own callbacks, named by one of their inputs
REVIEW_INPUTS = (
    "imp-q-accept.n_clicks",
    "imp-q-confirm.submit_n_clicks",
    "imp-history.children",
    "imp-rv-submit.n_clicks",
    "imp-rv-confirm.submit_n_clicks",
)


# ---------------------------------------------------------------- a review to do


@pytest.fixture
def town(db_url):
    engine = get_engine(db_url)
    seed_users(engine)
    ids = seed_town(engine)
    held = hold_readings(engine, ids)
    return engine, ids, held, create_app(db_url)


def client_of(app, role):
    client = app.server.test_client()
    login = LOGIN_OF_ROLE[role]
    assert sign_in(client, login, password_of(login)).status_code == 302
    return client


def text_of(response) -> str:
    return json.dumps(response.get_json(), ensure_ascii=False)


# ---------------------------------------------------------------- raw callback requests


def _dep_with_input(deps: list[dict], input_key: str) -> dict:
    for dep in deps:
        if any(f"{i['id']}.{i['property']}" == input_key for i in dep["inputs"]):
            return dep
    raise LookupError(input_key)


def fire(client, input_key: str, values: dict | None = None):
    """POST the callback that `input_key` ("id.property") triggers, as the renderer would."""
    deps = client.get("/_dash-dependencies").get_json()
    dep = _dep_with_input(deps, input_key)
    values = {input_key: 1, **(values or {})}
    payload = dash_callback_payload(deps, dep["output"], values)
    payload["changedPropIds"] = [input_key]
    return client.post("/_dash-update-component", json=payload)


def pick(client, qid: int, kind: str = "imp-q-pick"):
    """Click the « Examiner » button of one held reading (a pattern-matching input)."""
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(
        d
        for d in deps
        if any(isinstance(i["id"], str) and f'"type":"{kind}"' in i["id"] for i in d["inputs"])
    )
    payload = dash_callback_payload(deps, dep["output"])
    button = {"id": {"id": qid, "type": kind}, "property": "n_clicks", "value": 1}
    payload["inputs"] = [[button]]
    payload["changedPropIds"] = [json.dumps(button["id"], separators=(",", ":")) + ".n_clicks"]
    return client.post("/_dash-update-component", json=payload)


def outputs(response) -> dict:
    """{"id.property": value} of a multi-output callback response."""
    assert response.status_code == 200, response.status_code
    got = response.get_json()["response"]
    return {f"{cid}.{prop}": v for cid, props in got.items() for prop, v in props.items()}


def ask(client, action: str, selected, why, old=None, new=None):
    button = {"accept": "imp-q-accept", "reject": "imp-q-reject", "replace": "imp-q-replace"}
    return fire(
        client,
        f"{button[action]}.n_clicks",
        {
            "imp-q-selected.data": selected,
            "imp-q-why.value": why,
            "imp-q-old.value": old,
            "imp-q-new.value": new,
        },
    )


def confirm(client, action: str, qid: int, why, old=None, new=None):
    return fire(
        client,
        "imp-q-confirm.submit_n_clicks",
        {
            "imp-q-pending.data": {"action": action, "id": qid},
            "imp-q-why.value": why,
            "imp-q-old.value": old,
            "imp-q-new.value": new,
        },
    )


# ---------------------------------------------------------------- the manager


def test_manager_sees_the_held_readings_in_french_and_the_count(town):
    _engine, _ids, held, app = town
    page = page_content(client_of(app, "manager"), "/imports")
    assert page.status_code == 200
    body = text_of(page)
    assert "Relevés en quarantaine" in body and "3 relevés en quarantaine" in body
    # date in Paris time, value with French thousands and unit, file, line, reason
    assert "15/01/2025 15:00" in body and "14/07/2024 10:00" in body
    assert f"173{NNBSP}464{NBSP}m³" in body and f"12,5{NBSP}m³" in body
    assert f"1{NNBSP}280{NBSP}m³" in body  # an index of 1 280 is not « 1,28 »
    assert "m3" not in body.replace("releves", "")
    assert "releves-janvier.csv" in body and "ECOLE-PASTEUR" in body
    assert "+50 008 m³ en 1 h, soit 560 090 kW pour une chaudière de 250 kW" in body
    for name in ("Accepter", "Rejeter", "Déclarer un changement de compteur", "Motif"):
        assert name in body
    assert all(f'"data-quarantine": "{qid}"' in body for qid in held.values())


def test_accept_needs_a_motif_then_a_confirmation_and_is_recorded(town):
    engine, ids, held, app = town
    manager = client_of(app, "manager")
    qid = held["jump"]
    picked = outputs(pick(manager, qid))
    assert picked["imp-q-selected.data"] == qid and picked["imp-q-panel.style"] == {}
    assert "MAIRIE-GAZ" in json.dumps(picked["imp-q-title.children"], ensure_ascii=False)

    # no motif: refused by the page, nothing asked, nothing changed
    for why in (None, "", "   "):
        got = outputs(ask(manager, "accept", qid, why))
        assert got["imp-q-confirm.displayed"] is False
        assert "Indiquez le motif de la décision" in json.dumps(got, ensure_ascii=False)
    assert quarantine_row(engine, qid).status == "held"

    # with a motif: the confirmation names the reading
    why = "Index relevé sur place par l'agent le 16/01"
    got = outputs(ask(manager, "accept", qid, why))
    assert got["imp-q-confirm.displayed"] is True
    assert "Accepter le relevé n°" in got["imp-q-confirm.message"]
    assert f"173{NNBSP}464{NBSP}m³" in got["imp-q-confirm.message"]
    assert got["imp-q-pending.data"] == {"action": "accept", "id": qid}
    assert quarantine_row(engine, qid).status == "held"  # asking changes nothing

    # confirmed: stored, decided, audited; the table and the badge refresh
    done = outputs(confirm(manager, "accept", qid, why))
    text = json.dumps(done, ensure_ascii=False)
    assert "accepté" in text and "imp-q-ok" in text
    assert "2 relevés en quarantaine" in text
    assert f'"data-quarantine": "{qid}"' not in text
    assert done["imp-q-panel.style"] == {"display": "none"} and done["imp-q-why.value"] == ""
    row = quarantine_row(engine, qid)
    assert (row.status, row.decided_by, row.decision_note) == ("accepted", "gestionnaire", why)
    assert row.decided_at is not None
    ts = epoch(dt.datetime(2025, 1, 15, 15, 0))
    value, _quality, batch_id = stored(engine, ids["MAIRIE-GAZ"], ts)
    assert value == 173464.0 and batch_id == row.batch_id
    assert audit_of(engine, qid) == [("gestionnaire", "accept")]

    # a second confirmation (double click, replayed request) changes nothing and says so
    again = json.dumps(outputs(confirm(manager, "accept", qid, why)), ensure_ascii=False)
    assert "déjà décidé" in again and "imp-q-error" in again
    assert audit_of(engine, qid) == [("gestionnaire", "accept")]


def test_reject_keeps_the_reading_out_of_the_record(town):
    engine, ids, held, app = town
    manager = client_of(app, "manager")
    qid = held["pasteur"]
    why = "Doublon d'un index estimé par le distributeur"
    assert outputs(ask(manager, "reject", qid, why))["imp-q-confirm.displayed"] is True
    text = json.dumps(outputs(confirm(manager, "reject", qid, why)), ensure_ascii=False)
    assert "rejeté" in text and "2 relevés en quarantaine" in text
    row = quarantine_row(engine, qid)
    assert (row.status, row.decided_by, row.decision_note) == ("rejected", "gestionnaire", why)
    assert stored(engine, ids["PASTEUR-GAZ"], epoch(dt.datetime(2024, 7, 14, 10, 0))) is None
    assert audit_of(engine, qid) == [("gestionnaire", "reject")]


def test_meter_replacement_asks_for_both_indexes_and_never_guesses_them(town):
    engine, ids, held, app = town
    manager = client_of(app, "manager")
    qid = held["drop"]
    why = "Compteur remplacé par GRDF le 15/01 (avis de passage)"
    for old, new, expected in (
        (None, "10", "Indiquez l'ancien index final"),
        ("123 457", "", "Indiquez le nouvel index de départ"),
        ("1.280", "10", "ambigu : 1,28 ou 1" + NNBSP + "280 ?"),
        ("123 457", "dix", "illisible"),
    ):
        got = outputs(ask(manager, "replace", qid, why, old, new))
        assert got["imp-q-confirm.displayed"] is False
        assert expected in json.dumps(got, ensure_ascii=False)
    got = outputs(ask(manager, "replace", qid, why, "123 457,5", "10"))
    assert got["imp-q-confirm.displayed"] is True
    assert "ancien index final 123 457,5" in got["imp-q-confirm.message"]
    # the record refuses what contradicts the stored readings (a new start above the reading)
    refused = json.dumps(outputs(confirm(manager, "replace", qid, why, "123 457", "50")))
    assert "imp-q-error" in refused and quarantine_row(engine, qid).status == "held"
    done = json.dumps(
        outputs(confirm(manager, "replace", qid, why, "123 457,5", "10")), ensure_ascii=False
    )
    assert "nouveau compteur" in done and "imp-q-ok" in done
    assert quarantine_row(engine, qid).status == "replaced"
    ts = epoch(dt.datetime(2025, 1, 15, 16, 0))
    assert stored(engine, ids["MAIRIE-GAZ"], ts)[:2] == (12.5, int(Quality.RESET))
    with session_scope(engine) as s:
        reset = s.get(IndexReset, (ids["MAIRIE-GAZ"], ts))
        assert (reset.old_final_value, reset.new_start_value) == (123457.5, 10.0)
    assert audit_of(engine, qid) == [("gestionnaire", "replace")]


def test_nothing_selected_or_a_decided_reading_is_said_not_done(town):
    engine, _ids, held, app = town
    manager = client_of(app, "manager")
    got = json.dumps(outputs(ask(manager, "accept", None, "motif")), ensure_ascii=False)
    assert "Choisissez d'abord un relevé" in got
    with session_scope(engine) as s:
        s.get(QuarantinedReading, held["jump"]).status = "rejected"
    assert "n'est plus en quarantaine" in json.dumps(
        outputs(pick(manager, held["jump"])), ensure_ascii=False
    )


def test_the_review_refreshes_after_an_upload_changed_the_batches(town):
    engine, ids, held, app = town
    manager = client_of(app, "manager")
    with session_scope(engine) as s:
        s.get(QuarantinedReading, held["pasteur"]).status = "rejected"
    got = outputs(fire(manager, "imp-history.children", {"imp-history.children": []}))
    text = json.dumps(got, ensure_ascii=False)
    assert "2 relevés en quarantaine" in text
    assert f'"data-quarantine": "{held["pasteur"]}"' not in text


# ---------------------------------------------------------------- batch revert


def batch_of(engine, name: str) -> ImportBatch:
    with session_scope(engine) as s:
        batch = s.scalars(select(ImportBatch).where(ImportBatch.source == name)).one()
        s.expunge(batch)
        return batch


def revert_steps(client, batch_id: int, why):
    """« Annuler ce lot » in the history, the motif, the confirmation: three requests."""
    picked = pick(client, batch_id, "imp-rv-pick")
    asked = fire(
        client,
        "imp-rv-submit.n_clicks",
        {"imp-rv-selected.data": batch_id, "imp-rv-why.value": why},
    )
    done = fire(
        client,
        "imp-rv-confirm.submit_n_clicks",
        {"imp-rv-selected.data": batch_id, "imp-rv-why.value": why},
    )
    return picked, asked, done


def test_manager_reverts_batches_newest_first_and_sees_the_refusal_otherwise(town):
    engine, ids, _held, app = town
    manager = client_of(app, "manager")
    first = "point;horodate;valeur\nMAIRIE-T;16/01/2025 08:00;19,5\n"
    second = "point;horodate;valeur\nMAIRIE-T;16/01/2025 08:00;20,5\nMAIRIE-T;16/01/2025 09:00;21\n"
    assert upload(manager, first, "premier.csv").status_code == 200
    assert upload(manager, second, "second.csv").status_code == 200
    a, b = batch_of(engine, "premier.csv"), batch_of(engine, "second.csv")
    eight, nine = epoch(dt.datetime(2025, 1, 16, 8, 0)), epoch(dt.datetime(2025, 1, 16, 9, 0))
    assert stored(engine, ids["MAIRIE-T"], eight) == (20.5, 0, b.id)
    history = text_of(page_content(manager, "/imports"))
    assert "Annuler ce lot" in history and f'"data-batch": "{b.id}"' in history

    # the older batch first: refused, the later batch named, nothing changed
    picked, asked, done = revert_steps(manager, a.id, "Mauvais fichier")
    assert (
        outputs(picked)["imp-rv-title.children"] == f"Annuler le lot n° {a.id} · premier.csv (ok)"
    )
    assert outputs(asked)["imp-rv-confirm.displayed"] is True
    refused = json.dumps(outputs(done), ensure_ascii=False)
    assert "imp-rv-error" in refused and "Annulation refusée" in refused
    assert f"le lot n° {b.id} a remplacé 1 de ses relevés" in refused
    assert batch_of(engine, "premier.csv").status == "ok"
    assert stored(engine, ids["MAIRIE-T"], eight) == (20.5, 0, b.id)

    # no motif: refused by the page before any confirmation
    _picked, asked, _done = revert_steps(manager, b.id, "  ")
    assert outputs(asked)["imp-rv-confirm.displayed"] is False
    assert "Indiquez le motif de l'annulation" in text_of(asked)
    assert batch_of(engine, "second.csv").status == "ok"

    # the newer one, then the older one: each reading back as it was
    why = "Relevés du mauvais thermomètre"
    _picked, asked, done = revert_steps(manager, b.id, why)
    assert "Annuler le lot n° " + str(b.id) in outputs(asked)["imp-rv-confirm.message"]
    got = outputs(done)
    text = json.dumps(got, ensure_ascii=False)
    assert "imp-rv-ok" in text and f"lot n° {b.id} (second.csv) annulé" in text
    assert "annulé" in json.dumps(got["imp-history.children"], ensure_ascii=False)
    assert why in json.dumps(got["imp-history.children"], ensure_ascii=False)
    assert got["imp-rv-panel.style"] == {"display": "none"} and got["imp-rv-why.value"] == ""
    reverted = batch_of(engine, "second.csv")
    assert (reverted.status, reverted.reverted_by, reverted.revert_reason) == (
        "reverted",
        "gestionnaire",
        why,
    )
    assert stored(engine, ids["MAIRIE-T"], eight) == (19.5, 0, a.id)
    assert stored(engine, ids["MAIRIE-T"], nine) is None
    _picked, _asked, done = revert_steps(manager, a.id, "Mauvais fichier")
    assert "imp-rv-ok" in text_of(done)
    assert stored(engine, ids["MAIRIE-T"], eight) is None
    with session_scope(engine) as s:
        events = s.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "import_batch", AuditEvent.action == "revert"
            )
        ).all()
        assert sorted(int(e.entity_id) for e in events) == sorted([a.id, b.id])
        assert {e.actor for e in events} == {"gestionnaire"}
    # a reverted batch has no button any more; reverting it again changes nothing
    row = next(
        tr for tr in _rows(page_content(manager, "/imports")) if tr.get("data-batch") == str(b.id)
    )
    assert "Annuler ce lot" not in json.dumps(row, ensure_ascii=False)
    _picked, _asked, done = revert_steps(manager, b.id, why)
    assert "déjà annulé" in text_of(done)


def _rows(response) -> list[dict]:
    """The props of every table row of a rendered page."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "Tr":
                found.append(node["props"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(response.get_json())
    return found


# ---------------------------------------------------------------- everyone else


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_are_refused_on_the_server(town, role):
    engine, ids, held, app = town
    client = client_of(app, role)
    if role == "contractor":  # the contractor has the page, without the review
        page = text_of(page_content(client, "/imports"))
        assert "Imports de relevés" in page
        for absent in (
            "Relevés en quarantaine",
            "imp-q-",
            "en quarantaine",
            "releves-janvier",
            "Annuler ce lot",
            "imp-rv-",
        ):
            assert absent not in page
    qid = held["jump"]
    forged = {
        "imp-q-pending.data": {"action": "accept", "id": qid},
        "imp-q-selected.data": qid,
        "imp-q-why.value": "forcé",
    }
    forged |= {"imp-rv-selected.data": 1, "imp-rv-why.value": "forcé"}
    responses = [fire(client, key, forged) for key in REVIEW_INPUTS]
    responses += [pick(client, qid), pick(client, 1, "imp-rv-pick")]
    for response in responses:
        assert response.status_code == 403
        body = json.dumps(response.get_json(), ensure_ascii=False)
        assert "Accès refusé" in body
        assert "MAIRIE-GAZ" not in body and "173" not in body
    assert quarantine_row(engine, qid).status == "held"
    assert audit_of(engine, qid) == []
    with session_scope(engine) as s:
        assert s.get(ImportBatch, 1).status == "partial"  # not reverted
        channel = s.scalar(select(Channel.id).where(Channel.code == "MAIRIE-GAZ"))
    assert stored(engine, channel, epoch(dt.datetime(2025, 1, 15, 15, 0))) is None
