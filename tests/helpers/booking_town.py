"""A small town for the booking tests: a contract, two buildings, bookable rooms, users."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from carnet.bookings import Actor
from carnet.models import Building, Contract, ContractBuilding, Room

PROGRAMMER = Actor("prog", "programmer")
MANAGER = Actor("gest", "manager")


def make_town(session) -> dict:
    contract = Contract(
        code="CHAUFF-T",
        contractor="Thermique du Nord",
        starts_on=dt.date(2024, 7, 1),
        price_eur_per_mwh_pci=Decimal("90"),
    )
    other_contract = Contract(
        code="AUTRE-T",
        contractor="Autre exploitant",
        starts_on=dt.date(2024, 7, 1),
        price_eur_per_mwh_pci=Decimal("90"),
    )
    salle = Building(code="SDF", name="Salle des fêtes", schedule={"mon": ["08:00-12:00"]})
    ecole = Building(code="ECOLE", name="École")
    session.add_all([contract, other_contract, salle, ecole])
    session.flush()
    session.add_all(
        [
            ContractBuilding(
                contract_id=contract.id, building_id=salle.id, nb_mwh_pci=100, dju_ref=2500
            ),
            ContractBuilding(
                contract_id=other_contract.id, building_id=ecole.id, nb_mwh_pci=80, dju_ref=2500
            ),
        ]
    )
    hall = Room(
        building_id=salle.id,
        code="SDF-GRANDE",
        name="Grande salle",
        bookable=True,
        heating_zone="Z-NORD",
    )
    small = Room(
        building_id=salle.id,
        code="SDF-PETITE",
        name="Petite salle",
        bookable=True,
        heating_zone="Z-NORD",
    )
    office = Room(building_id=salle.id, code="SDF-BUREAU", name="Bureau", bookable=False)
    preau = Room(building_id=ecole.id, code="ECOLE-PREAU", name="Préau", bookable=True)
    session.add_all([hall, small, office, preau])
    session.flush()
    return {
        "contract": contract,
        "other_contract": other_contract,
        "salle": salle,
        "ecole": ecole,
        "hall": hall,
        "small": small,
        "office": office,
        "preau": preau,
        "contractor": Actor("exploit", "contractor", contract.id),
        "other_contractor": Actor("autre", "contractor", other_contract.id),
    }
