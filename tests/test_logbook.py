"""Logbook: role rules in the services, audit trail, no hard delete, triage, timeline, CLI."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from carnet.access import SYSTEM, CarnetPermissionError
from carnet.db import session_scope
from carnet.logbook import add_entry, cancel_entry, edit_entry, parse_cost_cents
from carnet.logbook_refs import LogbookError
from carnet.logbook_timeline import my_observations, open_observations, timeline
from carnet.logbook_triage import accept_as_work, close_with_answer, merge_into
from carnet.models import AuditEvent, LogbookEntry
from carnet.timeutil import TZ
from carnet_cli.main import main
from tests.helpers.carnet_town import make_town


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("1 234,56", 123456),
        ("1\u202f234,56 €", 123456),
        ("1.234,56", 123456),
        ("1234.5", 123450),
        ("12", 1200),
        (Decimal("12.345"), 1235),  # half-up at the cent
        (Decimal("12.344"), 1234),
        ("0,005", 1),
        (7, 700),
        (None, None),
        ("", None),
    ],
)
def test_parse_cost_cents(text, cents):
    assert parse_cost_cents(text) == cents


@pytest.mark.parametrize("bad", ["abc", "12,3,4", "-5", "1e3"])
def test_parse_cost_refuses(bad):
    with pytest.raises(LogbookError):
        parse_cost_cents(bad)


def test_role_rules_are_enforced_by_the_services(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        u = town["users"]
        # the manager writes anything, anywhere
        for kind in ("observation", "works", "alarm", "adjustment"):
            add_entry(s, u["gestionnaire"], "ECOLE", kind, f"{kind} par le gestionnaire")
        # an agent adds observations, on any building, nothing else
        obs = add_entry(s, u["agent"], "ECOLE", "observation", "Radiateur froid au préau")
        assert obs.status == "open" and obs.author_login == "agent"
        for kind in ("preventive", "corrective", "works", "alarm"):
            with pytest.raises(CarnetPermissionError):
                add_entry(s, u["agent"], "ECOLE", kind, "non")
        # a contractor adds interventions on its contract's buildings only
        work = add_entry(
            s,
            u["exploitant"],
            "MAIRIE",
            "corrective",
            "Remplacement du circulateur",
            equipment="MAIRIE-CHAUD-1",
            cost="1 234,56",
        )
        assert work.status == "done" and work.cost_cents == 123456
        with pytest.raises(CarnetPermissionError):
            add_entry(s, u["exploitant"], "ECOLE", "corrective", "pas son contrat")
        with pytest.raises(CarnetPermissionError):
            add_entry(s, u["exploitant"], "MAIRIE", "adjustment", "ajustement de référence")
        # finance and the programmer write nothing in the carnet
        for login in ("finances", "programmation"):
            with pytest.raises(CarnetPermissionError):
                add_entry(s, u[login], "MAIRIE", "observation", "non")
        # nor may a contractor edit what it did not write, or another contract's entries
        with pytest.raises(CarnetPermissionError):
            edit_entry(s, u["exploitant"], obs.id, text="changé")
        with pytest.raises(CarnetPermissionError):
            edit_entry(s, u["exploitant2"], work.id, text="changé")
        with pytest.raises(CarnetPermissionError):
            edit_entry(s, u["agent"], obs.id, text="changé")
        edit_entry(s, u["exploitant"], work.id, cost=Decimal("99.995"))
        assert work.cost_cents == 10000
        # input checks
        with pytest.raises(LogbookError):
            add_entry(s, u["gestionnaire"], "ECOLE", "observation", "x", equipment="MAIRIE-CHAUD-1")
        with pytest.raises(LogbookError):
            add_entry(s, u["gestionnaire"], "ECOLE", "party", "x")
        with pytest.raises(LogbookError):
            add_entry(s, u["gestionnaire"], "ECOLE", "observation", "   ")
        with pytest.raises(LookupError):
            add_entry(s, u["gestionnaire"], "NOPE", "observation", "x")


def test_edits_are_audited_and_nothing_is_deleted(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        contractor = town["users"]["exploitant"]
        entry = add_entry(
            s,
            contractor,
            "MAIRIE",
            "corrective",
            "Fuite sur la vanne 3 voies",
            occurred_at=dt.datetime(2025, 11, 3, 9, 15),
            cost="450",
        )
        created = s.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "logbook_entry", AuditEvent.entity_id == str(entry.id)
            )
        ).one()
        assert created.action == "create" and created.actor == "exploitant"
        assert created.before is None and created.after["text"] == "Fuite sur la vanne 3 voies"
        assert created.after["cost_cents"] == 45000

        edit_entry(
            s, contractor, entry.id, text="Fuite sur la vanne 3 voies, joint changé", cost="480,50"
        )
        manager = town["users"]["gestionnaire"]
        cancel_entry(s, manager, entry.id, reason="doublon de l'entrée du 02/11")
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "logbook_entry", AuditEvent.entity_id == str(entry.id))
            .order_by(AuditEvent.id)
        ).all()
        assert [(e.action, e.actor) for e in events] == [
            ("create", "exploitant"),
            ("update", "exploitant"),
            ("update", "gestionnaire"),
        ]
        edit = events[1]
        assert edit.before["text"] == "Fuite sur la vanne 3 voies"
        assert edit.after["text"] == "Fuite sur la vanne 3 voies, joint changé"
        assert (edit.before["cost_cents"], edit.after["cost_cents"]) == (45000, 48050)
        assert edit.at.tzinfo is not None
        cancel = events[2]
        assert (cancel.before["status"], cancel.after["status"]) == ("done", "cancelled")
        assert cancel.after["answer"] == "doublon de l'entrée du 02/11"
        # still there, only cancelled; the library exposes no delete at all
        assert s.get(LogbookEntry, entry.id).status == "cancelled"
        assert s.scalar(select(func.count()).select_from(LogbookEntry)) == 1
        import carnet.logbook as logbook

        assert not [name for name in dir(logbook) if "delete" in name.lower()]
        # an edit that changes nothing records nothing
        n = s.scalar(select(func.count()).select_from(AuditEvent))
        edit_entry(s, manager, entry.id, text=entry.text)
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == n


def test_triage_accept_merge_close_and_the_agent_reads_answers(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        u = town["users"]
        agent, manager = u["agent"], u["gestionnaire"]
        first = add_entry(
            s, agent, "MAIRIE", "observation", "Radiateur froid", room="MAIRIE-CONSEIL"
        )
        dup = add_entry(s, agent, "MAIRIE", "observation", "Salle du conseil froide")
        other = add_entry(s, agent, "MAIRIE", "observation", "Porte qui grince")
        assert set(open_observations(s, manager, town["mairie"])["id"]) == {
            first.id,
            dup.id,
            other.id,
        }
        with pytest.raises(CarnetPermissionError):
            accept_as_work(s, agent, first.id)
        with pytest.raises(CarnetPermissionError):
            close_with_answer(s, u["exploitant"], other.id, "non")

        work = accept_as_work(s, manager, first.id, kind="corrective", text="Purger le radiateur")
        assert (work.kind, work.status, work.room_id) == ("corrective", "open", town["room"].id)
        assert first.status == "in_progress" and first.merged_into_id == work.id
        assert str(work.id) in first.answer
        merge_into(s, manager, dup.id, first.id)
        assert dup.merged_into_id == first.id and dup.status == "in_progress"
        with pytest.raises(LogbookError):
            merge_into(s, manager, first.id, dup.id)  # would loop
        close_with_answer(s, manager, other.id, "Signalé aux services techniques, réglé.")
        with pytest.raises(LogbookError):
            close_with_answer(s, manager, work.id, "pas une observation")
        assert open_observations(s, manager, town["mairie"]).empty

        # the work is done: the observations that follow it (directly or merged) are done too
        edit_entry(s, manager, work.id, status="done")
        assert (first.status, dup.status) == ("done", "done")

        mine = my_observations(s, agent).set_index("id")
        assert mine.loc[other.id, "answer"] == "Signalé aux services techniques, réglé."
        assert mine.loc[other.id, "status"] == "done"
        assert str(work.id) in mine.loc[first.id, "answer"]
        assert "Déjà signalé" in mine.loc[dup.id, "answer"]
        assert my_observations(s, u["exploitant"]).empty


def test_timeline_filters_and_scope(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        u = town["users"]
        paris = TZ
        # 31/12/2024 23:30 in Paris is 22:30 UTC: it belongs to December locally
        e1 = add_entry(
            s,
            u["exploitant"],
            "MAIRIE",
            "preventive",
            "Visite",
            equipment="MAIRIE-CHAUD-1",
            occurred_at=dt.datetime(2024, 12, 31, 23, 30, tzinfo=paris),
        )
        e2 = add_entry(
            s,
            u["agent"],
            "MAIRIE",
            "observation",
            "Fumée",
            occurred_at=dt.datetime(2025, 1, 1, 0, 30, tzinfo=paris),
        )
        e3 = add_entry(
            s,
            u["gestionnaire"],
            "MAIRIE",
            "works",
            "Isolation",
            cost="10 000",
            occurred_at=dt.datetime(2025, 3, 30, 12, 0, tzinfo=paris),
        )
        add_entry(s, u["gestionnaire"], "ECOLE", "works", "Toiture")
        all_ = timeline(s, u["gestionnaire"], "MAIRIE")
        assert list(all_["id"]) == [e3.id, e2.id, e1.id]  # newest first
        assert (
            all_.loc[0, "cost"] == "10\u202f000,00\u00a0€"
            and all_.loc[0, "cost_cents"] == 1_000_000
        )
        assert all_.loc[2, "date"] == "31/12/2024 23:30"
        dec = timeline(
            s,
            u["gestionnaire"],
            "MAIRIE",
            date_from=dt.date(2024, 12, 1),
            date_to=dt.date(2024, 12, 31),
        )
        assert list(dec["id"]) == [e1.id]
        assert list(timeline(s, u["gestionnaire"], "MAIRIE", kind="observation")["id"]) == [e2.id]
        assert list(timeline(s, u["gestionnaire"], "MAIRIE", equipment="MAIRIE-CHAUD-1")["id"]) == [
            e1.id
        ]
        assert list(timeline(s, u["gestionnaire"], "MAIRIE", author="agent")["id"]) == [e2.id]
        assert list(
            timeline(s, u["gestionnaire"], "MAIRIE", kind=["works", "preventive"])["id"]
        ) == [e3.id, e1.id]
        # scope: the other contract's contractor, finance and the programmer may not read it
        for login in ("exploitant2", "finances", "programmation"):
            with pytest.raises(CarnetPermissionError):
                timeline(s, u[login], "MAIRIE")
        assert set(timeline(s, u["exploitant"])["building_code"]) == {"MAIRIE"}
        assert set(timeline(s, u["agent"], "ECOLE")["text"]) == {"Toiture"}
        assert len(timeline(s, SYSTEM)) == 4


def test_cli_log_add_and_list(engine, capsys):
    with session_scope(engine) as s:
        make_town(s)
    assert (
        main(
            [
                "log",
                "add",
                "--building",
                "MAIRIE",
                "--kind",
                "corrective",
                "--text",
                "Brûleur en défaut",
                "--equipment",
                "MAIRIE-BRULEUR-1",
                "--author",
                "exploitant",
                "--cost",
                "1 234,56",
                "--date",
                "15/11/2025 08:30",
            ]
        )
        == 0
    )
    assert "ajoutée au carnet de MAIRIE" in capsys.readouterr().out
    assert (
        main(
            [
                "log",
                "add",
                "--building",
                "MAIRIE",
                "--kind",
                "observation",
                "--text",
                "Odeur de gaz",
            ]
        )
        == 0
    )
    # role rules apply to --author: an agent cannot record an intervention
    assert (
        main(
            [
                "log",
                "add",
                "--building",
                "MAIRIE",
                "--kind",
                "preventive",
                "--text",
                "x",
                "--author",
                "agent",
            ]
        )
        == 3
    )
    assert "accès refusé" in capsys.readouterr().err
    assert main(["log", "add", "--building", "NOPE", "--kind", "observation", "--text", "x"]) == 2
    assert (
        main(
            [
                "log",
                "add",
                "--building",
                "MAIRIE",
                "--kind",
                "observation",
                "--text",
                "x",
                "--author",
                "inconnu",
            ]
        )
        == 2
    )
    capsys.readouterr()
    assert main(["log", "list", "--building", "MAIRIE", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    # newest first: the observation was written now, the repair is dated 15/11/2025
    assert [r["kind"] for r in rows] == ["observation", "corrective"]
    work = next(r for r in rows if r["kind"] == "corrective")
    assert work["author"] == "exploitant" and work["equipment"] == "MAIRIE-BRULEUR-1"
    assert work["cost_cents"] == 123456 and work["status"] == "done"
    assert work["occurred_at"].startswith("2025-11-15T07:30")  # 08:30 Paris = 07:30 UTC
    obs = next(r for r in rows if r["kind"] == "observation")
    assert obs["author"] == "cli" and obs["status"] == "open"
    assert main(["log", "list", "--building", "MAIRIE"]) == 0
    out = capsys.readouterr().out
    assert (
        "15/11/2025 08:30" in out and "Brûleur en défaut" in out and "1\u202f234,56\u00a0€" in out
    )
