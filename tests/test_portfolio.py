"""The portfolio file: validated whole, applied whole, idempotent, additive."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from carnet.db import session_scope
from carnet.models import AuditEvent, Building, Channel, ContractBuilding, Equipment, Room, User
from carnet.portfolio import load_portfolio, remove
from carnet.portfolio_parse import PortfolioError
from carnet_cli.main import main

MINIMAL = Path(__file__).parent / "data" / "portfolio_min.yaml"


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_issue_shape_loads_and_reloading_changes_nothing(engine):
    with session_scope(engine) as s:
        report = load_portfolio(s, MINIMAL)
    assert report.created["building"] == 1 and report.created["channel"] == 5
    with session_scope(engine) as s:
        audits = _count(s, AuditEvent)
        again = load_portfolio(s, MINIMAL)
        assert not again.changed
        assert _count(s, AuditEvent) == audits
        gas = s.scalar(select(Channel).where(Channel.code == "MAIRIE-GAZ"))
        assert gas.kwh_per_unit == 11.2 and gas.external_ref == "GI000123"
        t = s.scalar(select(Channel).where(Channel.code == "MAIRIE-CONSEIL-T"))
        assert t.room.code == "MAIRIE-CONSEIL"
        cb = s.scalar(select(ContractBuilding))
        assert (cb.nb_mwh_pci, cb.dju_ref, cb.channel.code) == (310, 2450, "MAIRIE-GAZ")
        assert cb.contract.station.code == "LILLE-LESQUIN"
        contractor = s.scalar(select(User).where(User.login == "exploitant"))
        assert contractor.contract.code == "CHAUFF-2024" and contractor.password_hash is None


def test_small_file_adds_and_updates_without_removing(engine):
    with session_scope(engine) as s:
        load_portfolio(s, MINIMAL)
    extra = {
        "buildings": [
            {
                "code": "MAIRIE",
                "name": "Hôtel de ville",
                "heated_area_m2": 1250,
                "equipment": [
                    {"code": "MAIRIE-BRUL-1", "kind": "burner", "parent": "MAIRIE-CHAUD-1"},
                    {"code": "MAIRIE-CHAUFF", "kind": "boiler_room"},
                ],
                "channels": [
                    {
                        "code": "MAIRIE-DEP",
                        "quantity": "temp_flow_c",
                        "kind": "instant",
                        "unit": "degC",
                        "equipment": "MAIRIE-CHAUD-1",
                    }
                ],
            }
        ]
    }
    with session_scope(engine) as s:
        report = load_portfolio(s, extra)
        assert report.updated["building"] == 1 and report.created["channel"] == 1
        assert _count(s, Channel) == 6 and _count(s, Room) == 1
        b = s.scalar(select(Building).where(Building.code == "MAIRIE"))
        assert b.heated_area_m2 == 1250 and b.usage == "mairie"
        burner = s.scalar(select(Equipment).where(Equipment.code == "MAIRIE-BRUL-1"))
        assert burner.parent.code == "MAIRIE-CHAUD-1"
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.entity == "building", AuditEvent.action == "update")
        ).one()
        assert event.before == {"heated_area_m2": 1200.0}
        assert event.after == {"heated_area_m2": 1250.0}


def test_validation_errors_name_the_key_path_and_change_nothing(engine, tmp_path):
    doc = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    doc["buildings"][0]["channels"][0]["kind"] = "cumulative"
    doc["buildings"][0]["heated_area_m2"] = "grand"
    doc["buildings"][0]["colour"] = "red"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PortfolioError) as err, session_scope(engine) as s:
        load_portfolio(s, bad)
    message = str(err.value)
    assert f"{bad}: buildings[0].channels[0].kind: valeur « cumulative » non admise" in message
    assert "buildings[0].heated_area_m2: nombre attendu" in message
    assert "buildings[0].colour: clé inconnue" in message
    with session_scope(engine) as s:
        assert _count(s, Building) == 0 and _count(s, Channel) == 0


def test_unknown_reference_rolls_back_everything(engine):
    doc = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    doc["contracts"][0]["buildings"][0]["channel"] = "NOPE"
    with (
        pytest.raises(PortfolioError, match=r"contracts\[0\]\.buildings\[0\]\.channel"),
        session_scope(engine) as s,
    ):
        load_portfolio(s, doc)
    with session_scope(engine) as s:
        assert _count(s, Building) == 0


def test_cli_load_twice_and_audited_removal(engine, capsys, tmp_path):
    assert main(["portfolio", "load", str(MINIMAL)]) == 0
    assert main(["portfolio", "load", str(MINIMAL)]) == 0
    assert "aucun changement" in capsys.readouterr().out
    broken = tmp_path / "broken.yaml"
    broken.write_text("buildings:\n  - code: X\n    name: [unclosed\n", encoding="utf-8")
    assert main(["portfolio", "load", str(broken)]) == 2
    assert "YAML invalide" in capsys.readouterr().err
    assert main(["portfolio", "remove", "channel", "MAIRIE-CONSEIL-T"]) == 0
    with session_scope(engine) as s:
        assert s.scalar(select(Channel).where(Channel.code == "MAIRIE-CONSEIL-T")) is None
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "delete")).one()
        assert event.entity_id == "MAIRIE-CONSEIL-T" and event.before["code"] == "MAIRIE-CONSEIL-T"


def test_remove_refuses_while_referenced(engine):
    with session_scope(engine) as s:
        load_portfolio(s, MINIMAL)
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        remove(s, "building", "MAIRIE", "test")
    with session_scope(engine) as s:
        assert _count(s, Building) == 1
