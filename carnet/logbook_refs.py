"""What a logbook entry refers to: its building, and equipment, room or obligation of that
building; a reference elsewhere is refused with a French message."""

from __future__ import annotations

from sqlalchemy.orm import Session

from carnet.access import (
    by_ref,
)
from carnet.models import (
    Building,
    Equipment,
    Obligation,
    Room,
)


class LogbookError(ValueError):
    """Invalid input (unknown kind, equipment of another building...), French message."""


def resolve_building(session: Session, building: Building | str | int) -> Building:
    return by_ref(session, Building, building, "bâtiment inconnu")


def resolve_equipment(
    session: Session, building: Building, equipment: Equipment | str | int | None
) -> Equipment | None:
    if equipment is None or equipment == "":
        return None
    eq = by_ref(session, Equipment, equipment, "équipement inconnu")
    if eq.building_id != building.id:
        raise LogbookError(f"l'équipement {eq.code} n'appartient pas au bâtiment {building.code}")
    return eq


def resolve_room(
    session: Session, building: Building, room: Room | str | int | None
) -> Room | None:
    if room is None or room == "":
        return None
    found = by_ref(session, Room, room, "salle inconnue")
    if found.building_id != building.id:
        raise LogbookError(f"la salle {found.code} n'appartient pas au bâtiment {building.code}")
    return found


def resolve_obligation(
    session: Session, building: Building, obligation: Obligation | int | None
) -> Obligation | None:
    if obligation is None or obligation == "":
        return None
    ob = (
        obligation
        if isinstance(obligation, Obligation)
        else session.get(Obligation, int(obligation))
    )
    if ob is None:
        raise LookupError(f"obligation {obligation} inconnue")
    if ob.building_id != building.id:
        raise LogbookError(f"l'obligation {ob.id} ne concerne pas le bâtiment {building.code}")
    return ob
