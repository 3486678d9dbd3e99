"""Obligations: due dates (month ends), templates derived from equipment, idempotence, overdue."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from carnet.access import SYSTEM, CarnetPermissionError
from carnet.db import session_scope
from carnet.logbook import add_entry
from carnet.models import AuditEvent, Building, Contract, ContractBuilding, Equipment, Obligation
from carnet.obligations import (
    add_months,
    apply_templates,
    edit_obligation,
    next_due,
    obligations_frame,
    overdue,
)
from carnet_cli.main import main
from tests.helpers.carnet_town import make_town

TODAY = dt.date(2025, 11, 15)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (dt.date(2025, 1, 31), 1, dt.date(2025, 2, 28)),
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),  # leap year
        (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),
        (dt.date(2024, 2, 29), 48, dt.date(2028, 2, 29)),
        (dt.date(2025, 8, 31), 6, dt.date(2026, 2, 28)),
        (dt.date(2025, 3, 31), 6, dt.date(2025, 9, 30)),
        (dt.date(2025, 12, 15), 1, dt.date(2026, 1, 15)),
        (dt.date(2025, 11, 30), 3, dt.date(2026, 2, 28)),
    ],
)
def test_next_due_month_ends(start, months, expected):
    assert next_due(start, months=months) == expected


def test_next_due_days():
    # lifts: a visit every 6 weeks = 42 days, across a month end and a leap day
    assert next_due(dt.date(2024, 2, 10), days=42) == dt.date(2024, 3, 23)
    with pytest.raises(ValueError):
        next_due(dt.date(2024, 2, 10))


@given(
    st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 12, 31)),
    st.integers(min_value=0, max_value=240),
)
def test_add_months_matches_pandas_offsets(day, months):
    # an independent implementation: pandas' calendar month offset also clamps to month end
    expected = (pd.Timestamp(day) + pd.DateOffset(months=months)).date()
    assert add_months(day, months) == expected


def _by_template(obligations):
    return {(o.template, o.equipment_id): o for o in obligations}


def test_templates_for_a_250_kw_gas_boiler_in_an_erp(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        created = apply_templates(s, town["mairie"], today=TODAY)
        got = _by_template(created)
        boiler = town["boiler"]
        # annual maintenance (4-400 kW), due one year after installation, long overdue
        maint = got[("boiler_maintenance", boiler.id)]
        assert maint.periodicity_months == 12
        assert maint.next_due_on == dt.date(2013, 9, 1)
        assert "R. 224-41-4" in maint.notes
        # twice-yearly sweeping
        assert got[("chimney_sweeping", boiler.id)].periodicity_months == 6
        # the > 70 kW inspection of décret 2020-912 is for thermodynamic systems, not boilers
        # (a 4-400 kW boiler's yearly maintenance includes its efficiency evaluation)
        assert ("heating_inspection_70kw", None) not in got
        # not in the 400 kW - 20 MW range
        assert not any(t.startswith("boiler_efficiency") for t, _ in got)
        # ERP category 3 with gas: the five yearly checks
        for key in (
            "erp_electrical",
            "erp_emergency_lighting",
            "erp_gas",
            "erp_smoke_extraction",
            "erp_fire_equipment",
        ):
            assert got[(key, None)].periodicity_months == 12
        # 1,200 m2 tertiary: OPERAT declaration before 30 September
        assert got[("operat", None)].next_due_on == dt.date(2026, 9, 30)
        # the burner and the boiler room are not boilers
        assert {eq for _, eq in got} <= {boiler.id, None}
        assert len(created) == 2 + 5 + 1

        # the school: 60 kW boiler, no ERP category, 800 m2
        school = _by_template(apply_templates(s, town["ecole"], today=TODAY))
        eb = town["ecole_boiler"].id
        assert set(school) == {("boiler_maintenance", eb), ("chimney_sweeping", eb)}
        # installation date unknown: due now
        assert school[("boiler_maintenance", eb)].next_due_on == TODAY


def test_apply_templates_is_idempotent_and_keeps_edits(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        first = apply_templates(s, town["mairie"], today=TODAY)
        sweeping = next(o for o in first if o.template == "chimney_sweeping")
        # the manager documents a gas-only flue: once a year
        edit_obligation(s, SYSTEM, sweeping.id, periodicity_months=12, notes="conduit gaz tubé")
        n = s.scalar(select(func.count()).select_from(Obligation))
        assert apply_templates(s, town["mairie"], today=TODAY) == []
        assert s.scalar(select(func.count()).select_from(Obligation)) == n
        assert s.get(Obligation, sweeping.id).periodicity_months == 12


def test_large_boilers_heat_pumps_lifts_bacs_and_cpe_waiver(engine):
    with session_scope(engine) as s:
        b = Building(code="PISCINE", name="Piscine", heated_area_m2=900.0)
        s.add(b)
        s.flush()
        big = Equipment(building_id=b.id, code="P-CH1", kind="boiler", fuel="gas", power_kw=800)
        huge = Equipment(building_id=b.id, code="P-CH2", kind="boiler", fuel="gas", power_kw=6000)
        pac = Equipment(building_id=b.id, code="P-PAC", kind="heat_pump", power_kw=65)
        new_pac = Equipment(
            building_id=b.id,
            code="P-PAC2",
            kind="heat_pump",
            power_kw=8,
            installed_on=dt.date(2021, 3, 31),
        )
        lift = Equipment(building_id=b.id, code="P-ASC", kind="lift")
        gtb = Equipment(building_id=b.id, code="P-GTB", kind="bacs")
        old = Equipment(
            building_id=b.id,
            code="P-OLD",
            kind="boiler",
            fuel="oil",
            power_kw=100,
            removed_on=dt.date(2020, 1, 1),
        )
        s.add_all([big, huge, pac, new_pac, lift, gtb, old])
        s.flush()
        got = _by_template(apply_templates(s, b, today=TODAY))
        assert got[("boiler_efficiency_check", big.id)].periodicity_months == 36
        assert got[("boiler_efficiency_check_5mw", huge.id)].periodicity_months == 24
        assert ("boiler_maintenance", big.id) not in got
        assert got[("heat_pump_maintenance", pac.id)].periodicity_months == 24
        # transitional deadlines for equipment of unknown date (in place before the texts)
        assert got[("heat_pump_maintenance", pac.id)].next_due_on == dt.date(2022, 7, 1)
        assert got[("bacs_inspection", gtb.id)].next_due_on == dt.date(2025, 1, 1)
        # heat pumps totalling 65 + 8 = 73 kW (> 70 kW): inspection every 5 years, at
        # building level; in place before 1 July 2020, the first was due by 1 July 2025
        insp = got[("heating_inspection_70kw", None)]
        assert (insp.periodicity_months, insp.next_due_on) == (60, dt.date(2025, 7, 1))
        assert "R. 224-45-1" in insp.notes
        # installed after the transition: two years after installation (month end kept)
        assert got[("heat_pump_maintenance", new_pac.id)].next_due_on == dt.date(2023, 3, 31)
        assert got[("lift_visit", lift.id)].periodicity_days == 42
        assert got[("lift_technical_inspection", lift.id)].periodicity_months == 60
        assert got[("bacs_inspection", gtb.id)].periodicity_months == 60
        assert not any(eq == old.id for _, eq in got)  # removed equipment
        assert all(o.active for o in got.values())

        # the same building under a CPE: the efficiency check is created but waived
        b2 = Building(code="PISCINE-2", name="Piscine 2")
        s.add(b2)
        s.flush()
        big2 = Equipment(building_id=b2.id, code="P2-CH1", kind="boiler", fuel="gas", power_kw=800)
        cpe = Contract(
            code="CPE-1",
            contractor="X",
            kind="CPE",
            starts_on=dt.date(2024, 1, 1),
            price_eur_per_mwh_pci=90,
        )
        s.add_all([big2, cpe])
        s.flush()
        s.add(ContractBuilding(contract_id=cpe.id, building_id=b2.id, nb_mwh_pci=1, dju_ref=1))
        s.flush()
        waived = _by_template(apply_templates(s, b2, today=TODAY))[
            ("boiler_efficiency_check", big2.id)
        ]
        assert waived.active is False
        assert "CPE" in waived.notes


def test_preventive_entry_completes_obligation_and_moves_due_date(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        got = _by_template(apply_templates(s, town["mairie"], today=TODAY))
        boiler = town["boiler"]
        maint = got[("boiler_maintenance", boiler.id)]
        sweep = got[("chimney_sweeping", boiler.id)]
        contractor = town["users"]["exploitant"]
        # 31 Jan, 10:00 local: one year later is 31 Jan
        add_entry(
            s,
            contractor,
            "MAIRIE",
            "preventive",
            "Entretien annuel, attestation remise",
            obligation=maint,
            occurred_at=dt.datetime(2025, 1, 31, 10, 0),
        )
        assert maint.last_done_on == dt.date(2025, 1, 31)
        assert maint.next_due_on == dt.date(2026, 1, 31)
        assert maint.equipment_id == boiler.id
        # sweeping on 31 August: six months later is the last day of February
        add_entry(
            s,
            contractor,
            "MAIRIE",
            "preventive",
            "Ramonage",
            obligation=sweep,
            occurred_at=dt.datetime(2025, 8, 31, 23, 30),  # local time, still 31/08
        )
        assert sweep.next_due_on == dt.date(2026, 2, 28)
        # an older intervention recorded late does not move the due date backwards
        add_entry(
            s,
            contractor,
            "MAIRIE",
            "preventive",
            "Ramonage (saisie tardive)",
            obligation=sweep,
            occurred_at=dt.datetime(2025, 3, 1, 9, 0),
        )
        assert sweep.next_due_on == dt.date(2026, 2, 28)
        # an open (not done) inspection does not complete anything until it is done
        insp = got[("erp_electrical", None)]
        from carnet.logbook import edit_entry

        e = add_entry(
            s,
            town["users"]["gestionnaire"],
            "MAIRIE",
            "inspection",
            "Inspection planifiée",
            obligation=insp,
            status="open",
            occurred_at=dt.datetime(2025, 10, 2, 9, 0),
        )
        assert insp.last_done_on is None
        edit_entry(s, town["users"]["gestionnaire"], e.id, status="done")
        assert insp.next_due_on == dt.date(2026, 10, 2)
        # OPERAT done in June: next declaration by 30 September of the following year
        operat = got[("operat", None)]
        add_entry(
            s,
            SYSTEM,
            "MAIRIE",
            "inspection",
            "Déclaration OPERAT 2024 faite",
            obligation=operat,
            occurred_at=dt.date(2025, 6, 15),
        )
        assert operat.next_due_on == dt.date(2026, 9, 30)
        events = s.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "obligation", AuditEvent.action == "complete"
            )
        ).all()
        assert {e.before["next_due_on"] for e in events} >= {"2013-09-01"}


def test_overdue_list_across_the_portfolio_and_scope(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        apply_templates(s, town["mairie"], today=TODAY)
        apply_templates(s, town["ecole"], today=TODAY)
        # nothing was ever recorded done: every derived obligation is « à renseigner », none
        # overdue by the years since the 2012 installation
        assert overdue(s, today=TODAY).empty
        every = obligations_frame(s, today=TODAY)
        assert every["to_fill"].all() and every["days_overdue"].isna().all()
        assert not every["overdue"].any()
        maintenance = every[every["template"] == "boiler_maintenance"].iloc[0]
        assert maintenance["reference"].startswith("Code de l'environnement, art. R. 224-41-4")
        # once the last visits are known, the late ones are overdue from their real due date
        for ob in s.scalars(select(Obligation).where(Obligation.building_id == town["mairie"].id)):
            if ob.template in ("boiler_maintenance", "chimney_sweeping"):
                edit_obligation(s, SYSTEM, ob.id, last_done_on=dt.date(2024, 9, 1))
        late = overdue(s, today=TODAY)
        assert set(zip(late["building_code"], late["label"].str[:8], strict=True)) == {
            ("MAIRIE", "Entretie"),  # due 01/09/2025
            ("MAIRIE", "Ramonage"),  # due 01/03/2025
        }
        row = late[late["label"].str.startswith("Entretien")].iloc[0]
        assert row["days_overdue"] == (TODAY - dt.date(2025, 9, 1)).days
        assert bool(row["overdue"]) is True and not bool(row["to_fill"])
        # a contractor sees its own buildings only
        other = obligations_frame(s, town["users"]["exploitant2"], today=TODAY)
        assert set(other["building_code"]) == {"ECOLE"}
        assert obligations_frame(s, town["users"]["finances"], today=TODAY).empty
        with pytest.raises(CarnetPermissionError):
            overdue(s, town["users"]["programmation"], today=TODAY)
        with pytest.raises(CarnetPermissionError):
            apply_templates(s, town["ecole"], town["users"]["exploitant2"])


def test_edit_obligation_recomputes_and_audits(engine):
    with session_scope(engine) as s:
        town = make_town(s)
        got = _by_template(apply_templates(s, town["mairie"], today=TODAY))
        ob = got[("chimney_sweeping", town["boiler"].id)]
        edit_obligation(s, SYSTEM, ob.id, last_done_on=dt.date(2025, 1, 31))
        assert ob.next_due_on == dt.date(2025, 7, 31)
        edit_obligation(s, SYSTEM, ob.id, periodicity_months=1)
        assert ob.next_due_on == dt.date(2025, 2, 28)
        with pytest.raises(CarnetPermissionError):
            edit_obligation(s, town["users"]["agent"], ob.id, active=False)
        ev = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "obligation", AuditEvent.action == "update")
            .order_by(AuditEvent.id)
        ).all()[-1]
        assert ev.before["periodicity_months"] == 6 and ev.after["periodicity_months"] == 1
        assert ev.after["next_due_on"] == "2025-02-28"


def test_cli_obligations_apply_and_overdue(engine, capsys):
    with session_scope(engine) as s:
        make_town(s)
    assert main(["obligations", "apply", "--building", "MAIRIE"]) == 0
    out = capsys.readouterr().out
    assert "8 obligation(s) créée(s) sur 1 bâtiment(s)" in out
    assert main(["obligations", "apply", "--building", "MAIRIE"]) == 0
    assert "0 obligation(s) créée(s)" in capsys.readouterr().out
    assert main(["obligations", "--overdue", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # nothing recorded: none is overdue
    assert main(["obligations", "--json"]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert len(everything) == 8
    assert all(r["to_fill"] and r["days_overdue"] is None for r in everything)
    assert main(["obligations"]) == 0
    out = capsys.readouterr().out
    assert "EN RETARD" not in out
    assert "à renseigner : indiquez la date de la dernière réalisation connue (texte : " in out
    assert main(["obligations", "apply", "--building", "NOPE"]) == 2


def test_cli_obligations_set(engine, capsys):
    with session_scope(engine) as s:
        town = make_town(s)
        got = _by_template(apply_templates(s, town["mairie"], today=TODAY))
        sweep_id = got[("chimney_sweeping", town["boiler"].id)].id
    # a gas-only tubed flue: once a year, last swept on 29/02/2024
    assert (
        main(["obligations", "set", str(sweep_id), "--months", "12", "--last-done", "29/02/2024"])
        == 0
    )
    assert "prochaine échéance 28/02/2025" in capsys.readouterr().out
    assert (
        main(["obligations", "set", str(sweep_id), "--inactive", "--notes", "chaudière déposée"])
        == 0
    )
    with session_scope(engine) as s:
        ob = s.get(Obligation, sweep_id)
        assert (ob.periodicity_months, ob.active, ob.notes) == (12, False, "chaudière déposée")
    assert main(["obligations", "set", "999999", "--months", "3"]) == 2
    assert main(["obligations", "set", str(sweep_id)]) == 2


def test_cancelling_a_completing_visit_undoes_its_completion(engine):
    from carnet.logbook import cancel_entry

    with session_scope(engine) as s:
        town = make_town(s)
        got = _by_template(apply_templates(s, town["mairie"], today=TODAY))
        ob = got[("boiler_maintenance", town["boiler"].id)]
        assert (ob.last_done_on, ob.next_due_on) == (None, dt.date(2013, 9, 1))
        contractor = town["users"]["exploitant"]
        jan = add_entry(
            s,
            contractor,
            "MAIRIE",
            "preventive",
            "Entretien",
            obligation=ob,
            occurred_at=dt.datetime(2025, 1, 31, 10, 0),
        )
        jun = add_entry(
            s,
            contractor,
            "MAIRIE",
            "preventive",
            "Entretien (bis)",
            obligation=ob,
            occurred_at=dt.datetime(2025, 6, 30, 10, 0),
        )
        assert ob.next_due_on == dt.date(2026, 6, 30)
        cancel_entry(s, contractor, jun.id, reason="saisi sur la mauvaise chaudière")
        assert (ob.last_done_on, ob.next_due_on) == (dt.date(2025, 1, 31), dt.date(2026, 1, 31))
        cancel_entry(s, contractor, jan.id, reason="doublon")
        assert (ob.last_done_on, ob.next_due_on) == (None, dt.date(2013, 9, 1))
        # a last-done date the manager set by hand is not undone by cancelling an older visit
        feb = add_entry(
            s,
            contractor,
            "MAIRIE",
            "preventive",
            "Entretien",
            obligation=ob,
            occurred_at=dt.datetime(2025, 2, 3, 10, 0),
        )
        edit_obligation(s, SYSTEM, ob.id, last_done_on=dt.date(2025, 9, 1))
        cancel_entry(s, contractor, feb.id)
        assert (ob.last_done_on, ob.next_due_on) == (dt.date(2025, 9, 1), dt.date(2026, 9, 1))
        actions = s.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity == "obligation", AuditEvent.entity_id == str(ob.id)
            )
        ).all()
        assert actions.count("uncomplete") == 2
