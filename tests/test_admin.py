"""`carnet.admin`: a form is one item of the portfolio file, loaded by the file's loader. The
problems it reports are the file's, word for word; a field left empty clears the value (a
file's omission keeps it); adding an existing code or editing an unknown one is refused; and
after edits in the administration, export then load still changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from carnet import admin
from carnet.db import session_scope
from carnet.models import AuditEvent, Building, Room
from carnet.portfolio import load_portfolio
from carnet.portfolio_export import export_portfolio
from carnet.portfolio_parse import PortfolioError
from tests.helpers.seed import TOWN, seed_town

ROOM = {"code": "MAIRIE-CONSEIL", "name": "Salle du conseil", "capacity": "40,5"}


def _file_problems(engine, doc) -> list[str]:
    with pytest.raises(PortfolioError) as caught, session_scope(engine) as s:
        load_portfolio(s, doc)
    return caught.value.problems


def test_a_form_gets_the_files_own_words_and_writes_nothing(engine):
    seed_town(engine)
    building = {"code": "MAIRIE", "name": "Hôtel de ville", "rooms": [ROOM]}
    (from_file,) = _file_problems(engine, {"buildings": [building]})
    with pytest.raises(admin.AdminError) as caught, session_scope(engine) as s:
        admin.save(s, "room", ROOM, "gestionnaire", parent=("building", "MAIRIE"), new=True)
    assert caught.value.fields == {"capacity": from_file.split(": ", 1)[1]}
    assert from_file == "buildings[0].rooms[0].capacity: nombre entier attendu, reçu '40,5'"
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Room)) == 0

    contract = dict(TOWN["contracts"][0], season={"start": "13-40", "end": "05-20"})
    (from_file,) = _file_problems(engine, {"contracts": [contract]})
    with session_scope(engine) as s:
        values = admin.form_values("contract", admin.items(s, "contract")[0][1])
    values["season.start"] = "13-40"
    with pytest.raises(admin.AdminError) as caught, session_scope(engine) as s:
        admin.save(s, "contract", values, "gestionnaire")
    assert caught.value.fields == {"season.start": from_file.split(": ", 1)[1]}


def test_an_empty_field_clears_where_a_files_omission_keeps(engine):
    seed_town(engine)
    with session_scope(engine) as s:
        load_portfolio(s, {"buildings": [{"code": "MAIRIE", "name": "Hôtel de ville"}]})
        assert s.scalar(select(Building.usage).where(Building.code == "MAIRIE")) == "mairie"
    with session_scope(engine) as s:
        (mairie,) = [it for _p, it in admin.items(s, "building") if it["code"] == "MAIRIE"]
        values = admin.form_values("building", mairie)
        assert values["usage"] == "mairie" and values["heated_area_m2"] == "1234,5"
        admin.save(s, "building", values | {"usage": ""}, "gestionnaire")
    with session_scope(engine) as s:
        b = s.scalar(select(Building).where(Building.code == "MAIRIE"))
        assert (b.usage, b.heated_area_m2, b.station_id is not None) == (None, 1234.5, True)
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.entity == "building").order_by(AuditEvent.id)
        ).all()[-1]
        assert (event.before, event.after) == ({"usage": "mairie"}, {"usage": None})


def test_adding_an_existing_code_or_editing_an_unknown_one_is_refused(engine):
    seed_town(engine)
    for values, new, message in (
        ({"code": "MAIRIE", "name": "Doublon"}, True, "« MAIRIE » existe déjà"),
        ({"code": "NULLE-PART", "name": "Inconnu"}, False, "« NULLE-PART » inconnu(e)"),
    ):
        with pytest.raises(admin.AdminError) as caught, session_scope(engine) as s:
            admin.save(s, "building", values, "gestionnaire", new=new)
        assert caught.value.fields == {"code": message}
    with pytest.raises(admin.AdminError) as caught, session_scope(engine) as s:
        admin.save(
            s, "room", {"code": "R1", "name": "R"}, "g", parent=("building", "NULLE"), new=True
        )
    assert caught.value.general == ["bâtiment « NULLE » inconnu(e)"]
    with session_scope(engine) as s:
        assert s.scalar(select(Building.name).where(Building.code == "MAIRIE")) == "Hôtel de ville"


def test_after_administration_export_then_load_changes_nothing(engine):
    seed_town(engine)
    with session_scope(engine) as s:
        admin.save(s, "room", ROOM | {"capacity": "40", "bookable": True}, "g",
                   parent=("building", "MAIRIE"), new=True)  # fmt: skip
        values = admin.form_values("contract", admin.items(s, "contract")[0][1])
        admin.save(s, "contract", values | {"price_eur_per_mwh_pci": "95,125",
                                            "terms": "lots: P1 et P2"}, "g")  # fmt: skip
        admin.save(s, "user", {"login": "claire", "name": "Claire", "role": "finance"}, "g",
                   new=True)  # fmt: skip
    with session_scope(engine) as s:
        doc = export_portfolio(s)
        audit = s.scalar(select(func.count()).select_from(AuditEvent))
    assert doc["contracts"][0]["price_eur_per_mwh_pci"] == "95.125"
    with session_scope(engine) as s:
        assert not load_portfolio(s, doc).changed
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == audit
        assert export_portfolio(s) == doc
