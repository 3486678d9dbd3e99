"""Seed for the carnet's web tests: the browser users (tests.helpers.browser), MAIRIE in their
contractor's contract with rooms and a boiler tree, ECOLE in another contract whose contractor
is `exploitant2`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from carnet.db import session_scope
from carnet.logbook import add_entry
from carnet.models import Building, Contract, ContractBuilding, Equipment, Room, User
from carnet.obligations import apply_templates
from carnet.timeutil import TZ
from carnet.users import set_user
from tests.helpers.browser import CONTRACT_CODE, _hash, seed_users
from tests.helpers.web_client import signed_in_client

OTHER_PASSWORD = "autre-secret-12"


def seed_carnet(engine) -> dict:
    ids = seed_users(engine)
    with session_scope(engine) as s:
        contract = s.scalar(select(Contract).where(Contract.code == CONTRACT_CODE))
        other = Contract(
            code="AUTRE-CONTRAT",
            contractor="Chauffage de l'Est",
            starts_on=dt.date(2024, 7, 1),
            price_eur_per_mwh_pci=Decimal("90"),
        )
        mairie = Building(
            code="MAIRIE",
            name="Hôtel de ville",
            usage="mairie",
            heated_area_m2=1200.0,
            erp_category=3,
            main_energy="gas",
        )
        ecole = Building(
            code="ECOLE", name="École Jules Ferry", usage="école", heated_area_m2=800.0
        )
        s.add_all([other, mairie, ecole])
        s.flush()
        s.add_all(
            [
                ContractBuilding(
                    contract_id=contract.id, building_id=mairie.id, nb_mwh_pci=310, dju_ref=2450
                ),
                ContractBuilding(
                    contract_id=other.id, building_id=ecole.id, nb_mwh_pci=200, dju_ref=2450
                ),
                Room(
                    building_id=mairie.id,
                    code="MAIRIE-CONSEIL",
                    name="Salle du conseil",
                    capacity=80,
                ),
                Room(building_id=mairie.id, code="MAIRIE-ACCUEIL", name="Accueil"),
                Room(building_id=ecole.id, code="ECOLE-PREAU", name="Préau"),
            ]
        )
        room = Equipment(building_id=mairie.id, code="MAIRIE-CHAUFFERIE", kind="boiler_room")
        s.add(room)
        s.flush()
        boiler = Equipment(
            building_id=mairie.id,
            parent_id=room.id,
            code="MAIRIE-CHAUD-1",
            kind="boiler",
            fuel="gas",
            power_kw=250.0,
            installed_on=dt.date(2012, 9, 1),
            make="Viessmann",
        )
        s.add(boiler)
        s.flush()
        s.add(
            Equipment(
                building_id=mairie.id, parent_id=boiler.id, code="MAIRIE-BRULEUR-1", kind="burner"
            )
        )
        s.add(
            Equipment(
                building_id=ecole.id, code="ECOLE-CHAUD-1", kind="boiler", fuel="gas", power_kw=60.0
            )
        )
        s.flush()
        apply_templates(s, mairie)
        apply_templates(s, ecole)
        user = set_user(
            s,
            "exploitant2",
            "contractor",
            name="Chauffage de l'Est",
            contract_code="AUTRE-CONTRAT",
            actor="test",
        )
        user.password_hash = _hash(OTHER_PASSWORD)
        s.flush()
        ids["exploitant2"] = user.id
    return ids


def client_for(app, login):
    """A test client signed in as one of the seed's users (`exploitant2` has its own password)."""
    return signed_in_client(app, login, OTHER_PASSWORD if login == "exploitant2" else None)


LOGBOOK_KINDS_CYCLE = ("preventive", "works", "corrective", "inspection", "observation")


def seed_logbook(engine, count: int, building: str = "MAIRIE") -> list[int]:
    """`count` entries on `building`, one a day back from 01/11/2025 (the first is the newest),
    kinds in turn from LOGBOOK_KINDS_CYCLE, written by the manager through `carnet.logbook`;
    their ids, newest first."""
    with session_scope(engine) as s:
        manager = s.scalar(select(User).where(User.login == "gestionnaire"))
        ids = []
        for i in range(count):
            when = dt.datetime(2025, 11, 1, 9, 0, tzinfo=TZ) - dt.timedelta(days=i)
            kind = LOGBOOK_KINDS_CYCLE[i % len(LOGBOOK_KINDS_CYCLE)]
            entry = add_entry(
                s, manager, building, kind, f"Entrée de test {i + 1:02d}", occurred_at=when
            )
            ids.append(entry.id)
    return ids
