"""Which buildings a user may see in the carnet de santé, checked by the services themselves.

The pages only hide what these functions already refuse: a contractor is scoped to its contract's
buildings, the finance service has no carnet, the cultural programmer sees rooms only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet.models import Building, ContractBuilding
from carnet.roles import can


class CarnetPermissionError(PermissionError):
    """The actor's role or scope does not allow this; the message is French, for the user."""


class ActorLike(Protocol):
    login: str
    role: str
    contract_id: int | None


@dataclass(frozen=True)
class Actor:
    """Who acts, when no `User` row stands behind it (the CLI operator, the poller)."""

    login: str
    role: str = "manager"
    contract_id: int | None = None


SYSTEM = Actor("system", "manager")


def building_ids_in_scope(session: Session, actor: ActorLike) -> set[int] | None:
    """Buildings the actor may see at all (`None` = every building)."""
    if not can(actor.role, "carnet.view"):
        return set()
    if actor.role == "contractor":
        if actor.contract_id is None:
            return set()
        return set(
            session.scalars(
                select(ContractBuilding.building_id).where(
                    ContractBuilding.contract_id == actor.contract_id
                )
            )
        )
    return None


def can_view_building(session: Session, actor: ActorLike, building_id: int) -> bool:
    scope = building_ids_in_scope(session, actor)
    return scope is None or building_id in scope


def can_view_logbook(session: Session, actor: ActorLike, building_id: int) -> bool:
    """The logbook, its attachments and obligations: not for the programmer (rooms only)."""
    return actor.role != "programmer" and can_view_building(session, actor, building_id)


def require_view_logbook(session: Session, actor: ActorLike, building: Building) -> None:
    if not can_view_logbook(session, actor, building.id):
        raise CarnetPermissionError(
            f"accès refusé : {actor.login} ne peut pas consulter le carnet de {building.code}"
        )


def by_ref(session: Session, model, ref, missing: str):
    """The object itself, or the one with that id (int) or code (str); LookupError with the
    French `missing` message (e.g. "bâtiment inconnu") naming the reference otherwise."""
    if isinstance(ref, model):
        return ref
    if isinstance(ref, int):
        found = session.get(model, ref)
    else:
        found = session.scalar(select(model).where(model.code == ref))
    if found is None:
        raise LookupError(f"{missing} « {ref} »")
    return found
