"""An alarm's life against a real Modbus server on loopback: the poller sees a fault, the
contractor acknowledges it and answers it through a work order whose report goes into the
logbook, the device's return to normal closes it (or keeps it closed); and who may do what."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from carnet.access import Actor, CarnetPermissionError
from carnet.alarms import AlarmError, acknowledge, alarms_frame, close, entry_links
from carnet.db import session_scope
from carnet.models import (
    Alarm,
    Attachment,
    AuditEvent,
    Building,
    Channel,
    Contract,
    ContractBuilding,
    Equipment,
    LogbookEntry,
    WorkOrder,
)
from carnet.work_orders import close_work_order, create_work_order, work_orders_frame
from carnet_cli.main import main as cli_main
from tests.helpers.alarm_site import PDF, T0, Site
from tests.helpers.modbus_sim import ThreadedServer

KEY = "GW-MAIRIE/10/fault_code"


def town(engine) -> dict:
    """MAIRIE (boiler, fault channel) in contract A, ECOLE in contract B; actors per role."""
    with session_scope(engine) as s:
        a = Contract(
            code="CONTRAT-A",
            contractor="Thermique du Nord",
            starts_on=dt.date(2024, 7, 1),
            price_eur_per_mwh_pci=90,
        )
        b = Contract(
            code="CONTRAT-B",
            contractor="Chauffage de l'Est",
            starts_on=dt.date(2024, 7, 1),
            price_eur_per_mwh_pci=90,
        )
        mairie = Building(code="MAIRIE", name="Hôtel de ville")
        ecole = Building(code="ECOLE", name="École")
        boiler = Equipment(code="MAIRIE-CHAUD", kind="boiler", building=mairie)
        s.add_all([a, b, mairie, ecole, boiler])
        s.flush()
        s.add(
            Channel(
                code="DEF",
                building=mairie,
                equipment=boiler,
                quantity="fault_code",
                kind="instant",
                unit="code",
            )
        )
        s.add_all(
            [
                ContractBuilding(
                    contract_id=a.id, building_id=mairie.id, nb_mwh_pci=300, dju_ref=2400
                ),
                ContractBuilding(
                    contract_id=b.id, building_id=ecole.id, nb_mwh_pci=200, dju_ref=2400
                ),
            ]
        )
        return {
            "manager": Actor("gestionnaire", "manager"),
            "contractor": Actor("exploitant", "contractor", a.id),
            "other": Actor("exploitant2", "contractor", b.id),
            "agent": Actor("agent", "agent"),
        }


def alarms(engine) -> list[Alarm]:
    with session_scope(engine) as s:
        rows = s.scalars(select(Alarm).order_by(Alarm.id)).all()
        s.expunge_all()
        return rows


def test_fault_acknowledged_answered_by_a_work_order_then_cleared_by_the_device(engine):
    who = town(engine)
    site = Site()
    with ThreadedServer([site.boiler]) as server:
        site.poll(0, server)
        site.poll(12, server)
        [alarm] = alarms(engine)
        assert (alarm.status, alarm.code, alarm.alarm_key) == ("open", 12, KEY)
        assert alarm.opened_at == dt.datetime.fromtimestamp(T0 + 60, dt.UTC)
        with session_scope(engine) as s:
            episode = s.get(LogbookEntry, alarm.entry_id)
            assert (episode.kind, episode.source, episode.alarm_key, episode.status) == (
                "alarm",
                "poller",
                KEY,
                "open",
            )
            assert "ignition failure" in alarm.label

            # the contractor acknowledges it: who and when, the logbook entry in progress
            acknowledge(s, who["contractor"], alarm.id)
        with session_scope(engine) as s:
            a = s.get(Alarm, alarm.id)
            assert (a.status, a.acknowledged_by) == ("acknowledged", "exploitant")
            assert a.acknowledged_at is not None
            assert s.get(LogbookEntry, a.entry_id).status == "in_progress"
            with pytest.raises(AlarmError, match="n'est pas ouverte"):
                acknowledge(s, who["manager"], alarm.id)

            # a work order from the alarm, closed with its report
            wo = create_work_order(
                s,
                who["contractor"],
                alarm=alarm.id,
                priority="urgent",
                assignee="J. Martin",
                due_on=dt.date(2026, 12, 3),
            )
            assert (wo.origin, wo.building_id, wo.equipment_id) == (
                "alarm",
                a.building_id,
                a.equipment_id,
            )
            assert wo.title == a.label and wo.contract_id == who["contractor"].contract_id
            wo_id = wo.id
        with session_scope(engine) as s:
            entry = close_work_order(
                s,
                who["contractor"],
                wo_id,
                "Électrode d'allumage remplacée, brûleur relancé.",
                cost="312,40",
                report_file=("rapport.pdf", PDF),
            )
            entry_id = entry.id
        # the fault persists for a while: still the same alarm, answered
        site.poll(12, server)
        with session_scope(engine) as s:
            a = s.get(Alarm, alarm.id)
            assert (a.status, a.intervention_entry_id, a.answered_by) == (
                "answered",
                entry_id,
                "exploitant",
            )
            intervention = s.get(LogbookEntry, entry_id)
            assert (intervention.kind, intervention.status, intervention.cost_cents) == (
                "corrective",
                "done",
                31240,
            )
            assert f"ordre de travail n° {wo_id}, alarme n° {alarm.id}" in intervention.text
            att = s.scalars(select(Attachment).where(Attachment.entry_id == entry_id)).one()
            assert (att.filename, att.content_type) == ("rapport.pdf", "application/pdf")
            wo = s.get(WorkOrder, wo_id)
            assert (wo.status, wo.intervention_entry_id, wo.cost_cents) == ("done", entry_id, 31240)
            assert f"Intervention n° {entry_id}" in s.get(LogbookEntry, a.entry_id).answer
            # the logbook links its entries back to the alarm
            assert entry_links(s, [a.entry_id, entry_id, entry_id + 100]) == {
                a.entry_id: alarm.id,
                entry_id: alarm.id,
            }
        assert len(alarms(engine)) == 1

        # the device reports normal: the alarm closes, the entry says so
        site.poll(0, server)
        with session_scope(engine) as s:
            a = s.get(Alarm, alarm.id)
            assert (a.status, a.closed_by) == ("closed", "poller")
            assert a.device_cleared_at == dt.datetime.fromtimestamp(site.t - 60, dt.UTC)
            episode = s.get(LogbookEntry, a.entry_id)
            assert episode.status == "done" and "disparu" in episode.answer
            assert "Retour à la normale" in episode.text
            trail = s.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == "alarm", AuditEvent.entity_id == str(alarm.id))
                .order_by(AuditEvent.id)
            ).all()
            assert [(e.actor, e.after["status"]) for e in trail] == [
                ("poller", "open"),
                ("exploitant", "acknowledged"),
                ("exploitant", "answered"),
                ("poller", "closed"),
            ]
            assert trail[1].before["status"] == "open"


def test_closed_by_hand_while_the_fault_persists_stays_one_closed_episode(engine):
    who = town(engine)
    site = Site()
    with ThreadedServer([site.boiler]) as server:
        site.poll(20, server)
        [alarm] = alarms(engine)
        with session_scope(engine) as s:
            close(s, who["contractor"], alarm.id, "Sonde rebranchée, défaut à confirmer")
        site.poll(20, server)  # a restarted poller: the same episode, not a new alarm
        site.poll(20, server)
        [again] = alarms(engine)
        assert (again.status, again.closed_by, again.device_cleared_at) == (
            "closed",
            "exploitant",
            None,
        )
        site.poll(0, server)  # the device clears it: it stays closed, by the contractor
        [cleared] = alarms(engine)
        assert (cleared.status, cleared.closed_by) == ("closed", "exploitant")
        assert cleared.device_cleared_at is not None
        with session_scope(engine) as s:
            episode = s.get(LogbookEntry, cleared.entry_id)
            assert episode.status == "done"
            assert "Alarme close par exploitant" in episode.answer
            assert "Retour à la normale" in episode.text
        site.poll(20, server)  # a new fault: a new episode
        assert [a.status for a in alarms(engine)] == ["closed", "open"]


def test_only_the_contract_s_contractor_and_the_manager_handle_its_alarms(engine):
    who = town(engine)
    site = Site()
    with ThreadedServer([site.boiler]) as server:
        site.poll(12, server)
        site.poll(12, server)
    [alarm] = alarms(engine)
    with session_scope(engine) as s:
        # another contract's contractor sees none of it and can act on none of it
        assert alarms_frame(s, who["other"]).empty
        for action in (acknowledge, close):
            with pytest.raises(CarnetPermissionError, match="exploitant2"):
                action(s, who["other"], alarm.id)
        with pytest.raises(LookupError):
            create_work_order(s, who["other"], alarm=alarm.id)
        # the agent sees it (the carnet's buildings) but neither acknowledges nor closes it
        assert alarms_frame(s, who["agent"])["id"].tolist() == [alarm.id]
        for action in (acknowledge, close):
            with pytest.raises(CarnetPermissionError, match="agent"):
                action(s, who["agent"], alarm.id)
        with pytest.raises(CarnetPermissionError):
            create_work_order(s, who["agent"], alarm=alarm.id)
        frame = alarms_frame(s, who["contractor"], status="open")
        assert frame["id"].tolist() == [alarm.id]
        assert frame.loc[0, "opened"] == "24/11/2025 17:00"  # Paris time, dd/mm/yyyy
        wo = create_work_order(s, who["contractor"], alarm=alarm.id)
        assert work_orders_frame(s, who["other"]).empty
        with pytest.raises(LookupError):
            close_work_order(s, who["other"], wo.id, "fait")
        # the manager closes it
        close(s, who["manager"], alarm.id)
        assert s.get(Alarm, alarm.id).closed_by == "gestionnaire"
        with pytest.raises(AlarmError, match="déjà close"):
            close(s, who["contractor"], alarm.id)
        assert not s.scalars(select(Alarm).where(Alarm.status != "closed")).all()


def test_cli_answers_an_alarm_through_a_work_order(engine, tmp_path, capsys):
    from carnet.users import set_user

    who = town(engine)
    with session_scope(engine) as s:
        contract = s.scalar(select(Contract).where(Contract.code == "CONTRAT-A"))
        set_user(
            s,
            "exploitant",
            "contractor",
            name="Thermique du Nord",
            contract_code=contract.code,
            actor="test",
        )
        set_user(
            s,
            "exploitant2",
            "contractor",
            name="Chauffage de l'Est",
            contract_code="CONTRAT-B",
            actor="test",
        )
    site = Site()
    with ThreadedServer([site.boiler]) as server:
        site.poll(12, server)
    [alarm] = alarms(engine)
    with session_scope(engine) as s:
        acknowledge(s, who["contractor"], alarm.id)
    capsys.readouterr()

    assert cli_main(["work", "add", "--alarm", str(alarm.id), "--author", "exploitant2"]) == 2
    assert "inconnue" in capsys.readouterr().err
    assert (
        cli_main(
            [
                "work",
                "add",
                "--alarm",
                str(alarm.id),
                "--author",
                "exploitant",
                "--priority",
                "high",
                "--due",
                "02/12/2026",
                "--assignee",
                "J. Martin",
                "--json",
            ]
        )
        == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert created["origin"] == "alarm" and created["status"] == "open"
    report = tmp_path / "rapport.pdf"
    report.write_bytes(PDF)
    assert (
        cli_main(
            ["work", "close", str(created["id"]), "--author", "exploitant2", "--report", "fait"]
        )
        == 2
    )
    capsys.readouterr()
    assert (
        cli_main(
            [
                "work",
                "close",
                str(created["id"]),
                "--author",
                "exploitant",
                "--report",
                "Électrode remplacée",
                "--file",
                str(report),
                "--cost",
                "1 234,56",
                "--json",
            ]
        )
        == 0
    )
    closed = json.loads(capsys.readouterr().out)
    assert closed["alarm_id"] == alarm.id and closed["attachments"] == 1
    assert cli_main(["work", "list", "--author", "exploitant", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["id"], row["status"], row["cost_cents"], row["due_on"], row["priority"]) == (
        created["id"],
        "done",
        123456,
        "2026-12-02",
        "high",
    )
    assert row["intervention_entry_id"] == closed["intervention_entry_id"]
    assert cli_main(["work", "list", "--author", "exploitant2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert alarms(engine)[0].status == "answered"
    assert cli_main(["work", "list"]) == 0
    out = capsys.readouterr().out
    assert f"n°{created['id']}" in out and "Terminé" in out and "Haute" in out


def test_closing_the_episode_s_entry_in_the_logbook_closes_its_alarm(engine):
    from carnet.logbook import edit_entry

    who = town(engine)
    site = Site()
    with ThreadedServer([site.boiler]) as server:
        site.poll(12, server)
        [alarm] = alarms(engine)
        with session_scope(engine) as s:
            edit_entry(s, who["manager"], alarm.entry_id, status="done", answer="Vu sur place.")
        [closed] = alarms(engine)
        assert (closed.status, closed.closed_by, closed.close_note) == (
            "closed",
            "gestionnaire",
            "Vu sur place.",
        )
        site.poll(12, server)  # the fault persists: the same episode, still closed
        assert [(a.id, a.status) for a in alarms(engine)] == [(alarm.id, "closed")]
