"""A tiny town for the carnet tests: two buildings, two contracts, one user per role."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from carnet.models import Building, Contract, ContractBuilding, Equipment, Room, User

PASSWORD = "motdepasse-1"


def make_town(session, with_passwords: bool = False) -> dict:
    mairie = Building(
        code="MAIRIE",
        name="Hôtel de ville",
        usage="mairie",
        heated_area_m2=1200.0,
        erp_category=3,
        main_energy="gas",
    )
    ecole = Building(code="ECOLE", name="École Jules Ferry", usage="école", heated_area_m2=800.0)
    session.add_all([mairie, ecole])
    session.flush()
    room = Room(building_id=mairie.id, code="MAIRIE-CONSEIL", name="Salle du conseil")
    hall = Room(building_id=ecole.id, code="ECOLE-PREAU", name="Préau")
    session.add_all([room, hall])
    session.flush()
    boiler_room = Equipment(building_id=mairie.id, code="MAIRIE-CHAUFFERIE", kind="boiler_room")
    session.add(boiler_room)
    session.flush()
    boiler = Equipment(
        building_id=mairie.id,
        parent_id=boiler_room.id,
        code="MAIRIE-CHAUD-1",
        kind="boiler",
        fuel="gas",
        power_kw=250.0,
        installed_on=dt.date(2012, 9, 1),
    )
    session.add(boiler)
    session.flush()
    burner = Equipment(
        building_id=mairie.id, parent_id=boiler.id, code="MAIRIE-BRULEUR-1", kind="burner"
    )
    ecole_boiler = Equipment(
        building_id=ecole.id, code="ECOLE-CHAUD-1", kind="boiler", fuel="gas", power_kw=60.0
    )
    session.add_all([burner, ecole_boiler])
    c1 = Contract(
        code="CHAUFF-2024",
        contractor="Thermique du Nord",
        starts_on=dt.date(2024, 7, 1),
        price_eur_per_mwh_pci=Decimal("92.5"),
    )
    c2 = Contract(
        code="AUTRE-2024",
        contractor="Chauffage de l'Est",
        starts_on=dt.date(2024, 7, 1),
        price_eur_per_mwh_pci=Decimal("90"),
    )
    session.add_all([c1, c2])
    session.flush()
    session.add_all(
        [
            ContractBuilding(
                contract_id=c1.id, building_id=mairie.id, nb_mwh_pci=310, dju_ref=2450
            ),
            ContractBuilding(contract_id=c2.id, building_id=ecole.id, nb_mwh_pci=200, dju_ref=2450),
        ]
    )
    users = {}
    for login, role, contract in [
        ("gestionnaire", "manager", None),
        ("exploitant", "contractor", c1),
        ("exploitant2", "contractor", c2),
        ("agent", "agent", None),
        ("finances", "finance", None),
        ("programmation", "programmer", None),
    ]:
        user = User(login=login, name=login.capitalize(), role=role)
        user.contract_id = contract.id if contract else None
        if with_passwords:
            from werkzeug.security import generate_password_hash

            user.password_hash = generate_password_hash(PASSWORD)
        session.add(user)
        users[login] = user
    session.flush()
    return {
        "mairie": mairie,
        "ecole": ecole,
        "room": room,
        "boiler_room": boiler_room,
        "boiler": boiler,
        "burner": burner,
        "ecole_boiler": ecole_boiler,
        "users": users,
    }
