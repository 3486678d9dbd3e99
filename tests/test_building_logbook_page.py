"""The building page's logbook data (`dashboards.building_data`): one page cut by the database
after its filters (kind, status, period, words), « Modifier » only where `carnet.logbook` lets
the user edit, and an edit that writes only what changed, audited, on this building only."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from carnet.access import CarnetPermissionError
from carnet.db import session_scope
from carnet.logbook import add_entry, edit_entry
from carnet.logbook_refs import LogbookError
from carnet.models import AuditEvent, LogbookEntry, User
from carnet.timeutil import TZ
from dashboards import building_data as data
from tests.helpers.carnet_web_seed import LOGBOOK_KINDS_CYCLE, seed_carnet, seed_logbook

ENTRIES = 45


@pytest.fixture
def town(engine):
    seed_carnet(engine)
    ids = seed_logbook(engine, ENTRIES)
    with session_scope(engine) as s:
        users = {u.login: u for u in s.scalars(select(User))}
        s.expunge_all()
    return ids, users


def _filters(**kw):
    base = {"kinds": None, "equipment": None, "start": None, "end": None, "author": None}
    return data.filter_args(**(base | kw))


def test_pages_and_filters_are_cut_by_the_database(engine, town):
    ids, users = town
    manager = users["gestionnaire"]
    first = data.logbook_page(engine, manager, "MAIRIE")
    assert [r["id"] for r in first["rows"]] == ids[:20]
    assert (first["total"], first["page"], first["pages"], first["first"], first["last"]) == (
        45,
        1,
        3,
        1,
        20,
    )
    third = data.logbook_page(engine, manager, "MAIRIE", page=3)
    assert [r["id"] for r in third["rows"]] == ids[40:]
    assert (third["first"], third["last"]) == (41, 45)
    assert data.logbook_page(engine, manager, "MAIRIE", page=99)["page"] == 3  # clamped

    works = [i for n, i in enumerate(ids) if LOGBOOK_KINDS_CYCLE[n % 5] == "works"]
    page = data.logbook_page(engine, manager, "MAIRIE", _filters(kinds=["works"]))
    assert [r["id"] for r in page["rows"]] == works and page["pages"] == 1
    # seeded one a day back from 01/11/2025: the ten days 22/10..31/10 are entries 2..11
    october = _filters(start="2025-10-22", end="2025-10-31")
    assert [r["id"] for r in data.logbook_page(engine, manager, "MAIRIE", october)["rows"]] == (
        ids[1:11]
    )
    words = data.logbook_page(engine, manager, "MAIRIE", _filters(text="  test 07 "))
    assert [r["id"] for r in words["rows"]] == [ids[6]]
    # LIKE wildcards typed by a user are plain characters
    assert data.logbook_page(engine, manager, "MAIRIE", _filters(text="%"))["total"] == 0
    # observations are « open » by default, the interventions « done »
    observations = [i for n, i in enumerate(ids) if LOGBOOK_KINDS_CYCLE[n % 5] == "observation"]
    opened = data.logbook_page(engine, manager, "MAIRIE", _filters(status=["open"]))
    assert [r["id"] for r in opened["rows"]] == observations


def test_modifier_follows_who_may_edit(engine, town):
    ids, users = town
    with session_scope(engine) as s:
        own = add_entry(s, users["exploitant"], "MAIRIE", "corrective", "Vanne remplacée").id
    manager = data.logbook_page(engine, users["gestionnaire"], "MAIRIE")["rows"]
    assert all(r["can_edit"] for r in manager)
    contractor = data.logbook_page(engine, users["exploitant"], "MAIRIE")["rows"]
    assert {r["id"] for r in contractor if r["can_edit"]} == {own}
    agent = data.logbook_page(engine, users["agent"], "MAIRIE")["rows"]
    assert not any(r["can_edit"] for r in agent)
    with pytest.raises(CarnetPermissionError):
        data.entry_form_values(engine, users["exploitant"], "MAIRIE", ids[0])
    with pytest.raises(CarnetPermissionError):
        data.logbook_page(engine, users["exploitant2"], "MAIRIE")  # another contract's building


def test_update_writes_only_what_changed_and_stays_on_its_building(engine, town):
    ids, users = town
    manager = users["gestionnaire"]
    with session_scope(engine) as s:
        edit_entry(s, manager, ids[1], cost="1 234,56")
        before = s.get(LogbookEntry, ids[1])
        occurred = before.occurred_at
    values = data.entry_form_values(engine, manager, "MAIRIE", ids[1])
    assert values | {"text": None} == {
        "id": ids[1],
        "kind": "works",
        "date": "2025-10-31",
        "equipment": None,
        "room": None,
        "status": "done",
        "cost": "1234,56",
        "text": None,
        "answer": "",
    }
    with pytest.raises(LogbookError, match="rien à modifier"):
        data.update_entry(engine, manager, "MAIRIE", ids[1], values)
    last = _last_audit(engine)
    data.update_entry(
        engine,
        manager,
        "MAIRIE",
        ids[1],
        values | {"date": "2025-10-20", "equipment": "MAIRIE-CHAUD-1", "cost": "12"},
    )
    with session_scope(engine) as s:
        entry = s.get(LogbookEntry, ids[1])
        assert entry.cost_cents == 1200 and entry.equipment.code == "MAIRIE-CHAUD-1"
        # another day, the same local time of day (across the change to winter time)
        assert entry.occurred_at.astimezone(TZ) == dt.datetime(2025, 10, 20, 9, 0, tzinfo=TZ)
        assert occurred.astimezone(TZ).time() == dt.time(9, 0)
        (event,) = s.scalars(select(AuditEvent).where(AuditEvent.id > last)).all()
        changed = {k for k in event.after if event.after[k] != event.before[k]}
        assert changed == {"cost_cents", "equipment_id", "occurred_at"}
    # « Annulé » cancels (nothing is deleted), the answer being its reason
    data.update_entry(
        engine, manager, "MAIRIE", ids[1], values | {"status": "cancelled", "answer": "doublon"}
    )
    with session_scope(engine) as s:
        entry = s.get(LogbookEntry, ids[1])
        assert (entry.status, entry.answer) == ("cancelled", "doublon")
        ecole = add_entry(s, manager, "ECOLE", "works", "Toiture").id
    with pytest.raises(LogbookError, match="ne concerne pas ce bâtiment"):
        data.update_entry(engine, manager, "MAIRIE", ecole, values)
    with pytest.raises(LogbookError, match="vide"):
        data.update_entry(engine, manager, "MAIRIE", ids[2], values | {"text": "  "})


def _last_audit(engine) -> int:
    with session_scope(engine) as s:
        return max(s.scalars(select(AuditEvent.id)).all() or [0])
