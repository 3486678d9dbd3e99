"""Work orders from a signalement, an obligation and by hand: the signalement's author reads
that it was dealt with, the obligation's next due date moves, one list per contract with its
filters; and who may create or close them."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from carnet.access import Actor, CarnetPermissionError
from carnet.db import session_scope
from carnet.logbook import add_entry
from carnet.logbook_timeline import my_observations
from carnet.models import AuditEvent, Building, Contract, ContractBuilding, LogbookEntry
from carnet.obligations import add_obligation
from carnet.work_orders import (
    WorkOrderError,
    cancel_work_order,
    close_work_order,
    create_work_order,
    update_work_order,
    work_orders_frame,
)
from carnet_cli.main import main as cli_main

TODAY = dt.date(2026, 12, 1)


@pytest.fixture
def who(engine) -> dict:
    """MAIRIE and GYMNASE in contract A, ECOLE in B, HALLE in A and B, ATELIER in none."""
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
        codes = ["MAIRIE", "GYMNASE", "ECOLE", "HALLE", "ATELIER"]
        buildings = {c: Building(code=c, name=c.title()) for c in codes}
        s.add_all([a, b, *buildings.values()])
        s.flush()
        for contract, code in (
            (a, "MAIRIE"),
            (a, "GYMNASE"),
            (b, "ECOLE"),
            (a, "HALLE"),
            (b, "HALLE"),
        ):
            s.add(
                ContractBuilding(
                    contract_id=contract.id,
                    building_id=buildings[code].id,
                    nb_mwh_pci=100,
                    dju_ref=2400,
                )
            )
        return {
            "manager": Actor("gestionnaire", "manager"),
            "contractor": Actor("exploitant", "contractor", a.id),
            "other": Actor("exploitant2", "contractor", b.id),
            "agent": Actor("agent", "agent"),
        }


def test_a_signalement_becomes_a_work_order_and_its_author_reads_the_answer(engine, who):
    with session_scope(engine) as s:
        obs = add_entry(s, who["agent"], "MAIRIE", "observation", "Radiateur froid au 1er")
        wo = create_work_order(s, who["contractor"], observation=obs.id, due_on=TODAY)
        assert (wo.origin, wo.title, wo.source_entry_id) == ("observation", obs.text, obs.id)
        [mine] = my_observations(s, who["agent"]).to_dict("records")
        assert mine["status"] == "in_progress" and f"n° {wo.id}" in mine["answer"]
        entry = close_work_order(s, who["contractor"], wo.id, "Radiateur purgé.")
        [mine] = my_observations(s, who["agent"]).to_dict("records")
        assert mine["status"] == "done" and mine["merged_into_id"] == entry.id
        assert f"intervention n° {entry.id}" in mine["answer"]
        # the agent's observation was changed by the work order, on the audit trail
        trail = s.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "logbook_entry", AuditEvent.entity_id == str(obs.id)
            )
        ).all()
        assert [e.after["status"] for e in trail] == ["open", "in_progress", "done"]


def test_an_obligation_s_work_order_completes_it(engine, who):
    with session_scope(engine) as s:
        mairie = s.scalar(select(Building).where(Building.code == "MAIRIE"))
        ob = add_obligation(
            s,
            who["manager"],
            mairie,
            "Entretien annuel de la chaudière",
            months=12,
            next_due_on=dt.date(2026, 11, 15),
        )
        wo = create_work_order(s, who["contractor"], obligation=ob.id, priority="high")
        assert (wo.origin, wo.title) == ("obligation", "Entretien annuel de la chaudière")
        entry = close_work_order(
            s,
            who["contractor"],
            wo.id,
            "Entretien fait, rapport joint.",
            occurred_at=dt.date(2026, 11, 20),
        )
        assert (entry.kind, entry.obligation_id) == ("preventive", ob.id)
        assert (ob.last_done_on, ob.next_due_on) == (dt.date(2026, 11, 20), dt.date(2027, 11, 20))


def test_one_list_per_contract_with_filters(engine, who):
    with session_scope(engine) as s:
        mk = create_work_order
        late = mk(
            s,
            who["contractor"],
            building="MAIRIE",
            title="Purge",
            priority="urgent",
            due_on=dt.date(2026, 11, 20),
            assignee="J. Martin",
        )
        soon = mk(s, who["manager"], building="GYMNASE", title="Vanne", due_on=TODAY)
        done = mk(s, who["contractor"], building="GYMNASE", title="Thermostat")
        close_work_order(s, who["contractor"], done.id, "Remplacé.", cost="45")
        theirs = mk(s, who["other"], building="ECOLE", title="Fuite")
        halle = mk(s, who["manager"], building="HALLE", title="Brûleur", contract="CONTRAT-B")
        atelier = mk(s, who["manager"], building="ATELIER", title="Chaudière hors contrat")
        assert (halle.contract_id, atelier.contract_id) == (theirs.contract_id, None)
        with pytest.raises(WorkOrderError, match="plusieurs contrats"):
            mk(s, who["manager"], building="HALLE", title="Brûleur")
        with pytest.raises(WorkOrderError, match="n'est pas au contrat"):
            mk(s, who["manager"], building="ECOLE", title="x", contract="CONTRAT-A")
        with pytest.raises(CarnetPermissionError):
            mk(s, who["contractor"], building="ECOLE", title="pas chez moi")
        with pytest.raises(CarnetPermissionError):
            mk(s, who["agent"], building="MAIRIE", title="pas mon rôle")

        def ids(actor, **filters):
            return work_orders_frame(s, actor, today=TODAY, **filters)["id"].tolist()

        # open first, soonest due first; the contractor sees its contract's only
        assert ids(who["contractor"]) == [late.id, soon.id, done.id]
        assert ids(who["other"]) == [halle.id, theirs.id]  # no due date: newest first
        assert set(ids(who["manager"])) == {
            late.id,
            soon.id,
            done.id,
            theirs.id,
            halle.id,
            atelier.id,
        }
        assert ids(who["manager"], contract="CONTRAT-B") == [halle.id, theirs.id]
        assert ids(who["contractor"], status="done") == [done.id]
        assert ids(who["contractor"], priority=["urgent", "high"]) == [late.id]
        assert ids(who["contractor"], overdue_only=True) == [late.id]
        assert ids(who["contractor"], assignee="J. Martin", building="MAIRIE") == [late.id]
        assert ids(who["manager"], origin="manual", building="ATELIER") == [atelier.id]
        frame = work_orders_frame(s, who["contractor"], today=TODAY).set_index("id")
        assert frame.loc[late.id, "due"] == "20/11/2026" and frame.loc[late.id, "overdue"]
        assert frame.loc[late.id, "priority_label"] == "Urgente"
        assert frame.loc[done.id, "cost"] == "45,00\u00a0€"
        assert frame.loc[done.id, "intervention_kind"] == "Dépannage"
        with pytest.raises(CarnetPermissionError):
            work_orders_frame(s, who["agent"])

        # updates and cancellation: audited, refused once closed
        update_work_order(s, who["contractor"], soon.id, status="in_progress", cost="120,5")
        assert (soon.status, soon.cost_cents) == ("in_progress", 12050)
        with pytest.raises(WorkOrderError, match="clôture"):
            update_work_order(s, who["contractor"], soon.id, status="done")
        with pytest.raises(WorkOrderError, match="terminé"):
            close_work_order(s, who["contractor"], done.id, "encore")
        with pytest.raises(WorkOrderError, match="compte rendu"):
            close_work_order(s, who["contractor"], soon.id, "  ")
        cancel_work_order(s, who["manager"], atelier.id, "doublon")
        assert atelier.status == "cancelled" and "doublon" in atelier.description
        actions = s.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity == "work_order", AuditEvent.entity_id == str(soon.id)
            )
        ).all()
        assert actions == ["create", "update"]
        entry = s.get(LogbookEntry, done.intervention_entry_id)
        assert entry.cost_cents == 4500 and entry.author_login == "exploitant"


def test_cli_add_list_close_from_an_obligation(engine, who, tmp_path, capsys):
    with session_scope(engine) as s:
        mairie = s.scalar(select(Building).where(Building.code == "MAIRIE"))
        ob = add_obligation(s, who["manager"], mairie, "Contrôle combustion", months=24)
        ob_id = ob.id
    assert (
        cli_main(
            [
                "work",
                "add",
                "--obligation",
                str(ob_id),
                "--due",
                "2026-12-15",
                "--assignee",
                "Équipe nord",
                "--json",
            ]
        )
        == 0
    )
    wo = json.loads(capsys.readouterr().out)
    assert cli_main(["work", "add", "--building", "NULLEPART", "--title", "x"]) == 2
    assert "bâtiment inconnu" in capsys.readouterr().err
    assert cli_main(["work", "list", "--contract", "CONTRAT-A", "--status", "open"]) == 0
    out = capsys.readouterr().out
    assert "Contrôle combustion" in out and "échéance 15/12/2026" in out
    photo = tmp_path / "notes.txt"
    photo.write_text("pas une image")
    assert cli_main(["work", "close", str(wo["id"]), "--report", "ok", "--file", str(photo)]) == 2
    assert "type de fichier refusé" in capsys.readouterr().err
    assert (
        cli_main(
            ["work", "close", str(wo["id"]), "--report", "Contrôle fait", "--kind", "inspection"]
        )
        == 0
    )
    assert "clos : intervention n°" in capsys.readouterr().out
    assert cli_main(["work", "list", "--json", "--origin", "obligation"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["status"], row["obligation_id"], row["assignee"]) == ("done", ob_id, "Équipe nord")
    with session_scope(engine) as s:
        entry = s.get(LogbookEntry, row["intervention_entry_id"])
        assert (entry.kind, entry.obligation_id) == ("inspection", ob_id)


def test_another_contract_s_signalement_or_obligation_is_unknown_to_the_contractor(engine, who):
    with session_scope(engine) as s:
        ecole = s.scalar(select(Building).where(Building.code == "ECOLE"))
        obs = add_entry(s, who["agent"], ecole, "observation", "Fuite au préau")
        ob = add_obligation(s, who["manager"], ecole, "Ramonage", months=12)
        with pytest.raises(LookupError, match="signalement"):
            create_work_order(s, who["contractor"], observation=obs.id)
        with pytest.raises(LookupError, match="obligation"):
            create_work_order(s, who["contractor"], obligation=ob.id)
        assert create_work_order(s, who["other"], observation=obs.id).building_id == ecole.id
        assert obs.status == "in_progress"
