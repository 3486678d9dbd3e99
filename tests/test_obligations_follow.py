"""Obligations follow the equipment: present right after `carnet portfolio load`, « à renseigner »
while nothing was recorded, closed with a note when the equipment is removed or replaced."""

from __future__ import annotations

import copy
import datetime as dt
import json

from sqlalchemy import select

from carnet.access import SYSTEM
from carnet.db import session_scope
from carnet.models import AuditEvent, Obligation
from carnet.obligations import edit_obligation, local_today
from carnet.portfolio import load_portfolio
from dashboards.carnet_views import obligations_table
from dashboards.obligations_data import obligation_rows
from tests.helpers.cli import run

BOILER = {
    "code": "GYM-CH1",
    "kind": "boiler",
    "power_kw": 250,
    "fuel": "gas",
    "installed_on": "2012-09-01",
}
TOWN = {"buildings": [{"code": "GYM", "name": "Gymnase", "equipment": [BOILER]}]}


def _obligations(engine) -> dict[tuple[str, str | None], Obligation]:
    with session_scope(engine) as s:
        rows = s.scalars(select(Obligation)).all()
        s.expunge_all()
    return {
        (o.template, o.label.rpartition(" — ")[2] if " — " in o.label else None): o for o in rows
    }


def _load(engine, doc):
    with session_scope(engine) as s:
        return load_portfolio(s, copy.deepcopy(doc), actor="gestion")


def test_obligations_exist_right_after_load_and_are_to_fill(engine, capsys):
    report = _load(engine, TOWN)
    assert report.created["obligation"] == 2
    got = _obligations(engine)
    assert set(got) == {("boiler_maintenance", "GYM-CH1"), ("chimney_sweeping", "GYM-CH1")}
    status, out = run(capsys, "obligations")
    assert status == 0
    assert "EN RETARD" not in out
    line = next(x for x in out.splitlines() if "Entretien annuel" in x)
    assert line.startswith("à renseigner")
    assert "indiquez la date de la dernière réalisation connue" in line
    assert "Code de l'environnement, art. R. 224-41-4" in line  # the regulatory text
    status, out = run(capsys, "obligations", "--overdue")
    assert "aucune obligation en retard" in out
    # reloading the same file creates nothing more
    again = _load(engine, TOWN)
    assert again.created["obligation"] == 0 and not again.changed
    assert len(_obligations(engine)) == 2


def test_a_recorded_date_makes_it_due_and_overdue_counts_from_it(engine, capsys):
    _load(engine, TOWN)
    ob = _obligations(engine)[("boiler_maintenance", "GYM-CH1")]
    last = local_today() - dt.timedelta(days=400)
    with session_scope(engine) as s:
        edit_obligation(s, SYSTEM, ob.id, last_done_on=last)
    status, out = run(capsys, "obligations", "--overdue", "--json")
    rows = json.loads(out)
    assert [r["template"] for r in rows] == ["boiler_maintenance"]
    late = (local_today() - (last.replace(year=last.year + 1))).days
    assert rows[0]["days_overdue"] == late and rows[0]["to_fill"] is False


def test_obligations_page_lists_the_late_then_the_ones_to_fill(engine):
    _load(engine, TOWN)
    rows = obligation_rows(engine, SYSTEM, show_all=False)
    assert len(rows) == 2 and all(r["to_fill"] for r in rows)
    table = str(obligations_table(rows, show_building=True, table_id="ob-table"))
    assert table.count("À renseigner") == 2 and "date à indiquer" in table
    assert "En retard" not in table


def test_replacing_equipment_closes_its_obligations_and_derives_the_new_ones(engine):
    _load(engine, TOWN)
    removed = (local_today() - dt.timedelta(days=1)).isoformat()
    doc = copy.deepcopy(TOWN)
    doc["buildings"][0]["equipment"] = [
        BOILER | {"removed_on": removed},
        {"code": "GYM-PAC", "kind": "heat_pump", "power_kw": 60, "installed_on": removed},
    ]
    report = _load(engine, doc)
    assert report.updated["obligation"] == 2  # the boiler's maintenance and sweeping
    got = _obligations(engine)
    for key in (("boiler_maintenance", "GYM-CH1"), ("chimney_sweeping", "GYM-CH1")):
        assert got[key].active is False
        assert "Clôturée : équipement GYM-CH1 retiré le " in got[key].notes
    assert got[("heat_pump_maintenance", "GYM-PAC")].active is True
    assert _load(engine, doc).updated["obligation"] == 0  # already closed: nothing more


def test_removing_equipment_closes_its_obligations_with_a_note(engine, capsys):
    doc = copy.deepcopy(TOWN)  # with a 90 kW heat pump: the building's > 70 kW inspection
    doc["buildings"][0]["equipment"].append(
        {"code": "GYM-PAC", "kind": "heat_pump", "power_kw": 90}
    )
    _load(engine, doc)
    status, out = run(capsys, "portfolio", "remove", "equipment", "GYM-CH1")
    assert status == 0, out
    got = _obligations(engine)
    ob = got[("boiler_maintenance", "GYM-CH1")]
    assert ob.active is False and ob.equipment_id is None  # the history stays, detached
    assert "Clôturée : équipement GYM-CH1 supprimé du patrimoine le " in ob.notes
    assert got[("heating_inspection_70kw", None)].active is True  # the building's own duty


def test_an_obligation_whose_text_does_not_apply_is_closed_not_deleted(engine):
    """A first version derived the > 70 kW inspection for boilers; décret 2020-912 sets it for
    heat pumps and air conditioning. Such a stored, never-done duty is closed with its reason."""
    _load(engine, TOWN)
    with session_scope(engine) as s:
        gym = s.scalars(select(Obligation)).first().building_id
        s.add(
            Obligation(
                building_id=gym,
                template="heating_inspection_70kw",
                label="Inspection périodique du système de chauffage (puissance totale > 70 kW)",
                periodicity_months=60,
                next_due_on=dt.date(2025, 7, 1),
                active=True,
            )
        )
    _load(engine, TOWN)
    ob = _obligations(engine)[("heating_inspection_70kw", None)]
    assert ob.active is False
    assert "Clôturée : le texte ne s'applique pas à ce bâtiment" in ob.notes
    assert "R. 224-45-1" in ob.notes
    with session_scope(engine) as s:
        events = s.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "obligation", AuditEvent.action == "close"
            )
        ).all()
        assert [e.entity_id for e in events] == [str(ob.id)]
        assert events[0].before["active"] is True and events[0].after["active"] is False
