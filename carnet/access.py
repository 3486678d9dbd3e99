"""The one scope rule: which contracts, buildings and channels a user may see (`scope_of`),
checked by the services themselves, the CLI, the pages' data modules and the downloads.

The pages only hide what these functions already refuse: a contractor is scoped to its contract's
buildings and channels, the finance service has no carnet, the cultural programmer sees rooms
only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from carnet.models import Building, Channel, Contract, ContractBuilding
from carnet.roles import MANAGER, can, is_contractor, is_programmer


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
    role: str = MANAGER
    contract_id: int | None = None


SYSTEM = Actor("system", MANAGER)
# the actors with no user behind them, as an entry's author is shown to people
ACTOR_LABELS_FR = {SYSTEM.login: "Carnet (automatique)", "demo": "Démonstration"}


def actor_label(login: str | None, name: str | None = None) -> str:
    """The user's name, else the actor's French label, else the login as written."""
    return name or ACTOR_LABELS_FR.get(login or "", login or "—")


@dataclass(frozen=True)
class Scope:
    """Which contracts, buildings and channels a user may see: everything (`sees_all`), or a
    contractor's one contract with its buildings and their channels. The one answer every page,
    download, service and CLI command filters with; capabilities (`carnet.roles.can`) are the
    other, separate question."""

    sees_all: bool
    contract_ids: frozenset[int] = frozenset()
    contract_codes: frozenset[str] = frozenset()
    building_ids: frozenset[int] = frozenset()
    channel_ids: frozenset[int] = frozenset()

    @property
    def building_filter(self) -> frozenset[int] | None:
        """None = no filter (every building); else the buildings to keep (maybe none)."""
        return None if self.sees_all else self.building_ids

    @property
    def channel_filter(self) -> frozenset[int] | None:
        return None if self.sees_all else self.channel_ids

    def has_building(self, building_id: int | None) -> bool:
        return building_id is not None and (self.sees_all or building_id in self.building_ids)

    def has_contract(self, contract_id: int | None) -> bool:
        return contract_id is not None and (self.sees_all or contract_id in self.contract_ids)

    def has_contract_code(self, code: str | None) -> bool:
        return code is not None and (self.sees_all or code in self.contract_codes)


EVERYTHING = Scope(sees_all=True)
NOTHING = Scope(sees_all=False)


def scope_of(bind: Engine | Connection | Session, actor: ActorLike) -> Scope:
    """The actor's scope: a contractor sees its contract's buildings and their channels (and
    their rooms' and equipment's), nothing without a contract; every other role sees all."""
    if not is_contractor(actor.role):
        return EVERYTHING
    if actor.contract_id is None:
        return NOTHING
    return scope_of_contract(bind, actor.contract_id)


def scope_of_contract(bind: Engine | Connection | Session, contract_id: int) -> Scope:
    """What one contract covers (its contractor's scope): the contract, its buildings and
    their channels; nothing for an unknown contract."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return scope_of_contract(conn, contract_id)
    codes = frozenset(bind.scalars(select(Contract.code).where(Contract.id == contract_id)))
    if not codes:
        return NOTHING
    in_contract = select(ContractBuilding.building_id).where(
        ContractBuilding.contract_id == contract_id
    )
    buildings = frozenset(bind.scalars(in_contract))
    channels = frozenset(
        bind.scalars(select(Channel.id).where(Channel.building_id.in_(in_contract)))
    )
    return Scope(False, frozenset({contract_id}), codes, buildings, channels)


def viewable_building_ids(session: Session, actor: ActorLike) -> frozenset[int] | None:
    """Buildings whose carnet the actor may see (None = every building): its scope, and none
    at all for a role without `carnet.view` (the finance service)."""
    if not can(actor.role, "carnet.view"):
        return frozenset()
    return scope_of(session, actor).building_filter


def can_view_building(session: Session, actor: ActorLike, building_id: int) -> bool:
    scope = viewable_building_ids(session, actor)
    return scope is None or building_id in scope


def can_view_logbook(session: Session, actor: ActorLike, building_id: int) -> bool:
    """The logbook, its attachments and obligations: not for the programmer (rooms only)."""
    return not is_programmer(actor.role) and can_view_building(session, actor, building_id)


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
